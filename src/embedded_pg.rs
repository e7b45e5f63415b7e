//! A PostgreSQL cluster that Stride runs itself, for `stride serve` without
//! `DATABASE_URL` and for the test harness.
//!
//! The cluster lives in `<data dir>/pgdata`. initdb and postgres refuse to run
//! as root, so when Stride runs as root they run as the `postgres` OS user.
//! The postmaster is a child process in its own process group (Ctrl-C reaches
//! Stride first, which drains calls and then stops Postgres) with a
//! parent-death signal, so it never outlives Stride, even after SIGKILL.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Gid, Pid, Uid, User, chown};

/// The superuser initdb creates; Stride migrates as this role in embedded mode.
const SUPERUSER: &str = "postgres";
/// The application database created inside the cluster.
pub const DATABASE: &str = "stride";
/// How long to wait for a fresh postmaster to accept connections. Crash
/// recovery after an unclean stop can take a while on a slow disk.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a fast shutdown may take before it is escalated to immediate.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Unix socket paths are limited to 107 bytes; beyond this we go TCP-only.
const MAX_SOCKET_DIR_LEN: usize = 80;

/// Options for one embedded cluster.
#[derive(Debug, Clone, Default)]
pub struct EmbeddedOptions {
    /// The data folder (holds `pgdata/`, the log and the password file).
    pub data_dir: PathBuf,
    /// Folder with initdb and postgres; found automatically when `None`.
    pub pg_bin: Option<PathBuf>,
    /// Extra `-c name=value` server settings (tests turn fsync off).
    pub settings: Vec<(String, String)>,
    /// Loopback port to listen on; `None` picks a free one. A restart on
    /// the same port lets existing clients reconnect.
    pub port: Option<u16>,
}

/// A running cluster; stops it (fast shutdown) on [`EmbeddedPostgres::stop`]
/// or on drop.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    pid: Pid,
    port: u16,
    password: String,
    /// Exit notifications of the postmaster we spawned (`None` if attached).
    exited: Option<mpsc::Receiver<ExitStatus>>,
    stopped: bool,
    log_path: PathBuf,
}

impl EmbeddedPostgres {
    /// Initializes the cluster on first use, starts it on a free loopback
    /// port and waits until the `stride` database accepts connections.
    /// Refuses when another process already runs this cluster.
    pub async fn start(opts: &EmbeddedOptions) -> Result<Self> {
        Self::launch(opts, prepare(opts)?).await
    }

    /// Starts the prepared cluster, refusing when it already runs.
    async fn launch(opts: &EmbeddedOptions, cluster: Prepared) -> Result<Self> {
        let Prepared {
            data_dir,
            pgdata,
            password,
            bin,
            run_as,
        } = cluster;
        if let Some((pid, _)) = running_postmaster(&pgdata) {
            bail!(
                "the embedded cluster in {} is already running (postmaster pid {pid}); is another \
                 `stride serve` using this data folder? Stop it or pass a different --data-dir",
                pgdata.display()
            );
        }
        let log_path = data_dir.join("postgres.log");
        let port = match opts.port {
            Some(port) => port,
            None => free_port()?,
        };
        let (pid, exited) = spawn_postmaster(&bin, &run_as, &pgdata, &log_path, port, opts)?;
        let mut pg = Self {
            pid,
            port,
            password,
            exited: Some(exited),
            stopped: false,
            log_path,
        };
        if let Err(err) = pg.wait_ready().await {
            pg.stop();
            return Err(err);
        }
        Ok(pg)
    }

    /// Like [`EmbeddedPostgres::start`], but when a running `stride serve`
    /// already owns the cluster, connects to it instead (and leaves it
    /// running on drop). For `stride demo` and `stride migrate`.
    pub async fn start_or_attach(opts: &EmbeddedOptions) -> Result<Self> {
        let cluster = prepare(opts)?;
        let Some((pid, port)) = running_postmaster(&cluster.pgdata) else {
            return Self::launch(opts, cluster).await;
        };
        tracing::info!(
            pg.pid = pid.as_raw(),
            pg.port = port,
            "using the running embedded postgres"
        );
        let mut pg = Self {
            pid,
            port,
            password: cluster.password,
            exited: None,
            stopped: true, // not ours to stop
            log_path: cluster.data_dir.join("postgres.log"),
        };
        pg.wait_ready().await?;
        Ok(pg)
    }

    /// TCP port the cluster listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Superuser URL for a database in this cluster. Contains the password:
    /// never log it.
    pub fn url(&self, database: &str) -> String {
        self.url_as(SUPERUSER, &self.password, database)
    }

    /// URL for `user` with `password` (hex, as Stride generates them).
    pub fn url_as(&self, user: &str, password: &str, database: &str) -> String {
        format!(
            "postgres://{user}:{password}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Fast shutdown: rolls back open transactions, checkpoints, exits.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if kill(self.pid, Signal::SIGINT).is_err() {
            return; // already gone
        }
        let Some(exited) = &self.exited else { return };
        if exited.recv_timeout(STOP_TIMEOUT).is_err() {
            tracing::warn!(
                pg.pid = self.pid.as_raw(),
                "postgres did not stop in time, sending SIGQUIT"
            );
            let _ = kill(self.pid, Signal::SIGQUIT);
            let _ = exited.recv_timeout(STOP_TIMEOUT);
        }
        tracing::info!(pg.pid = self.pid.as_raw(), "embedded postgres stopped");
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let admin_url = self.url("postgres");
        loop {
            if let Some(status) = self.exited.as_ref().and_then(|rx| rx.try_recv().ok()) {
                self.stopped = true;
                bail!(
                    "postgres exited during start-up ({}); its log ({}) ends with:\n{}",
                    describe_exit(status),
                    self.log_path.display(),
                    log_tail(&self.log_path)
                );
            }
            match AsyncPgConnection::establish(&admin_url).await {
                Ok(mut conn) => return ensure_database(&mut conn).await,
                Err(err) if Instant::now() >= deadline => {
                    bail!(
                        "postgres did not accept connections within {READY_TIMEOUT:?} ({err}); see {}",
                        self.log_path.display()
                    )
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Finds the folder holding initdb and postgres.
pub fn find_pg_bin(explicit: Option<&Path>) -> Result<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = explicit {
        if has_server(dir) {
            return Ok(dir.to_path_buf());
        }
        bail!(
            "no initdb/postgres in {} (from --pg-bin / STRIDE_PG_BIN); point it at the \
             server's bin folder, or install the server (`apt-get install -y postgresql`)",
            dir.display()
        );
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_server(&dir) {
            return Ok(dir);
        }
    }
    // Debian/Ubuntu keep the server outside PATH, one folder per major version.
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_server(dir))
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Ok(dir);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if has_server(&dir) {
            return Ok(dir);
        }
    }
    bail!(
        "PostgreSQL server binaries (initdb, postgres) not found. Install them \
         (Debian/Ubuntu: `apt-get install -y postgresql`), point --pg-bin / STRIDE_PG_BIN \
         at their folder, or set DATABASE_URL to use an existing server"
    )
}

/// The OS identity that runs initdb and postgres.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: Uid,
    gid: Gid,
    switch: bool,
}

impl RunAs {
    fn for_current_process() -> Result<Self> {
        if !nix::unistd::geteuid().is_root() {
            return Ok(Self {
                uid: nix::unistd::getuid(),
                gid: nix::unistd::getgid(),
                switch: false,
            });
        }
        let user = User::from_name("postgres")?.ok_or_else(|| {
            anyhow!(
                "running as root, but there is no `postgres` OS user to run the embedded \
                 cluster as (PostgreSQL refuses root). Install the server package \
                 (`apt-get install -y postgresql`), which creates it"
            )
        })?;
        Ok(Self {
            uid: user.uid,
            gid: user.gid,
            switch: true,
        })
    }

    fn apply(&self, cmd: &mut Command) {
        if self.switch {
            cmd.uid(self.uid.as_raw()).gid(self.gid.as_raw());
        }
    }

    fn give(&self, path: &Path) -> Result<()> {
        if self.switch {
            chown(path, Some(self.uid), Some(self.gid))
                .with_context(|| format!("cannot hand {} to the postgres user", path.display()))?;
        }
        Ok(())
    }
}

fn init_cluster(
    bin: &Path,
    run_as: &RunAs,
    data_dir: &Path,
    pgdata: &Path,
    password: &str,
) -> Result<()> {
    tracing::info!(pg.data = %pgdata.display(), "initializing embedded postgres cluster (first run)");
    fs::create_dir_all(pgdata)?;
    fs::set_permissions(pgdata, fs::Permissions::from_mode(0o700))?;
    run_as.give(pgdata)?;
    // initdb reads the superuser password from a file that only it can read.
    let pwfile = data_dir.join(".initdb-pwfile");
    write_private(&pwfile, password)?;
    run_as.give(&pwfile)?;
    let mut cmd = Command::new(bin.join("initdb"));
    cmd.arg("-D")
        .arg(pgdata)
        .args([
            "-U",
            SUPERUSER,
            "-A",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .current_dir(data_dir);
    run_as.apply(&mut cmd);
    let out = cmd.output().context("cannot run initdb")?;
    let _ = fs::remove_file(&pwfile);
    if !out.status.success() {
        let _ = fs::remove_dir_all(pgdata);
        bail!(
            "initdb failed: {}{}\nIf it cannot access {}, choose a --data-dir the `postgres` OS \
             user can reach (e.g. /var/lib/stride, not under root's home)",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
            data_dir.display()
        );
    }
    Ok(())
}

/// A cluster folder ready to start, with what starting it needs.
struct Prepared {
    data_dir: PathBuf,
    pgdata: PathBuf,
    password: String,
    bin: PathBuf,
    run_as: RunAs,
}

/// Finds the binaries and the OS user, creates the data folder and, on
/// first use, the cluster.
fn prepare(opts: &EmbeddedOptions) -> Result<Prepared> {
    // Fail on missing binaries before creating anything on disk.
    let bin = find_pg_bin(opts.pg_bin.as_deref())?;
    let run_as = RunAs::for_current_process()?;
    let data_dir = absolute(&opts.data_dir)?;
    fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create data folder {}", data_dir.display()))?;
    let password = read_or_create_secret(&data_dir.join("pg_superuser_password"))?;
    let pgdata = data_dir.join("pgdata");
    if !pgdata.join("PG_VERSION").exists() {
        init_cluster(&bin, &run_as, &data_dir, &pgdata, &password)?;
    }
    Ok(Prepared {
        data_dir,
        pgdata,
        password,
        bin,
        run_as,
    })
}

/// The pid and port of a live postmaster on `pgdata`, read from its pid
/// file (line 1: pid, line 4: port). A stale file (dead pid) gives `None`;
/// postgres removes such files itself.
fn running_postmaster(pgdata: &Path) -> Option<(Pid, u16)> {
    let pidfile = fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
    let mut lines = pidfile.lines();
    let pid = Pid::from_raw(lines.next()?.trim().parse().ok()?);
    let port = lines.nth(2)?.trim().parse().ok()?;
    kill(pid, None).is_ok().then_some((pid, port))
}

fn spawn_postmaster(
    bin: &Path,
    run_as: &RunAs,
    pgdata: &Path,
    log_path: &Path,
    port: u16,
    opts: &EmbeddedOptions,
) -> Result<(Pid, mpsc::Receiver<ExitStatus>)> {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    run_as.give(log_path)?;
    let socket_dir = pgdata.to_string_lossy().into_owned();
    let socket_dir = if socket_dir.len() <= MAX_SOCKET_DIR_LEN {
        socket_dir
    } else {
        String::new()
    };
    let mut cmd = Command::new(bin.join("postgres"));
    cmd.arg("-D")
        .arg(pgdata)
        .arg("-p")
        .arg(port.to_string())
        .args(["-c", "listen_addresses=127.0.0.1"])
        .arg("-c")
        .arg(format!("unix_socket_directories={socket_dir}"));
    for (name, value) in &opts.settings {
        cmd.arg("-c").arg(format!("{name}={value}"));
    }
    cmd.current_dir(pgdata)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    run_as.apply(&mut cmd);
    // SAFETY: setpgid and prctl are async-signal-safe. std runs this after
    // switching uid, so the death signal survives the credential change.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
            nix::sys::prctl::set_pdeathsig(Signal::SIGINT)?;
            Ok(())
        });
    }
    // The parent-death signal fires when the *thread* that forked exits, so
    // the postmaster is spawned from a thread that lives as long as it does.
    let (started_tx, started_rx) = mpsc::channel();
    let (exited_tx, exited_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("embedded-postgres".into())
        .spawn(move || match cmd.spawn() {
            Ok(mut child) => {
                let _ = started_tx.send(Ok(child.id()));
                if let Ok(status) = child.wait() {
                    let _ = exited_tx.send(status);
                }
            }
            Err(err) => {
                let _ = started_tx.send(Err(err));
            }
        })?;
    let pid = started_rx
        .recv()
        .map_err(|_| anyhow!("postgres launcher thread died"))?
        .context("cannot start postgres")?;
    tracing::info!(pg.pid = pid, pg.port = port, "embedded postgres starting");
    Ok((Pid::from_raw(pid as i32), exited_rx))
}

async fn ensure_database(conn: &mut AsyncPgConnection) -> Result<()> {
    #[derive(diesel::QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(DATABASE)
            .get_result(conn)
            .await?;
    if !found.exists {
        diesel::sql_query(format!("CREATE DATABASE {DATABASE}"))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Reads a secret kept in a 0600 file, creating it with 32 random bytes
/// (hex) on first use. Used for the cluster password and the dev JWT key.
pub fn read_or_create_secret(path: &Path) -> Result<String> {
    if let Ok(existing) = fs::read_to_string(path) {
        let trimmed = existing.trim();
        if !trimmed.is_empty() {
            return Ok(trimmed.to_string());
        }
    }
    let secret = hex::encode(rand::random::<[u8; 32]>());
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    write_private(path, &secret)?;
    Ok(secret)
}

fn write_private(path: &Path, content: &str) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(content.as_bytes())?;
    Ok(())
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn absolute(path: &Path) -> Result<PathBuf> {
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    })
}

fn describe_exit(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => "unknown status".into(),
    }
}

/// The last few lines of the server log, for start-up errors.
fn log_tail(path: &Path) -> String {
    let Ok(mut file) = fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(2_000)));
    let mut buf = String::new();
    let _ = file.read_to_string(&mut buf);
    buf.lines()
        .rev()
        .take(10)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n")
}
