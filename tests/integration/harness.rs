//! Test harness: one PostgreSQL cluster per test run, one database per test
//! cloned from a migrated template, and the real server on 127.0.0.1:0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use stride::auth::{Role, Scope, Subject, TokenKeys};
use stride::config::Limits;
use stride::embedded_pg::{EmbeddedOptions, EmbeddedPostgres};
use tokio::sync::oneshot;
use tonic::transport::Channel;
use uuid::Uuid;

const TEMPLATE: &str = "stride_template";
pub const TEST_SECRET: &[u8] = b"integration-test-secret-0123456789abcdef";
/// Password of the runtime role in the test cluster (hex, as Stride makes them).
pub(crate) const APP_PASSWORD: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

struct Cluster {
    pg: Mutex<EmbeddedPostgres>,
    admin_url: String,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// The shared cluster, started and templated by the first test that asks.
fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| {
        // Its own thread and runtime: the caller is inside a test's runtime,
        // and the cluster outlives every single test.
        std::thread::spawn(start_cluster)
            .join()
            .expect("cluster start-up thread panicked")
    })
}

fn start_cluster() -> Cluster {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        remove_stale_test_dirs();
        let opts = EmbeddedOptions {
            data_dir: test_dir(std::process::id()),
            pg_bin: std::env::var_os("STRIDE_PG_BIN").map(PathBuf::from),
            // Durability is pointless for a throw-away cluster; speed is not.
            settings: [
                ("fsync", "off"),
                ("synchronous_commit", "off"),
                ("full_page_writes", "off"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            port: None,
        };
        let pg = EmbeddedPostgres::start(&opts)
            .await
            .unwrap_or_else(|err| panic!("cannot start the test cluster: {err:#}"));
        let admin_url = pg.url("postgres");
        let mut admin = AsyncPgConnection::establish(&admin_url)
            .await
            .expect("admin connection");
        diesel::sql_query(format!("CREATE DATABASE {TEMPLATE}"))
            .execute(&mut admin)
            .await
            .expect("create template");
        stride::db::migrate(&pg.url(TEMPLATE))
            .await
            .expect("migrate template");
        // The runtime role is cluster-wide: one login for every test database.
        stride::db::enable_app_login(&admin_url, APP_PASSWORD)
            .await
            .expect("enable the runtime role");
        Cluster {
            pg: Mutex::new(pg),
            admin_url,
        }
    })
}

pub(crate) fn test_dir(pid: u32) -> PathBuf {
    std::env::temp_dir().join(format!("stride-test-{pid}"))
}

/// Clusters of earlier runs die with their test process (parent-death
/// signal); their folders stay behind, so the next run removes them.
fn remove_stale_test_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("stride-test-"))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A database of its own for one test.
pub struct TestDb {
    /// As the superuser (owner): migrations, fixtures.
    pub url: String,
    /// As the runtime role `stride_app`, bound by row-level security.
    pub app_url: String,
}

impl TestDb {
    /// A fresh copy of the migrated template.
    pub async fn migrated() -> Self {
        Self::create(Some(TEMPLATE)).await
    }

    /// An empty database (no migrations applied).
    pub async fn empty() -> Self {
        Self::create(None).await
    }

    async fn create(template: Option<&str>) -> Self {
        let cluster = cluster();
        let name = format!("t_{}", Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(&cluster.admin_url)
            .await
            .expect("admin connection");
        let sql = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name} TEMPLATE template0"),
        };
        diesel::sql_query(sql)
            .execute(&mut admin)
            .await
            .expect("create test database");
        let pg = cluster.pg.lock().expect("cluster lock");
        Self {
            url: pg.url(&name),
            app_url: pg.url_as(stride::db::APP_ROLE, APP_PASSWORD, &name),
        }
    }

    pub async fn connect(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url)
            .await
            .expect("test db connection")
    }
}

pub use crate::private_cluster::PrivateCluster;

/// The keys every test server signs and verifies with (and `stride serve`
/// processes started with `TEST_SECRET`).
pub fn test_keys() -> TokenKeys {
    TokenKeys::hs256(TEST_SECRET, "stride", "stride")
}

/// A bearer token for an upstream service limited to one organization,
/// valid on any test server or `stride serve` process of the tests.
pub fn org_service_token(name: &str, org_id: Uuid, scopes: &[Scope]) -> String {
    test_keys()
        .issue(
            &Subject::Service {
                name: name.into(),
                org_id: Some(org_id),
                scopes: scopes.to_vec(),
            },
            Duration::from_secs(300),
        )
        .expect("issue token")
        .0
}

/// Pool size and wait of test servers: small, since many run at once on
/// one cluster, and patient, since the machine is busy.
const TEST_POOL: (usize, Duration) = (4, Duration::from_secs(5));

/// The real server on an ephemeral port, shut down when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The server's database, as its owner (fixtures, checks).
    pub db_url: String,
    /// The same database as the runtime role.
    pub app_url: String,
    /// The metrics endpoint (`GET /metrics`).
    pub metrics_addr: SocketAddr,
    pub keys: TokenKeys,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// The read replica's lag monitor, when there is one.
    monitor: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(Limits::default()).await
    }

    /// The server with other limits (batch sizes, stream caps).
    pub async fn start_with(limits: Limits) -> Self {
        let db = TestDb::migrated().await;
        Self::serve(&db.url, &db.app_url, limits).await
    }

    /// The server on a given database (`app_url`: as the runtime role).
    pub async fn serve(owner_url: &str, app_url: &str, limits: Limits) -> Self {
        Self::serve_reading(owner_url, app_url, None, TEST_POOL, limits).await
    }

    /// The server on a fresh database with a pool of `size` connections
    /// that requests wait at most `wait` for, checking every call's token
    /// in the database (no verdict held in memory).
    pub async fn start_with_pool(size: usize, wait: Duration) -> Self {
        let limits = Limits {
            token_verdict_ms: 0,
            ..Limits::default()
        };
        Self::start_with_pool_and(size, wait, limits).await
    }

    /// [`Self::start_with_pool`] with other limits.
    pub async fn start_with_pool_and(size: usize, wait: Duration, limits: Limits) -> Self {
        let db = TestDb::migrated().await;
        Self::serve_reading(&db.url, &db.app_url, None, (size, wait), limits).await
    }

    /// The server with its read-only RPCs on the replica at `read_url`
    /// (as the runtime role) while it lags at most `max_lag`.
    pub async fn serve_with_replica(
        owner_url: &str,
        app_url: &str,
        read_url: &str,
        max_lag: Duration,
    ) -> Self {
        Self::serve_reading(
            owner_url,
            app_url,
            Some((read_url, max_lag)),
            TEST_POOL,
            Limits::default(),
        )
        .await
    }

    async fn serve_reading(
        owner_url: &str,
        app_url: &str,
        replica: Option<(&str, Duration)>,
        (pool_size, pool_wait): (usize, Duration),
        limits: Limits,
    ) -> Self {
        let keys = test_keys();
        let deadline = limits.statement_timeout();
        let pool = stride::db::build_pool(app_url, pool_size, pool_wait, deadline).expect("pool");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut state = stride::server::state(pool, keys.clone());
        let monitor = replica.map(|(url, max_lag)| {
            let replica =
                stride::db::build_pool(url, 4, Duration::from_secs(2), deadline).expect("pool");
            let router = std::sync::Arc::new(stride::db::replica::ReadRouter::with_replica(
                state.pool.clone(),
                replica,
                max_lag,
            ));
            state.reads = router.clone();
            tokio::spawn(router.monitor(app_url.to_string(), url.to_string()))
        });
        let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind metrics");
        let metrics_addr = metrics_listener.local_addr().expect("metrics addr");
        tokio::spawn(stride::metrics::serve_metrics(
            metrics_listener,
            state.metrics.clone(),
            state.pool.clone(),
            state.reads.clone(),
        ));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            stride::server::serve(listener, state, &limits, async {
                let _ = stopped.await;
            })
            .await
        });
        Self {
            addr,
            db_url: owner_url.to_string(),
            app_url: app_url.to_string(),
            metrics_addr,
            keys,
            stop: Some(stop),
            task: Some(task),
            monitor,
        }
    }

    /// A second server on this one's database, with other limits.
    pub async fn serve_again(&self, limits: Limits) -> Self {
        Self::serve(&self.db_url, &self.app_url, limits).await
    }

    /// A channel to the server (connects lazily).
    pub fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect_lazy()
    }

    /// Creates a person holding `roles` in `org` (a new organization when
    /// `None`), as the owner; returns (user id, organization id).
    pub async fn person(&self, org: Option<Uuid>, roles: &[Role]) -> (Uuid, Uuid) {
        use stride::db::models::organization::NewOrganization;
        use stride::db::models::user::{NewUser, NewUserRole};
        use stride::db::schema::{organizations, user_roles, users};
        let mut conn = AsyncPgConnection::establish(&self.db_url)
            .await
            .expect("owner connection");
        let org_id = match org {
            Some(id) => id,
            None => {
                let id = Uuid::new_v4();
                diesel::insert_into(organizations::table)
                    .values(NewOrganization {
                        id,
                        name: "Test Org",
                        domain: None,
                        time_zone: "UTC",
                        settings: None,
                    })
                    .execute(&mut conn)
                    .await
                    .expect("insert org");
                id
            }
        };
        let user_id = Uuid::new_v4();
        let email = format!("{user_id}@test.example");
        diesel::insert_into(users::table)
            .values(NewUser {
                id: user_id,
                organization_id: org_id,
                email: &email,
                full_name: "Test Person",
                time_zone: "UTC",
                department_id: None,
                team_id: None,
                job_role: None,
                password_hash: None,
                avatar_url: None,
            })
            .execute(&mut conn)
            .await
            .expect("insert user");
        let rows: Vec<_> = roles
            .iter()
            .map(|r| NewUserRole {
                user_id,
                role: r.as_str(),
                organization_id: org_id,
            })
            .collect();
        diesel::insert_into(user_roles::table)
            .values(&rows)
            .execute(&mut conn)
            .await
            .expect("insert roles");
        (user_id, org_id)
    }

    /// A bearer token for a user of `org` acting as `role`.
    pub fn user_token(&self, user_id: Uuid, org_id: Uuid, role: Role) -> String {
        self.keys
            .issue(
                &Subject::User {
                    user_id,
                    org_id,
                    roles: vec![role],
                    active: Some(role),
                },
                Duration::from_secs(300),
            )
            .expect("issue token")
            .0
    }

    /// A bearer token for an upstream service.
    pub fn service_token(&self, name: &str, scopes: &[Scope]) -> String {
        self.keys
            .issue(
                &Subject::Service {
                    name: name.into(),
                    org_id: None,
                    scopes: scopes.to_vec(),
                },
                Duration::from_secs(300),
            )
            .expect("issue token")
            .0
    }

    /// A bearer token for an upstream service limited to one organization.
    pub fn org_service_token(&self, name: &str, org_id: Uuid, scopes: &[Scope]) -> String {
        org_service_token(name, org_id, scopes)
    }

    /// Stops accepting calls and waits for the server task to end.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.expect("server task panicked"),
            None => Ok(()),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(monitor) = self.monitor.take() {
            monitor.abort();
        }
    }
}

/// Polls `check` every 100 ms until it holds or `within` has passed;
/// whether it held.
pub async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Attaches `token` as bearer metadata to a request.
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    req
}
