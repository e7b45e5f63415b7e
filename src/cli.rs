//! The `stride` command line: `serve`, `migrate`, `token`, `demo`,
//! `rules recompute`.
//! Names and flags here are a contract with operators (README.md).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

use crate::auth::{Role, Scope, Subject, TokenKeys};
use crate::config::{DatabaseArgs, JwtArgs, LogFormat, ServeArgs};
use crate::embedded_pg::{EmbeddedOptions, EmbeddedPostgres, read_or_create_secret};
use crate::{db, demo, server, telemetry};

#[derive(Parser, Debug)]
#[command(
    name = "stride",
    version,
    about = "Learning analytics and gamification over gRPC"
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, env = "STRIDE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gRPC server (starts an embedded PostgreSQL unless DATABASE_URL is set).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(MigrateArgs),
    /// Print an access token the server accepts (development and operations).
    Token(TokenArgs),
    /// Fill the database with a realistic demo organization.
    Demo(DemoArgs),
    /// Point rules: rebuild what they derive.
    Rules(RulesArgs),
    /// Background jobs (refreshes, retention, partitions): run one now.
    Jobs(JobsArgs),
}

#[derive(Args, Debug)]
pub struct JobsArgs {
    #[command(subcommand)]
    pub action: JobsAction,
}

#[derive(Subcommand, Debug)]
pub enum JobsAction {
    /// Run jobs once, as `stride serve` would (for cron, or by hand); a job
    /// another replica is running is skipped.
    Run(JobRunArgs),
}

#[derive(Args, Debug)]
pub struct JobRunArgs {
    /// The jobs to run (default: all, partitions first).
    #[arg(value_enum)]
    pub jobs: Vec<crate::jobs::Job>,
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub settings: crate::jobs::JobSettings,
}

#[derive(Args, Debug)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub action: RulesAction,
}

#[derive(Subcommand, Debug)]
pub enum RulesAction {
    /// Rebuild points, levels, streaks, freezes and achievements from the
    /// ledger and the derived tables; prints what differed.
    Recompute(RecomputeArgs),
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["user", "org", "all"])))]
pub struct RecomputeArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// One person (UUID).
    #[arg(long)]
    pub user: Option<Uuid>,
    /// Every person of an organization (UUID).
    #[arg(long)]
    pub org: Option<Uuid>,
    /// Everyone.
    #[arg(long)]
    pub all: bool,
    /// Print the differences without writing them.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// User id (UUID) the token is for.
    #[arg(long, required_unless_present = "service", conflicts_with = "service")]
    pub sub: Option<Uuid>,
    /// Organization id (UUID); required for users, optional for services
    /// (absent: platform-scoped service).
    #[arg(long)]
    pub org: Option<Uuid>,
    /// Role held (repeat for several); the first is the active role.
    #[arg(long = "role", requires = "sub")]
    pub roles: Vec<String>,
    /// Issue a service token for this upstream service name instead.
    #[arg(long)]
    pub service: Option<String>,
    /// Scope of a service token (repeat): events:write, catalog:write.
    #[arg(long = "scope", requires = "service")]
    pub scopes: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 12 * 3600)]
    pub ttl_s: u64,
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub jwt: JwtArgs,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Number of learners to create.
    #[arg(long, default_value_t = 240)]
    pub learners: usize,
    /// Seed for the pseudo-random generator (same seed, same data).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

impl Cli {
    pub async fn run(self) -> Result<()> {
        telemetry::init(self.log_format);
        match self.command {
            Command::Serve(args) => serve(args).await,
            Command::Migrate(args) => {
                let (url, _pg) = database(&args.db, false).await?;
                let applied = db::migrate(&url).await?;
                eprintln!("applied {} migration(s)", applied.len());
                Ok(())
            }
            Command::Token(args) => token(args),
            Command::Demo(args) => {
                let (url, _pg) = database(&args.db, false).await?;
                db::migrate(&url).await?;
                let summary = demo::fill(&url, args.learners, args.seed).await?;
                eprintln!("{summary}");
                Ok(())
            }
            Command::Rules(RulesArgs {
                action: RulesAction::Recompute(args),
            }) => recompute(args).await,
            Command::Jobs(JobsArgs {
                action: JobsAction::Run(args),
            }) => run_jobs(args).await,
        }
    }
}

/// `stride jobs run`: each job once, as the owner, one line per job.
async fn run_jobs(args: JobRunArgs) -> Result<()> {
    use crate::jobs::{Job, Outcome, run_once};
    let (url, _pg) = database(&args.db, false).await?;
    let runner = server::job_runner(args.settings.clone());
    let jobs = if args.jobs.is_empty() {
        Job::ALL.to_vec()
    } else {
        args.jobs.clone()
    };
    for job in jobs {
        let started = std::time::Instant::now();
        match run_once(&url, job, &runner)
            .await
            .with_context(|| format!("job {} failed (nothing of it was applied)", job.name()))?
        {
            Outcome::Ran { detail, .. } => println!(
                "{}: {detail} ({} ms)",
                job.name(),
                started.elapsed().as_millis()
            ),
            Outcome::Skipped => println!("{}: skipped, another process is running it", job.name()),
        }
    }
    Ok(())
}

/// `stride rules recompute`: as the database owner (an operator's tool),
/// in transactions of 200 people, with progress on stderr.
async fn recompute(args: RecomputeArgs) -> Result<()> {
    use diesel::prelude::*;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

    let (url, _pg) = database(&args.db, false).await?;
    let mut conn = AsyncPgConnection::establish(&url).await.context(
        "connecting to the database (is DATABASE_URL right, or `stride serve` running?)",
    )?;
    let people: Vec<Uuid> = match (args.user, args.org) {
        (Some(user), _) => vec![user],
        (None, org) => {
            use crate::db::schema::users;
            let mut query = users::table.select(users::id).order(users::id).into_boxed();
            if let Some(org) = org {
                query = query.filter(users::organization_id.eq(org));
            }
            query.load(&mut conn).await?
        }
    };
    let mut differing = 0;
    for (n, chunk) in people.chunks(200).enumerate() {
        let ids = chunk.to_vec();
        let dry_run = args.dry_run;
        let operator = db::tenant::DbIdentity::operator();
        let found = db::tenant::transaction(
            &mut conn,
            db::tenant::Begin::writing(&operator),
            move |conn| {
                Box::pin(async move {
                    let plan = db::gamification::recompute(conn, &ids, dry_run).await?;
                    Ok::<_, diesel::result::Error>(crate::api::gamification::differences_of(&plan))
                })
            },
        )
        .await?;
        for d in &found {
            let mut changes: Vec<_> = d.changes.iter().collect();
            changes.sort();
            let text: Vec<String> = changes.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            println!("{} {}", d.user_id, text.join("; "));
        }
        differing += found.len();
        eprintln!(
            "recomputed {}/{} people",
            (n * 200 + chunk.len()).min(people.len()),
            people.len()
        );
    }
    let verb = if args.dry_run {
        "would change"
    } else {
        "changed"
    };
    eprintln!("{} people checked, {differing} {verb}", people.len());
    Ok(())
}

/// The database URL to use, starting (or, unless `exclusive`, attaching to)
/// the embedded cluster when no DATABASE_URL is given. Keep the returned
/// handle alive as long as the database is needed.
async fn database(
    args: &DatabaseArgs,
    exclusive: bool,
) -> Result<(String, Option<EmbeddedPostgres>)> {
    if let Some(url) = &args.database_url {
        return Ok((url.clone(), None));
    }
    let opts = EmbeddedOptions {
        data_dir: args.resolved_data_dir(),
        pg_bin: args.pg_bin.clone(),
        settings: Vec::new(),
        port: None,
    };
    let pg = if exclusive {
        EmbeddedPostgres::start(&opts).await?
    } else {
        EmbeddedPostgres::start_or_attach(&opts).await?
    };
    Ok((pg.url(crate::embedded_pg::DATABASE), Some(pg)))
}

/// The token keys: RS256/EdDSA key files when public keys are configured,
/// else the HS256 secret (configured, or in embedded mode the one kept in
/// the data folder, created on first use).
fn token_keys(jwt: &JwtArgs, db: &DatabaseArgs) -> Result<TokenKeys> {
    if !jwt.jwt_public_keys.is_empty() {
        return asymmetric_keys(jwt);
    }
    let secret = match (&jwt.jwt_secret, &db.database_url) {
        (Some(secret), _) => secret.clone(),
        (None, None) => read_or_create_secret(&db.resolved_data_dir().join("jwt_secret"))?,
        (None, Some(_)) => bail!(
            "set STRIDE_JWT_SECRET (or STRIDE_JWT_PUBLIC_KEYS with a private key) when \
             DATABASE_URL is set: every replica and `stride token` must share the keys"
        ),
    };
    if secret.len() < 32 {
        bail!("STRIDE_JWT_SECRET must be at least 32 characters long");
    }
    Ok(TokenKeys::hs256(
        secret.as_bytes(),
        &jwt.jwt_issuer,
        &jwt.jwt_audience,
    ))
}

fn asymmetric_keys(jwt: &JwtArgs) -> Result<TokenKeys> {
    let mut public = Vec::new();
    for entry in &jwt.jwt_public_keys {
        let (kid, path) = entry
            .split_once('=')
            .with_context(|| format!("STRIDE_JWT_PUBLIC_KEYS entry {entry:?} is not kid=path"))?;
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read public key {path} (kid {kid})"))?;
        public.push((kid.to_string(), pem));
    }
    let private = match (&jwt.jwt_private_key_file, &jwt.jwt_key_id) {
        (Some(path), Some(kid)) => Some((
            kid.as_str(),
            std::fs::read(path)
                .with_context(|| format!("cannot read private key {}", path.display()))?,
        )),
        (Some(_), None) => bail!("STRIDE_JWT_KEY_ID must name the private key's kid"),
        (None, _) => None,
    };
    Ok(TokenKeys::asymmetric(
        private.as_ref().map(|(kid, pem)| (*kid, pem.as_slice())),
        &public,
        &jwt.jwt_issuer,
        &jwt.jwt_audience,
    )?)
}

async fn serve(args: ServeArgs) -> Result<()> {
    let keys = token_keys(&args.jwt, &args.db)?;
    let (owner_url, mut pg) = database(&args.db, true).await?;
    if !args.no_migrate {
        let applied = db::migrate(&owner_url).await?;
        tracing::info!(migrations.applied = applied.len(), "database migrated");
    }
    let app_url = runtime_url(&args.db, &owner_url, pg.as_ref()).await?;
    let pool = db::build_pool(
        &app_url,
        args.limits.pool_size,
        args.limits.pool_wait(),
        args.limits.statement_timeout(),
    )?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}; is the port in use?", args.listen))?;
    tracing::info!(listen.addr = %listener.local_addr()?, "stride serving");
    let mut state = server::state(pool, keys);
    let replica_monitor = match &args.replica.read_database_url {
        Some(url) => Some(use_read_replica(&mut state, &app_url, url, &args).await?),
        None => None,
    };
    state.tokens = crate::api::TokenLifetimes {
        access: Duration::from_secs(args.jwt.access_token_ttl_s),
        refresh: Duration::from_secs(args.jwt.refresh_token_ttl_s),
    };
    let metrics = match args.metrics_listen.as_str() {
        "off" => None,
        addr => match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                tracing::info!(metrics.addr = addr, "metrics at http://{addr}/metrics");
                Some(tokio::spawn(crate::metrics::serve_metrics(
                    listener,
                    state.metrics.clone(),
                    state.pool.clone(),
                    state.reads.clone(),
                )))
            }
            // Serving matters more than metrics: say so and go on.
            Err(err) => {
                tracing::warn!(metrics.addr = addr, error = %err, "metrics endpoint not started (set STRIDE_METRICS_LISTEN to a free address, or off)");
                None
            }
        },
    };
    // Jobs need ownership (REFRESH, partitions): they use the owner URL,
    // requests never do.
    let jobs = if args.jobs.enabled {
        crate::jobs::spawn_all(owner_url.clone(), server::job_runner(args.jobs.clone()))
    } else {
        Vec::new()
    };
    let result = server::serve(listener, state, &args.limits, server::shutdown_signal()).await;
    for job in jobs.into_iter().chain(replica_monitor) {
        job.abort();
    }
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    if let Some(pg) = pg.as_mut() {
        pg.stop();
    }
    tracing::info!("stride stopped");
    result
}

/// Routes read-only transactions to the replica at `url` while it keeps
/// up; returns the monitor task that decides.
async fn use_read_replica(
    state: &mut crate::api::AppState,
    app_url: &str,
    url: &str,
    args: &ServeArgs,
) -> Result<tokio::task::JoinHandle<()>> {
    let limits = &args.limits;
    let pool = db::build_pool(
        url,
        limits.pool_size,
        limits.pool_wait(),
        limits.statement_timeout(),
    )
    .context("cannot build the read replica pool (DATABASE_READ_URL)")?;
    match db::replica::is_standby(url).await {
        Some(true) => tracing::info!("read replica reachable"),
        Some(false) => tracing::warn!(
            "DATABASE_READ_URL is not a standby (pg_is_in_recovery() is false): reads go there \
             with no lag, which helps only if it is the primary itself"
        ),
        None => tracing::warn!(
            "read replica unreachable at start: reads on the primary until it answers \
             (check DATABASE_READ_URL: a login of stride_app on a streaming replica)"
        ),
    }
    let router = Arc::new(db::replica::ReadRouter::with_replica(
        state.pool.clone(),
        pool,
        Duration::from_millis(args.replica.read_max_lag_ms),
    ));
    state.reads = router.clone();
    Ok(tokio::spawn(
        router.monitor(app_url.to_string(), url.to_string()),
    ))
}

/// The URL requests run with: the non-owner `stride_app` role, so that
/// row-level security applies to every query the service makes.
async fn runtime_url(
    args: &DatabaseArgs,
    owner_url: &str,
    pg: Option<&EmbeddedPostgres>,
) -> Result<String> {
    if let Some(url) = &args.app_database_url {
        return Ok(url.clone());
    }
    let Some(pg) = pg else {
        bail!(
            "set STRIDE_APP_DATABASE_URL: Stride serves as the `{role}` role (no ownership, no \
             BYPASSRLS), never as the owner in DATABASE_URL. Give it a login once, as the owner: \
             ALTER ROLE {role} LOGIN PASSWORD '...'; then \
             STRIDE_APP_DATABASE_URL=postgres://{role}:...@host/db",
            role = db::APP_ROLE
        );
    };
    let password = read_or_create_secret(&args.resolved_data_dir().join("app_db_password"))?;
    db::enable_app_login(owner_url, &password).await?;
    Ok(pg.url_as(db::APP_ROLE, &password, crate::embedded_pg::DATABASE))
}

fn token(args: TokenArgs) -> Result<()> {
    let keys = token_keys(&args.jwt, &args.db)?;
    let subject = match (&args.sub, &args.service) {
        (Some(user_id), None) => {
            let org_id = args.org.context("--org is required for a user token")?;
            if args.roles.is_empty() {
                bail!("give at least one --role (learner, trainer, org_admin, platform_admin)");
            }
            let roles = args
                .roles
                .iter()
                .map(|r| r.parse::<Role>())
                .collect::<Result<Vec<_>, _>>()?;
            Subject::User {
                user_id: *user_id,
                org_id,
                active: roles.first().copied(),
                roles,
            }
        }
        (None, Some(name)) => {
            if args.scopes.is_empty() {
                bail!("give at least one --scope (events:write, catalog:write)");
            }
            let scopes = args
                .scopes
                .iter()
                .map(|s| s.parse::<Scope>())
                .collect::<Result<Vec<_>, _>>()?;
            Subject::Service {
                name: name.clone(),
                org_id: args.org,
                scopes,
            }
        }
        _ => bail!("give either --sub (a user) or --service (an upstream service)"),
    };
    let (token, _) = keys.issue(&subject, Duration::from_secs(args.ttl_s))?;
    println!("{token}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        // clap checks unique names, flags and groups only when asked.
        Cli::command().debug_assert();
    }

    #[test]
    fn jobs_run_takes_job_names() {
        let cli =
            Cli::try_parse_from(["stride", "jobs", "run", "retention", "refresh-leaderboards"])
                .expect("parses");
        let Command::Jobs(JobsArgs {
            action: JobsAction::Run(args),
        }) = cli.command
        else {
            panic!("a jobs command");
        };
        assert_eq!(
            args.jobs,
            [
                crate::jobs::Job::Retention,
                crate::jobs::Job::RefreshLeaderboards
            ]
        );
        assert!(Cli::try_parse_from(["stride", "jobs", "run", "vacuum"]).is_err());
    }
}
