//! A person's standing as `user_points` keeps it: totals, counters, the
//! streak and the current week and month. The engine reads it before a
//! run and writes what the run makes of it.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::achievements::Counters;
use super::ledger::PeriodPoints;

/// One person's `user_points` row.
#[derive(Debug, Clone, PartialEq)]
pub struct PointsRow {
    pub user_id: Uuid,
    pub organization_id: Uuid,
    pub total_points: i64,
    pub capped_points: i64,
    pub total_reached_at: Option<DateTime<Utc>>,
    pub level: i32,
    pub current_streak: i32,
    pub longest_streak: i32,
    pub last_active_date: Option<NaiveDate>,
    pub freezes_held: i16,
    pub courses_completed: i32,
    pub lessons_completed: i32,
    pub skills_acquired: i32,
    pub paths_completed: i32,
    pub domains_mastered: i32,
    pub peers_helped: i32,
    pub week_start: Option<NaiveDate>,
    pub week_points: i64,
    pub week_reached_at: Option<DateTime<Utc>>,
    pub month_start: Option<NaiveDate>,
    pub month_points: i64,
    pub month_reached_at: Option<DateTime<Utc>>,
    /// The zone the streak was computed in (a streak goes on from the row
    /// only in the zone it was computed in).
    pub streak_zone: Option<String>,
}

impl PointsRow {
    /// A person with nothing yet (the column defaults).
    pub fn empty(user_id: Uuid, organization_id: Uuid) -> Self {
        PointsRow {
            user_id,
            organization_id,
            total_points: 0,
            capped_points: 0,
            total_reached_at: None,
            level: 1,
            current_streak: 0,
            longest_streak: 0,
            last_active_date: None,
            freezes_held: 0,
            courses_completed: 0,
            lessons_completed: 0,
            skills_acquired: 0,
            paths_completed: 0,
            domains_mastered: 0,
            peers_helped: 0,
            week_start: None,
            week_points: 0,
            week_reached_at: None,
            month_start: None,
            month_points: 0,
            month_reached_at: None,
            streak_zone: None,
        }
    }

    pub fn week(&self) -> PeriodPoints {
        PeriodPoints {
            points: self.week_points,
            reached_at: self.week_reached_at,
        }
    }

    pub fn month(&self) -> PeriodPoints {
        PeriodPoints {
            points: self.month_points,
            reached_at: self.month_reached_at,
        }
    }

    pub fn set_periods(&mut self, week: PeriodPoints, month: PeriodPoints) {
        self.week_points = week.points;
        self.week_reached_at = week.reached_at;
        self.month_points = month.points;
        self.month_reached_at = month.reached_at;
    }

    /// Nothing earned, counted or streaked (periods aside).
    pub fn is_empty_state(&self) -> bool {
        let empty = PointsRow {
            week_start: self.week_start,
            month_start: self.month_start,
            streak_zone: self.streak_zone.clone(),
            ..PointsRow::empty(self.user_id, self.organization_id)
        };
        *self == empty
    }
}

/// The counters achievement criteria read, from a `user_points` row.
pub fn counters_of(row: &PointsRow) -> Counters {
    let n = |v: i32| u64::try_from(v).unwrap_or(0);
    Counters {
        courses_completed: n(row.courses_completed),
        lessons_completed: n(row.lessons_completed),
        skills_acquired: n(row.skills_acquired),
        paths_completed: n(row.paths_completed),
        domains_mastered: n(row.domains_mastered),
        peers_helped: n(row.peers_helped),
        longest_streak: n(row.longest_streak),
        total_points: u64::try_from(row.total_points).unwrap_or(0),
        level: n(row.level),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_periods_and_the_zone_leave_a_row_empty() {
        let mut row = PointsRow::empty(Uuid::from_u128(1), Uuid::from_u128(2));
        row.week_start = NaiveDate::from_ymd_opt(2026, 11, 30);
        row.streak_zone = Some("Europe/Paris".into());
        assert!(row.is_empty_state());
        row.peers_helped = 1;
        assert!(!row.is_empty_state());
    }

    #[test]
    fn negative_counters_read_as_zero() {
        let mut row = PointsRow::empty(Uuid::nil(), Uuid::nil());
        row.total_points = -5;
        row.courses_completed = 3;
        let counters = counters_of(&row);
        assert_eq!(counters.total_points, 0);
        assert_eq!(counters.courses_completed, 3);
        assert_eq!(counters.level, 1);
    }
}
