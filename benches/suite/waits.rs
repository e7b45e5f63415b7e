//! With STRIDE_BENCH_WAITS=1: what the database's active sessions wait on
//! during a scenario, sampled every 20 ms (for profiling, not the report).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection};

#[derive(QueryableByName)]
struct Wait {
    #[diesel(sql_type = diesel::sql_types::Text)]
    wait: String,
}

pub struct Sampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<HashMap<String, usize>>,
}

impl Sampler {
    pub fn start(owner_url: &str) -> Option<Sampler> {
        std::env::var_os("STRIDE_BENCH_WAITS")?;
        let (url, stop) = (owner_url.to_string(), Arc::new(AtomicBool::new(false)));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut seen = HashMap::new();
            let Ok(mut conn) = AsyncPgConnection::establish(&url).await else {
                return seen;
            };

            while !flag.load(Ordering::Relaxed) {
                use diesel_async::RunQueryDsl;
                let waits: Vec<Wait> = diesel::sql_query(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS wait
                       FROM pg_stat_activity
                      WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                )
                .load(&mut conn)
                .await
                .unwrap_or_default();
                for w in waits {
                    *seen.entry(w.wait).or_insert(0) += 1;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        });
        Some(Sampler { stop, task })
    }

    pub async fn print(self, what: &str) {
        self.stop.store(true, Ordering::Relaxed);
        let seen = self.task.await.unwrap_or_default();
        let total: usize = seen.values().sum();
        let mut top: Vec<_> = seen.into_iter().collect();
        top.sort_by_key(|b| std::cmp::Reverse(b.1));
        let line: Vec<String> = top
            .iter()
            .take(6)
            .map(|(w, n)| format!("{w} {:.0}%", 100.0 * *n as f64 / total.max(1) as f64))
            .collect();
        eprintln!("waits ({what}): {}", line.join(", "));
    }
}

#[derive(QueryableByName)]
struct Top {
    #[diesel(sql_type = diesel::sql_types::Double)]
    total: f64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    calls: i64,
    /// Times planned and time spent planning (with track_planning on).
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    plans: i64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    planning: f64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    mean: f64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    query: String,
}

/// With STRIDE_BENCH_WAITS=1: prints the statements that took the most
/// database time since the last call, and starts counting afresh.
pub async fn top_statements(owner_url: &str, what: &str) {
    if std::env::var_os("STRIDE_BENCH_WAITS").is_none() {
        return;
    }
    let Ok(mut conn) = AsyncPgConnection::establish(owner_url).await else {
        return;
    };
    if let Ok(top) = top(&mut conn).await {
        eprintln!("top statements ({what}):");
        for t in top {
            eprintln!(
                "  {:>9.0} ms {:>7} calls {:>7} plans ({:>6.0} ms) {:>8.3} ms/call  {}",
                t.total, t.calls, t.plans, t.planning, t.mean, t.query
            );
        }
    }
    use diesel_async::SimpleAsyncConnection;
    let _ = conn
        .batch_execute(
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset();",
        )
        .await;
}

async fn top(conn: &mut AsyncPgConnection) -> diesel::QueryResult<Vec<Top>> {
    use diesel_async::RunQueryDsl;
    // Statements whose text differs only in the number of rows (a
    // multi-row VALUES) share their first 90 characters: summed as one.
    diesel::sql_query(
        "WITH s AS (SELECT total_exec_time + total_plan_time AS total, calls, plans, total_plan_time AS planning,
                           left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS query
                      FROM pg_stat_statements WHERE calls > 0)
         SELECT sum(total) AS total, sum(calls)::int8 AS calls, sum(plans)::int8 AS plans,
                sum(planning) AS planning, sum(total) / sum(calls) AS mean, query
           FROM s GROUP BY query
         UNION ALL
         SELECT sum(total), sum(calls)::int8, sum(plans)::int8, sum(planning), sum(total) / sum(calls), '(sum of all; nested statements count twice)'
           FROM s
          ORDER BY 1 DESC LIMIT 13",
    )
    .load(conn)
    .await
}
