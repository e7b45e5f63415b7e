//! The Stride server under test: the release `stride serve` binary in its
//! own process (so its memory is its own), on the benchmark's cluster.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tonic::transport::Channel;

use crate::support::{Bench, JWT_SECRET};

pub struct Server {
    child: Child,
    pub channel: Channel,
    metrics_port: u16,
}

impl Server {
    /// Starts `stride serve` as the runtime role (migrations already ran)
    /// with the background jobs off, so nothing but the scenario runs.
    /// `STRIDE_BENCH_SERVER_BIN` runs another build of it (a before/after
    /// comparison on one dataset).
    pub async fn start(bench: &Bench) -> Result<Server> {
        let binary = std::env::var("STRIDE_BENCH_SERVER_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_stride").to_string());
        let free_port = || -> Result<u16> {
            Ok(std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port())
        };
        let (port, metrics_port) = (free_port()?, free_port()?);
        let child = Command::new(&binary)
            .arg("serve")
            .env("DATABASE_URL", &bench.owner_url)
            .env("STRIDE_APP_DATABASE_URL", &bench.app_url)
            .env("STRIDE_JWT_SECRET", JWT_SECRET)
            .env("STRIDE_LISTEN", format!("127.0.0.1:{port}"))
            .env("STRIDE_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))
            .env("STRIDE_NO_MIGRATE", "true")
            .env("STRIDE_JOBS", "false")
            .env("STRIDE_INGEST_BATCH_SIZE", "1000")
            .env("STRIDE_POOL_SIZE", "16")
            .env(
                "RUST_LOG",
                std::env::var("STRIDE_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .spawn()
            .context("cannot start the stride binary")?;
        let endpoint = Channel::from_shared(format!("http://127.0.0.1:{port}"))?;
        let started = Instant::now();
        let channel = loop {
            match endpoint.connect().await {
                Ok(channel) => break channel,
                Err(_) if started.elapsed() < Duration::from_secs(30) => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(err) => bail!("stride serve did not listen within 30 s: {err}"),
            }
        };
        Ok(Server {
            child,
            channel,
            metrics_port,
        })
    }

    /// Forgets the peak so the next reading is the next scenario's own
    /// (`clear_refs` 5 resets VmHWM, Linux 4.0+).
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }

    /// The server's peak resident memory since the last reset, in MiB.
    pub fn peak_rss_mib(&self) -> Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("no VmHWM in /proc/<pid>/status")?;
        Ok(kib / 1024.0)
    }
}

impl Server {
    /// The server's metrics text, scraped now.
    fn metrics(&self) -> Result<String> {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", self.metrics_port))?;
        conn.set_read_timeout(Some(Duration::from_secs(5)))?;
        conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n")?;
        let mut text = String::new();
        conn.read_to_string(&mut text)?;
        Ok(text)
    }

    /// People whose streak the server's committed batches resumed from
    /// the stored row and replayed, so far (`stride_streak_updates_total`).
    pub fn streak_updates(&self) -> Result<(u64, u64)> {
        let text = self.metrics()?;
        let value = |path: &str| -> Result<u64> {
            let prefix = format!("stride_streak_updates_total{{path=\"{path}\"}} ");
            metric(&text, &prefix).with_context(|| format!("no {prefix}in the server's metrics"))
        };
        Ok((value("resumed")?, value("replayed")?))
    }

    /// The group sizes of `path` ("unary", "stream") so far
    /// (`stride_ingest_group_size`).
    pub fn groups(&self, path: &str) -> Result<Groups> {
        let text = self.metrics()?;
        let name = "stride_ingest_group_size";
        let bucket = format!("{name}_bucket{{path=\"{path}\",le=\"");
        let buckets = text
            .lines()
            .filter_map(|l| l.strip_prefix(bucket.as_str()))
            .filter_map(|l| {
                let (bound, count) = l.split_once("\"} ")?;
                Some((bound.parse().ok()?, count.trim().parse().ok()?))
            })
            .collect();
        let sum = metric(&text, &format!("{name}_sum{{path=\"{path}\"}} "))
            .with_context(|| format!("no {name} in the server's metrics"))?;
        Ok(Groups { buckets, sum })
    }
}

fn metric(text: &str, prefix: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

/// A group size histogram: cumulative counts by upper bound (`+Inf`
/// last), and the sum of the sizes.
#[derive(Debug, Clone, Default)]
pub struct Groups {
    pub buckets: Vec<(f64, u64)>,
    pub sum: u64,
}

impl Groups {
    /// What happened between `before` and this reading.
    pub fn since(&self, before: &Groups) -> Groups {
        let old = |bound: f64| {
            before
                .buckets
                .iter()
                .find(|(b, _)| *b == bound)
                .map_or(0, |(_, c)| *c)
        };
        Groups {
            buckets: self
                .buckets
                .iter()
                .map(|(b, c)| (*b, c - old(*b)))
                .collect(),
            sum: self.sum - before.sum,
        }
    }

    pub fn count(&self) -> u64 {
        self.buckets.last().map_or(0, |(_, c)| *c)
    }

    /// The smallest bucket bound holding the `p`-th percentile.
    pub fn percentile(&self, p: f64) -> f64 {
        let want = (self.count() as f64 * p / 100.0).ceil() as u64;
        self.buckets
            .iter()
            .find(|(_, c)| *c >= want.max(1))
            .map_or(f64::INFINITY, |(b, _)| *b)
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        let n = self.count();
        if n == 0 {
            return "no groups".into();
        }
        format!(
            "{n} transactions, mean {:.1} events, p50 <= {}, p90 <= {}",
            self.sum as f64 / n as f64,
            self.percentile(50.0),
            self.percentile(90.0),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}
