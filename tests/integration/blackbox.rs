//! The black-box contract suite (`tests/blackbox`, Python + grpcio) against
//! a real `stride serve`: services found by reflection only, tokens from
//! `stride token`, data from `stride demo`. grpcio comes from PyPI
//! (`pip install grpcio grpcio-reflection`); CI installs it, and under CI a
//! missing module fails the test instead of skipping it.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::harness::TestDb;
use crate::process::{BIN, FOREIGN_KEYS, ServeProcess, free_port, stride, test_secret};

/// The suite takes about a second; this only bounds a hung run.
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

fn python_grpc_available() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import grpc, grpc_reflection"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 with grpcio and grpcio-reflection is required under CI \
             (pip install grpcio grpcio-reflection)"
        );
        eprintln!(
            "python3 grpc modules not installed (pip install grpcio grpcio-reflection): \
             black-box suite skipped"
        );
    }
    found
}

/// A folder for the logs, removed when dropped (a failure prints them first).
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "stride-blackbox-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("work folder");
        Self(dir)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `cmd` with its stdout and stderr in `out` (one file, interleaved as
/// written), killing it after `timeout`; its status (None: timed out) and
/// what it printed.
fn run_logged(cmd: &mut Command, out: &Path, timeout: Duration) -> (Option<ExitStatus>, String) {
    let file = std::fs::File::create(out).expect("output file");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("output file"))
        .stderr(file)
        .spawn()
        .expect("start the command");
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, std::fs::read_to_string(out).unwrap_or_default())
}

/// A shell word for `path` (the suite splits its token command shell-style).
fn shell_quote(path: &str) -> String {
    format!("'{}'", path.replace('\'', r"'\''"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_black_box_suite_passes_against_stride_serve() {
    if !python_grpc_available() {
        return;
    }
    let work = WorkDir::new();
    let dir = work.0.clone();

    // A database of the harness cluster; `stride serve` on it as operators
    // run it against an external PostgreSQL (owner URL, runtime role, secret).
    let started = Instant::now();
    let db = TestDb::migrated().await;
    let serve = ServeProcess::start(&db.url, &db.app_url, &[]).await;
    let port = serve.port;
    let serving = started.elapsed();

    // The README's demo organization, written into the running server's database.
    let demo = stride(&["demo"])
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("run stride demo");
    assert!(
        demo.status.success(),
        "stride demo failed:\n{}{}",
        String::from_utf8_lossy(&demo.stdout),
        String::from_utf8_lossy(&demo.stderr)
    );

    let demo_done = started.elapsed();
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/blackbox/run.py");
    let token_cmd = format!("{} token", shell_quote(BIN));
    let mut python = Command::new("python3");
    python
        .arg(suite)
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .args(["--token-cmd", &token_cmd])
        // `stride token` (run by the suite) signs with the server's secret.
        .env("STRIDE_JWT_SECRET", test_secret())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .env_remove("STRIDE_BLACKBOX_STRICT");
    for var in FOREIGN_KEYS {
        python.env_remove(var);
    }
    let (status, printed) = tokio::task::spawn_blocking({
        let out = dir.join("suite.log");
        move || run_logged(&mut python, &out, SUITE_TIMEOUT)
    })
    .await
    .expect("suite task");
    let took = started.elapsed() - demo_done;

    let Some(status) = status else {
        panic!(
            "the black-box suite did not finish within {SUITE_TIMEOUT:?}:\n{printed}\n\
             --- stride serve log ---\n{}",
            serve.log_tail()
        );
    };
    assert!(
        status.success(),
        "the black-box suite failed ({status}) after {took:.1?}:\n{printed}\n\
         --- stride serve log ---\n{}",
        serve.log_tail()
    );
    // The demo has everything the suite needs (a second tenant, a platform
    // admin): nothing may be skipped here.
    assert!(
        !printed.contains("skipped="),
        "the suite skipped tests:\n{printed}"
    );
    // Its summary (and the known Stride bugs it tracks) for --nocapture runs.
    let summary: Vec<&str> = printed
        .lines()
        .filter(|l| {
            l.starts_with("KNOWN STRIDE BUG")
                || (l.contains(" tests in ") && !l.starts_with("Ran "))
        })
        .collect();
    eprintln!(
        "serving after {serving:.1?}, demo written after {demo_done:.1?}, suite run in {took:.1?}\n{}",
        summary.join("\n")
    );

    serve.stop().await;
}
