//! Learning events as the rules see them: validated, typed, with the
//! canonical payload whose hash tells a duplicate from a conflict.
//!
//! [`validate`] checks everything an event says about itself (ids, ranges,
//! time). What needs the database (does the user exist, is the course in
//! the user's organization) is checked at ingestion against the catalogue.
//! Events arrive as [`RawEvent`]s: the API turns protobuf messages into
//! them, the xAPI mapping builds them from statements.

mod kind;
mod payload;
mod raw;
mod valid;
mod validate;

use chrono::{Duration, NaiveDate};

pub use kind::Kind;
pub use payload::Payload;
pub use raw::{RawEvent, RawPayload, Stamp, without_leap_second};
pub use valid::ValidEvent;
pub use validate::validate;

/// How far ahead of the server clock `occurred_at` may be: producers' clocks
/// drift a little; an event from next week is a bug, not drift.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);
/// The longest learning session counted; a longer one is a producer bug
/// (a session never closed), and would dominate time-on-platform figures.
pub const MAX_SESSION: Duration = Duration::hours(24);

/// No event happened before this day (UTC): earlier is refused as an
/// unset or zero timestamp, so reads may start their ranges here.
pub const EARLIEST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
