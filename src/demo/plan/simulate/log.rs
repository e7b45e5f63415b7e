//! Where the simulation writes: the plan's event log and the records kept
//! beside it.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::demo::plan::{Assessment, Enrollment, Event, Person};

/// The learner an event is about, and the zone their local dates follow.
#[derive(Clone, Copy)]
pub(super) struct Who<'p> {
    pub person: &'p Person,
    pub tz: Tz,
}

/// What an event refers to besides its learner.
#[derive(Clone, Copy, Default)]
pub(super) struct About {
    pub course: Option<Uuid>,
    pub lesson: Option<Uuid>,
    pub skill: Option<Uuid>,
}

impl About {
    pub fn nothing() -> Self {
        Self::default()
    }

    pub fn course(course: Uuid) -> Self {
        Self {
            course: Some(course),
            ..Self::default()
        }
    }

    pub fn skill(skill: Uuid) -> Self {
        Self {
            skill: Some(skill),
            ..Self::default()
        }
    }
}

/// The plan's growing event log, enrollments and assessments.
pub(super) struct Log<'a> {
    pub events: &'a mut Vec<Event>,
    pub enrollments: &'a mut Vec<Enrollment>,
    pub assessments: &'a mut Vec<Assessment>,
    /// Numbers the events (across learners) for their ids.
    pub seq: u64,
}

impl Log<'_> {
    /// Appends an event; the ids it refers to also go into its payload.
    pub fn push(
        &mut self,
        who: Who,
        kind: &'static str,
        at: DateTime<Utc>,
        about: About,
        mut payload: Value,
    ) {
        self.seq += 1;
        let learner = who.person;
        let event_id = format!(
            "demo-{}-{:06}",
            &learner.id.simple().to_string()[..8],
            self.seq
        );
        if let Value::Object(map) = &mut payload {
            if let Some(c) = about.course {
                map.insert("course_id".into(), json!(c));
            }
            if let Some(l) = about.lesson {
                map.insert("lesson_id".into(), json!(l));
            }
            if let Some(s) = about.skill {
                map.insert("skill_id".into(), json!(s));
            }
        }
        self.events.push(Event {
            event_id,
            org_id: learner.org_id,
            user_id: learner.id,
            kind,
            occurred_at: at,
            local_date: at.with_timezone(&who.tz).date_naive(),
            course_id: about.course,
            lesson_id: about.lesson,
            skill_id: about.skill,
            payload,
        });
    }
}
