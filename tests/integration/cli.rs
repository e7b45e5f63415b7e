//! The `stride` binary as an operator runs it: `serve` with its own embedded
//! PostgreSQL, `token` from the same data folder, a clean stop on SIGTERM.

use std::path::Path;
use std::process::Command;

use stride::proto::identity::v1::WhoAmIRequest;
use stride::proto::identity::v1::identity_service_client::IdentityServiceClient;

use crate::harness::authed;
use crate::process::{BIN, free_port, serve_in_background, stop};

/// Runs `cmd` and requires it to succeed; its (stdout, stderr). A failure
/// shows both.
fn succeed(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().expect("run the command");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}{stderr}");
    (stdout, stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_embedded_postgres_accepts_cli_tokens_and_stops_cleanly() {
    // Under /tmp: as root the cluster runs as `postgres`, which must reach it.
    let data_dir = std::env::temp_dir().join(format!("stride-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let port = free_port();
    let mut serve = Command::new(BIN);
    serve
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("STRIDE_JWT_SECRET");
    let (server, channel) = serve_in_background(&mut serve, port).await;

    // `stride demo` attaches to the running cluster (as in the README).
    succeed(
        Command::new(BIN)
            .args(["demo", "--learners", "20", "--data-dir"])
            .arg(&data_dir)
            .env_remove("DATABASE_URL"),
    );

    // The demo's gamification state, written event by event by ingestion,
    // is what a recompute from scratch finds: nothing to change.
    let (printed, said) = succeed(
        Command::new(BIN)
            .args(["rules", "recompute", "--all", "--dry-run", "--data-dir"])
            .arg(&data_dir)
            .env_remove("DATABASE_URL"),
    );
    assert!(said.contains(", 0 would change"), "{said}\n{printed}");
    assert!(!said.contains(" 0 people checked"), "{said}");

    // Jobs by hand (as cron would), attached to the running cluster; the
    // server runs them too, so each either runs or finds it running.
    let (said, _) = succeed(
        Command::new(BIN)
            .args([
                "jobs",
                "run",
                "partitions",
                "retention",
                "refresh-skill-demand",
                "--data-dir",
            ])
            .arg(&data_dir)
            .env_remove("DATABASE_URL"),
    );
    for job in ["partitions:", "retention:", "refresh_skill_demand:"] {
        assert!(said.contains(job), "{job} in {said}");
    }

    // A token from the CLI, signed with the secret kept in the data folder.
    let user = "5d1a4a5e-0000-4000-8000-000000000002";
    let org = "5d1a4a5e-0000-4000-8000-000000000001";
    let (token, _) = succeed(
        Command::new(BIN)
            .args([
                "token",
                "--sub",
                user,
                "--org",
                org,
                "--role",
                "org_admin",
                "--data-dir",
            ])
            .arg(&data_dir)
            .env_remove("DATABASE_URL")
            .env_remove("STRIDE_JWT_SECRET"),
    );
    let token = token.trim();
    let me = IdentityServiceClient::new(channel)
        .who_am_i(authed(WhoAmIRequest::default(), token))
        .await
        .expect("WhoAmI with a CLI token")
        .into_inner();
    assert_eq!(me.subject, user);
    assert_eq!(me.organization_id, org);

    // SIGTERM: drain, stop Postgres, exit 0.
    stop(server).await;
    assert!(
        !Path::new(&data_dir).join("pgdata/postmaster.pid").exists(),
        "embedded postgres was stopped"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn serve_explains_missing_postgres_binaries() {
    let out = Command::new(BIN)
        .args([
            "migrate",
            "--data-dir",
            "/tmp/stride-nonexistent-pg",
            "--pg-bin",
            "/nonexistent",
        ])
        .env_remove("DATABASE_URL")
        .output()
        .expect("stride migrate");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no initdb/postgres in /nonexistent"),
        "said: {err}"
    );
    assert!(
        err.contains("apt-get install -y postgresql"),
        "names the package: {err}"
    );
    assert!(
        !Path::new("/tmp/stride-nonexistent-pg").exists(),
        "nothing created on failure"
    );
}

/// compose.yaml's database setup without Docker: deploy/postgres-init.sh
/// on a fresh server (as the postgres image runs it, before any migration),
/// then `stride serve` with the compose file's variables: it migrates as
/// the owner and serves as `stride_app`.
#[tokio::test(flavor = "multi_thread")]
async fn the_compose_setup_creates_the_runtime_role_before_the_first_migration() {
    let cluster = crate::private_cluster::PrivateCluster::bare("compose").await;
    let app_password = "compose-app-password";
    succeed(
        Command::new("sh")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/deploy/postgres-init.sh"
            ))
            .env("POSTGRES_USER", "postgres")
            .env("POSTGRES_DB", "stride")
            .env("STRIDE_APP_PASSWORD", app_password)
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", cluster.port().to_string())
            .env("PGPASSWORD", cluster.superuser_password()),
    );

    let port = free_port();
    let secret = "compose-test-secret-0123456789abcdef";
    let app_url = format!(
        "postgres://stride_app:{app_password}@127.0.0.1:{}/stride",
        cluster.port()
    );
    let mut serve = Command::new(BIN);
    serve
        .arg("serve")
        .env("DATABASE_URL", &cluster.url)
        .env("STRIDE_APP_DATABASE_URL", &app_url)
        .env("STRIDE_JWT_SECRET", secret)
        .env("STRIDE_LISTEN", format!("127.0.0.1:{port}"))
        .env("STRIDE_METRICS_LISTEN", "off");
    let (server, channel) = serve_in_background(&mut serve, port).await;

    let (token, _) = succeed(
        Command::new(BIN)
            .args(["token", "--service", "lms", "--scope", "events:write"])
            .env("DATABASE_URL", &cluster.url)
            .env("STRIDE_JWT_SECRET", secret),
    );
    let token = token.trim();
    let me = IdentityServiceClient::new(channel)
        .who_am_i(authed(WhoAmIRequest::default(), token))
        .await
        .expect("WhoAmI")
        .into_inner();
    assert_eq!(me.subject, "service:lms");
    // Requests ran as the runtime role, which owns nothing.
    let sql = "SELECT count(*) AS n FROM pg_stat_activity WHERE usename = 'stride_app'";
    assert!(crate::ingest_support::count(&cluster.url, sql).await > 0);
    let sql = "SELECT count(*) AS n FROM pg_tables WHERE tableowner = 'stride_app'";
    assert_eq!(crate::ingest_support::count(&cluster.url, sql).await, 0);
    stop(server).await;
}
