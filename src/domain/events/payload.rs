//! The typed payload of a valid event, and its canonical JSON.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Kind;

/// The typed payload of a valid event.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    EnrollmentCreated {
        course_id: Uuid,
    },
    ProgressUpdated {
        course_id: Uuid,
        progress_percent: f64,
    },
    LessonCompleted {
        course_id: Uuid,
        lesson_id: Uuid,
    },
    CourseCompleted {
        course_id: Uuid,
    },
    AssessmentGraded {
        course_id: Uuid,
        assessment_ref: String,
        skill_id: Option<Uuid>,
        score: f64,
    },
    SkillMasteryUpdated {
        skill_id: Uuid,
        mastery: f64,
    },
    PracticePassed {
        exercise_id: String,
        course_id: Option<Uuid>,
        skill_id: Option<Uuid>,
    },
    LearningSession {
        session_id: String,
        started_at: DateTime<Utc>,
        ended_at: DateTime<Utc>,
    },
    Login,
    PeerHelped {
        peer_user_id: Uuid,
        context: String,
    },
    LearningPathCompleted {
        path_id: Uuid,
    },
}

impl Payload {
    pub fn kind(&self) -> Kind {
        match self {
            Payload::EnrollmentCreated { .. } => Kind::EnrollmentCreated,
            Payload::ProgressUpdated { .. } => Kind::ProgressUpdated,
            Payload::LessonCompleted { .. } => Kind::LessonCompleted,
            Payload::CourseCompleted { .. } => Kind::CourseCompleted,
            Payload::AssessmentGraded { .. } => Kind::AssessmentGraded,
            Payload::SkillMasteryUpdated { .. } => Kind::SkillMasteryUpdated,
            Payload::PracticePassed { .. } => Kind::PracticePassed,
            Payload::LearningSession { .. } => Kind::LearningSession,
            Payload::Login => Kind::Login,
            Payload::PeerHelped { .. } => Kind::PeerHelped,
            Payload::LearningPathCompleted { .. } => Kind::LearningPathCompleted,
        }
    }

    /// The course the event is about, if any (indexed on the raw log).
    pub fn course_id(&self) -> Option<Uuid> {
        match self {
            Payload::EnrollmentCreated { course_id }
            | Payload::ProgressUpdated { course_id, .. }
            | Payload::LessonCompleted { course_id, .. }
            | Payload::CourseCompleted { course_id }
            | Payload::AssessmentGraded { course_id, .. } => Some(*course_id),
            Payload::PracticePassed { course_id, .. } => *course_id,
            _ => None,
        }
    }

    pub fn lesson_id(&self) -> Option<Uuid> {
        match self {
            Payload::LessonCompleted { lesson_id, .. } => Some(*lesson_id),
            _ => None,
        }
    }

    pub fn skill_id(&self) -> Option<Uuid> {
        match self {
            Payload::SkillMasteryUpdated { skill_id, .. } => Some(*skill_id),
            Payload::AssessmentGraded { skill_id, .. }
            | Payload::PracticePassed { skill_id, .. } => *skill_id,
            _ => None,
        }
    }

    /// The canonical JSON stored with the event (serde_json sorts keys, so
    /// equal payloads serialize identically).
    pub fn to_json(&self) -> Value {
        let id = |u: &Uuid| Value::String(u.to_string());
        let opt = |u: &Option<Uuid>| u.as_ref().map(id).unwrap_or(Value::Null);
        match self {
            Payload::EnrollmentCreated { course_id } | Payload::CourseCompleted { course_id } => {
                json!({ "course_id": id(course_id) })
            }
            Payload::ProgressUpdated {
                course_id,
                progress_percent,
            } => json!({ "course_id": id(course_id), "progress_percent": progress_percent }),
            Payload::LessonCompleted {
                course_id,
                lesson_id,
            } => json!({ "course_id": id(course_id), "lesson_id": id(lesson_id) }),
            Payload::AssessmentGraded {
                course_id,
                assessment_ref,
                skill_id,
                score,
            } => json!({
                "course_id": id(course_id),
                "assessment_id": assessment_ref,
                "skill_id": opt(skill_id),
                "score": score,
            }),
            Payload::SkillMasteryUpdated { skill_id, mastery } => {
                json!({ "skill_id": id(skill_id), "mastery": mastery })
            }
            Payload::PracticePassed {
                exercise_id,
                course_id,
                skill_id,
            } => json!({
                "exercise_id": exercise_id,
                "course_id": opt(course_id),
                "skill_id": opt(skill_id),
            }),
            Payload::LearningSession {
                session_id,
                started_at,
                ended_at,
            } => json!({
                "session_id": session_id,
                "started_at": timestamp_text(started_at),
                "ended_at": timestamp_text(ended_at),
            }),
            Payload::Login => json!({}),
            Payload::PeerHelped {
                peer_user_id,
                context,
            } => json!({ "peer_user_id": id(peer_user_id), "context": context }),
            Payload::LearningPathCompleted { path_id } => json!({ "path_id": id(path_id) }),
        }
    }
}

/// Nanosecond-exact RFC 3339 in UTC: one text per instant.
pub(super) fn timestamp_text(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
