//! `stride serve` as a process of its own, as operators run it: for tests
//! that start it from the command line, kill it, or measure its memory.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::harness::TEST_SECRET;

pub const BIN: &str = env!("CARGO_BIN_EXE_stride");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `stride serve` (`cmd`, listening on the loopback `port`, its
/// output discarded) and waits until it is SERVING; the process and a
/// channel to it.
pub async fn serve_in_background(cmd: &mut Command, port: u16) -> (Child, Channel) {
    spawn_serving(cmd.stdout(Stdio::null()).stderr(Stdio::null()), port).await
}

/// [`serve_in_background`] with the output where `cmd` sends it.
async fn spawn_serving(cmd: &mut Command, port: u16) -> (Child, Channel) {
    let mut server = cmd.spawn().expect("start stride serve");
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_lazy();
    wait_serving(&channel, &mut server).await;
    (server, channel)
}

/// Waits until `server` reports SERVING on `channel` (60 s at most).
pub async fn wait_serving(channel: &Channel, server: &mut Child) {
    let mut health = HealthClient::new(channel.clone());
    for _ in 0..600 {
        let reply = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await;
        if reply.is_ok_and(|r| r.into_inner().status == 1) {
            return;
        }
        assert!(
            server.try_wait().unwrap().is_none(),
            "stride serve exited during start-up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("stride serve did not become SERVING within 60 s");
}

/// SIGTERM: drain, stop, exit 0.
pub async fn stop(server: Child) {
    signal(&server, Signal::SIGTERM);
    let mut server = server;
    let status = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "stride serve exited with {status}");
}

fn signal(child: &Child, signal: Signal) {
    kill(Pid::from_raw(child.id() as i32), signal).expect("signal stride serve");
}

/// The harness's signing secret as `STRIDE_JWT_SECRET`.
pub fn test_secret() -> &'static str {
    std::str::from_utf8(TEST_SECRET).expect("the test secret is text")
}

/// Key settings of the caller's environment that would override the
/// secret given to a `stride` process.
pub const FOREIGN_KEYS: [&str; 3] = [
    "STRIDE_JWT_PUBLIC_KEYS",
    "STRIDE_JWT_PRIVATE_KEY_FILE",
    "STRIDE_JWT_KEY_ID",
];

/// A `stride` command signing with the harness's secret only.
pub fn stride(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("STRIDE_JWT_SECRET", test_secret());
    for var in FOREIGN_KEYS {
        cmd.env_remove(var);
    }
    cmd
}

/// `stride serve` on a test database (migrations already applied), signing
/// with the harness's secret so that `TestServer`-style tokens work. Its
/// log goes to a file (see [`Self::log_tail`]); killed when dropped.
pub struct ServeProcess {
    child: Option<Child>,
    pub port: u16,
    pub channel: Channel,
    log: std::path::PathBuf,
}

impl ServeProcess {
    /// `env`: extra settings (`STRIDE_*` limits).
    pub async fn start(owner_url: &str, app_url: &str, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let log =
            std::env::temp_dir().join(format!("stride-serve-{}-{port}.log", std::process::id()));
        let out = std::fs::File::create(&log).expect("serve log");
        let mut cmd = stride(&["serve"]);
        cmd.env("DATABASE_URL", owner_url)
            .env("STRIDE_APP_DATABASE_URL", app_url)
            .env("STRIDE_LISTEN", format!("127.0.0.1:{port}"))
            .env("STRIDE_METRICS_LISTEN", "off")
            .env("STRIDE_LOG_FORMAT", "text")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(out);
        let (child, channel) = spawn_serving(&mut cmd, port).await;
        Self {
            child: Some(child),
            port,
            channel,
            log,
        }
    }

    /// The last 60 lines the server logged.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// SIGTERM: drain, stop, exit 0.
    pub async fn stop(mut self) {
        stop(self.child.take().expect("running")).await;
    }

    /// A connection of its own (`channel` is one shared connection).
    pub async fn connect(&self) -> Channel {
        Channel::from_shared(format!("http://127.0.0.1:{}", self.port))
            .unwrap()
            .connect()
            .await
            .expect("connect to stride serve")
    }

    /// Peak resident memory of the process so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let pid = self.child.as_ref().expect("running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status");
        kib * 1024
    }

    /// SIGKILL, as the OOM killer or a crashed node does: no draining.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, Signal::SIGKILL);
            child.wait().expect("reap stride serve");
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}
