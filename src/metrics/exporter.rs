//! The metrics endpoint: `GET /metrics` over plain HTTP/1.1 on its own
//! port, for Prometheus. A few lines of HTTP instead of a web framework:
//! one route, one response, connection closed after it.

use std::sync::Arc;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::Metrics;
use crate::db::PgPool;
use crate::db::replica::ReadRouter;
use crate::db::schema::job_runs;

/// Serves scrapes until the task is dropped.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    pool: PgPool,
    reads: Arc<ReadRouter>,
) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        let (metrics, pool, reads) = (metrics.clone(), pool.clone(), reads.clone());
        tokio::spawn(async move {
            let mut head = vec![0u8; 2048];
            let n = match tokio::time::timeout(
                std::time::Duration::from_secs(5),
                socket.read(&mut head),
            )
            .await
            {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let request = String::from_utf8_lossy(&head[..n]);
            let response = if request.starts_with("GET /metrics ") {
                let jobs = job_times(&pool).await;
                let body = metrics.render(&pool.status(), reads.status(), &jobs);
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

/// Each job's last success (seconds since the epoch), from job_runs: the
/// same figures whichever replica ran it. Empty when the database is away.
async fn job_times(pool: &PgPool) -> Vec<(String, Option<f64>)> {
    let Ok(mut conn) = pool.get().await else {
        return Vec::new();
    };
    let rows: Vec<(String, Option<chrono::DateTime<chrono::Utc>>)> = job_runs::table
        .select((job_runs::job_name, job_runs::last_success_at))
        .order(job_runs::job_name)
        .load(&mut conn)
        .await
        .unwrap_or_default();
    rows.into_iter()
        .map(|(job, at)| (job, at.map(|t| t.timestamp_millis() as f64 / 1000.0)))
        .collect()
}
