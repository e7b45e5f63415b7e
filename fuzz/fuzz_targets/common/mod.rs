//! What the server does with an ingestion request, minus the database:
//! shared by the fuzz targets.
//!
//! Everything here calls Stride's own public, pure functions. Where the
//! server's glue is private (`api::events::xapi::import`), the few lines of
//! it that do not touch the database are mirrored and say so.
//!
//! The server validates against its clock (`Utc::now()`); the targets pass
//! a fixed or input-derived `now` so that a crashing input reproduces.
#![allow(dead_code)]

use std::sync::LazyLock;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use stride::api::ApiError;
use stride::api::events::convert;
use stride::api::events::ingest::{self, Checked};
use stride::db::ingest::Outcome;
use stride::domain::FieldViolation;
use stride::domain::derive::{Derived, Placed};
use stride::domain::events::{self, RawEvent, ValidEvent};
use stride::domain::gamification::periods::{local_midnight, month_start, week_start};
use stride::domain::references::{Catalog, Mentioned, place};
use stride::domain::xapi::{self, Actor, MappedStatement, XapiError};
use stride::proto::events::v1 as pb;
use uuid::Uuid;

/// The server clock of `decode_requests` and `xapi_statement`: after every
/// seed's timestamps, so the seeds validate.
pub fn fixed_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
}

/// The organization of an organization-scoped token.
pub const TOKEN_ORG: Uuid = Uuid::from_u128(0x0a0a_0a0a_0a0a_4a0a_8a0a_0a0a_0a0a_0a0a);
/// The person an xAPI `mbox` resolves to.
pub const EMAIL_USER: Uuid = Uuid::from_u128(0x0e0e_0e0e_0e0e_4e0e_8e0e_0e0e_0e0e_0e0e);

/// `STRIDE_FUZZ_VERBOSE=1` prints what became of each input (to check
/// that seeds reach validation, or to read a crash's input).
pub static VERBOSE: LazyLock<bool> =
    LazyLock::new(|| std::env::var_os("STRIDE_FUZZ_VERBOSE").is_some_and(|v| v != "0"));

macro_rules! say {
    ($($arg:tt)*) => {
        if *$crate::common::VERBOSE {
            eprintln!($($arg)*);
        }
    };
}
pub(crate) use say;

/// Time zones with the awkward cases: +14 and -11 (the calendar's edges),
/// +5:45, a DST change at midnight (Santiago), a 30-minute DST (Lord Howe).
const ZONES: [Tz; 7] = [
    chrono_tz::UTC,
    chrono_tz::Pacific::Kiritimati,
    chrono_tz::Pacific::Pago_Pago,
    chrono_tz::Asia::Kathmandu,
    chrono_tz::America::Santiago,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Europe::Berlin,
];

fn zone_of(id: Uuid) -> Tz {
    ZONES[usize::from(id.as_bytes()[0]) % ZONES.len()]
}

/// `ingest::check` with the clock passed in (the server's uses `Utc::now()`).
pub fn check(event: Option<&pb::Event>, now: DateTime<Utc>) -> Checked {
    let checked = check_raw(event.map(convert::raw_event).as_ref(), now);
    if let Some(event) = event {
        assert_eq!(
            checked,
            convert::validate(event, now),
            "the server validates a message as the domain's raw event"
        );
    }
    checked
}

/// [`check`] of an event in the domain's unchecked shape (as an xAPI
/// statement maps onto).
pub fn check_raw(event: Option<&RawEvent>, now: DateTime<Utc>) -> Checked {
    let checked = match event {
        Some(event) => events::validate(event, now),
        None => ingest::check(None),
    };
    if let Some(event) = event {
        assert_eq!(
            checked,
            events::validate(event, now),
            "validation must not depend on anything but the event and the clock"
        );
    }
    match &checked {
        Ok(valid) => {
            assert_eq!(Some(&valid.event_id), event.map(|e| &e.event_id));
            // Only the future check depends on the clock: what is valid
            // now stays valid later.
            let later = now + chrono::Duration::days(365);
            assert!(
                event.is_some_and(|e| events::validate(e, later).is_ok()),
                "valid at {now} but not a year later"
            );
        }
        Err(violations) => assert!(!violations.is_empty(), "refused without a reason"),
    }
    checked
}

/// PublishEvent after the codec: the check, then what the handler answers
/// an invalid event with, or ingestion's pure steps for a valid one.
pub fn publish_event(request: &pb::PublishEventRequest, scope: Option<Uuid>, now: DateTime<Utc>) {
    let checked = check(request.event.as_ref(), now);
    match checked {
        Err(violations) => {
            say!("PublishEvent: invalid {violations:?}");
            invalid_argument(violations);
        }
        Ok(valid) => {
            say!("PublishEvent: valid {:?}", valid.kind());
            ingest_batch(&[Ok(valid)], scope);
        }
    }
}

/// One batch of a PublishEvents stream: each message checked, ingestion's
/// pure steps over the batch, and the per-event results of the refused.
pub fn publish_events(batch: &[pb::PublishEventsRequest], scope: Option<Uuid>, now: DateTime<Utc>) {
    let checked: Vec<Checked> = batch.iter().map(|m| check(m.event.as_ref(), now)).collect();
    say!(
        "PublishEvents: {} messages, {} valid",
        checked.len(),
        checked.iter().filter(|c| c.is_ok()).count()
    );
    for (index, (message, c)) in batch.iter().zip(&checked).enumerate() {
        if let Err(violations) = c {
            let event_id = message
                .event
                .as_ref()
                .map(|e| e.event_id.as_str())
                .unwrap_or_default();
            let result =
                ingest::result(index as u64, event_id, Outcome::Invalid(violations.clone()));
            assert_eq!(result.status, pb::EventStatus::Invalid as i32);
        }
    }
    ingest_batch(&checked, scope);
}

/// Status::from(ApiError::InvalidArgument): the summary and the BadRequest
/// details built from the violations.
pub fn invalid_argument(violations: Vec<FieldViolation>) {
    let status = tonic::Status::from(ApiError::InvalidArgument(violations));
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
}

/// What `db::ingest::apply` computes before and around its SQL: the ids to
/// load, the placement of each event (against a catalogue in which what the
/// events name mostly exists), fingerprints, local dates, leaderboard
/// periods and the derived per-person deltas.
pub fn ingest_batch(checked: &[Checked], scope: Option<Uuid>) {
    let valid: Vec<&ValidEvent> = checked.iter().filter_map(|c| c.as_ref().ok()).collect();
    let mentioned = Mentioned::of(valid.iter().copied());
    for ids in [
        &mentioned.users,
        &mentioned.courses,
        &mentioned.lessons,
        &mentioned.skills,
        &mentioned.paths,
    ] {
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "mentioned ids sorted and distinct"
        );
    }
    let catalog = catalog_for(&valid, scope);
    let mut placed = Vec::new();
    for event in &valid {
        let fingerprint = event.fingerprint();
        assert_eq!(fingerprint.len(), 32);
        let _ = event.payload.to_json().to_string();
        let seconds = event.session_seconds();
        assert!(seconds >= 0, "a session of {seconds} s");
        match place(event, scope, &catalog) {
            Ok(placement) => {
                let day = event.local_date(placement.zone);
                let _ = week_start(event.occurred_at, placement.zone);
                let _ = month_start(event.occurred_at, placement.zone);
                let _ = local_midnight(day, placement.zone);
                placed.push(Placed {
                    event,
                    organization_id: placement.organization_id,
                    local_date: day,
                });
            }
            Err(violations) => assert!(!violations.is_empty(), "unplaced without a reason"),
        }
    }
    let derived = Derived::from_events(placed.iter().copied());
    for day in derived.days.values() {
        assert!(day.session_seconds >= 0);
        assert!(day.first_activity_at <= day.last_activity_at);
    }
    for enrollment in derived.enrollments.values() {
        assert!((0.0..=100.0).contains(&enrollment.progress_percent));
    }
    say!(
        "ingestion: {} valid, {} placed, {} day rows",
        valid.len(),
        placed.len(),
        derived.days.len()
    );
}

/// A catalogue holding what the events name in their organization, except
/// ids whose last byte is 0 (unknown, to reach the refusals too).
fn catalog_for(valid: &[&ValidEvent], scope: Option<Uuid>) -> Catalog {
    let known = |id: &Uuid| id.as_bytes()[15] != 0;
    let mut catalog = Catalog::default();
    for event in valid {
        let Some(org) = scope.or(event.organization_id) else {
            continue;
        };
        if known(&event.user_id) {
            catalog
                .users
                .insert(event.user_id, (org, zone_of(event.user_id)));
        }
        let payload = &event.payload;
        if let Some(course) = payload.course_id().filter(known) {
            catalog.courses.insert(course, org);
            if let Some(lesson) = payload.lesson_id().filter(known) {
                catalog.lessons.insert(lesson, course);
            }
        }
        if let Some(skill) = payload.skill_id().filter(known) {
            // Odd first byte: a platform-wide skill.
            let owner = (skill.as_bytes()[0] % 2 == 0).then_some(org);
            catalog.skills.insert(skill, owner);
        }
        match payload {
            events::Payload::PeerHelped { peer_user_id, .. } if known(peer_user_id) => {
                catalog
                    .users
                    .insert(*peer_user_id, (org, zone_of(*peer_user_id)));
            }
            events::Payload::LearningPathCompleted { path_id } if known(path_id) => {
                catalog.paths.insert(*path_id, org);
            }
            _ => {}
        }
    }
    catalog
}

/// ImportXapiStatements after the codec, mirroring the pure part of
/// `api::events::xapi::import` (private): the batch size, the organization,
/// each statement mapped (`struct_to_json` then `map_statement`), people
/// resolved (an `mbox` always finds [`EMAIL_USER`]), each event validated,
/// then ingestion's pure steps.
pub fn import_xapi(
    request: &pb::ImportXapiStatementsRequest,
    scope: Option<Uuid>,
    now: DateTime<Utc>,
) {
    let count = request.statements.len();
    if count == 0 || count > 1000 {
        invalid_argument(vec![FieldViolation::new(
            "statements",
            "send 1-1000 statements per call",
        )]);
        return;
    }
    let named = if request.organization_id.is_empty() {
        None
    } else {
        match Uuid::parse_str(&request.organization_id) {
            Ok(id) => Some(id),
            Err(_) => {
                invalid_argument(vec![FieldViolation::new(
                    "organization_id",
                    "must be a UUID",
                )]);
                return;
            }
        }
    };
    let Some(org) = scope.or(named) else {
        return;
    };
    let statements: Vec<Value> = request
        .statements
        .iter()
        .map(convert::struct_to_json)
        .collect();
    let checked: Vec<Checked> = statements
        .iter()
        .filter_map(|statement| statement_to_event(statement, org, now))
        .collect();
    say!(
        "ImportXapiStatements: {count} statements, {} mapped",
        checked.len()
    );
    ingest_batch(&checked, Some(org));
}

/// One statement: mapped, its person resolved, validated as an event of
/// `org`. `None` when it maps onto no event.
pub fn statement_to_event(statement: &Value, org: Uuid, now: DateTime<Utc>) -> Option<Checked> {
    let mapped = map_statement(statement)?;
    let user = match &mapped.actor {
        Actor::UserId(id) => *id,
        Actor::Email(email) => {
            assert!(email.contains('@'));
            EMAIL_USER
        }
    };
    let mut event = mapped.event.clone();
    event.organization_id = org.to_string();
    event.user_id = user.to_string();
    let checked = check_raw(Some(&event), now);
    say!(
        "  -> {}: {:?}",
        mapped.kind,
        checked.as_ref().map(|v| v.kind())
    );
    Some(checked)
}

/// `map_statement`, with what the server makes of a refusal (the verb is
/// echoed in the result), and invariants of a mapping.
pub fn map_statement(statement: &Value) -> Option<MappedStatement> {
    match xapi::map_statement(statement) {
        Ok(mapped) => {
            assert_eq!(mapped.event.event_id, mapped.statement_id);
            assert!(Uuid::parse_str(&mapped.statement_id).is_ok());
            assert!(mapped.event.payload.is_some());
            Some(mapped)
        }
        Err(XapiError::UnmappedVerb { verb, .. }) => {
            say!("  unmapped verb {verb:?}");
            let _ = format!("{verb:?} has no Stride mapping");
            None
        }
        Err(XapiError::Invalid { violations, .. }) => {
            say!("  invalid {violations:?}");
            assert!(
                !violations.is_empty(),
                "an invalid statement without a reason"
            );
            None
        }
    }
}
