//! Structure-aware: a batch of learning events built by `arbitrary` so
//! that most ids are UUIDs (in every form `Uuid::parse_str` reads, nil
//! included), timestamps fall around the server clock, scores around 0-100
//! and sessions around a day: the checks' boundaries, which raw bytes reach
//! rarely. Each event goes through the wire (encoded, decoded as
//! PublishEvent), then validation against an input-chosen clock, then
//! ingestion's pure steps over the batch. Must never panic.
#![no_main]

mod common;

use arbitrary::Arbitrary;
use chrono::{DateTime, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use prost::Message;
use stride::proto::events::v1 as pb;
use uuid::Uuid;

use common::{TOKEN_ORG, say};

/// Events per batch, at most: enough for repeats and merges within a
/// batch, few enough to keep the rate of inputs up.
const MAX_BATCH: usize = 16;

#[derive(Debug, Arbitrary)]
struct Input {
    /// The server clock: seconds after 2000-01-01.
    now: u32,
    platform_token: bool,
    events: Vec<Event>,
}

#[derive(Debug, Arbitrary)]
struct Event {
    event_id: Text,
    occurred_at: Option<Time>,
    user_id: Id,
    organization_id: Id,
    payload: Option<Payload>,
}

#[derive(Debug, Arbitrary)]
enum Payload {
    EnrollmentCreated(Id),
    ProgressUpdated(Id, Number),
    LessonCompleted(Id, Id),
    CourseCompleted(Id),
    AssessmentGraded(Id, Text, Id, Number),
    SkillMasteryUpdated(Id, Number),
    PracticePassed(Text, Id, Id),
    LearningSession(Text, Option<Time>, Option<Time>),
    Login,
    PeerHelped(Id, Text),
    LearningPathCompleted(Id),
}

/// Ids: mostly UUIDs of a small pool (so events of a batch share people,
/// courses and skills), in the forms a producer might send.
#[derive(Debug, Arbitrary)]
enum Id {
    Empty,
    Pool(u8),
    Upper(u8),
    Simple(u8),
    Braced(u8),
    Urn(u8),
    Any(u128),
    Nil,
    Text(String),
}

#[derive(Debug, Arbitrary)]
enum Text {
    Plain(String),
    /// `n` copies of a character: lengths around the 128 and 200 limits.
    Repeat(char, u8, u8),
    Padded(String),
}

#[derive(Debug, Arbitrary)]
enum Time {
    /// Seconds and nanoseconds from the clock (`now`).
    FromNow(i32, i32),
    /// From the input's other timestamp of the same event: a session's end.
    AfterStart(u32),
    Raw(i64, i32),
}

#[derive(Debug, Arbitrary)]
enum Number {
    /// Hundredths: -1.00 to 654.35.
    Hundredths(u16),
    Negative(u16),
    Raw(f64),
}

impl Id {
    fn text(&self) -> String {
        let pool =
            |i: u8| Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 | u128::from(i % 16));
        match self {
            Id::Empty => String::new(),
            Id::Pool(i) => pool(*i).to_string(),
            Id::Upper(i) => pool(*i).to_string().to_uppercase(),
            Id::Simple(i) => pool(*i).simple().to_string(),
            Id::Braced(i) => pool(*i).braced().to_string(),
            Id::Urn(i) => pool(*i).urn().to_string(),
            Id::Any(n) => Uuid::from_u128(*n).to_string(),
            Id::Nil => Uuid::nil().to_string(),
            Id::Text(s) => s.clone(),
        }
    }
}

impl Text {
    fn text(&self) -> String {
        match self {
            Text::Plain(s) => s.clone(),
            Text::Repeat(c, n, extra) => c
                .to_string()
                .repeat(usize::from(*n) + usize::from(*extra % 80)),
            Text::Padded(s) => format!(" {s} "),
        }
    }
}

impl Number {
    fn value(&self) -> f64 {
        match self {
            Number::Hundredths(n) => f64::from(*n) / 100.0 - 1.0,
            Number::Negative(n) => -f64::from(*n),
            Number::Raw(x) => *x,
        }
    }
}

fn timestamp(
    time: &Time,
    now: DateTime<Utc>,
    start: Option<&prost_types::Timestamp>,
) -> prost_types::Timestamp {
    match time {
        Time::FromNow(seconds, nanos) => prost_types::Timestamp {
            seconds: now.timestamp() + i64::from(*seconds),
            nanos: *nanos % 1_000_000_001,
        },
        Time::AfterStart(seconds) => {
            let start = start.cloned().unwrap_or_default();
            prost_types::Timestamp {
                seconds: start.seconds.saturating_add(i64::from(*seconds % 200_000)),
                nanos: start.nanos,
            }
        }
        Time::Raw(seconds, nanos) => prost_types::Timestamp {
            seconds: *seconds,
            nanos: *nanos,
        },
    }
}

impl Event {
    fn to_proto(&self, now: DateTime<Utc>) -> pb::Event {
        use pb::event::Payload as P;
        let payload = self.payload.as_ref().map(|p| match p {
            Payload::EnrollmentCreated(course) => P::EnrollmentCreated(pb::EnrollmentCreated {
                course_id: course.text(),
            }),
            Payload::ProgressUpdated(course, progress) => P::ProgressUpdated(pb::ProgressUpdated {
                course_id: course.text(),
                progress_percent: progress.value(),
            }),
            Payload::LessonCompleted(course, lesson) => P::LessonCompleted(pb::LessonCompleted {
                course_id: course.text(),
                lesson_id: lesson.text(),
            }),
            Payload::CourseCompleted(course) => P::CourseCompleted(pb::CourseCompleted {
                course_id: course.text(),
            }),
            Payload::AssessmentGraded(course, assessment, skill, score) => {
                P::AssessmentGraded(pb::AssessmentGraded {
                    course_id: course.text(),
                    assessment_id: assessment.text(),
                    skill_id: skill.text(),
                    score: score.value(),
                })
            }
            Payload::SkillMasteryUpdated(skill, mastery) => {
                P::SkillMasteryUpdated(pb::SkillMasteryUpdated {
                    skill_id: skill.text(),
                    mastery: mastery.value(),
                })
            }
            Payload::PracticePassed(exercise, course, skill) => {
                P::PracticePassed(pb::PracticePassed {
                    exercise_id: exercise.text(),
                    course_id: course.text(),
                    skill_id: skill.text(),
                })
            }
            Payload::LearningSession(session, start, end) => {
                let started_at = start.as_ref().map(|t| timestamp(t, now, None));
                let ended_at = end.as_ref().map(|t| timestamp(t, now, started_at.as_ref()));
                P::LearningSession(pb::LearningSession {
                    session_id: session.text(),
                    started_at,
                    ended_at,
                })
            }
            Payload::Login => P::Login(pb::Login {}),
            Payload::PeerHelped(peer, context) => P::PeerHelped(pb::PeerHelped {
                peer_user_id: peer.text(),
                context: context.text(),
            }),
            Payload::LearningPathCompleted(path) => {
                P::LearningPathCompleted(pb::LearningPathCompleted {
                    path_id: path.text(),
                })
            }
        });
        pb::Event {
            event_id: self.event_id.text(),
            occurred_at: self.occurred_at.as_ref().map(|t| timestamp(t, now, None)),
            user_id: self.user_id.text(),
            organization_id: self.organization_id.text(),
            payload,
        }
    }
}

fuzz_target!(|input: Input| {
    let now = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap()
        + chrono::Duration::seconds(i64::from(input.now));
    let scope = (!input.platform_token).then_some(TOKEN_ORG);
    let mut batch = Vec::new();
    for event in input.events.iter().take(MAX_BATCH) {
        let sent = pb::PublishEventsRequest {
            event: Some(event.to_proto(now)),
        };
        let received = pb::PublishEventsRequest::decode(sent.encode_to_vec().as_slice())
            .expect("an encoded event decodes");
        assert_eq!(received.encode_to_vec(), sent.encode_to_vec());
        // The unary method takes the same event.
        common::publish_event(
            &pb::PublishEventRequest {
                event: received.event.clone(),
            },
            scope,
            now,
        );
        batch.push(received);
    }
    say!("batch of {} at {now}", batch.len());
    if !batch.is_empty() {
        common::publish_events(&batch, scope, now);
    }
});
