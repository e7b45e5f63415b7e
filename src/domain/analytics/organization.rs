//! Organization analytics 11-14: weeks, learning culture.

use chrono::{Days, NaiveDate};

use super::stats::round_half_up;
use crate::domain::gamification::periods::monday_of;

/// Weekly buckets when the caller asks for none.
pub const DEFAULT_WEEKS: u32 = 12;
/// The most weekly buckets one answer covers (activity events are kept 90
/// days, so older weeks would be incomplete).
pub const MAX_WEEKS: u32 = 12;

/// The `weeks` Mondays ending with the current week's, oldest first.
pub fn week_starts(today: NaiveDate, weeks: u32) -> Vec<NaiveDate> {
    let current = monday_of(today);
    (0..weeks)
        .rev()
        .map(|back| current - Days::new(7 * u64::from(back)))
        .collect()
}

/// The culture index's weights: participation, streaks, peer help.
pub const CULTURE_WEIGHTS: [f64; 3] = [0.5, 0.3, 0.2];
/// A current streak of at least this many days counts for the culture.
pub const CULTURE_STREAK_DAYS: i32 = 3;

/// Index 0-100 from participation and streak share (0..1) and peer helps
/// per 10 people: one help per person in the window is the full mark.
pub fn culture_index(participation: f64, streak_share: f64, helps_per_ten: f64) -> u32 {
    // Shares are 0..1 by construction; clamped so that no input leaves 0..100.
    let unit = |x: f64| x.clamp(0.0, 1.0);
    let help = unit(helps_per_ten / 10.0);
    let [p, s, h] = CULTURE_WEIGHTS;
    round_half_up(100.0 * (p * unit(participation) + s * unit(streak_share) + h * help))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_oldest_first() {
        let tuesday = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let weeks = week_starts(tuesday, 3);
        assert_eq!(
            weeks,
            [
                NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(),
                NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
                NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            ]
        );
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(monday_of(monday), monday);
    }

    #[test]
    fn culture_index_weighs_participation_streaks_and_help() {
        assert_eq!(culture_index(1.0, 1.0, 10.0), 100);
        assert_eq!(culture_index(0.5, 0.2, 5.0), 41); // 25 + 6 + 10
        assert_eq!(culture_index(0.0, 0.0, 50.0), 20);
    }
}
