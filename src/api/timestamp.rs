//! Protobuf timestamps (`google.protobuf.Timestamp`) to and from chrono,
//! for every service's messages.

use chrono::{DateTime, Utc};

/// A chrono instant as a protobuf timestamp (the reverse of [`timestamp`]).
pub fn to_timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    let at = crate::domain::events::without_leap_second(at);
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// A protobuf timestamp as chrono, `None` when out of range.
pub fn timestamp(at: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(at.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)?;
    DateTime::from_timestamp(at.seconds, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leap_second_becomes_the_last_instant_of_its_minute() {
        let leap = DateTime::parse_from_rfc3339("2026-06-30T23:59:60Z")
            .unwrap()
            .with_timezone(&Utc);
        let ts = to_timestamp(leap);
        assert_eq!(ts.nanos, 999_999_999);
        let back = timestamp(&ts).expect("a valid protobuf timestamp");
        assert_eq!(back.to_rfc3339(), "2026-06-30T23:59:59.999999999+00:00");
    }
}
