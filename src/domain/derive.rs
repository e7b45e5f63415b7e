//! What accepted events change per person: daily activity, enrollments,
//! skills. Each change is a delta merged with commutative, associative
//! operators (sum, min, max, "latest by occurred_at"), in memory within a
//! batch and by the same operators in SQL against the stored row. So the
//! state after any set of events is the same whatever order, batching or
//! lateness they arrived with: the rule behind out-of-order equivalence.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::events::{Payload, ValidEvent};
use super::thresholds::MASTERY;

/// An accepted event with what ingestion resolved for it.
#[derive(Debug, Clone, Copy)]
pub struct Placed<'a> {
    pub event: &'a ValidEvent,
    pub organization_id: Uuid,
    /// The person's calendar day of `occurred_at`.
    pub local_date: NaiveDate,
}

/// One person's day.
#[derive(Debug, Clone, PartialEq)]
pub struct DayDelta {
    pub organization_id: Uuid,
    pub first_activity_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub first_learning_at: Option<DateTime<Utc>>,
    pub learning_activities: i32,
    pub lessons_completed: i32,
    pub logins: i32,
    pub session_seconds: i32,
}

/// One person's course. Any learning on a course implies the enrollment
/// (producers do not always send `enrollment_created` first).
#[derive(Debug, Clone, PartialEq)]
pub struct EnrollmentDelta {
    pub organization_id: Uuid,
    /// Earliest event about the course: enrolled_at.
    pub first_at: DateTime<Utc>,
    /// Highest progress reported: progress never goes backwards.
    pub progress_percent: f64,
    pub last_progress_at: Option<DateTime<Utc>>,
    /// Earliest completion.
    pub completed_at: Option<DateTime<Utc>>,
}

/// One person's skill: the latest observation wins (mastery may drop).
#[derive(Debug, Clone, PartialEq)]
pub struct SkillDelta {
    pub organization_id: Uuid,
    pub first_at: DateTime<Utc>,
    /// The observation with the latest occurred_at; at equal times the
    /// higher mastery, so ties do not depend on arrival order.
    pub latest_at: DateTime<Utc>,
    pub mastery: f64,
    /// Earliest observation at or above [`MASTERY`].
    pub mastered_at: Option<DateTime<Utc>>,
}

/// Everything a batch of accepted events changes, keyed in lock order
/// (BTreeMap: writers touch rows in the same order, so batches running
/// side by side cannot deadlock on them).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Derived {
    pub days: BTreeMap<(Uuid, NaiveDate), DayDelta>,
    pub enrollments: BTreeMap<(Uuid, Uuid), EnrollmentDelta>,
    pub skills: BTreeMap<(Uuid, Uuid), SkillDelta>,
}

impl Derived {
    pub fn from_events<'a>(events: impl IntoIterator<Item = Placed<'a>>) -> Self {
        let mut derived = Derived::default();
        for placed in events {
            derived.add(placed);
        }
        derived
    }

    pub fn add(&mut self, placed: Placed<'_>) {
        let event = placed.event;
        let org = placed.organization_id;
        let at = event.occurred_at;
        let user = event.user_id;
        let day = DayDelta::of(placed);
        self.days
            .entry((user, placed.local_date))
            .and_modify(|d| d.merge(&day))
            .or_insert(day);
        if let Some((course, delta)) = EnrollmentDelta::of(event, org) {
            self.enrollments
                .entry((user, course))
                .and_modify(|e| e.merge(&delta))
                .or_insert(delta);
        }
        if let Some((skill, mastery)) = skill_observation(&event.payload) {
            let delta = SkillDelta {
                organization_id: org,
                first_at: at,
                latest_at: at,
                mastery,
                mastered_at: (mastery >= MASTERY).then_some(at),
            };
            self.skills
                .entry((user, skill))
                .and_modify(|s| s.merge(&delta))
                .or_insert(delta);
        }
    }
}

impl DayDelta {
    fn of(placed: Placed<'_>) -> Self {
        let event = placed.event;
        let at = event.occurred_at;
        let learning = event.kind().is_learning_activity();
        Self {
            organization_id: placed.organization_id,
            first_activity_at: at,
            last_activity_at: at,
            first_learning_at: learning.then_some(at),
            learning_activities: i32::from(learning),
            lessons_completed: i32::from(matches!(event.payload, Payload::LessonCompleted { .. })),
            logins: i32::from(matches!(event.payload, Payload::Login)),
            session_seconds: event.session_seconds(),
        }
    }

    pub fn merge(&mut self, other: &Self) {
        self.first_activity_at = self.first_activity_at.min(other.first_activity_at);
        self.last_activity_at = self.last_activity_at.max(other.last_activity_at);
        self.first_learning_at = min_present(self.first_learning_at, other.first_learning_at);
        self.learning_activities = self
            .learning_activities
            .saturating_add(other.learning_activities);
        self.lessons_completed = self
            .lessons_completed
            .saturating_add(other.lessons_completed);
        self.logins = self.logins.saturating_add(other.logins);
        self.session_seconds = self.session_seconds.saturating_add(other.session_seconds);
    }
}

impl EnrollmentDelta {
    fn of(event: &ValidEvent, organization_id: Uuid) -> Option<(Uuid, Self)> {
        let course = event.payload.course_id()?;
        let at = event.occurred_at;
        let (progress_percent, progressed, completed_at) = match &event.payload {
            Payload::EnrollmentCreated { .. } => (0.0, false, None),
            Payload::ProgressUpdated {
                progress_percent, ..
            } => (*progress_percent, true, None),
            Payload::CourseCompleted { .. } => (100.0, true, Some(at)),
            _ => (0.0, true, None),
        };
        Some((
            course,
            Self {
                organization_id,
                first_at: at,
                progress_percent,
                last_progress_at: progressed.then_some(at),
                completed_at,
            },
        ))
    }

    pub fn merge(&mut self, other: &Self) {
        self.first_at = self.first_at.min(other.first_at);
        self.progress_percent = self.progress_percent.max(other.progress_percent);
        self.last_progress_at = max_present(self.last_progress_at, other.last_progress_at);
        self.completed_at = min_present(self.completed_at, other.completed_at);
    }
}

impl SkillDelta {
    pub fn merge(&mut self, other: &Self) {
        self.first_at = self.first_at.min(other.first_at);
        if (other.latest_at, other.mastery) > (self.latest_at, self.mastery) {
            self.latest_at = other.latest_at;
            self.mastery = other.mastery;
        }
        self.mastered_at = min_present(self.mastered_at, other.mastered_at);
    }
}

/// A skill and the mastery an event reports for it: mastery updates, and
/// assessments of a skill (their score is the measured mastery).
fn skill_observation(payload: &Payload) -> Option<(Uuid, f64)> {
    match payload {
        Payload::SkillMasteryUpdated { skill_id, mastery } => Some((*skill_id, *mastery)),
        Payload::AssessmentGraded {
            skill_id: Some(skill),
            score,
            ..
        } => Some((*skill, *score)),
        _ => None,
    }
}

/// SQL's least(): NULLs ignored.
fn min_present<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// SQL's greatest(): NULLs ignored.
fn max_present<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    use super::*;

    const ORG: Uuid = Uuid::from_u128(100);

    fn base() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap()
    }

    fn ev(n: u32, user: u128, minutes: i64, payload: Payload) -> ValidEvent {
        ValidEvent {
            event_id: format!("e{n}"),
            occurred_at: base() + Duration::minutes(minutes),
            user_id: Uuid::from_u128(user),
            organization_id: None,
            payload,
        }
    }

    fn derive(events: &[ValidEvent]) -> Derived {
        Derived::from_events(events.iter().map(|event| Placed {
            event,
            organization_id: ORG,
            local_date: event.occurred_at.date_naive(),
        }))
    }

    fn course(n: u128) -> Uuid {
        Uuid::from_u128(1000 + n)
    }

    fn skill(n: u128) -> Uuid {
        Uuid::from_u128(2000 + n)
    }

    #[test]
    fn a_day_counts_learning_lessons_logins_and_session_time() {
        let start = base();
        let events = [
            ev(1, 1, 0, Payload::Login),
            ev(
                2,
                1,
                10,
                Payload::LessonCompleted {
                    course_id: course(1),
                    lesson_id: Uuid::from_u128(9),
                },
            ),
            ev(
                3,
                1,
                20,
                Payload::LearningSession {
                    session_id: "s".into(),
                    started_at: start,
                    ended_at: start + Duration::minutes(20),
                },
            ),
        ];
        let derived = derive(&events);
        let day = &derived.days[&(Uuid::from_u128(1), start.date_naive())];
        assert_eq!(day.logins, 1);
        assert_eq!(day.lessons_completed, 1);
        assert_eq!(
            day.learning_activities, 1,
            "login and session are not learning"
        );
        assert_eq!(day.session_seconds, 1200);
        assert_eq!(day.first_activity_at, start);
        assert_eq!(day.first_learning_at, Some(start + Duration::minutes(10)));
        assert_eq!(day.last_activity_at, start + Duration::minutes(20));
    }

    #[test]
    fn progress_only_moves_forward_and_completion_sets_100() {
        let events = [
            ev(
                1,
                1,
                0,
                Payload::ProgressUpdated {
                    course_id: course(1),
                    progress_percent: 60.0,
                },
            ),
            ev(
                2,
                1,
                5,
                Payload::ProgressUpdated {
                    course_id: course(1),
                    progress_percent: 40.0,
                },
            ),
        ];
        let e = &derive(&events).enrollments[&(Uuid::from_u128(1), course(1))];
        assert_eq!(e.progress_percent, 60.0);
        assert_eq!(e.first_at, base());
        assert_eq!(e.completed_at, None);
        let done = [ev(
            3,
            1,
            9,
            Payload::CourseCompleted {
                course_id: course(1),
            },
        )];
        let e = &derive(&done).enrollments[&(Uuid::from_u128(1), course(1))];
        assert_eq!(
            (e.progress_percent, e.completed_at),
            (100.0, Some(base() + Duration::minutes(9)))
        );
    }

    #[test]
    fn the_latest_mastery_wins_and_mastered_at_is_the_first_time_at_80() {
        let events = [
            ev(
                1,
                1,
                0,
                Payload::SkillMasteryUpdated {
                    skill_id: skill(1),
                    mastery: 50.0,
                },
            ),
            ev(
                2,
                1,
                30,
                Payload::SkillMasteryUpdated {
                    skill_id: skill(1),
                    mastery: 70.0,
                },
            ),
            ev(
                3,
                1,
                10,
                Payload::AssessmentGraded {
                    course_id: course(1),
                    assessment_ref: "q".into(),
                    skill_id: Some(skill(1)),
                    score: 90.0,
                },
            ),
        ];
        let s = &derive(&events).skills[&(Uuid::from_u128(1), skill(1))];
        assert_eq!(s.mastery, 70.0, "the 30-minute observation is the latest");
        assert_eq!(s.mastered_at, Some(base() + Duration::minutes(10)));
        assert_eq!(s.first_at, base());
    }

    fn payload_strategy() -> impl Strategy<Value = Payload> {
        let c = (0u128..3).prop_map(course);
        let s = (0u128..3).prop_map(skill);
        prop_oneof![
            c.clone()
                .prop_map(|course_id| Payload::EnrollmentCreated { course_id }),
            (c.clone(), 0u8..=100).prop_map(|(course_id, p)| Payload::ProgressUpdated {
                course_id,
                progress_percent: f64::from(p),
            }),
            c.clone()
                .prop_map(|course_id| Payload::CourseCompleted { course_id }),
            (s.clone(), 0u8..=100).prop_map(|(skill_id, m)| Payload::SkillMasteryUpdated {
                skill_id,
                mastery: f64::from(m),
            }),
            (c, s, 0u8..=100).prop_map(|(course_id, skill_id, score)| Payload::AssessmentGraded {
                course_id,
                assessment_ref: "q".into(),
                skill_id: Some(skill_id),
                score: f64::from(score),
            }),
            Just(Payload::Login),
        ]
    }

    proptest! {
        /// Any order and any split into batches derive the same state.
        #[test]
        fn order_and_batching_do_not_matter(
            raw in prop::collection::vec((0u128..3, 0i64..4000, payload_strategy()), 1..60),
            seed in any::<u64>(),
            split in 1usize..10,
        ) {
            let events: Vec<ValidEvent> = raw
                .into_iter()
                .enumerate()
                .map(|(i, (user, minutes, payload))| ev(i as u32, user, minutes, payload))
                .collect();
            let in_order = derive(&events);

            let mut shuffled = events.clone();
            // Deterministic shuffle from the seed (Fisher-Yates with an LCG).
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (state >> 33) as usize % (i + 1));
            }
            // Batches derived separately, then merged as SQL would merge them.
            let mut merged = Derived::default();
            for chunk in shuffled.chunks(split) {
                let part = derive(chunk);
                for (k, v) in part.days { merged.days.entry(k).and_modify(|d| d.merge(&v)).or_insert(v); }
                for (k, v) in part.enrollments { merged.enrollments.entry(k).and_modify(|e| e.merge(&v)).or_insert(v); }
                for (k, v) in part.skills { merged.skills.entry(k).and_modify(|s| s.merge(&v)).or_insert(v); }
            }
            prop_assert_eq!(in_order, merged);
        }
    }
}
