//! What the benchmarks share: an embedded PostgreSQL with the schema and
//! the runtime role, a Stride server on 127.0.0.1, authenticated requests,
//! pgbench as the database's own ceiling, latency percentiles, and a
//! learner's analytics bundle.

#![allow(dead_code)] // each bench uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use stride::auth::TokenKeys;
use stride::config::Limits;
use stride::embedded_pg::{EmbeddedOptions, EmbeddedPostgres, find_pg_bin};
use stride::proto::analytics::v1 as pb;
use stride::proto::analytics::v1::analytics_service_client::AnalyticsServiceClient;
use tonic::transport::Channel;

pub const APP_PASSWORD: &str = "0b1e2c3d4e5f60718293a4b5c6d7e8f9";

/// A running cluster for one benchmark, removed when stopped.
pub struct Bench {
    pub pg: EmbeddedPostgres,
    pub opts: EmbeddedOptions,
    pub owner_url: String,
    pub app_url: String,
}

impl Bench {
    /// Starts PostgreSQL with production settings (fsync and synchronous
    /// commit on), migrates, and lets the runtime role log in.
    pub async fn start(name: &str) -> Result<Bench> {
        let dir = std::env::temp_dir().join(format!("stride-bench-{name}-{}", std::process::id()));
        let opts = EmbeddedOptions {
            data_dir: dir,
            pg_bin: std::env::var_os("STRIDE_PG_BIN").map(PathBuf::from),
            settings: bench_settings(),
            port: None,
        };
        eprintln!("starting PostgreSQL in {} ...", opts.data_dir.display());
        let pg = EmbeddedPostgres::start(&opts).await?;
        let owner_url = pg.url("stride");
        stride::db::migrate(&owner_url).await?;
        stride::db::enable_app_login(&pg.url("postgres"), APP_PASSWORD).await?;
        let app_url = pg.url_as(stride::db::APP_ROLE, APP_PASSWORD, "stride");
        Ok(Bench {
            pg,
            opts,
            owner_url,
            app_url,
        })
    }

    /// Serves Stride as the runtime role; returns a channel to it.
    pub async fn serve(&self, keys: TokenKeys, limits: Limits) -> Result<Channel> {
        let pool = stride::db::build_pool(
            &self.app_url,
            limits.pool_size,
            Duration::from_secs(5),
            limits.statement_timeout(),
        )?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = stride::server::state(pool, keys);
        tokio::spawn(async move {
            stride::server::serve(listener, state, &limits, std::future::pending()).await
        });
        Ok(Channel::from_shared(format!("http://{addr}"))?
            .connect()
            .await?)
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.opts.data_dir.join(name)
    }

    pub fn stop(mut self) {
        self.pg.stop();
        if std::env::var_os("STRIDE_BENCH_LOG_STATEMENTS").is_none() {
            let _ = std::fs::remove_dir_all(&self.opts.data_dir);
        }
    }
}

/// The benches' HS256 secret; a server in its own process gets it too.
pub const JWT_SECRET: &str = "bench-secret-bench-secret-bench-secret";

/// Settings the profiling knobs add: every statement logged
/// (STRIDE_BENCH_LOG_STATEMENTS), pg_stat_statements (STRIDE_BENCH_WAITS),
/// any others as `STRIDE_BENCH_PG_SETTINGS=name=value,name=value`.
fn bench_settings() -> Vec<(String, String)> {
    let mut settings: Vec<(String, String)> = std::env::var("STRIDE_BENCH_PG_SETTINGS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    if std::env::var_os("STRIDE_BENCH_LOG_STATEMENTS").is_some() {
        settings.push(("log_min_duration_statement".into(), "0".into()));
    }
    if std::env::var_os("STRIDE_BENCH_WAITS").is_some() {
        settings.push((
            "shared_preload_libraries".into(),
            "pg_stat_statements".into(),
        ));
        settings.push(("pg_stat_statements.track".into(), "all".into()));
        settings.push(("pg_stat_statements.track_planning".into(), "on".into()));
    }
    settings
}

pub fn keys() -> TokenKeys {
    TokenKeys::hs256(JWT_SECRET.as_bytes(), "stride", "stride")
}

/// The UUID of bench user `i`, as the benches' SQL builds it too
/// (`'00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0')`).
pub fn user(i: usize) -> uuid::Uuid {
    uuid::Uuid::parse_str(&format!("00000000-0000-4000-8000-{i:012x}")).expect("uuid")
}

pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    req
}

/// What a pgbench run measured.
pub struct PgbenchRun {
    pub tps: f64,
    /// Per-transaction latencies in microseconds (when logged).
    pub latencies_us: Vec<u64>,
}

/// Runs `scripts` (each with its weight) through pgbench as the runtime
/// role for `seconds` with `clients`; with `log`, collects every
/// transaction's latency.
pub fn pgbench(
    bench: &Bench,
    scripts: &[(&Path, u32)],
    clients: usize,
    seconds: usize,
    log: bool,
) -> Result<PgbenchRun> {
    let bin = find_pg_bin(bench.opts.pg_bin.as_deref())?.join("pgbench");
    let logs = bench.file(&format!("pgbench-logs-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&logs)?;
    let threads = clients.clamp(1, 2);
    eprintln!("running pgbench with {clients} client(s) for {seconds} s ...");
    let mut cmd = Command::new(&bin);
    cmd.current_dir(&logs)
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &clients.to_string(),
            "-j",
            &threads.to_string(),
        ])
        .args(["-T", &seconds.to_string()]);
    for (script, weight) in scripts {
        cmd.arg("-f").arg(format!("{}@{weight}", script.display()));
    }
    if log {
        cmd.arg("-l");
    }
    let output = cmd
        .arg(&bench.app_url)
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let tps = stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no tps in pgbench output:\n{stdout}"))?;
    let mut latencies_us = Vec::new();
    if log {
        // pgbench_log.<pid>[.<thread>]: client, transaction, latency (us), ...
        for entry in std::fs::read_dir(&logs)? {
            let text = std::fs::read_to_string(entry?.path())?;
            latencies_us.extend(
                text.lines()
                    .filter_map(|l| l.split_whitespace().nth(2))
                    .filter_map(|v| v.parse::<u64>().ok()),
            );
        }
    }
    Ok(PgbenchRun { tps, latencies_us })
}

/// The `p`-th percentile (0-100) of `values`, nearest rank.
pub fn percentile(values: &mut [u64], p: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

/// The value of `sql`, a query of one bigint, run on its own connection.
pub async fn count(url: &str, sql: &str) -> Result<i64> {
    use diesel::QueryableByName;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = AsyncPgConnection::establish(url).await?;
    let n: N = diesel::sql_query(format!("SELECT ({sql}) AS n"))
        .get_result(&mut conn)
        .await?;
    Ok(n.n)
}

/// The 9 analytics of one learner, sent together; each call's latency.
pub async fn analytics_bundle(channel: &Channel, token: &str, fresh: bool) -> Result<Vec<u64>> {
    let me = || Some(pb::LearnerSubject::default());
    macro_rules! timed {
        ($method:ident, $req:expr) => {{
            let mut client = AnalyticsServiceClient::new(channel.clone());
            let request = authed($req, token);
            async move {
                let t = Instant::now();
                client.$method(request).await.context(stringify!($method))?;
                Ok::<u64, anyhow::Error>(t.elapsed().as_micros() as u64)
            }
        }};
    }
    let (a, b, c, d, e, f, g, h, i) = tokio::join!(
        timed!(
            get_learning_velocity,
            pb::GetLearningVelocityRequest {
                subject: me(),
                fresh
            }
        ),
        timed!(
            get_skill_gap_matrix,
            pb::GetSkillGapMatrixRequest {
                subject: me(),
                fresh
            }
        ),
        timed!(
            get_engagement_score,
            pb::GetEngagementScoreRequest {
                subject: me(),
                fresh
            }
        ),
        timed!(
            get_mastery_progress,
            pb::GetMasteryProgressRequest {
                subject: me(),
                fresh
            }
        ),
        timed!(
            get_assessment_performance,
            pb::GetAssessmentPerformanceRequest {
                subject: me(),
                fresh
            }
        ),
        timed!(
            get_content_effectiveness,
            pb::GetContentEffectivenessRequest {
                subject: me(),
                fresh
            }
        ),
        timed!(
            get_drop_off_risk,
            pb::GetDropOffRiskRequest {
                subject: me(),
                fresh
            }
        ),
        timed!(
            get_outcome_forecast,
            pb::GetOutcomeForecastRequest {
                subject: me(),
                course_id: String::new(),
                fresh
            }
        ),
        timed!(
            get_recommendations,
            pb::GetRecommendationsRequest {
                subject: me(),
                fresh
            }
        ),
    );
    Ok(vec![a?, b?, c?, d?, e?, f?, g?, h?, i?])
}
