//! The ledger as the rules see it: awards with their rule amount (`base`)
//! and their split under the daily cap. Re-applying the cap to a whole day
//! in `occurred_at` order after every change is what makes a late event
//! give the split an in-order replay gives.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::cap::split_day;

/// Source keys of awards that are paid once per thing (not per event),
/// at the earliest time the thing happened.
pub fn course_key(course: Uuid) -> String {
    format!("course:{course}")
}
pub fn skill_key(skill: Uuid) -> String {
    format!("skill:{skill}")
}
pub fn streak_day_key(day: NaiveDate) -> String {
    format!("streak:{day}")
}
pub fn milestone_key(days: u32) -> String {
    format!("streak_milestone:{days}")
}
pub fn milestone_rule(days: u32) -> String {
    format!("streak_milestone_{days}")
}

/// A ledger row: as stored (`stored` is `Some`) and as it should be.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub rule_id: String,
    pub rule_version: i32,
    pub source_key: String,
    pub course_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
    pub local_date: NaiveDate,
    /// What the rule pays, before the cap.
    pub base: i32,
    pub awarded: i32,
    pub capped: i32,
    /// The event whose time the award carries, when known.
    pub trigger: Option<String>,
    /// The stored row this is, if any; `None` for a new award.
    pub stored: Option<Stored>,
    /// The award no longer holds (a milestone a recompute no longer finds).
    pub removed: bool,
}

/// What the database holds of an entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stored {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub local_date: NaiveDate,
    pub awarded: i32,
    pub capped: i32,
}

impl Entry {
    /// Whether the row must be written (inserted, moved, re-split or
    /// removed).
    pub fn changed(&self) -> bool {
        match &self.stored {
            None => !self.removed,
            Some(s) => {
                self.removed
                    || s.occurred_at != self.occurred_at
                    || s.awarded != self.awarded
                    || s.capped != self.capped
            }
        }
    }

    /// Points counted after the change minus before.
    pub fn awarded_delta(&self) -> i64 {
        let now = if self.removed { 0 } else { self.awarded };
        i64::from(now) - i64::from(self.stored.map_or(0, |s| s.awarded))
    }

    pub fn capped_delta(&self) -> i64 {
        let now = if self.removed { 0 } else { self.capped };
        i64::from(now) - i64::from(self.stored.map_or(0, |s| s.capped))
    }
}

/// Re-applies the daily cap to one person's day: `entries` are all of
/// that day's awards (removed ones are skipped and pay nothing).
pub fn recap_day(entries: &mut [&mut Entry], cap: i32) {
    entries.sort_by(|a, b| {
        (a.occurred_at, &a.rule_id, &a.source_key).cmp(&(b.occurred_at, &b.rule_id, &b.source_key))
    });
    let live: Vec<i32> = entries
        .iter()
        .filter(|e| !e.removed)
        .map(|e| e.base)
        .collect();
    let mut awards = split_day(&live, cap).into_iter();
    for entry in entries.iter_mut() {
        if entry.removed {
            entry.awarded = 0;
            entry.capped = 0;
        } else if let Some(award) = awards.next() {
            entry.awarded = award.awarded;
            entry.capped = award.capped;
        }
    }
}

/// The time a person's total was reached (their latest award that pays)
/// after a batch's changes, from the time stored before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatestAward {
    Known(Option<DateTime<Utc>>),
    /// A changed row may have been the latest: only the ledger knows which
    /// award is now.
    ReadLedger,
}

/// [`LatestAward`] after `entries` (a batch's ledger rows, changed or not)
/// are written, when `before` was the latest paying award's time. Only a
/// changed row that paid at or after `before` can take the latest away;
/// otherwise the latest is `before` or a later row the batch pays.
pub fn latest_award_after<'a>(
    before: Option<DateTime<Utc>>,
    entries: impl IntoIterator<Item = &'a Entry>,
) -> LatestAward {
    latest_since(before, None, entries)
}

/// [`latest_award_after`] among the awards at or after `since` only.
fn latest_since<'a>(
    before: Option<DateTime<Utc>>,
    since: Option<DateTime<Utc>>,
    entries: impl IntoIterator<Item = &'a Entry>,
) -> LatestAward {
    let counts = |at: DateTime<Utc>| since.is_none_or(|since| at >= since);
    let mut latest = before;
    for e in entries.into_iter().filter(|e| e.changed()) {
        if let Some(s) = e.stored
            && s.awarded > 0
            && counts(s.occurred_at)
            && Some(s.occurred_at) >= before
        {
            return LatestAward::ReadLedger;
        }
        if !e.removed && e.awarded > 0 && counts(e.occurred_at) {
            latest = latest.max(Some(e.occurred_at));
        }
    }
    LatestAward::Known(latest)
}

/// A person's points in the current week or month, as `user_points`
/// keeps them: every award at or after the period's first instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodPoints {
    pub points: i64,
    /// The latest award of the period that pays (the board's tie-break).
    pub reached_at: Option<DateTime<Utc>>,
}

/// The period's points after `entries` are written, from what was stored
/// for the same period (`before`), the period starting at `since`; `None`
/// when only the ledger can tell (a changed row was the period's latest).
pub fn period_after<'a, I>(
    before: PeriodPoints,
    since: DateTime<Utc>,
    entries: I,
) -> Option<PeriodPoints>
where
    I: IntoIterator<Item = &'a Entry> + Clone,
{
    let LatestAward::Known(reached_at) =
        latest_since(before.reached_at, Some(since), entries.clone())
    else {
        return None;
    };
    let mut points = before.points;
    for e in entries.into_iter().filter(|e| e.changed()) {
        if let Some(s) = e.stored
            && s.occurred_at >= since
        {
            points -= i64::from(s.awarded);
        }
        if !e.removed && e.occurred_at >= since {
            points += i64::from(e.awarded);
        }
    }
    Some(PeriodPoints { points, reached_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, minute: u32, base: i32) -> Entry {
        let at: DateTime<Utc> = format!("2026-11-20T10:{minute:02}:00Z").parse().unwrap();
        Entry {
            rule_id: "assessment_graded".into(),
            rule_version: 1,
            source_key: key.into(),
            course_id: None,
            occurred_at: at,
            local_date: at.date_naive(),
            base,
            awarded: 0,
            capped: 0,
            trigger: None,
            stored: None,
            removed: false,
        }
    }

    #[test]
    fn a_late_earlier_award_takes_its_place_in_the_day() {
        // Arrived: 10:30 (600), 10:40 (300); late: 10:10 (200).
        let mut a = entry("a", 30, 600);
        let mut b = entry("b", 40, 300);
        let mut late = entry("late", 10, 200);
        recap_day(&mut [&mut a, &mut b, &mut late], 1000);
        assert_eq!((late.awarded, late.capped), (200, 0));
        assert_eq!((a.awarded, a.capped), (600, 0));
        assert_eq!(
            (b.awarded, b.capped),
            (200, 100),
            "the crossing award is split"
        );
    }

    #[test]
    fn removed_entries_pay_nothing_and_free_the_room() {
        let mut a = entry("a", 1, 900);
        let mut gone = entry("gone", 2, 100);
        gone.removed = true;
        let mut c = entry("c", 3, 100);
        recap_day(&mut [&mut a, &mut gone, &mut c], 1000);
        assert_eq!((gone.awarded, c.awarded, c.capped), (0, 100, 0));
    }

    #[test]
    fn deltas_and_changes_compare_with_what_is_stored() {
        let mut e = entry("a", 1, 100);
        e.awarded = 60;
        e.capped = 40;
        assert!(e.changed());
        assert_eq!((e.awarded_delta(), e.capped_delta()), (60, 40));
        e.stored = Some(Stored {
            id: Uuid::nil(),
            occurred_at: e.occurred_at,
            local_date: e.local_date,
            awarded: 100,
            capped: 0,
        });
        assert!(e.changed());
        assert_eq!((e.awarded_delta(), e.capped_delta()), (-40, 40));
        e.awarded = 100;
        e.capped = 0;
        assert!(!e.changed());
        e.removed = true;
        assert!(e.changed());
        assert_eq!(e.awarded_delta(), -100);
    }

    #[test]
    fn the_latest_award_moves_forward_with_new_paying_rows_only() {
        let old = entry("old", 5, 100);
        let before = Some(old.occurred_at);
        let mut new = entry("new", 20, 50);
        new.awarded = 50;
        let mut capped_out = entry("late", 40, 50);
        capped_out.capped = 50;
        assert_eq!(
            latest_award_after(before, [&new, &capped_out]),
            LatestAward::Known(Some(new.occurred_at)),
            "a row that pays nothing does not reach the total"
        );
        let mut earlier = entry("earlier", 1, 10);
        earlier.awarded = 10;
        assert_eq!(
            latest_award_after(before, [&earlier]),
            LatestAward::Known(before)
        );
        assert_eq!(
            latest_award_after(None, [&earlier]),
            LatestAward::Known(Some(earlier.occurred_at))
        );
    }

    #[test]
    fn a_changed_row_that_was_the_latest_sends_to_the_ledger() {
        let mut latest = entry("x", 30, 100);
        latest.stored = Some(Stored {
            id: Uuid::nil(),
            occurred_at: latest.occurred_at,
            local_date: latest.local_date,
            awarded: 100,
            capped: 0,
        });
        let before = Some(latest.occurred_at);
        latest.awarded = 100;
        assert_eq!(
            latest_award_after(before, [&latest]),
            LatestAward::Known(before),
            "unchanged"
        );
        latest.removed = true;
        assert_eq!(
            latest_award_after(before, [&latest]),
            LatestAward::ReadLedger
        );
        latest.removed = false;
        latest.awarded = 0;
        latest.capped = 100;
        assert_eq!(
            latest_award_after(before, [&latest]),
            LatestAward::ReadLedger
        );
        // An earlier paying row re-split does not touch the latest.
        let mut older = entry("y", 10, 100);
        older.stored = latest.stored.map(|s| Stored {
            occurred_at: older.occurred_at,
            ..s
        });
        older.awarded = 40;
        older.capped = 60;
        assert_eq!(
            latest_award_after(before, [&older]),
            LatestAward::Known(before)
        );
    }

    #[test]
    fn a_period_adds_what_the_batch_pays_in_it_and_takes_back_what_it_moves_out() {
        let since: DateTime<Utc> = "2026-11-20T10:15:00Z".parse().unwrap();
        let stored = |e: &mut Entry, awarded: i32| {
            e.stored = Some(Stored {
                id: Uuid::nil(),
                occurred_at: e.occurred_at,
                local_date: e.local_date,
                awarded,
                capped: 0,
            });
        };
        let kept = entry("kept", 20, 100);
        let before = PeriodPoints {
            points: 300,
            reached_at: Some(kept.occurred_at),
        };
        // New in the period (50), new before it (not counted), a row of
        // the period re-split from 40 to 10, a row moved out of it.
        let mut new = entry("new", 30, 50);
        new.awarded = 50;
        let mut old = entry("old", 1, 70);
        old.awarded = 70;
        let mut resplit = entry("resplit", 16, 40);
        stored(&mut resplit, 40);
        resplit.awarded = 10;
        resplit.capped = 30;
        let mut moved = entry("moved", 17, 60);
        stored(&mut moved, 60);
        moved.occurred_at = "2026-11-20T10:05:00Z".parse().unwrap();
        moved.awarded = 60;
        assert_eq!(
            period_after(before, since, [&new, &old, &resplit, &moved]),
            Some(PeriodPoints {
                points: 300 + 50 - 30 - 60,
                reached_at: Some(new.occurred_at),
            })
        );
        // The period's latest re-split to nothing: only the ledger knows.
        let mut latest = entry("kept", 20, 100);
        stored(&mut latest, 100);
        latest.capped = 100;
        assert_eq!(period_after(before, since, [&latest]), None);
        // The same row before the period does not matter to it.
        let later: DateTime<Utc> = "2026-11-20T10:25:00Z".parse().unwrap();
        let empty = PeriodPoints {
            points: 0,
            reached_at: None,
        };
        assert_eq!(period_after(empty, later, [&latest]), Some(empty));
    }
}
