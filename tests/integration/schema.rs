//! src/db/schema.rs must be what `diesel print-schema` makes of the
//! migrations; this test fails when they drift apart.
//! To regenerate: `STRIDE_BLESS_SCHEMA=1 cargo test --test integration schema`.
//! Needs the diesel CLI (`cargo install diesel_cli --no-default-features
//! --features postgres`); CI installs it, and under CI its absence fails.

use std::path::Path;
use std::process::Command;

use crate::harness::TestDb;

#[tokio::test(flavor = "multi_thread")]
async fn schema_rs_matches_the_migrations() {
    if Command::new("diesel").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the diesel CLI is required under CI for the schema drift check"
        );
        eprintln!("diesel CLI not installed: schema drift check skipped");
        return;
    }
    let db = TestDb::migrated().await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let url = db.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("diesel")
            .args(["print-schema", "--database-url", &url])
            .current_dir(root)
            .output()
            .expect("run diesel print-schema")
    })
    .await
    .expect("print-schema task");
    assert!(
        out.status.success(),
        "diesel print-schema failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = String::from_utf8(out.stdout).expect("utf-8 schema");
    let path = root.join("src/db/schema.rs");
    if std::env::var_os("STRIDE_BLESS_SCHEMA").is_some() {
        std::fs::write(&path, &generated).expect("write schema.rs");
        return;
    }
    let committed = std::fs::read_to_string(&path).expect("read schema.rs");
    assert!(
        committed == generated,
        "src/db/schema.rs is out of date with migrations/; regenerate it with \
         `STRIDE_BLESS_SCHEMA=1 cargo test --test integration schema` and review the diff"
    );
}

/// The raw statements of `src/db/sql/` (fixed texts over arrays, kept
/// prepared) are outside diesel's compile-time check: each must still
/// parse, name existing tables and columns, and type-check against the
/// migrated schema, which `PREPARE` verifies without running it.
#[tokio::test(flavor = "multi_thread")]
async fn every_raw_statement_prepares_against_the_migrated_schema() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let db = TestDb::migrated().await;
    let mut conn = AsyncPgConnection::establish(&db.url)
        .await
        .expect("connect");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/db/sql");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("src/db/sql")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the raw statements: {files:?}");
    for (n, file) in files.iter().enumerate() {
        let sql = std::fs::read_to_string(file).expect("read");
        if let Err(err) = conn
            .batch_execute(&format!("PREPARE raw_{n} AS {sql}"))
            .await
        {
            panic!("{} does not prepare: {err}", file.display());
        }
    }
}
