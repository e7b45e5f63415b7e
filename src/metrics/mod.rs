//! Prometheus metrics: per-RPC requests by code and latency, ingested
//! events by outcome, database pool usage, background jobs. Kept in
//! process (a few maps behind a mutex: one lock per request, no
//! allocation once a method has been seen) and rendered in the text
//! exposition format by [`exporter`] on its own port.

mod exporter;
mod layer;

pub use exporter::serve_metrics;
pub use layer::MetricsLayer;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::db::replica::ReplicaStatus;

/// Latency bucket bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Group size bucket bounds, events per ingestion transaction.
const GROUP_BUCKETS: [f64; 11] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1000.0,
];

/// A cumulative histogram over `N` bucket bounds.
struct Histogram<const N: usize> {
    bounds: &'static [f64; N],
    counts: [u64; N],
    sum: f64,
    total: u64,
}

impl<const N: usize> Histogram<N> {
    const fn new(bounds: &'static [f64; N]) -> Self {
        Histogram {
            bounds,
            counts: [0; N],
            sum: 0.0,
            total: 0,
        }
    }

    fn observe(&mut self, value: f64) {
        for (count, bound) in self.counts.iter_mut().zip(self.bounds) {
            if value <= *bound {
                *count += 1;
            }
        }
        self.sum += value;
        self.total += 1;
    }

    /// The exposition lines of the histogram `name` with `labels`
    /// (`key="value"` pairs, comma-separated, or empty).
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in self.bounds.iter().zip(self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.total
        );
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.total);
    }
}

type Latency = Histogram<{ BUCKETS.len() }>;
type Groups = Histogram<{ GROUP_BUCKETS.len() }>;

impl Default for Latency {
    fn default() -> Self {
        Histogram::new(&BUCKETS)
    }
}

impl Default for Groups {
    fn default() -> Self {
        Histogram::new(&GROUP_BUCKETS)
    }
}

/// Which ingestion path formed a transaction's group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupPath {
    /// Unary PublishEvent calls gathered by the group commit.
    Unary,
    /// One batch of a PublishEvents stream.
    Stream,
}

#[derive(Default)]
struct Method {
    /// code -> count
    codes: BTreeMap<&'static str, u64>,
    latency: Latency,
}

#[derive(Default)]
struct Inner {
    /// by full method path
    methods: BTreeMap<String, Method>,
    /// outcome -> count
    events: BTreeMap<&'static str, u64>,
    /// People whose streak a committed batch resumed / replayed.
    streaks: crate::db::ingest::Streaks,
    /// Events per ingestion transaction, unary and streamed.
    unary_groups: Groups,
    stream_groups: Groups,
}

/// Where a call's token verdict came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenVerdict {
    /// A good verdict of the last second, held in memory.
    Memory,
    /// A check against the database (alone or in the call's transaction).
    Database,
    /// The verdict of another call's check of the same token, in flight
    /// when this call arrived.
    Shared,
}

/// The process's metrics.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    /// Token verdicts by source: counted on every authenticated call, so
    /// kept out of the mutex.
    verdicts_memory: AtomicU64,
    verdicts_database: AtomicU64,
    verdicts_shared: AtomicU64,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One finished call of `method` (the gRPC path) with `code`.
    pub fn request(&self, method: &str, code: tonic::Code, took: Duration) {
        let mut inner = self.lock();
        // The path is copied only the first time a method is seen.
        if !inner.methods.contains_key(method) {
            inner.methods.insert(method.to_string(), Method::default());
        }
        if let Some(m) = inner.methods.get_mut(method) {
            *m.codes.entry(code_name(code)).or_default() += 1;
            m.latency.observe(took.as_secs_f64());
        }
    }

    /// One authenticated call's token verdict, by where it came from.
    pub fn token_verdict(&self, source: TokenVerdict) {
        let counter = match source {
            TokenVerdict::Memory => &self.verdicts_memory,
            TokenVerdict::Database => &self.verdicts_database,
            TokenVerdict::Shared => &self.verdicts_shared,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// One ingested event: accepted, duplicate, conflict or invalid.
    pub fn event(&self, outcome: &'static str) {
        *self.lock().events.entry(outcome).or_default() += 1;
    }

    /// One ingestion transaction of `events` events, formed by `path`.
    pub fn group(&self, path: GroupPath, events: usize) {
        let mut inner = self.lock();
        let groups = match path {
            GroupPath::Unary => &mut inner.unary_groups,
            GroupPath::Stream => &mut inner.stream_groups,
        };
        groups.observe(events as f64);
    }

    /// How a committed batch computed its people's streaks.
    pub fn streaks(&self, batch: crate::db::ingest::Streaks) {
        let mut inner = self.lock();
        inner.streaks.resumed += batch.resumed;
        inner.streaks.replayed += batch.replayed;
    }

    /// The exposition text; `extra` holds gauges read at scrape time.
    pub fn render(
        &self,
        pool: &deadpool::Status,
        replica: Option<ReplicaStatus>,
        jobs: &[(String, Option<f64>)],
    ) -> String {
        let inner = self.lock();
        let mut out = String::new();
        out += "# HELP stride_rpc_requests_total gRPC calls finished, by method and status code.\n";
        out += "# TYPE stride_rpc_requests_total counter\n";
        for (method, m) in &inner.methods {
            for (code, n) in &m.codes {
                let _ = writeln!(
                    out,
                    "stride_rpc_requests_total{{method=\"{method}\",code=\"{code}\"}} {n}"
                );
            }
        }
        out +=
            "# HELP stride_rpc_duration_seconds Time to the response (headers) of a gRPC call.\n";
        out += "# TYPE stride_rpc_duration_seconds histogram\n";
        for (method, m) in &inner.methods {
            m.latency.render(
                &mut out,
                "stride_rpc_duration_seconds",
                &format!("method=\"{method}\""),
            );
        }
        out += "# HELP stride_token_verdicts_total Authenticated calls by where their token check was answered: a good verdict held in memory (at most STRIDE_TOKEN_VERDICT_MS old), the database, or the check of the same token another call had in flight.\n";
        out += "# TYPE stride_token_verdicts_total counter\n";
        for (source, counter) in [
            ("memory", &self.verdicts_memory),
            ("database", &self.verdicts_database),
            ("shared", &self.verdicts_shared),
        ] {
            let _ = writeln!(
                out,
                "stride_token_verdicts_total{{source=\"{source}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out += "# HELP stride_ingest_group_size Events per ingestion transaction: unary calls the group commit gathered, or one stream batch.\n";
        out += "# TYPE stride_ingest_group_size histogram\n";
        inner
            .unary_groups
            .render(&mut out, "stride_ingest_group_size", "path=\"unary\"");
        inner
            .stream_groups
            .render(&mut out, "stride_ingest_group_size", "path=\"stream\"");
        out += "# HELP stride_events_ingested_total Events received, by outcome.\n";
        out += "# TYPE stride_events_ingested_total counter\n";
        for (outcome, n) in &inner.events {
            let _ = writeln!(
                out,
                "stride_events_ingested_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        out += "# HELP stride_streak_updates_total People whose streak an ingested batch updated: resumed from the stored row, or replayed from their history (late or out-of-order facts).\n";
        out += "# TYPE stride_streak_updates_total counter\n";
        let _ = writeln!(
            out,
            "stride_streak_updates_total{{path=\"resumed\"}} {}",
            inner.streaks.resumed
        );
        let _ = writeln!(
            out,
            "stride_streak_updates_total{{path=\"replayed\"}} {}",
            inner.streaks.replayed
        );
        out += "# HELP stride_db_pool_connections Database pool connections by state.\n";
        out += "# TYPE stride_db_pool_connections gauge\n";
        let _ = writeln!(
            out,
            "stride_db_pool_connections{{state=\"max\"}} {}",
            pool.max_size
        );
        let _ = writeln!(
            out,
            "stride_db_pool_connections{{state=\"open\"}} {}",
            pool.size
        );
        let _ = writeln!(
            out,
            "stride_db_pool_connections{{state=\"idle\"}} {}",
            pool.available
        );
        out += "# HELP stride_db_pool_waiting Requests waiting for a connection.\n";
        out += "# TYPE stride_db_pool_waiting gauge\n";
        let _ = writeln!(out, "stride_db_pool_waiting {}", pool.waiting);
        if let Some(replica) = replica {
            out += "# HELP stride_read_replica_in_use 1 while read-only RPCs run on the read replica.\n";
            out += "# TYPE stride_read_replica_in_use gauge\n";
            let _ = writeln!(
                out,
                "stride_read_replica_in_use {}",
                u8::from(replica.in_use)
            );
            if let Some(lag) = replica.lag {
                out += "# HELP stride_read_replica_lag_seconds How far the read replica's replay is behind the primary.\n";
                out += "# TYPE stride_read_replica_lag_seconds gauge\n";
                let _ = writeln!(out, "stride_read_replica_lag_seconds {}", lag.as_secs_f64());
            }
        }
        out += "# HELP stride_job_last_success_timestamp_seconds Last successful run of a background job (any replica).\n";
        out += "# TYPE stride_job_last_success_timestamp_seconds gauge\n";
        for (job, at) in jobs {
            if let Some(at) = at {
                let _ = writeln!(
                    out,
                    "stride_job_last_success_timestamp_seconds{{job=\"{job}\"}} {at}"
                );
            }
        }
        out
    }
}

/// The canonical name of a code (as grpcurl prints it).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let m = Metrics::default();
        m.request("/a.B/C", tonic::Code::Ok, Duration::from_millis(3));
        m.request("/a.B/C", tonic::Code::Ok, Duration::from_millis(30));
        m.request("/a.B/C", tonic::Code::NotFound, Duration::from_millis(1));
        m.event("accepted");
        m.token_verdict(TokenVerdict::Memory);
        m.token_verdict(TokenVerdict::Memory);
        m.token_verdict(TokenVerdict::Database);
        m.token_verdict(TokenVerdict::Shared);
        m.group(GroupPath::Unary, 1);
        m.group(GroupPath::Unary, 12);
        m.group(GroupPath::Stream, 500);
        m.streaks(crate::db::ingest::Streaks {
            resumed: 5,
            replayed: 1,
        });
        m.streaks(crate::db::ingest::Streaks {
            resumed: 2,
            replayed: 0,
        });
        let status = deadpool::Status {
            max_size: 16,
            size: 3,
            available: 2,
            waiting: 0,
        };
        let replica = ReplicaStatus {
            in_use: true,
            lag: Some(Duration::from_millis(250)),
        };
        let text = m.render(
            &status,
            Some(replica),
            &[
                ("retention".into(), Some(1.5e9)),
                ("partitions".into(), None),
            ],
        );
        assert!(text.contains("stride_rpc_requests_total{method=\"/a.B/C\",code=\"OK\"} 2"));
        assert!(text.contains("stride_rpc_requests_total{method=\"/a.B/C\",code=\"NotFound\"} 1"));
        // 1 ms and 3 ms are within 5 ms; 30 ms is not.
        assert!(
            text.contains("stride_rpc_duration_seconds_bucket{method=\"/a.B/C\",le=\"0.005\"} 2")
        );
        assert!(
            text.contains("stride_rpc_duration_seconds_bucket{method=\"/a.B/C\",le=\"+Inf\"} 3")
        );
        assert!(text.contains("stride_events_ingested_total{outcome=\"accepted\"} 1"));
        // A group of 12 is above 8 and within 16.
        assert!(text.contains("stride_ingest_group_size_bucket{path=\"unary\",le=\"8\"} 1\n"));
        assert!(text.contains("stride_ingest_group_size_bucket{path=\"unary\",le=\"16\"} 2\n"));
        assert!(text.contains("stride_ingest_group_size_sum{path=\"unary\"} 13\n"));
        assert!(text.contains("stride_ingest_group_size_bucket{path=\"stream\",le=\"256\"} 0\n"));
        assert!(text.contains("stride_ingest_group_size_count{path=\"stream\"} 1\n"));
        assert!(text.contains("stride_streak_updates_total{path=\"resumed\"} 7\n"));
        assert!(text.contains("stride_token_verdicts_total{source=\"memory\"} 2\n"));
        assert!(text.contains("stride_token_verdicts_total{source=\"database\"} 1\n"));
        assert!(text.contains("stride_token_verdicts_total{source=\"shared\"} 1\n"));
        assert!(text.contains("stride_streak_updates_total{path=\"replayed\"} 1\n"));
        assert!(text.contains("stride_db_pool_connections{state=\"open\"} 3"));
        assert!(
            text.contains(
                "stride_job_last_success_timestamp_seconds{job=\"retention\"} 1500000000"
            )
        );
        assert!(!text.contains("job=\"partitions\""));
        assert!(text.contains("stride_read_replica_in_use 1\n"));
        assert!(text.contains("stride_read_replica_lag_seconds 0.25\n"));
    }
}
