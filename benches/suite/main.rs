//! The benchmark suite: Stride beside its database's own ceiling, in one run.
//!
//! Starts an embedded PostgreSQL (fsync and synchronous commit on), loads an
//! organization (`STRIDE_BENCH_SIZE`: `default` = 100,000 learners, 2,000
//! courses, 500 skills, 2,000,000 events; `small` for a quick run), starts
//! the release `stride serve` in its own process, and runs five scenarios,
//! each followed by pgbench doing the same SQL work as the ceiling:
//!
//! 1. unary PublishEvent, 16 concurrent producers;
//! 2. PublishEvents streams, 4 producers, batches of 100-1,000;
//! 3. leaderboard top 10 + own rank, 32 concurrent callers, during ingestion;
//! 4. a learner's analytics bundle (9 calls at once), cold and warm;
//! 5. mixed: 80% reads (leaderboard, warm analytics) / 20% unary writes.
//!
//! Prints a table and writes `target/stride-bench/report-<size>.{json,md}`
//! (`STRIDE_BENCH_OUT` elsewhere); with `STRIDE_BENCH_DOCS=1` also
//! docs/benchmarks.md. Throughput and latency are printed, never asserted.
//!
//! Run: `cargo bench --bench suite` (or `STRIDE_BENCH_SIZE=small cargo bench
//! --bench suite`). Knobs: STRIDE_BENCH_SECONDS (per side of a scenario,
//! default 20), STRIDE_BENCH_LOG_STATEMENTS (log every statement, keep the
//! cluster), STRIDE_BENCH_SCENARIOS (e.g. `1,4b`: only those).

#[path = "../support/mod.rs"]
mod support;

mod ceilings;
mod dataset;
mod load;
mod report;
mod server;
mod waits;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use stride::proto::analytics::v1 as apb;
use stride::proto::analytics::v1::analytics_service_client::AnalyticsServiceClient;
use stride::proto::events::v1 as pb;
use stride::proto::events::v1::event_service_client::EventServiceClient;
use stride::proto::gamification::v1 as gpb;
use stride::proto::gamification::v1::gamification_service_client::GamificationServiceClient;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use dataset::Size;
use load::{Events, Figures, WARM, run_for};
use report::{Machine, Report, Row};
use server::Server;
use support::{Bench, authed, env_or};

const RSS_TARGET_MIB: f64 = 200.0;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let size =
        Size::named(&std::env::var("STRIDE_BENCH_SIZE").unwrap_or_else(|_| "default".into()))?;
    let bench = Bench::start("suite").await?;
    let result = run(&bench, size).await;
    bench.stop();
    result
}

/// What every scenario needs.
struct Ctx<'a> {
    bench: &'a Bench,
    size: Size,
    seconds: u64,
    channel: Channel,
    producer: String,
    /// Tokens of learners 1..=WARM (their analytics are asked for).
    warm: Vec<String>,
    /// 32 learners spread over the organization, for the boards.
    callers: Vec<String>,
}

async fn run(bench: &Bench, size: Size) -> Result<()> {
    let seconds = env_or("STRIDE_BENCH_SECONDS", 20) as u64;
    dataset::load(&bench.owner_url, &size).await?;
    {
        use diesel_async::SimpleAsyncConnection;
        let mut conn = AsyncPgConnection::establish(&bench.owner_url).await?;
        conn.batch_execute(ceilings::MINIMAL_TABLES).await?;
    }
    let server = Server::start(bench).await?;
    let keys = support::keys();
    let ctx = Ctx {
        bench,
        size,
        seconds,
        channel: server.channel.clone(),
        producer: load::producer_token(&keys)?,
        warm: (1..=WARM)
            .map(|i| load::learner_token(&keys, i))
            .collect::<Result<_>>()?,
        callers: (0..32)
            .map(|c| load::learner_token(&keys, 1 + (c * 7919) % size.learners))
            .collect::<Result<_>>()?,
    };
    let mut rows = Vec::new();
    let mut overall_peak: f64 = 0.0;
    // STRIDE_BENCH_SCENARIOS=1,4b runs only those (for profiling).
    let only = std::env::var("STRIDE_BENCH_SCENARIOS").ok();
    let wanted = |name: &str| {
        let id = name.split('.').next().unwrap_or_default();
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|w| id.starts_with(w.trim())))
    };
    macro_rules! scenario {
        ($name:expr, $f:expr) => {{
            if wanted($name) {
                eprintln!("\n== {} ==", $name);
                server.reset_peak();
                waits::top_statements(&bench.owner_url, "before").await;
                let sampler = waits::Sampler::start(&bench.owner_url);
                let mut row: Row = $f.await.with_context(|| $name)?;
                row.scenario = $name.to_string();
                if let Some(s) = sampler {
                    s.print("scenario, both sides").await;
                }
                overall_peak = overall_peak.max(row.server_peak_rss_mib);
                print_row(&row);
                rows.push(row);
            }
        }};
    }
    scenario!("1. unary PublishEvent, 16 producers", unary(&ctx, &server));
    scenario!(
        "2. PublishEvents, 4 producers, batches 100-1000",
        stream(&ctx, &server)
    );
    scenario!(
        "3. leaderboard top 10 + own rank, 32 callers, during ingestion",
        board(&ctx, &server)
    );
    for fresh in [true, false] {
        let name = if fresh {
            "4a. learner analytics bundle, cold"
        } else {
            "4b. learner analytics bundle, warm"
        };
        scenario!(name, bundle(&ctx, &server, fresh));
    }
    scenario!(
        "5. mixed 80% reads / 20% writes, 16 clients",
        mixed(&ctx, &server)
    );

    let report = Report {
        ran_at: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        machine: Machine::here(postgres_version(&bench.owner_url).await?),
        size,
        seconds_per_scenario: seconds,
        rows,
        server_peak_rss_mib: overall_peak,
        rss_target_mib: RSS_TARGET_MIB,
    };
    let out = std::env::var_os("STRIDE_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/stride-bench"));
    report.write(&out)?;
    println!("\n{}", report.markdown());
    println!("report written to {}", out.display());
    if std::env::var_os("STRIDE_BENCH_DOCS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/benchmarks.md");
        let text = std::fs::read_to_string(&docs).unwrap_or_default();
        std::fs::write(&docs, with_latest(&text, &report.markdown()))?;
        println!("docs/benchmarks.md updated");
    }
    Ok(())
}

fn print_row(row: &Row) {
    let s = &row.stride;
    print!(
        "stride   {:>9.0} {:<9} p50 {:>7.2} p95 {:>7.2} p99 {:>7.2} ms",
        s.rate, s.unit, s.p50_ms, s.p95_ms, s.p99_ms
    );
    println!("   server peak RSS {:.0} MiB", row.server_peak_rss_mib);
    if let Some(c) = &row.ceiling {
        println!(
            "ceiling  {:>9.0} {:<9} p50 {:>7.2} p95 {:>7.2} p99 {:>7.2} ms   Stride/ceiling {:.0}%",
            c.rate,
            c.unit,
            c.p50_ms,
            c.p95_ms,
            c.p99_ms,
            row.ratio.unwrap_or(0.0) * 100.0
        );
    }
    if !row.target.is_empty() {
        println!(
            "target   {}: {}",
            row.target,
            if row.met == Some(true) {
                "met"
            } else {
                "NOT met"
            }
        );
    }
}

/// docs/benchmarks.md keeps its prose; the part after the marker is the
/// latest report.
fn with_latest(doc: &str, latest: &str) -> String {
    const MARK: &str =
        "<!-- latest report: written by `STRIDE_BENCH_DOCS=1 cargo bench --bench suite` -->";
    let head = doc.split(MARK).next().unwrap_or_default();
    format!(
        "{}{MARK}\n\n{latest}",
        if head.is_empty() {
            "# Benchmarks\n\n"
        } else {
            head
        }
    )
}

async fn postgres_version(url: &str) -> Result<String> {
    use diesel::QueryableByName;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct V {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    let mut conn = AsyncPgConnection::establish(url).await?;
    let v: V = diesel::sql_query("SELECT current_setting('server_version') AS v")
        .get_result(&mut conn)
        .await?;
    Ok(format!("PostgreSQL {}", v.v))
}

/// What a ceiling's figures count.
#[derive(Clone, Copy)]
enum Units<'t> {
    /// pgbench's transactions.
    Transactions,
    /// Events the Stride's-SQL script stored under this tag.
    Receipts(&'t str),
    /// Events the minimal script stored under this tag.
    Minimal(&'t str),
}

impl Units<'_> {
    async fn count(self, url: &str, tps: f64, seconds: u64) -> Result<usize> {
        let sql = match self {
            Units::Transactions => return Ok((tps * seconds as f64).round() as usize),
            Units::Receipts(tag) => {
                format!("SELECT count(*) FROM event_receipts WHERE event_id LIKE 'ceil-{tag}-%'")
            }
            Units::Minimal(tag) => {
                format!("SELECT count(*) FROM minimal_events WHERE event_id LIKE 'min-{tag}-%'")
            }
        };
        Ok(support::count(url, &sql).await? as usize)
    }
}

/// pgbench over `scripts` for the scenario's duration; every transaction's
/// latency, and `units` per transaction (None: count the stored events).
async fn ceiling(
    ctx: &Ctx<'_>,
    scripts: &[(&str, String, u32)],
    clients: usize,
    unit: &'static str,
    units: Units<'_>,
) -> Result<Figures> {
    let mut paths = Vec::new();
    for (name, text, weight) in scripts {
        let path = ctx.bench.file(&format!("{name}.sql"));
        std::fs::write(&path, text)?;
        paths.push((path, *weight));
    }
    let refs: Vec<(&Path, u32)> = paths.iter().map(|(p, w)| (p.as_path(), *w)).collect();
    let (bench, seconds) = (ctx.bench, ctx.seconds as usize);
    waits::top_statements(&ctx.bench.owner_url, "Stride side").await;
    let sampler = waits::Sampler::start(&ctx.bench.owner_url);
    let run =
        tokio::task::block_in_place(|| support::pgbench(bench, &refs, clients, seconds, true))?;
    if let Some(s) = sampler {
        s.print("ceiling").await;
    }
    waits::top_statements(&ctx.bench.owner_url, "ceiling").await;
    let elapsed = Duration::from_secs(ctx.seconds);
    let units = units
        .count(&ctx.bench.owner_url, run.tps, ctx.seconds)
        .await?;
    Ok(Figures::of(run.latencies_us, units, elapsed, unit))
}

async fn publish(channel: &Channel, token: &str, event: pb::Event) -> Result<usize> {
    let reply = EventServiceClient::new(channel.clone())
        .publish_event(authed(
            pb::PublishEventRequest { event: Some(event) },
            token,
        ))
        .await?;
    let status = reply.get_ref().result.as_ref().map(|r| r.status);
    ensure!(
        status == Some(pb::EventStatus::Accepted as i32),
        "event not accepted: {status:?}"
    );
    Ok(1)
}

/// One PublishEvents stream of `n` events; the events accepted.
async fn publish_stream(
    channel: &Channel,
    token: &str,
    events: &Events,
    n: usize,
) -> Result<usize> {
    let requests: Vec<_> = (0..n)
        .map(|_| pb::PublishEventsRequest {
            event: Some(events.next()),
        })
        .collect();
    let mut responses = EventServiceClient::new(channel.clone())
        .publish_events(authed(tokio_stream::iter(requests), token))
        .await?
        .into_inner();
    let mut accepted = 0;
    while let Some(response) = responses.next().await {
        if response?
            .result
            .is_some_and(|r| r.status == pb::EventStatus::Accepted as i32)
        {
            accepted += 1;
        }
    }
    ensure!(accepted == n, "{accepted} of {n} events accepted");
    Ok(n)
}

async fn unary(ctx: &Ctx<'_>, server: &Server) -> Result<Row> {
    let groups_before = server.groups("unary")?;
    let events = Arc::new(Events::new(ctx.size, "unary"));
    let (channel, token) = (ctx.channel.clone(), ctx.producer.clone());
    let (lat, units, elapsed) = run_for(16, ctx.seconds, move |_| {
        let (channel, token, events) = (channel.clone(), token.clone(), events.clone());
        async move { publish(&channel, &token, events.next()).await }
    })
    .await?;
    let rss = server.peak_rss_mib()?;
    let stride = Figures::of(lat, units, elapsed, "events/s");
    let script = ceilings::ingest(&ctx.size, "unary", "1");
    let own = ceiling(
        ctx,
        &[("unary", script, 1)],
        16,
        "events/s",
        Units::Receipts("unary"),
    )
    .await?;
    let script = ceilings::minimal_ingest(&ctx.size, "unary", "1");
    let minimal = ceiling(
        ctx,
        &[("minimal-unary", script, 1)],
        16,
        "events/s",
        Units::Minimal("unary"),
    )
    .await?;
    Ok(Row::new(stride, Some(own), rss)
        .minimal(minimal)
        .share_of_minimal(0.50)
        .p99_at_most(25.0)
        .note(format!(
            "group commit: {}",
            server.groups("unary")?.since(&groups_before).describe()
        )))
}

async fn stream(ctx: &Ctx<'_>, server: &Server) -> Result<Row> {
    let groups_before = server.groups("stream")?;
    let streaks_before = server.streak_updates()?;
    let events = Arc::new(Events::new(ctx.size, "stream"));
    let sizes = Arc::new(AtomicUsize::new(0));
    let (channel, token) = (ctx.channel.clone(), ctx.producer.clone());
    let (lat, units, elapsed) = run_for(4, ctx.seconds, move |_| {
        let (channel, token, events) = (channel.clone(), token.clone(), events.clone());
        // Batch sizes 100, 150, ..., 1000 in turn: mean 550, as pgbench's
        // random(100, 1000).
        let n = 100 + 50 * (sizes.fetch_add(1, Ordering::Relaxed) % 19);
        async move { publish_stream(&channel, &token, &events, n).await }
    })
    .await?;
    let rss = server.peak_rss_mib()?;
    let streaks = server.streak_updates()?;
    let (resumed, replayed) = (streaks.0 - streaks_before.0, streaks.1 - streaks_before.1);
    let stride = Figures::of(lat, units, elapsed, "events/s");
    let script = format!(
        "\\set n random(100, 1000)\n{}",
        ceilings::ingest(&ctx.size, "stream", ":n")
    );
    let own = ceiling(
        ctx,
        &[("stream", script, 1)],
        4,
        "events/s",
        Units::Receipts("stream"),
    )
    .await?;
    let script = ceilings::minimal_ingest(&ctx.size, "stream", "100");
    let minimal = ceiling(
        ctx,
        &[("minimal-stream", script, 1)],
        4,
        "events/s",
        Units::Minimal("stream"),
    )
    .await?;
    Ok(Row::new(stride, Some(own), rss)
        .minimal(minimal)
        .share_of_minimal(0.35)
        .note(format!(
            "latency is per stream (one batch), the ceiling's per batch transaction; \
             streaks: {resumed} people resumed from their stored row, {replayed} replayed \
             their history ({:.0}% resumed); batches: {}",
            100.0 * resumed as f64 / (resumed + replayed).max(1) as f64,
            server.groups("stream")?.since(&groups_before).describe()
        )))
}

/// Ingests batches of 100 every 200 ms (500 events/s) until stopped.
fn background_ingestion(
    ctx: &Ctx<'_>,
    tag: &str,
) -> (Arc<AtomicBool>, tokio::task::JoinHandle<Result<usize>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let events = Events::new(ctx.size, tag);
    let (channel, token, flag) = (ctx.channel.clone(), ctx.producer.clone(), stop.clone());
    let task = tokio::spawn(async move {
        let mut sent = 0;
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        while !flag.load(Ordering::Relaxed) {
            tick.tick().await;
            sent += publish_stream(&channel, &token, &events, 100).await?;
        }
        Ok(sent)
    });
    (stop, task)
}

async fn leaderboard_call(channel: &Channel, token: &str) -> Result<usize> {
    let request = gpb::GetLeaderboardRequest {
        period: gpb::LeaderboardPeriod::Week as i32,
        ..Default::default()
    };
    let reply = GamificationServiceClient::new(channel.clone())
        .get_leaderboard(authed(request, token))
        .await?;
    ensure!(reply.get_ref().entries.len() == 10, "a full top 10");
    Ok(1)
}

async fn board(ctx: &Ctx<'_>, server: &Server) -> Result<Row> {
    let started = Instant::now();
    let (stop, ingest) = background_ingestion(ctx, "board");
    let (channel, callers) = (ctx.channel.clone(), Arc::new(ctx.callers.clone()));
    let (lat, units, elapsed) = run_for(32, ctx.seconds, move |w| {
        let (channel, callers) = (channel.clone(), callers.clone());
        async move { leaderboard_call(&channel, &callers[w]).await }
    })
    .await?;
    let rss = server.peak_rss_mib()?;
    let stride = Figures::of(lat, units, elapsed, "calls/s");
    let snapshots = every_second(&ctx.bench.app_url, ceilings::board_snapshot());
    let ceiling = ceiling(
        ctx,
        &[("board", ceilings::leaderboard(&ctx.size), 1)],
        32,
        "calls/s",
        Units::Transactions,
    )
    .await;
    snapshots.abort();
    stop.store(true, Ordering::Relaxed);
    let ingested = ingest.await??;
    let rate = ingested as f64 / started.elapsed().as_secs_f64();
    Ok(Row::new(stride, Some(ceiling?), rss)
        .p99_at_most(5.0)
        .rate_at_least(30_000.0)
        .note(format!(
            "both sides run while one producer streams batches of 100 every 200 ms through Stride ({rate:.0} events/s); \
             the ceiling reads the board snapshots (zone, ranked board, first 50 names) once a second, as Stride does"
        )))
}

/// Runs `sql` once a second as the runtime role until aborted.
fn every_second(url: &str, sql: String) -> tokio::task::JoinHandle<()> {
    let url = url.to_string();
    tokio::spawn(async move {
        use diesel_async::SimpleAsyncConnection;
        let Ok(mut conn) = AsyncPgConnection::establish(&url).await else {
            return;
        };
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Err(err) = conn.batch_execute(&sql).await {
                eprintln!("board snapshot failed: {err}");
                return;
            }
        }
    })
}

/// One learner's bundle at a time, learners 1..=WARM in turn.
async fn bundle(ctx: &Ctx<'_>, server: &Server, fresh: bool) -> Result<Row> {
    if !fresh {
        for token in &ctx.warm {
            support::analytics_bundle(&ctx.channel, token, false).await?;
        }
    }
    let calls = Arc::new(Mutex::new(Vec::new()));
    let turn = Arc::new(AtomicUsize::new(0));
    let (channel, tokens, sink) = (
        ctx.channel.clone(),
        Arc::new(ctx.warm.clone()),
        calls.clone(),
    );
    let (mut bundles, _, elapsed) = run_for(1, ctx.seconds, move |_| {
        let (channel, tokens, sink) = (channel.clone(), tokens.clone(), sink.clone());
        let token = tokens[turn.fetch_add(1, Ordering::Relaxed) % tokens.len()].clone();
        async move {
            let own = support::analytics_bundle(&channel, &token, fresh).await?;
            let n = own.len();
            sink.lock().expect("latencies").extend(own);
            Ok(n)
        }
    })
    .await?;
    let rss = server.peak_rss_mib()?;
    let calls = std::mem::take(&mut *calls.lock().expect("latencies"));
    let count = calls.len();
    let stride = Figures::of(calls, count, elapsed, "calls/s");
    let per_bundle = format!(
        "per bundle p50 {:.2} ms, p99 {:.2} ms; latencies are per call, 9 in flight",
        support::percentile(&mut bundles, 50.0) as f64 / 1000.0,
        support::percentile(&mut bundles, 99.0) as f64 / 1000.0,
    );
    if fresh {
        return Ok(Row::new(stride, None, rss).note(format!(
            "{per_bundle}; every call computes (fresh = true); no pgbench ceiling: the computation is nine different analytics"
        )));
    }
    let ceiling = ceiling(
        ctx,
        &[("warm", ceilings::warm_analytic(), 1)],
        9,
        "calls/s",
        Units::Transactions,
    )
    .await?;
    Ok(Row::new(stride, Some(ceiling), rss)
        .p99_at_most(2.0)
        .note(per_bundle))
}

async fn mixed(ctx: &Ctx<'_>, server: &Server) -> Result<Row> {
    let events = Arc::new(Events::new(ctx.size, "mixed"));
    let turn = Arc::new(AtomicUsize::new(0));
    let channel = ctx.channel.clone();
    let (producer, callers, warm) = (
        ctx.producer.clone(),
        Arc::new(ctx.callers.clone()),
        Arc::new(ctx.warm.clone()),
    );
    let (lat, units, elapsed) = run_for(16, ctx.seconds, move |w| {
        let (channel, producer, callers, warm, events) = (
            channel.clone(),
            producer.clone(),
            callers.clone(),
            warm.clone(),
            events.clone(),
        );
        let n = turn.fetch_add(1, Ordering::Relaxed);
        async move {
            match n % 10 {
                0 | 1 => publish(&channel, &producer, events.next()).await,
                2..=5 => leaderboard_call(&channel, &callers[w]).await,
                _ => {
                    let request = apb::GetEngagementScoreRequest {
                        subject: Some(apb::LearnerSubject::default()),
                        fresh: false,
                    };
                    let reply = AnalyticsServiceClient::new(channel.clone())
                        .get_engagement_score(authed(request, &warm[n % warm.len()]))
                        .await?;
                    ensure!(
                        reply.get_ref().meta.as_ref().is_some_and(|m| m.from_cache),
                        "cached"
                    );
                    Ok(1)
                }
            }
        }
    })
    .await?;
    let rss = server.peak_rss_mib()?;
    let stride = Figures::of(lat, units, elapsed, "calls/s");
    let scripts = [
        ("mixed-write", ceilings::ingest(&ctx.size, "mixed", "1"), 2),
        ("mixed-board", ceilings::leaderboard(&ctx.size), 4),
        ("mixed-warm", ceilings::warm_analytic(), 4),
    ];
    let snapshots = every_second(&ctx.bench.app_url, ceilings::board_snapshot());
    let own = ceiling(ctx, &scripts, 16, "calls/s", Units::Transactions).await;
    let minimal_scripts = [
        (
            "minimal-mixed-write",
            ceilings::minimal_ingest(&ctx.size, "mixed", "1"),
            2,
        ),
        ("mixed-board", ceilings::leaderboard(&ctx.size), 4),
        ("mixed-warm", ceilings::warm_analytic(), 4),
    ];
    let minimal = match own {
        Ok(_) => ceiling(ctx, &minimal_scripts, 16, "calls/s", Units::Transactions).await,
        Err(_) => Err(anyhow::anyhow!("not run")),
    };
    snapshots.abort();
    Ok(Row::new(stride, Some(own?), rss)
        .minimal(minimal?)
        .share_of_minimal(0.50)
        .note(
            "reads: 40% leaderboard, 40% a cached analytic; writes: unary PublishEvent; \
             the minimal ceiling keeps the reads' scripts (the token check, the cache read: \
             already the least a read costs the database) and writes the minimal event"
                .into(),
        ))
}
