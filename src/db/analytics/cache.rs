//! The analytics cache table (`api::analytics::cache` decides what is
//! cached and for how long): one row per (kind, subject, parameters).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::analytics_cache;

/// What names one cache entry.
#[derive(Debug, Clone, Copy)]
pub struct EntryKey<'a> {
    pub kind: &'a str,
    pub subject_type: &'a str,
    pub subject_id: Option<Uuid>,
    pub params: &'a str,
}

/// An unexpired entry as stored.
#[derive(Debug, Queryable)]
pub struct Cached {
    pub result: serde_json::Value,
    pub computed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub model_version: Option<String>,
}

/// An entry to write (insert or replace).
#[derive(Debug)]
pub struct NewEntry<'a> {
    pub key: EntryKey<'a>,
    pub organization: Option<Uuid>,
    pub audience: &'a str,
    /// The person the entry is about, if one (for forgetting opt-outs).
    pub person: Option<Uuid>,
    pub result: &'a serde_json::Value,
    pub confidence: Option<f64>,
    pub model_version: Option<&'a str>,
    pub computed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The entry of `key` unless it has expired.
pub async fn unexpired(
    conn: &mut AsyncPgConnection,
    key: EntryKey<'_>,
) -> QueryResult<Option<Cached>> {
    analytics_cache::table
        .filter(analytics_cache::kind.eq(key.kind))
        .filter(analytics_cache::subject_type.eq(key.subject_type))
        .filter(analytics_cache::subject_id.is_not_distinct_from(key.subject_id))
        .filter(analytics_cache::params_hash.eq(key.params))
        .filter(analytics_cache::expires_at.gt(diesel::dsl::now))
        .select((
            analytics_cache::result,
            analytics_cache::computed_at,
            analytics_cache::expires_at,
            analytics_cache::model_version,
        ))
        .first(conn)
        .await
        .optional()
}

pub async fn put(conn: &mut AsyncPgConnection, entry: NewEntry<'_>) -> QueryResult<()> {
    use analytics_cache::dsl as c;
    diesel::insert_into(analytics_cache::table)
        .values((
            c::organization_id.eq(entry.organization),
            c::kind.eq(entry.key.kind),
            c::audience.eq(entry.audience),
            c::subject_type.eq(entry.key.subject_type),
            c::subject_id.eq(entry.key.subject_id),
            c::params_hash.eq(entry.key.params),
            c::user_id.eq(entry.person),
            c::result.eq(entry.result),
            c::confidence.eq(entry.confidence),
            c::model_version.eq(entry.model_version),
            c::computed_at.eq(entry.computed_at),
            c::expires_at.eq(entry.expires_at),
        ))
        .on_conflict((c::kind, c::subject_type, c::subject_id, c::params_hash))
        .do_update()
        .set((
            c::result.eq(entry.result),
            c::confidence.eq(entry.confidence),
            c::model_version.eq(entry.model_version),
            c::computed_at.eq(entry.computed_at),
            c::expires_at.eq(entry.expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the entries of `kind` about `person`.
pub async fn forget(conn: &mut AsyncPgConnection, person: Uuid, kind: &str) -> QueryResult<()> {
    diesel::delete(
        analytics_cache::table
            .filter(analytics_cache::user_id.eq(person))
            .filter(analytics_cache::kind.eq(kind)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Waits for (then holds, to the end of the transaction) the lock that
/// lets one replica compute `name`'s entry while the others wait for it.
pub async fn lock_computation(conn: &mut AsyncPgConnection, name: &str) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
        .bind::<diesel::sql_types::Text, _>(name)
        .execute(conn)
        .await?;
    Ok(())
}
