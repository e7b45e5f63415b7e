//! PostgreSQL clusters of a test's own, for what the shared cluster must not
//! go through: stopping and restarting, streaming replication, base backups
//! and point-in-time recovery. The tools (pg_basebackup) are the ones an
//! operator runs, as the `postgres` OS user when the tests run as root.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use stride::embedded_pg::{EmbeddedOptions, EmbeddedPostgres};

use crate::harness::{APP_PASSWORD, test_dir};

/// The file the embedded cluster keeps its superuser password in.
const PASSWORD_FILE: &str = "pg_superuser_password";

/// A cluster of its own, for a test that stops and restarts PostgreSQL
/// under a running server (the shared cluster must stay up for the others).
pub struct PrivateCluster {
    pg: EmbeddedPostgres,
    opts: EmbeddedOptions,
    /// As the superuser, on the `stride` database.
    pub url: String,
    /// As the runtime role.
    pub app_url: String,
}

impl PrivateCluster {
    pub async fn start(name: &str) -> Self {
        Self::start_with(name, &[]).await
    }

    /// A fresh, migrated cluster with extra server settings.
    pub async fn start_with(name: &str, settings: &[(&str, &str)]) -> Self {
        let cluster = Self::launch(folder(name), settings).await;
        stride::db::migrate(&cluster.url).await.expect("migrate");
        stride::db::enable_app_login(&cluster.pg.url("postgres"), APP_PASSWORD)
            .await
            .expect("enable the runtime role");
        cluster
    }

    /// A fresh cluster with nothing applied: no migrations, no runtime role.
    pub async fn bare(name: &str) -> Self {
        Self::launch(folder(name), &[]).await
    }

    /// Port the cluster listens on.
    pub fn port(&self) -> u16 {
        self.pg.port()
    }

    async fn launch(data_dir: PathBuf, settings: &[(&str, &str)]) -> Self {
        let mut opts = EmbeddedOptions {
            data_dir,
            pg_bin: std::env::var_os("STRIDE_PG_BIN").map(PathBuf::from),
            settings: [("fsync", "off")]
                .iter()
                .chain(settings)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            port: None,
        };
        let pg = EmbeddedPostgres::start(&opts)
            .await
            .unwrap_or_else(|err| panic!("private cluster: {err:#}"));
        opts.port = Some(pg.port());
        let url = pg.url("stride");
        let app_url = pg.url_as(stride::db::APP_ROLE, APP_PASSWORD, "stride");
        Self {
            pg,
            opts,
            url,
            app_url,
        }
    }

    /// Stops PostgreSQL (fast shutdown: open transactions roll back).
    pub fn stop(&mut self) {
        self.pg.stop();
    }

    /// Immediate shutdown (SIGQUIT), as a crash: no checkpoint, open
    /// transactions lost, crash recovery on the next start.
    pub fn crash(&mut self) {
        signal_all(&[self.postmaster()], Signal::SIGQUIT);
        self.pg.stop(); // waits for the exit (a stopping postmaster ignores SIGINT)
    }

    /// Freezes the whole cluster (SIGSTOP to the postmaster and every
    /// backend): connections stay open, nothing answers.
    pub fn pause(&self) {
        signal_all(&self.processes(), Signal::SIGSTOP);
    }

    /// Undoes [`Self::pause`].
    pub fn resume(&self) {
        signal_all(&self.processes(), Signal::SIGCONT);
    }

    fn postmaster(&self) -> Pid {
        let lock = self.opts.data_dir.join("pgdata/postmaster.pid");
        let text = std::fs::read_to_string(&lock).expect("postmaster.pid");
        let pid = text.lines().next().and_then(|l| l.trim().parse().ok());
        Pid::from_raw(pid.expect("pid on the first line of postmaster.pid"))
    }

    /// The postmaster first, then its children (from /proc).
    fn processes(&self) -> Vec<Pid> {
        let postmaster = self.postmaster();
        let mut all = vec![postmaster];
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if ppid == Some(postmaster.as_raw()) {
                all.push(Pid::from_raw(pid));
            }
        }
        all
    }

    /// Starts it again on the same port and data.
    pub async fn restart(&mut self) {
        self.pg = EmbeddedPostgres::start(&self.opts)
            .await
            .expect("restart private cluster");
    }

    /// A hot standby streaming from this cluster, as an operator makes one:
    /// `pg_basebackup -R` (it writes primary_conninfo and standby.signal).
    /// Roles and their passwords come with the data, so the runtime role
    /// logs in there with the same password.
    pub async fn standby(&self, name: &str) -> Self {
        let dir = folder(name);
        self.base_backup(&dir.join("pgdata"), &["-R"]);
        self.share_password(&dir);
        Self::launch(dir, &[]).await
    }

    /// `pg_basebackup` of this cluster into `dest` (plain format, with the
    /// WAL it needs).
    pub fn base_backup(&self, dest: &Path, extra: &[&str]) {
        let parent = dest.parent().expect("backup folder has a parent");
        std::fs::create_dir_all(parent).expect("backup parent");
        give_to_postgres(parent);
        let conninfo = format!(
            "host=127.0.0.1 port={} user=postgres password={}",
            self.pg.port(),
            self.superuser_password()
        );
        succeed(
            postgres_command(&self.bin().join("pg_basebackup"))
                .arg("-D")
                .arg(dest)
                .args(["-d", &conninfo, "-X", "stream", "-c", "fast"])
                .args(extra),
        );
    }

    /// A new cluster recovered from `backup` with `settings` (restore_command,
    /// recovery_target_*), as docs/operations.md describes. It replays WAL
    /// until the target and then runs as a primary.
    pub async fn restore(&self, name: &str, backup: &Path, settings: &[(&str, &str)]) -> Self {
        let dir = folder(name);
        std::fs::create_dir_all(&dir).expect("restore folder");
        give_to_postgres(&dir);
        let pgdata = dir.join("pgdata");
        succeed(
            postgres_command(Path::new("/bin/cp"))
                .arg("-a")
                .arg(backup)
                .arg(&pgdata),
        );
        succeed(postgres_command(Path::new("/usr/bin/touch")).arg(pgdata.join("recovery.signal")));
        self.share_password(&dir);
        Self::launch(dir, settings).await
    }

    /// The superuser's password (for tools that take it apart from a URL).
    pub fn superuser_password(&self) -> String {
        std::fs::read_to_string(self.opts.data_dir.join(PASSWORD_FILE))
            .expect("superuser password file")
            .trim()
            .to_string()
    }

    /// A copy of this cluster's data has this cluster's superuser password.
    fn share_password(&self, dir: &Path) {
        std::fs::copy(
            self.opts.data_dir.join(PASSWORD_FILE),
            dir.join(PASSWORD_FILE),
        )
        .expect("copy the superuser password file");
    }

    fn bin(&self) -> PathBuf {
        stride::embedded_pg::find_pg_bin(self.opts.pg_bin.as_deref()).expect("pg bin")
    }
}

fn folder(name: &str) -> PathBuf {
    test_dir(std::process::id()).join(name)
}

/// Runs `cmd` and requires it to succeed, showing its stderr if not.
fn succeed(cmd: &mut Command) {
    let out = cmd.output().expect("run the command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A command run as the `postgres` OS user when we are root (the server
/// refuses root-owned data folders).
fn postgres_command(program: &Path) -> Command {
    let mut cmd = Command::new(program);
    if let Some(user) = postgres_user() {
        cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
    cmd
}

/// A folder the `postgres` OS user may write in.
pub fn give_to_postgres(path: &Path) {
    if let Some(user) = postgres_user() {
        nix::unistd::chown(path, Some(user.uid), Some(user.gid)).expect("chown to postgres");
    }
}

fn postgres_user() -> Option<nix::unistd::User> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    nix::unistd::User::from_name("postgres").expect("look up the postgres user")
}

fn signal_all(pids: &[Pid], signal: Signal) {
    for pid in pids {
        // A backend may have exited since it was listed.
        let _ = kill(*pid, signal);
    }
}
