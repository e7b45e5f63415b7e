//! IANA time zone names as stored, to `chrono_tz::Tz`.
//!
//! Stored names are checked against the `time_zones` table, which migrations
//! fill from PostgreSQL's own list; chrono-tz carries its own copy of the tz
//! database, so a name one knows and the other does not is possible after an
//! upgrade of either. Then the day boundaries fall back to UTC, and the log
//! says so instead of the numbers silently shifting.

use chrono_tz::Tz;

/// The zone called `name`, UTC (with a warning) when chrono-tz lacks it.
pub fn zone(name: &str) -> Tz {
    name.parse().unwrap_or_else(|_| {
        tracing::warn!(
            time_zone = name,
            "time zone unknown to this build's tz database; using UTC for its day boundaries"
        );
        Tz::UTC
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_parse_and_unknown_ones_fall_back_to_utc() {
        assert_eq!(zone("Asia/Tokyo"), chrono_tz::Asia::Tokyo);
        assert_eq!(zone("America/New_York"), chrono_tz::America::New_York);
        assert_eq!(zone("Mars/Olympus_Mons"), Tz::UTC);
    }
}
