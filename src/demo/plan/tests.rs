//! The plan's promises, and its data pinned per seed.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use super::{DemoPlan, build, id, to_proto};
use crate::auth::Role;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

/// FNV-1a over everything the demo writes (catalog rows and events as
/// published), so a refactor that changes the data for a seed shows.
fn fingerprint(plan: &DemoPlan) -> u64 {
    let mut text = format!(
        "{:?}{:?}{:?}{:?}{:?}{:?}{:?}{:?}{:?}",
        plan.orgs,
        plan.departments,
        plan.people,
        plan.skills,
        plan.prerequisites,
        plan.courses,
        plan.paths,
        plan.priority_skills,
        plan.role_skills
    );
    for e in &plan.events {
        text.push_str(&format!(
            "{}|{}|{}|{:?}|{:?}\n",
            e.kind,
            e.local_date,
            e.payload,
            e.skill_id,
            to_proto(e)
        ));
    }
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn the_plan_for_a_seed_stays_the_same() {
    let got: Vec<u64> = [(240, 7), (60, 5), (40, 11), (20, 42)]
        .iter()
        .map(|(learners, seed)| fingerprint(&build(*learners, *seed, now())))
        .collect();
    // Computed on the code before the demo was split into modules.
    assert_eq!(
        got,
        [
            0x534f_fd26_1bda_cf86,
            0xd889_112f_c8bb_ea54,
            0x67ca_5a45_b4f0_bd75,
            0xcfc7_1a9c_2e12_57c9
        ]
    );
}

#[test]
fn same_seed_same_plan() {
    let a = build(60, 3, now());
    let b = build(60, 3, now());
    assert_eq!(a.events.len(), b.events.len());
    assert_eq!(
        a.events.iter().map(|e| &e.event_id).collect::<Vec<_>>(),
        b.events.iter().map(|e| &e.event_id).collect::<Vec<_>>()
    );
}

#[test]
fn plan_has_the_promised_shape() {
    let plan = build(240, 7, now());
    assert_eq!(plan.learner_count(), 240);
    assert!(
        plan.people
            .iter()
            .filter(|p| p.roles.contains(&Role::Trainer))
            .count()
            >= 6
    );
    assert!(
        plan.events.len() > 10_000,
        "months of events: {}",
        plan.events.len()
    );
    let oldest = plan.events.iter().map(|e| e.occurred_at).min().unwrap();
    assert!(now() - oldest > Duration::days(60), "history spans months");
    assert!(
        plan.events.iter().all(|e| e.occurred_at <= now()),
        "nothing in the future"
    );
    // Event ids are unique: they are idempotency keys.
    let mut ids: Vec<_> = plan.events.iter().map(|e| &e.event_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), plan.events.len());
    // Some courses get completed, some learners pass, and scores stay in range.
    assert!(plan.enrollments.iter().any(|e| e.completed_at.is_some()));
    assert!(
        plan.assessments
            .iter()
            .all(|a| (0.0..=100.0).contains(&a.score))
    );
    // The People department stays under the k-anonymity threshold of 10.
    let people_team = id("team", "Talent");
    let size = plan
        .people
        .iter()
        .filter(|p| p.team_id == Some(people_team))
        .count();
    assert!(size > 0 && size < 10, "People/Talent has {size}");
}

#[test]
fn local_dates_follow_the_learners_time_zone() {
    let plan = build(40, 11, now());
    let tz_of: HashMap<Uuid, Tz> = plan
        .people
        .iter()
        .map(|p| (p.id, p.time_zone.parse().unwrap()))
        .collect();
    for e in plan.events.iter().take(2_000) {
        assert_eq!(
            e.local_date,
            e.occurred_at.with_timezone(&tz_of[&e.user_id]).date_naive()
        );
    }
}
