//! Months of learning, learner by learner: each picks courses, enrolls, then
//! lives day by day (see [`day`]). Deterministic per seed: the random draws
//! happen in a fixed order, so keep it when changing a step.

mod course;
mod day;
mod log;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::json;
use uuid::Uuid;

use super::catalog::meant_for;
use super::{Course, DEMO_ORG, DemoPlan, Enrollment, LearningPath, Person};
use crate::auth::Role;
use log::{About, Log, Who};

/// How far back the simulated history reaches.
const HISTORY_DAYS: i64 = 120;

/// What the learners learn from (it does not change while they do).
#[derive(Clone, Copy)]
struct Catalog<'a> {
    courses: &'a [Course],
    paths: &'a [LearningPath],
}

/// How a learner engages: how often they learn, how well, when they
/// started and stopped.
struct Profile {
    /// Chance of learning on a weekday (on weekends, 40% of it).
    activity: f64,
    /// Their typical assessment score.
    skill: f64,
    /// Days since they stopped learning; 0 when they did not stop.
    stopped_days_ago: i64,
    started_days_ago: i64,
}

/// A course a learner is enrolled in, and how far they got.
struct Progress {
    /// The course's place in the plan's courses.
    course: usize,
    /// Lessons done.
    done: usize,
    /// The enrollment's place in the plan's enrollments.
    enrollment: usize,
}

/// Per-learner state during the simulation.
struct Learner<'p> {
    who: Who<'p>,
    profile: Profile,
    progress: Vec<Progress>,
    /// Mastery reached so far, per skill.
    mastery: HashMap<Uuid, f64>,
    /// Courses passed so far.
    completed: Vec<Uuid>,
}

/// Simulates every learner of the plan up to `now`, appending their events,
/// enrollments and assessments.
pub(super) fn simulate(plan: &mut DemoPlan, rng: &mut StdRng, now: DateTime<Utc>) {
    let dept_names: HashMap<Uuid, String> = plan
        .departments
        .iter()
        .map(|d| (d.id, d.name.clone()))
        .collect();
    let people = plan.people.clone();
    // Whom a demo-org learner can help: anyone of the demo org.
    let demo_org_people: Vec<Uuid> = people
        .iter()
        .filter(|p| p.org_id == DEMO_ORG)
        .map(|p| p.id)
        .collect();
    let DemoPlan {
        courses,
        paths,
        events,
        enrollments,
        assessments,
        ..
    } = plan;
    let catalog = Catalog { courses, paths };
    let mut log = Log {
        events,
        enrollments,
        assessments,
        seq: 0,
    };
    for person in people.iter().filter(|p| p.roles.contains(&Role::Learner)) {
        let who = Who {
            person,
            tz: crate::domain::zone::zone(&person.time_zone),
        };
        let dept = person
            .department_id
            .and_then(|d| dept_names.get(&d))
            .map_or("", String::as_str);
        let Some(chosen) = choose_courses(rng, catalog.courses, person, dept) else {
            continue;
        };
        let profile = Profile::draw(rng);
        let started_days_ago = profile.started_days_ago;
        let mut learner = Learner {
            who,
            profile,
            progress: enroll(
                &mut log,
                rng,
                catalog.courses,
                who,
                &chosen,
                started_days_ago,
                now,
            ),
            mastery: HashMap::new(),
            completed: Vec::new(),
        };
        day::live(&mut learner, &mut log, rng, catalog, &demo_org_people, now);
    }
}

/// 2-4 of the courses of the learner's organization (in the demo org, those
/// meant for their department), as places in `courses`; None when there
/// are none.
fn choose_courses(
    rng: &mut StdRng,
    courses: &[Course],
    learner: &Person,
    dept: &str,
) -> Option<Vec<usize>> {
    let mut candidates: Vec<usize> = courses
        .iter()
        .enumerate()
        .filter(|(_, c)| c.org_id == learner.org_id)
        .filter(|(i, _)| learner.org_id != DEMO_ORG || meant_for(*i, dept))
        .map(|(i, _)| i)
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let wanted = rng.random_range(2..=4).min(candidates.len());
    let mut chosen = Vec::new();
    while chosen.len() < wanted {
        chosen.push(candidates.swap_remove(rng.random_range(0..candidates.len())));
    }
    Some(chosen)
}

impl Profile {
    fn draw(rng: &mut StdRng) -> Self {
        let activity: f64 = rng.random_range(0.08..0.75);
        let skill: f64 = rng.random_range(55.0..92.0);
        let stopped_days_ago: i64 = if rng.random_bool(0.15) {
            rng.random_range(8..40)
        } else {
            0
        };
        let started_days_ago: i64 = rng.random_range(14..HISTORY_DAYS);
        Self {
            activity,
            skill,
            stopped_days_ago,
            started_days_ago,
        }
    }
}

/// Enrolls the learner in the `chosen` courses, a week apart from their
/// start on (at a random time of day, and an hour ago at the latest).
fn enroll(
    log: &mut Log,
    rng: &mut StdRng,
    courses: &[Course],
    who: Who,
    chosen: &[usize],
    started_days_ago: i64,
    now: DateTime<Utc>,
) -> Vec<Progress> {
    let mut progress = Vec::new();
    for (k, &course) in chosen.iter().enumerate() {
        let enrolled_at = now - Duration::days(started_days_ago - 7 * k as i64)
            + Duration::minutes(rng.random_range(0..600));
        let enrolled_at = enrolled_at.min(now - Duration::hours(1));
        log.enrollments.push(Enrollment {
            enrolled_at,
            completed_at: None,
        });
        log.push(
            who,
            "enrollment_created",
            enrolled_at,
            About::course(courses[course].id),
            json!({}),
        );
        progress.push(Progress {
            course,
            done: 0,
            enrollment: log.enrollments.len() - 1,
        });
    }
    progress
}
