//! Leaderboard periods (SPEC): weeks start Monday 00:00 local, months on
//! the 1st, in the organization's time zone.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

/// The Monday of the local week holding `at`.
pub fn week_start(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    monday_of(at.with_timezone(&zone).date_naive())
}

/// The Monday starting the week of the local date `day`.
pub fn monday_of(day: NaiveDate) -> NaiveDate {
    day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// The 1st of the local month holding `at`.
pub fn month_start(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    let local = at.with_timezone(&zone).date_naive();
    local.with_day(1).unwrap_or(local)
}

/// The first instant of a local date (a day that starts in a DST gap
/// starts at its first valid instant).
pub fn local_midnight(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    use chrono::TimeZone;
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    (0..3)
        .find_map(|h| {
            zone.from_local_datetime(&(midnight + chrono::Duration::hours(h)))
                .earliest()
        })
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_midnight_is_the_zones_first_instant_of_the_day() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(local_midnight(day, berlin), at("2026-11-29T23:00:00Z"));
        // Santiago skips 00:00-01:00 when DST starts (2026-09-06).
        let santiago: Tz = "America/Santiago".parse().unwrap();
        let gap = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        assert_eq!(local_midnight(gap, santiago), at("2026-09-06T04:00:00Z"));
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn weeks_start_on_local_monday() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        // Sunday 23:30 UTC is already Monday in Berlin and Tokyo.
        let late_sunday = at("2026-11-29T23:30:00Z");
        assert_eq!(
            week_start(late_sunday, chrono_tz::UTC).to_string(),
            "2026-11-23"
        );
        assert_eq!(week_start(late_sunday, berlin).to_string(), "2026-11-30");
        assert_eq!(week_start(late_sunday, tokyo).to_string(), "2026-11-30");
        let new_york: Tz = "America/New_York".parse().unwrap();
        // Monday 03:00 UTC is still Sunday evening in New York.
        assert_eq!(
            week_start(at("2026-11-30T03:00:00Z"), new_york).to_string(),
            "2026-11-23"
        );
    }

    #[test]
    fn months_start_on_the_local_first() {
        let auckland: Tz = "Pacific/Auckland".parse().unwrap();
        let end_of_november = at("2026-11-30T12:00:00Z");
        assert_eq!(
            month_start(end_of_november, chrono_tz::UTC).to_string(),
            "2026-11-01"
        );
        assert_eq!(
            month_start(end_of_november, auckland).to_string(),
            "2026-12-01"
        );
    }
}
