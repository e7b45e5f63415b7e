//! An event as a producer sent it, before [`validate`](super::validate):
//! the envelope and payload fields as given (ids as text, times as sent),
//! whether they came over gRPC or from an xAPI statement.

use chrono::{DateTime, Utc};

use super::Kind;

/// An event as received, unchecked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawEvent {
    pub event_id: String,
    pub occurred_at: Stamp,
    pub user_id: String,
    /// Empty: the token's organization.
    pub organization_id: String,
    /// `None`: no payload was set.
    pub payload: Option<RawPayload>,
}

/// A time as sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stamp {
    /// Not set.
    #[default]
    Missing,
    /// Set, but no instant (a protobuf timestamp out of range).
    Invalid,
    At(DateTime<Utc>),
}

impl Stamp {
    /// An instant as a protobuf timestamp can carry it (see
    /// [`without_leap_second`]), as it would arrive over gRPC.
    pub fn instant(at: DateTime<Utc>) -> Self {
        Stamp::At(without_leap_second(at))
    }
}

/// `at` without a leap second, which protobuf timestamps cannot carry:
/// chrono gives a leap second (23:59:60, as an xAPI timestamp may say) 1e9
/// nanoseconds and more; it becomes the last instant of 23:59:59.
pub fn without_leap_second(at: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = at.timestamp_subsec_nanos().min(999_999_999);
    DateTime::from_timestamp(at.timestamp(), nanos).unwrap_or(at)
}

/// The payload of a [`RawEvent`], one variant per event kind, its fields as
/// sent (an empty id: not given).
#[derive(Debug, Clone, PartialEq)]
pub enum RawPayload {
    EnrollmentCreated {
        course_id: String,
    },
    ProgressUpdated {
        course_id: String,
        progress_percent: f64,
    },
    LessonCompleted {
        course_id: String,
        lesson_id: String,
    },
    CourseCompleted {
        course_id: String,
    },
    AssessmentGraded {
        course_id: String,
        assessment_id: String,
        skill_id: String,
        score: f64,
    },
    SkillMasteryUpdated {
        skill_id: String,
        mastery: f64,
    },
    PracticePassed {
        exercise_id: String,
        course_id: String,
        skill_id: String,
    },
    LearningSession {
        session_id: String,
        started_at: Stamp,
        ended_at: Stamp,
    },
    Login,
    PeerHelped {
        peer_user_id: String,
        context: String,
    },
    LearningPathCompleted {
        path_id: String,
    },
}

impl RawPayload {
    pub fn kind(&self) -> Kind {
        match self {
            RawPayload::EnrollmentCreated { .. } => Kind::EnrollmentCreated,
            RawPayload::ProgressUpdated { .. } => Kind::ProgressUpdated,
            RawPayload::LessonCompleted { .. } => Kind::LessonCompleted,
            RawPayload::CourseCompleted { .. } => Kind::CourseCompleted,
            RawPayload::AssessmentGraded { .. } => Kind::AssessmentGraded,
            RawPayload::SkillMasteryUpdated { .. } => Kind::SkillMasteryUpdated,
            RawPayload::PracticePassed { .. } => Kind::PracticePassed,
            RawPayload::LearningSession { .. } => Kind::LearningSession,
            RawPayload::Login => Kind::Login,
            RawPayload::PeerHelped { .. } => Kind::PeerHelped,
            RawPayload::LearningPathCompleted { .. } => Kind::LearningPathCompleted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leap_second_becomes_the_last_instant_of_its_minute() {
        let leap = DateTime::parse_from_rfc3339("2026-06-30T23:59:60Z")
            .unwrap()
            .with_timezone(&Utc);
        let Stamp::At(at) = Stamp::instant(leap) else {
            panic!("an instant")
        };
        assert_eq!(at.to_rfc3339(), "2026-06-30T23:59:59.999999999+00:00");
        let plain = DateTime::parse_from_rfc3339("2026-06-30T12:00:00.25Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(Stamp::instant(plain), Stamp::At(plain));
    }
}
