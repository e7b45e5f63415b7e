//! What the scenarios send: events spread over the organization, tokens,
//! and latency samples turned into figures.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use stride::auth::{Role, Scope, Subject, TokenKeys};
use stride::proto::events::v1 as pb;

use crate::dataset::{self, Size};
use crate::support::percentile;

/// Learners `1..=WARM` are the ones whose analytics are asked for; events
/// go to the others so they never invalidate those cached answers.
pub const WARM: usize = 8;

/// Distinct events for learners outside the analytics set.
pub struct Events {
    size: Size,
    tag: String,
    next: AtomicUsize,
}

impl Events {
    pub fn new(size: Size, tag: &str) -> Events {
        Events {
            size,
            tag: tag.to_string(),
            next: AtomicUsize::new(0),
        }
    }

    pub fn next(&self) -> pb::Event {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let others = self.size.learners - WARM;
        let i = WARM + 1 + (n.wrapping_mul(2_654_435_761) % others);
        let c = dataset::course_of(&self.size, i, n % dataset::ENROLLED);
        let now = chrono::Utc::now();
        let payload = if n % 10 == 9 {
            pb::event::Payload::AssessmentGraded(pb::AssessmentGraded {
                course_id: dataset::course(c).to_string(),
                assessment_id: format!("a-{}-{n}", self.tag),
                skill_id: String::new(),
                score: (n % 101) as f64,
            })
        } else {
            pb::event::Payload::LessonCompleted(pb::LessonCompleted {
                course_id: dataset::course(c).to_string(),
                lesson_id: dataset::lesson(c, 1 + n % dataset::LESSONS).to_string(),
            })
        };
        pb::Event {
            event_id: format!("bench-{}-{n}", self.tag),
            occurred_at: Some(prost_types::Timestamp {
                seconds: now.timestamp(),
                nanos: 0,
            }),
            user_id: dataset::learner(i).to_string(),
            organization_id: String::new(),
            payload: Some(payload),
        }
    }
}

pub fn producer_token(keys: &TokenKeys) -> Result<String> {
    let subject = Subject::Service {
        name: "bench-producer".into(),
        org_id: Some(dataset::ORG.parse()?),
        scopes: vec![Scope::EventsWrite],
    };
    Ok(keys.issue(&subject, Duration::from_secs(4 * 3600))?.0)
}

pub fn learner_token(keys: &TokenKeys, i: usize) -> Result<String> {
    let subject = Subject::User {
        user_id: dataset::learner(i),
        org_id: dataset::ORG.parse()?,
        roles: vec![Role::Learner],
        active: Some(Role::Learner),
    };
    Ok(keys.issue(&subject, Duration::from_secs(4 * 3600))?.0)
}

/// Throughput and latency of one side of a scenario.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Figures {
    /// Units (events or calls) per second.
    pub rate: f64,
    pub unit: &'static str,
    /// Latency of one operation (call, stream or transaction), in ms.
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub operations: usize,
}

impl Figures {
    pub fn of(
        mut latencies_us: Vec<u64>,
        units: usize,
        elapsed: Duration,
        unit: &'static str,
    ) -> Self {
        let mut ms = |p| percentile(&mut latencies_us, p) as f64 / 1000.0;
        let (p50_ms, p95_ms, p99_ms) = (ms(50.0), ms(95.0), ms(99.0));
        Figures {
            rate: units as f64 / elapsed.as_secs_f64(),
            unit,
            p50_ms,
            p95_ms,
            p99_ms,
            operations: latencies_us.len(),
        }
    }
}

/// Runs `workers` copies of `op` until `seconds` have passed; each call
/// returns the units it did. Latencies of every call, units, elapsed.
pub async fn run_for<F, Fut>(
    workers: usize,
    seconds: u64,
    op: F,
) -> Result<(Vec<u64>, usize, Duration)>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<usize>> + Send,
{
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let op = op.clone();
            tokio::spawn(async move {
                let (mut latencies, mut units) = (Vec::new(), 0);
                while Instant::now() < until {
                    let t = Instant::now();
                    units += op(w).await?;
                    latencies.push(t.elapsed().as_micros() as u64);
                }
                Ok::<_, anyhow::Error>((latencies, units))
            })
        })
        .collect();
    let (mut latencies, mut units) = (Vec::new(), 0);
    for task in tasks {
        let (l, u) = task.await??;
        latencies.extend(l);
        units += u;
    }
    Ok((latencies, units, started.elapsed()))
}
