//! The statements behind a person's export and erasure
//! (`api::identity::data_rights` decides who may run them). They run under
//! the caller's identity: row-level security bounds them to what the
//! caller may see.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Jsonb, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// Every table holding rows about one person: (export section, table, the
/// person's column). Token tables are left out of exports (secrets) and
/// removed by the erasure's cascade. A new person table must be added here;
/// the erasure test checks every table with a user_id column.
pub const PERSON_TABLES: [(&str, &str, &str); 14] = [
    ("user", "users", "id"),
    ("roles", "user_roles", "user_id"),
    ("preferences", "user_preferences", "user_id"),
    ("enrollments", "enrollments", "user_id"),
    ("events", "learning_events", "user_id"),
    ("event_receipts", "event_receipts", "user_id"),
    ("assessments", "assessments", "user_id"),
    ("skills", "user_skills", "user_id"),
    ("daily_activity", "daily_activity", "user_id"),
    ("ledger", "point_transactions", "user_id"),
    ("points", "user_points", "user_id"),
    ("achievements", "user_achievements", "user_id"),
    ("streak_freezes", "streak_freeze_events", "user_id"),
    ("analytics", "analytics_cache", "user_id"),
];

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    row: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
}

/// The person's rows of `table` as JSON objects (password hashes left out).
/// `table` and `column` must come from [`PERSON_TABLES`].
pub async fn rows_as_json(
    conn: &mut AsyncPgConnection,
    (table, column): (&str, &str),
    user: Uuid,
) -> diesel::QueryResult<Vec<String>> {
    let rows: Vec<Row> = diesel::sql_query(format!(
        "SELECT (to_jsonb(t) - 'password_hash')::text AS row FROM {table} t WHERE t.{column} = $1"
    ))
    .bind::<diesel::sql_types::Uuid, _>(user)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.row).collect())
}

/// How many rows of `table` are about the person (`table` and `column`
/// from [`PERSON_TABLES`]).
pub async fn count_rows(
    conn: &mut AsyncPgConnection,
    (table, column): (&str, &str),
    user: Uuid,
) -> diesel::QueryResult<i64> {
    let c: Count = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM {table} WHERE {column} = $1"
    ))
    .bind::<diesel::sql_types::Uuid, _>(user)
    .get_result(conn)
    .await?;
    Ok(c.n)
}

pub async fn is_platform_admin(
    conn: &mut AsyncPgConnection,
    user: Uuid,
) -> diesel::QueryResult<bool> {
    let platform: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM user_roles WHERE user_id = $1 AND role = 'platform_admin'",
    )
    .bind::<diesel::sql_types::Uuid, _>(user)
    .get_result(conn)
    .await?;
    Ok(platform.n > 0)
}

/// Peers' "helped <person>" events keep the help, not the name; returns
/// the events changed.
pub async fn unname_in_peer_events(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    user: Uuid,
) -> diesel::QueryResult<usize> {
    diesel::sql_query(
        "UPDATE learning_events SET payload = payload - 'peer_user_id' \
         WHERE organization_id = $1 AND kind = 'peer_helped' AND payload->>'peer_user_id' = $2",
    )
    .bind::<diesel::sql_types::Uuid, _>(org)
    .bind::<Text, _>(user.to_string())
    .execute(conn)
    .await
}

/// Deletes the person: their revocations, then the user row, from which
/// everything else cascades (receipts keep their key with the person set
/// to NULL).
pub async fn delete_person(conn: &mut AsyncPgConnection, user: Uuid) -> diesel::QueryResult<()> {
    diesel::sql_query("DELETE FROM revoked_tokens WHERE subject = $1")
        .bind::<Text, _>(user.to_string())
        .execute(conn)
        .await?;
    diesel::sql_query("DELETE FROM users WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(user)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records an erasure (a digest of the person's id, never the id); returns
/// the audit row's id.
pub async fn audit_erasure(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    digest: String,
    actor_role: &str,
    counts: serde_json::Value,
) -> diesel::QueryResult<Uuid> {
    let audit: Id = diesel::sql_query(
        "INSERT INTO erasure_audit (organization_id, subject_digest, actor_role, counts) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind::<diesel::sql_types::Uuid, _>(org)
    .bind::<Text, _>(digest)
    .bind::<Text, _>(actor_role)
    .bind::<Jsonb, _>(counts)
    .get_result(conn)
    .await?;
    Ok(audit.id)
}
