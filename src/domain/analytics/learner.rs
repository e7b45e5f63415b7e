//! Learner analytics 1-5: velocity and momentum, engagement, mastery,
//! assessment performance.

use chrono::{Days, NaiveDate};

use super::stats::{round_half_up, slope};

/// Momentum threshold: a change beyond +/-20% moves it (exactly 20% is
/// stable).
pub const MOMENTUM_THRESHOLD: f64 = 0.20;
pub use crate::domain::thresholds::{MASTERY, PASS_MARK};
/// Scores the performance trend looks at.
pub const TREND_WINDOW: usize = 10;
/// A slope beyond +/-2 points per assessment is a trend.
pub const TREND_THRESHOLD: f64 = 2.0;
/// Lessons per week a learner aims for when the organization sets none
/// (`settings.lesson_target_per_week`).
pub const DEFAULT_LESSON_TARGET: f64 = 3.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Momentum {
    Accelerating,
    Stable,
    Declining,
}

/// SPEC momentum: change = (last7 - prior7) / prior7, with prior7 = 0 any
/// activity accelerating and none stable (change absent).
pub fn momentum(last7: u32, prior7: u32) -> (Option<f64>, Momentum) {
    if prior7 == 0 {
        let m = if last7 > 0 {
            Momentum::Accelerating
        } else {
            Momentum::Stable
        };
        return (None, m);
    }
    let change = (f64::from(last7) - f64::from(prior7)) / f64::from(prior7);
    let m = if change > MOMENTUM_THRESHOLD {
        Momentum::Accelerating
    } else if change < -MOMENTUM_THRESHOLD {
        Momentum::Declining
    } else {
        Momentum::Stable
    };
    (Some(change), m)
}

/// Lessons still to do in a course of `total` lessons at `progress_percent`:
/// rounded up, so a course short of 100% always has one left.
pub fn remaining_lessons(total: u32, progress_percent: f64) -> u32 {
    if progress_percent >= 100.0 {
        return 0;
    }
    let left = f64::from(total) * (100.0 - progress_percent.max(0.0)) / 100.0;
    (left - 1e-9).ceil().max(0.0) as u32
}

/// The local day `remaining` lessons are done at `per_week`; `None` when
/// nothing remains or there is no pace.
pub fn estimated_completion(today: NaiveDate, remaining: u32, per_week: f64) -> Option<NaiveDate> {
    if remaining == 0 || per_week <= 0.0 {
        return None;
    }
    let days = (f64::from(remaining) / per_week * 7.0).ceil() as u64;
    today.checked_add_days(Days::new(days))
}

/// One local day's figures for the engagement score.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DayFigures {
    pub logins: u32,
    pub session_seconds: u32,
    pub learning_activities: u32,
}

/// Days the engagement score covers, ending today.
pub const ENGAGEMENT_DAYS: usize = 14;
const TARGET_LOGINS: f64 = 1.0;
const TARGET_SESSION_MINUTES: f64 = 30.0;
const TARGET_ACTIVITIES: f64 = 2.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngagementBand {
    High,
    Medium,
    Low,
}

/// Bands on the integer score: high >= 80, medium 50-79, low < 50.
pub fn engagement_band(score: u32) -> EngagementBand {
    match score {
        80.. => EngagementBand::High,
        50..=79 => EngagementBand::Medium,
        _ => EngagementBand::Low,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Engagement {
    pub score: u32,
    pub band: EngagementBand,
    /// Weighted means 0..1 of the three components.
    pub logins: f64,
    pub session: f64,
    pub activity: f64,
}

/// SPEC engagement over 14 local days, `days[0]` the oldest and `days[13]`
/// today: per day min(1, value / target) per component, the last 7 days
/// weigh 2, score = 100 x (0.35 logins + 0.25 session + 0.40 activity),
/// rounded half up.
pub fn engagement(days: &[DayFigures; ENGAGEMENT_DAYS]) -> Engagement {
    let (mut logins, mut session, mut activity, mut weights) = (0.0, 0.0, 0.0, 0.0);
    for (i, day) in days.iter().enumerate() {
        let w = if i >= ENGAGEMENT_DAYS / 2 { 2.0 } else { 1.0 };
        logins += w * (f64::from(day.logins) / TARGET_LOGINS).min(1.0);
        session += w * (f64::from(day.session_seconds) / 60.0 / TARGET_SESSION_MINUTES).min(1.0);
        activity += w * (f64::from(day.learning_activities) / TARGET_ACTIVITIES).min(1.0);
        weights += w;
    }
    let (logins, session, activity) = (logins / weights, session / weights, activity / weights);
    let score = round_half_up(100.0 * (0.35 * logins + 0.25 * session + 0.40 * activity));
    Engagement {
        score,
        band: engagement_band(score),
        logins,
        session,
        activity,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    Improving,
    Stable,
    Declining,
}

/// Slope over the last 10 of `scores` (oldest first) and its trend: > +2
/// improving, < -2 declining, else (and under 2 scores) stable.
pub fn performance_trend(scores: &[f64]) -> (f64, Trend) {
    let last = &scores[scores.len().saturating_sub(TREND_WINDOW)..];
    let s = slope(last);
    let trend = if last.len() < 2 {
        Trend::Stable
    } else if s > TREND_THRESHOLD {
        Trend::Improving
    } else if s < -TREND_THRESHOLD {
        Trend::Declining
    } else {
        Trend::Stable
    };
    (s, trend)
}

/// Share of scores at or above the pass mark.
pub fn pass_rate(scores: &[f64]) -> f64 {
    if scores.is_empty() {
        return 0.0;
    }
    scores.iter().filter(|s| **s >= PASS_MARK).count() as f64 / scores.len() as f64
}

pub fn is_mastered(mastery: f64) -> bool {
    mastery >= MASTERY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn momentum_boundaries_are_stable() {
        assert_eq!(momentum(12, 10), (Some(0.2), Momentum::Stable));
        assert_eq!(momentum(8, 10), (Some(-0.2), Momentum::Stable));
        assert_eq!(momentum(13, 10).1, Momentum::Accelerating);
        assert_eq!(momentum(7, 10).1, Momentum::Declining);
        assert_eq!(momentum(1, 0), (None, Momentum::Accelerating));
        assert_eq!(momentum(0, 0), (None, Momentum::Stable));
    }

    #[test]
    fn remaining_lessons_round_up_until_done() {
        assert_eq!(remaining_lessons(10, 0.0), 10);
        assert_eq!(remaining_lessons(10, 50.0), 5);
        assert_eq!(remaining_lessons(10, 99.0), 1);
        assert_eq!(remaining_lessons(10, 100.0), 0);
        assert_eq!(remaining_lessons(3, 40.0), 2);
    }

    #[test]
    fn completion_is_projected_at_the_current_pace() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(
            estimated_completion(today, 6, 3.0),
            NaiveDate::from_ymd_opt(2026, 12, 15)
        );
        // 5 lessons at 2/week: 17.5 days, rounded up.
        assert_eq!(
            estimated_completion(today, 5, 2.0),
            NaiveDate::from_ymd_opt(2026, 12, 19)
        );
        assert_eq!(estimated_completion(today, 0, 3.0), None);
        assert_eq!(estimated_completion(today, 4, 0.0), None);
    }

    fn day(logins: u32, minutes: u32, activities: u32) -> DayFigures {
        DayFigures {
            logins,
            session_seconds: minutes * 60,
            learning_activities: activities,
        }
    }

    #[test]
    fn engagement_full_marks_and_nothing() {
        let full = engagement(&[day(3, 90, 5); 14]);
        assert_eq!((full.score, full.band), (100, EngagementBand::High));
        let none = engagement(&[DayFigures::default(); 14]);
        assert_eq!((none.score, none.band), (0, EngagementBand::Low));
    }

    #[test]
    fn engagement_weighs_the_last_week_double() {
        // Only the last 7 days, fully: 14/21 of every component = 66.67 -> 67.
        let mut days = [DayFigures::default(); 14];
        for d in days.iter_mut().skip(7) {
            *d = day(1, 30, 2);
        }
        let e = engagement(&days);
        assert_eq!(e.score, 67);
        assert_eq!(e.band, EngagementBand::Medium);
        // Only the first 7: 7/21 = 33.33 -> 33.
        let mut days = [DayFigures::default(); 14];
        for d in days.iter_mut().take(7) {
            *d = day(1, 30, 2);
        }
        assert_eq!(engagement(&days).score, 33);
    }

    #[test]
    fn engagement_components_cap_at_their_target() {
        // Logins every day (35), half the session target (12.5), no activity.
        let e = engagement(&[day(5, 15, 0); 14]);
        assert!((e.logins - 1.0).abs() < 1e-12);
        assert!((e.session - 0.5).abs() < 1e-12);
        assert_eq!(e.score, 48); // 47.5 rounds half up
    }

    #[test]
    fn engagement_bands_on_the_integer() {
        assert_eq!(engagement_band(80), EngagementBand::High);
        assert_eq!(engagement_band(79), EngagementBand::Medium);
        assert_eq!(engagement_band(50), EngagementBand::Medium);
        assert_eq!(engagement_band(49), EngagementBand::Low);
    }

    #[test]
    fn trend_uses_the_last_ten_scores_and_exact_two_is_stable() {
        let rising: Vec<f64> = (0..10).map(|i| 50.0 + 2.0 * f64::from(i)).collect();
        assert_eq!(performance_trend(&rising), (2.0, Trend::Stable));
        let steeper: Vec<f64> = (0..10).map(|i| 50.0 + 2.5 * f64::from(i)).collect();
        assert_eq!(performance_trend(&steeper).1, Trend::Improving);
        let falling: Vec<f64> = (0..10).map(|i| 90.0 - 3.0 * f64::from(i)).collect();
        assert_eq!(performance_trend(&falling).1, Trend::Declining);
        // An early outlier outside the window does not count.
        let mut twelve = vec![0.0, 100.0];
        twelve.extend(std::iter::repeat_n(70.0, 10));
        assert_eq!(performance_trend(&twelve), (0.0, Trend::Stable));
        assert_eq!(performance_trend(&[40.0]).1, Trend::Stable);
    }

    #[test]
    fn pass_mark_is_seventy_inclusive() {
        assert_eq!(pass_rate(&[70.0, 69.9, 100.0, 0.0]), 0.5);
        assert_eq!(pass_rate(&[]), 0.0);
        assert!(is_mastered(80.0));
        assert!(!is_mastered(79.9));
    }
}
