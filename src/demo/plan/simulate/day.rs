//! A learner's days: which ones they learn on, and what such a day holds.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::json;
use uuid::Uuid;

use super::log::{About, Log};
use super::{Catalog, Learner, course};
use crate::demo::plan::DEMO_ORG;

/// Day by day from the learner's first day up to yesterday: whole days
/// only, so no event lands after `now`.
pub(super) fn live(
    l: &mut Learner,
    log: &mut Log,
    rng: &mut StdRng,
    catalog: Catalog,
    peers: &[Uuid],
    now: DateTime<Utc>,
) {
    let today = now.with_timezone(&l.who.tz).date_naive();
    let mut day = today - Duration::days(l.profile.started_days_ago);
    while day < today {
        match start_of(l, rng, day, today) {
            Some(t) if t >= now => break,
            Some(t) => active_day(l, log, rng, catalog, peers, t),
            None => {}
        }
        day += Duration::days(1);
    }
}

/// When the learner starts learning on `day` (local, between 8:00 and
/// 18:00); None on a day they do not learn.
fn start_of(
    l: &Learner,
    rng: &mut StdRng,
    day: NaiveDate,
    today: NaiveDate,
) -> Option<DateTime<Utc>> {
    let p = &l.profile;
    let stopped = p.stopped_days_ago > 0 && day > today - Duration::days(p.stopped_days_ago);
    let weekend = matches!(day.format("%a").to_string().as_str(), "Sat" | "Sun");
    let chance = if weekend {
        p.activity * 0.4
    } else {
        p.activity
    };
    if stopped || !rng.random_bool(chance.clamp(0.0, 1.0)) {
        return None;
    }
    let start_local = day.and_time(NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default())
        + Duration::minutes(rng.random_range(0..600));
    l.who
        .tz
        .from_local_datetime(&start_local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// A day the learner learns, from `t` on: they log in, take lessons, maybe
/// practice, maybe help a peer.
fn active_day(
    l: &mut Learner,
    log: &mut Log,
    rng: &mut StdRng,
    catalog: Catalog,
    peers: &[Uuid],
    mut t: DateTime<Utc>,
) {
    sign_in(l, log, rng, t);
    course::take_lessons(l, log, rng, catalog, &mut t);
    practice(l, log, rng, catalog, &mut t);
    help_a_peer(l, log, rng, peers, &mut t);
}

/// A login at `t` and the learning session it opens (10-90 minutes).
fn sign_in(l: &Learner, log: &mut Log, rng: &mut StdRng, t: DateTime<Utc>) {
    log.push(l.who, "login", t, About::nothing(), json!({}));
    let minutes = rng.random_range(10..90);
    let ended = t + Duration::minutes(minutes);
    log.push(
        l.who,
        "learning_session",
        t,
        About::nothing(),
        json!({"started_at": t.to_rfc3339(), "ended_at": ended.to_rfc3339()}),
    );
}

/// One day in four, an exercise on the first skill of the learner's first
/// course.
fn practice(l: &Learner, log: &mut Log, rng: &mut StdRng, catalog: Catalog, t: &mut DateTime<Utc>) {
    if rng.random_bool(0.25)
        && let Some(first) = l.progress.first()
    {
        let course = &catalog.courses[first.course];
        if let Some((skill_id, _)) = course.skills.first().copied() {
            *t += Duration::minutes(10);
            log.push(
                l.who,
                "practice_passed",
                *t,
                About {
                    course: Some(course.id),
                    lesson: None,
                    skill: Some(skill_id),
                },
                json!({"exercise_id": format!("ex-{}", rng.random_range(1..50))}),
            );
        }
    }
}

/// One day in twenty, a demo-org learner helps someone of their
/// organization (not themselves).
fn help_a_peer(
    l: &Learner,
    log: &mut Log,
    rng: &mut StdRng,
    peers: &[Uuid],
    t: &mut DateTime<Utc>,
) {
    let me = l.who.person;
    if me.org_id == DEMO_ORG && rng.random_bool(0.05) {
        let peer = peers[rng.random_range(0..peers.len())];
        if peer != me.id {
            *t += Duration::minutes(5);
            log.push(
                l.who,
                "peer_helped",
                *t,
                About::nothing(),
                json!({"peer_user_id": peer, "context": "forum answer"}),
            );
        }
    }
}
