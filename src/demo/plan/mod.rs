//! The demo organization as plain data: a deterministic simulation (same
//! seed, same data) of people learning over the last months. Pure: no I/O,
//! the clock is passed in.

mod catalog;
mod model;
mod people;
mod proto;
mod simulate;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use uuid::Uuid;

use crate::auth::Role;
pub use model::{
    Assessment, Course, Department, Enrollment, Event, LearningPath, Org, Person, Skill,
};
pub use proto::to_proto;

/// The demo organization's id (fixed so README examples can use it).
pub const DEMO_ORG: Uuid = Uuid::from_u128(0x5d1a4a5e_0000_4000_8000_000000000001);
/// The demo org admin's id (fixed, used in the README).
pub const DEMO_ADMIN: Uuid = Uuid::from_u128(0x5d1a4a5e_0000_4000_8000_000000000002);
/// A platform admin, member of the demo organization.
pub const DEMO_PLATFORM_ADMIN: Uuid = Uuid::from_u128(0x5d1a4a5e_0000_4000_8000_000000000003);
/// A second, small organization, to show tenant isolation.
pub const OTHER_ORG: Uuid = Uuid::from_u128(0x5d1a4a5e_0000_4000_8000_000000000004);

/// Everything the demo writes: the catalog rows and the events.
#[derive(Debug, Default)]
pub struct DemoPlan {
    pub orgs: Vec<Org>,
    pub departments: Vec<Department>,
    pub people: Vec<Person>,
    pub skills: Vec<Skill>,
    /// (skill, prerequisite)
    pub prerequisites: Vec<(Uuid, Uuid)>,
    pub courses: Vec<Course>,
    pub paths: Vec<LearningPath>,
    /// (org, skill, weight 0..1)
    pub priority_skills: Vec<(Uuid, Uuid, f64)>,
    /// (org, job role, skill, required mastery, career impact 0..1)
    pub role_skills: Vec<(Uuid, String, Uuid, i16, f64)>,
    /// Kept beside the events, not written: ingestion derives enrollments
    /// from the events.
    pub enrollments: Vec<Enrollment>,
    pub events: Vec<Event>,
    /// Every graded attempt; not written either (ingestion derives them).
    pub assessments: Vec<Assessment>,
}

impl DemoPlan {
    pub fn learner_count(&self) -> usize {
        self.people
            .iter()
            .filter(|p| p.org_id == DEMO_ORG && p.roles == [Role::Learner])
            .count()
    }
}

/// The id of a demo course, by name (stable across runs).
pub fn course_id(name: &str) -> Uuid {
    id("course", name)
}

/// A stable id for a named demo object.
fn id(kind: &str, name: &str) -> Uuid {
    Uuid::new_v5(&DEMO_ORG, format!("{kind}:{name}").as_bytes())
}

/// Builds the whole demo for `learners` learners, `now` being the end of the
/// simulated history.
pub fn build(learners: usize, seed: u64, now: DateTime<Utc>) -> DemoPlan {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut plan = DemoPlan::default();
    people::add_orgs(&mut plan);
    let skill_ids = catalog::add_skills(&mut plan);
    let trainers = people::add_staff(&mut plan);
    catalog::add_courses(&mut plan, &skill_ids, &trainers);
    let teams = people::add_departments(&mut plan);
    catalog::add_priorities(&mut plan, &skill_ids);
    people::add_learners(&mut plan, &mut rng, learners, &teams);
    people::add_other_org(&mut plan);
    simulate::simulate(&mut plan, &mut rng, now);
    plan
}
