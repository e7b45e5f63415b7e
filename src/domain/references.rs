//! The catalogue rows an event refers to, and the check that they exist in
//! the event's organization. The rows are loaded per batch by the database
//! layer; the rule here is pure.

use std::collections::HashMap;

use uuid::Uuid;

use super::FieldViolation;
use super::events::{Payload, ValidEvent};

/// What ingestion knows of the ids a batch mentions (absent = unknown or
/// not visible to the caller).
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    /// user -> (organization, time zone)
    pub users: HashMap<Uuid, (Uuid, chrono_tz::Tz)>,
    /// course -> organization
    pub courses: HashMap<Uuid, Uuid>,
    /// lesson -> course
    pub lessons: HashMap<Uuid, Uuid>,
    /// skill -> organization (None: platform-wide)
    pub skills: HashMap<Uuid, Option<Uuid>>,
    /// learning path -> organization
    pub paths: HashMap<Uuid, Uuid>,
}

/// Ids of each kind a set of events mentions, to load a [`Catalog`].
#[derive(Debug, Default)]
pub struct Mentioned {
    pub users: Vec<Uuid>,
    pub courses: Vec<Uuid>,
    pub lessons: Vec<Uuid>,
    pub skills: Vec<Uuid>,
    pub paths: Vec<Uuid>,
}

impl Mentioned {
    pub fn of<'a>(events: impl IntoIterator<Item = &'a ValidEvent>) -> Self {
        let mut m = Mentioned::default();
        for e in events {
            m.users.push(e.user_id);
            m.courses.extend(e.payload.course_id());
            m.lessons.extend(e.payload.lesson_id());
            m.skills.extend(e.payload.skill_id());
            match &e.payload {
                Payload::PeerHelped { peer_user_id, .. } => m.users.push(*peer_user_id),
                Payload::LearningPathCompleted { path_id } => m.paths.push(*path_id),
                _ => {}
            }
        }
        for ids in [
            &mut m.users,
            &mut m.courses,
            &mut m.lessons,
            &mut m.skills,
            &mut m.paths,
        ] {
            ids.sort_unstable();
            ids.dedup();
        }
        m
    }
}

/// Where an accepted event belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub organization_id: Uuid,
    pub zone: chrono_tz::Tz,
}

/// Resolves the event's organization (`scope`: the token's, `None` for
/// platform-scoped tokens) and checks every id it names exists there.
pub fn place(
    event: &ValidEvent,
    scope: Option<Uuid>,
    catalog: &Catalog,
) -> Result<Placement, Vec<FieldViolation>> {
    let org = match (scope, event.organization_id) {
        (Some(token_org), Some(named)) if named != token_org => {
            return Err(vec![FieldViolation::new(
                "organization_id",
                "must be empty or the token's organization",
            )]);
        }
        (Some(org), _) | (None, Some(org)) => org,
        (None, None) => {
            return Err(vec![FieldViolation::new(
                "organization_id",
                "is required with a platform-scoped token",
            )]);
        }
    };
    let mut bad = Vec::new();
    let zone = match catalog.users.get(&event.user_id) {
        Some((user_org, zone)) if *user_org == org => Some(*zone),
        _ => {
            bad.push(FieldViolation::new(
                "user_id",
                "unknown user in this organization",
            ));
            None
        }
    };
    let prefix = event.kind().as_str();
    let field = |name: &str| format!("{prefix}.{name}");
    if let Some(course) = event.payload.course_id()
        && catalog.courses.get(&course) != Some(&org)
    {
        bad.push(FieldViolation::new(
            field("course_id"),
            "unknown course in this organization (upsert it first)",
        ));
    }
    if let Some(lesson) = event.payload.lesson_id()
        && catalog.lessons.get(&lesson) != event.payload.course_id().as_ref()
    {
        bad.push(FieldViolation::new(
            field("lesson_id"),
            "unknown lesson of this course",
        ));
    }
    if let Some(skill) = event.payload.skill_id() {
        match catalog.skills.get(&skill) {
            Some(None) => {}
            Some(Some(skill_org)) if *skill_org == org => {}
            _ => bad.push(FieldViolation::new(
                field("skill_id"),
                "unknown skill in this organization or the platform catalogue",
            )),
        }
    }
    match &event.payload {
        Payload::PeerHelped { peer_user_id, .. }
            if catalog.users.get(peer_user_id).map(|u| u.0) != Some(org) =>
        {
            bad.push(FieldViolation::new(
                field("peer_user_id"),
                "unknown user in this organization",
            ));
        }
        Payload::LearningPathCompleted { path_id } if catalog.paths.get(path_id) != Some(&org) => {
            bad.push(FieldViolation::new(
                field("path_id"),
                "unknown learning path in this organization",
            ));
        }
        _ => {}
    }
    match zone {
        Some(zone) if bad.is_empty() => Ok(Placement {
            organization_id: org,
            zone,
        }),
        _ => Err(bad),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    const ORG: Uuid = Uuid::from_u128(1);
    const OTHER: Uuid = Uuid::from_u128(2);
    const USER: Uuid = Uuid::from_u128(10);
    const COURSE: Uuid = Uuid::from_u128(20);
    const LESSON: Uuid = Uuid::from_u128(30);

    fn catalog() -> Catalog {
        let mut c = Catalog::default();
        c.users.insert(USER, (ORG, chrono_tz::Europe::Paris));
        c.courses.insert(COURSE, ORG);
        c.courses.insert(Uuid::from_u128(21), OTHER);
        c.lessons.insert(LESSON, COURSE);
        c.skills.insert(Uuid::from_u128(40), None);
        c.skills.insert(Uuid::from_u128(41), Some(OTHER));
        c
    }

    fn event(payload: Payload) -> ValidEvent {
        ValidEvent {
            event_id: "e".into(),
            occurred_at: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            user_id: USER,
            organization_id: None,
            payload,
        }
    }

    fn fields(r: Result<Placement, Vec<FieldViolation>>) -> Vec<String> {
        r.expect_err("should be refused")
            .into_iter()
            .map(|v| v.field)
            .collect()
    }

    #[test]
    fn the_tokens_organization_applies_and_the_zone_is_the_persons() {
        let p = place(
            &event(Payload::CourseCompleted { course_id: COURSE }),
            Some(ORG),
            &catalog(),
        )
        .unwrap();
        assert_eq!(p.organization_id, ORG);
        assert_eq!(p.zone, chrono_tz::Europe::Paris);
    }

    #[test]
    fn another_organization_or_none_at_all_is_refused() {
        let mut e = event(Payload::Login);
        e.organization_id = Some(OTHER);
        assert_eq!(
            fields(place(&e, Some(ORG), &catalog())),
            ["organization_id"]
        );
        assert_eq!(
            fields(place(&event(Payload::Login), None, &catalog())),
            ["organization_id"]
        );
        e.organization_id = Some(ORG);
        assert!(
            place(&e, None, &catalog()).is_ok(),
            "platform token naming the org"
        );
    }

    #[test]
    fn unknown_or_foreign_references_name_their_field() {
        let c = catalog();
        let foreign_course = event(Payload::CourseCompleted {
            course_id: Uuid::from_u128(21),
        });
        assert_eq!(
            fields(place(&foreign_course, Some(ORG), &c)),
            ["course_completed.course_id"]
        );
        let wrong_lesson = event(Payload::LessonCompleted {
            course_id: COURSE,
            lesson_id: Uuid::from_u128(31),
        });
        assert_eq!(
            fields(place(&wrong_lesson, Some(ORG), &c)),
            ["lesson_completed.lesson_id"]
        );
        let platform_skill = event(Payload::SkillMasteryUpdated {
            skill_id: Uuid::from_u128(40),
            mastery: 1.0,
        });
        assert!(place(&platform_skill, Some(ORG), &c).is_ok());
        let foreign_skill = event(Payload::SkillMasteryUpdated {
            skill_id: Uuid::from_u128(41),
            mastery: 1.0,
        });
        assert_eq!(
            fields(place(&foreign_skill, Some(ORG), &c)),
            ["skill_mastery_updated.skill_id"]
        );
        let mut stranger = event(Payload::Login);
        stranger.user_id = Uuid::from_u128(11);
        assert_eq!(fields(place(&stranger, Some(ORG), &c)), ["user_id"]);
        let path = event(Payload::LearningPathCompleted {
            path_id: Uuid::from_u128(50),
        });
        assert_eq!(
            fields(place(&path, Some(ORG), &c)),
            ["learning_path_completed.path_id"]
        );
    }

    #[test]
    fn mentioned_ids_are_collected_once() {
        let events = [
            event(Payload::LessonCompleted {
                course_id: COURSE,
                lesson_id: LESSON,
            }),
            event(Payload::CourseCompleted { course_id: COURSE }),
            event(Payload::PeerHelped {
                peer_user_id: Uuid::from_u128(12),
                context: String::new(),
            }),
        ];
        let m = Mentioned::of(&events);
        assert_eq!(m.users, [USER, Uuid::from_u128(12)]);
        assert_eq!(m.courses, [COURSE]);
        assert_eq!(m.lessons, [LESSON]);
    }
}
