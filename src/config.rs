//! Configuration: every setting with its flag, environment variable and
//! default in one place. `stride --help` prints them; README.md lists them.
//! Secrets (`DATABASE_URL`, `STRIDE_JWT_SECRET`) are never printed: the
//! `Debug` impls below redact them.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// Where the database lives and how to reach it; shared by every subcommand
/// that touches the database.
#[derive(Args, Clone)]
pub struct DatabaseArgs {
    /// PostgreSQL URL. When unset, Stride runs an embedded cluster in the
    /// data folder (initdb on first use).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// URL the service runs with: a login of the `stride_app` role (no
    /// ownership, no BYPASSRLS). Required with DATABASE_URL; in embedded
    /// mode Stride sets it up itself.
    #[arg(long, env = "STRIDE_APP_DATABASE_URL", hide_env_values = true)]
    pub app_database_url: Option<String>,

    /// Data folder for the embedded cluster and the generated development
    /// JWT secret. Default: /var/lib/stride as root, else
    /// $XDG_DATA_HOME/stride (~/.local/share/stride).
    #[arg(long, env = "STRIDE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Folder with PostgreSQL server binaries (initdb, postgres). Default:
    /// `pg_config --bindir`, then the newest /usr/lib/postgresql/*/bin.
    #[arg(long, env = "STRIDE_PG_BIN")]
    pub pg_bin: Option<PathBuf>,
}

impl fmt::Debug for DatabaseArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseArgs")
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<redacted>"),
            )
            .field("data_dir", &self.data_dir)
            .field("pg_bin", &self.pg_bin)
            .finish()
    }
}

impl DatabaseArgs {
    /// The data folder to use, resolving the documented default.
    pub fn resolved_data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(default_data_dir)
    }
}

/// Default data folder. As root it must be outside root's 0700 home, because
/// the embedded cluster runs as the unprivileged `postgres` OS user.
pub fn default_data_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/lib/stride");
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("stride");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/stride"),
        None => PathBuf::from("./stride-data"),
    }
}

/// Token signing and validation settings.
#[derive(Args, Clone)]
pub struct JwtArgs {
    /// HS256 secret for access tokens. In embedded mode, when unset, one is
    /// generated once and kept in the data folder (file `jwt_secret`, 0600).
    #[arg(long, env = "STRIDE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Production keys: PEM private key (RSA -> RS256, Ed25519 -> EdDSA) that
    /// signs tokens. Replaces the HS256 secret when public keys are given.
    #[arg(long, env = "STRIDE_JWT_PRIVATE_KEY_FILE")]
    pub jwt_private_key_file: Option<PathBuf>,

    /// `kid` of the signing key; must be among the public keys.
    #[arg(long, env = "STRIDE_JWT_KEY_ID")]
    pub jwt_key_id: Option<String>,

    /// Verification keys, `kid=path.pem` separated by commas; list old and
    /// new keys during a rotation.
    #[arg(long, env = "STRIDE_JWT_PUBLIC_KEYS", value_delimiter = ',')]
    pub jwt_public_keys: Vec<String>,

    /// `iss` claim written into and required from tokens.
    #[arg(long, env = "STRIDE_JWT_ISSUER", default_value = "stride")]
    pub jwt_issuer: String,

    /// `aud` claim written into and required from tokens.
    #[arg(long, env = "STRIDE_JWT_AUDIENCE", default_value = "stride")]
    pub jwt_audience: String,

    /// Lifetime of access tokens issued by Login/RefreshToken, in seconds.
    #[arg(long, env = "STRIDE_ACCESS_TOKEN_TTL_S", default_value_t = 900)]
    pub access_token_ttl_s: u64,

    /// Lifetime of refresh tokens, in seconds (default 30 days).
    #[arg(long, env = "STRIDE_REFRESH_TOKEN_TTL_S", default_value_t = 2_592_000)]
    pub refresh_token_ttl_s: u64,
}

impl fmt::Debug for JwtArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtArgs")
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("jwt_private_key_file", &self.jwt_private_key_file)
            .field("jwt_key_id", &self.jwt_key_id)
            .field("jwt_public_keys", &self.jwt_public_keys)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("access_token_ttl_s", &self.access_token_ttl_s)
            .field("refresh_token_ttl_s", &self.refresh_token_ttl_s)
            .finish()
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Settings of `stride serve`.
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address the gRPC server listens on.
    #[arg(long, env = "STRIDE_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub db: DatabaseArgs,

    #[command(flatten)]
    pub jwt: JwtArgs,

    /// Do not apply pending migrations at start-up (when an operator runs
    /// `stride migrate` separately).
    #[arg(long, env = "STRIDE_NO_MIGRATE")]
    pub no_migrate: bool,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub replica: ReplicaArgs,

    /// Where Prometheus scrapes `GET /metrics` (plain HTTP), or `off`.
    #[arg(long, env = "STRIDE_METRICS_LISTEN", default_value = "127.0.0.1:9464")]
    pub metrics_listen: String,

    #[command(flatten)]
    pub jobs: JobSettings,
}

/// An optional streaming replica for read-only RPCs.
#[derive(Args, Clone)]
pub struct ReplicaArgs {
    /// A login of the `stride_app` role on a streaming replica of the
    /// database (roles replicate with it). Leaderboards, profiles, ledgers
    /// and achievement lists are read there while it keeps up.
    #[arg(long, env = "DATABASE_READ_URL", hide_env_values = true)]
    pub read_database_url: Option<String>,

    /// Reads leave the replica for the primary while it is further behind
    /// than this, in milliseconds, or unreachable.
    #[arg(long, env = "STRIDE_READ_MAX_LAG_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub read_max_lag_ms: u64,
}

impl fmt::Debug for ReplicaArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplicaArgs")
            .field(
                "read_database_url",
                &self.read_database_url.as_ref().map(|_| "<redacted>"),
            )
            .field("read_max_lag_ms", &self.read_max_lag_ms)
            .finish()
    }
}

/// Resource limits; each has a reason to exist in its doc line.
#[derive(Args, Clone, Debug)]
pub struct Limits {
    /// Database connections in the pool. Two cores serve a handful of
    /// concurrent transactions well; more only adds contention.
    #[arg(long, env = "STRIDE_POOL_SIZE", default_value_t = 16)]
    pub pool_size: usize,

    /// How long a request waits for a pooled connection before it fails with
    /// UNAVAILABLE, so overload surfaces instead of queueing forever.
    #[arg(long, env = "STRIDE_POOL_WAIT_MS", default_value_t = 2_000)]
    pub pool_wait_ms: u64,

    /// Largest accepted request message, in bytes.
    #[arg(long, env = "STRIDE_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_bytes: usize,

    /// Per-request deadline, in milliseconds, for unary calls.
    #[arg(long, env = "STRIDE_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,

    /// How long graceful shutdown waits for in-flight calls, in seconds.
    #[arg(long, env = "STRIDE_SHUTDOWN_GRACE_S", default_value_t = 20)]
    pub shutdown_grace_s: u64,

    /// Most events of a PublishEvents stream applied in one transaction
    /// (also the events a stream holds in memory at most).
    #[arg(long, env = "STRIDE_INGEST_BATCH_SIZE", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub ingest_batch_size: u32,

    /// Workers applying unary PublishEvent calls: a worker takes
    /// everything one caller identity has waiting as one transaction
    /// (group commit), at most two per identity at once, so a few workers
    /// keep up with many producers.
    #[arg(long, env = "STRIDE_INGEST_WORKERS", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub ingest_workers: u32,

    /// Most PublishEvents streams open at once; one more is refused with
    /// RESOURCE_EXHAUSTED (and a retry hint) instead of queueing in memory.
    /// Each holds at most 64 KiB unread and one batch (docs/operations.md).
    #[arg(long, env = "STRIDE_MAX_EVENT_STREAMS", default_value_t = 1_024)]
    pub max_event_streams: usize,

    /// Most PublishEvents streams one caller (a service identity in its
    /// organization, or a person) may have open, so that one producer pool
    /// cannot take every slot.
    #[arg(
        long,
        env = "STRIDE_MAX_EVENT_STREAMS_PER_CALLER",
        default_value_t = 256
    )]
    pub max_event_streams_per_caller: usize,

    /// A PublishEvents stream that sends nothing for this many seconds,
    /// with every result delivered, is closed with UNAVAILABLE (what it
    /// sent is stored and acknowledged); its slot goes to another.
    #[arg(long, env = "STRIDE_EVENT_STREAM_IDLE_S", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub event_stream_idle_s: u64,

    /// WatchLeaderboard: the most often a board is recomputed and pushed,
    /// in milliseconds (one computation per board, shared by its watchers).
    #[arg(long, env = "STRIDE_BOARD_WATCH_INTERVAL_MS", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub board_watch_interval_ms: u64,

    /// GetLeaderboard ranks against a snapshot of the whole board at most
    /// this old, in milliseconds (one read per board and period, however
    /// many callers, with the names of its first 50 people, so that a first
    /// page is answered from memory); every answer says its as-of time.
    /// 0 reads every time.
    #[arg(long, env = "STRIDE_BOARD_SNAPSHOT_MS", default_value_t = 1_000)]
    pub board_cache_ms: u64,

    /// A token found good (user active, token not revoked, role held) is
    /// trusted this many milliseconds without asking the database again,
    /// from when its check started: the most a revocation, deactivation or
    /// role change made through another replica takes to act here (on the
    /// replica that makes it, it acts at once). At most 1000; 0 checks on
    /// every call.
    #[arg(long, env = "STRIDE_TOKEN_VERDICT_MS", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(0..=1_000))]
    pub token_verdict_ms: u64,

    /// Most WatchLeaderboard streams open at once; one more is refused with
    /// RESOURCE_EXHAUSTED.
    #[arg(long, env = "STRIDE_MAX_BOARD_WATCHERS", default_value_t = 1_000)]
    pub max_board_watchers: usize,

    /// Most requests handled at once across all connections; one more is
    /// shed at once with RESOURCE_EXHAUSTED (retry with backoff) instead of
    /// queueing behind the others. A stream counts until its response starts
    /// (streams have their own caps above).
    #[arg(long, env = "STRIDE_MAX_CONCURRENT_REQUESTS", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_concurrent_requests: u32,
}

impl Limits {
    pub fn pool_wait(&self) -> Duration {
        Duration::from_millis(self.pool_wait_ms)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// `statement_timeout` of the service's database sessions: a little
    /// past the request deadline, so that the deadline answers first
    /// (DEADLINE_EXCEEDED) and a statement of the abandoned call stops on
    /// the server soon after.
    pub fn statement_timeout(&self) -> Duration {
        self.request_timeout() + Duration::from_millis(500)
    }

    pub fn event_stream_idle(&self) -> Duration {
        Duration::from_secs(self.event_stream_idle_s)
    }

    pub fn token_verdict(&self) -> Duration {
        Duration::from_millis(self.token_verdict_ms)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_s)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            pool_size: 16,
            pool_wait_ms: 2_000,
            max_concurrent_requests: 256,
            max_message_bytes: 4 * 1024 * 1024,
            request_timeout_ms: 30_000,
            shutdown_grace_s: 20,
            ingest_batch_size: 500,
            ingest_workers: 4,
            max_event_streams: 1_024,
            max_event_streams_per_caller: 256,
            event_stream_idle_s: 30,
            board_watch_interval_ms: 1_000,
            board_cache_ms: 1_000,
            token_verdict_ms: 1_000,
            max_board_watchers: 1_000,
        }
    }
}

/// Retention and schedule settings (SPEC "Data lifecycle").
#[derive(clap::Args, Debug, Clone)]
pub struct JobSettings {
    /// Run the background jobs inside `stride serve` (false: an operator
    /// runs `stride jobs run` from cron instead).
    #[arg(long = "jobs", env = "STRIDE_JOBS", default_value_t = true, action = clap::ArgAction::Set)]
    pub enabled: bool,
    /// Seconds between leaderboard view refreshes.
    #[arg(long, env = "STRIDE_LEADERBOARD_REFRESH_S", default_value_t = 300)]
    pub leaderboard_refresh_s: u64,
    /// Seconds between skill-demand refreshes.
    #[arg(long, env = "STRIDE_SKILL_DEMAND_REFRESH_S", default_value_t = 86_400)]
    pub skill_demand_refresh_s: u64,
    /// Seconds between retention sweeps.
    #[arg(long, env = "STRIDE_RETENTION_INTERVAL_S", default_value_t = 3_600)]
    pub retention_interval_s: u64,
    /// Seconds between partition upkeep runs.
    #[arg(long, env = "STRIDE_PARTITIONS_INTERVAL_S", default_value_t = 86_400)]
    pub partitions_interval_s: u64,
    /// Seconds between recordings of the week's aggregated analytics.
    #[arg(long, env = "STRIDE_HISTORY_INTERVAL_S", default_value_t = 3_600)]
    pub history_interval_s: u64,
    /// Days activity events (learning_events) are kept.
    #[arg(long, env = "STRIDE_RETAIN_EVENTS_DAYS", default_value_t = 90)]
    pub retain_events_days: u32,
    /// Days a personal analytics answer is kept (even unexpired).
    #[arg(long, env = "STRIDE_RETAIN_PERSONAL_CACHE_DAYS", default_value_t = 7)]
    pub retain_personal_cache_days: u32,
    /// Hours a predictive answer is kept.
    #[arg(
        long,
        env = "STRIDE_RETAIN_PREDICTIVE_CACHE_HOURS",
        default_value_t = 48
    )]
    pub retain_predictive_cache_hours: u32,
    /// Years aggregated analytics (analytics_history) are kept.
    #[arg(long, env = "STRIDE_RETAIN_AGGREGATES_YEARS", default_value_t = 7)]
    pub retain_aggregates_years: u32,
    /// Months of partitions created ahead of time.
    #[arg(long, env = "STRIDE_PARTITIONS_AHEAD_MONTHS", default_value_t = 3)]
    pub partitions_ahead_months: u32,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            leaderboard_refresh_s: 300,
            skill_demand_refresh_s: 86_400,
            retention_interval_s: 3_600,
            partitions_interval_s: 86_400,
            history_interval_s: 3_600,
            retain_events_days: 90,
            retain_personal_cache_days: 7,
            retain_predictive_cache_hours: 48,
            retain_aggregates_years: 7,
            partitions_ahead_months: 3,
        }
    }
}
