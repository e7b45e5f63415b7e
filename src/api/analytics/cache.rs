//! The analytics cache and the one path every analytic takes:
//!
//! 1. under the caller's identity, resolve the subject (does it exist, may
//!    the caller see it: row-level security and the service rules) and,
//!    unless `fresh`, read the cached answer as the analytics reader;
//! 2. on a miss, take the entry's flight (one computation per entry in this
//!    process; a transaction-scoped advisory lock across replicas), read
//!    again (someone may just have computed it), compute as the analytics
//!    reader of the subject's organization, and store it with its TTL.
//!
//! So 100 concurrent requests for the same cold entry compute it once; the
//! others wait for that one and are served its answer from the cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use chrono::{DateTime, SubsecRound, Utc};
use diesel_async::AsyncPgConnection;
use futures::future::BoxFuture;
use serde::{Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::api::timestamp::to_timestamp;
use crate::api::{ApiError, AppState};
use crate::auth::AuthContext;
use crate::db::analytics::cache as db;
use crate::db::tenant::{Begin, DbIdentity, set_identity, transaction};
use crate::domain::analytics::Kind;
use crate::proto::common::v1 as common;

/// What an answer is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    User(Uuid),
    Course(Uuid),
    Organization(Uuid),
    Department(Uuid),
    Platform,
}

impl Subject {
    fn type_str(self) -> &'static str {
        match self {
            Subject::User(_) => "user",
            Subject::Course(_) => "course",
            Subject::Organization(_) => "organization",
            Subject::Department(_) => "department",
            Subject::Platform => "platform",
        }
    }

    fn id(self) -> Option<Uuid> {
        match self {
            Subject::User(id)
            | Subject::Course(id)
            | Subject::Organization(id)
            | Subject::Department(id) => Some(id),
            Subject::Platform => None,
        }
    }

    fn person(self) -> Option<Uuid> {
        match self {
            Subject::User(id) => Some(id),
            _ => None,
        }
    }
}

/// One cache entry: the analytic, its subject's organization (`None` for
/// platform-wide answers), the subject, and the parameters beyond it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub kind: Kind,
    pub org: Option<Uuid>,
    pub subject: Subject,
    pub params: String,
    /// A predictive kind the subject opted out of: nothing is computed.
    pub opted_out: bool,
}

impl Key {
    pub fn new(kind: Kind, org: Option<Uuid>, subject: Subject) -> Self {
        Self {
            kind,
            org,
            subject,
            params: String::new(),
            opted_out: false,
        }
    }

    /// The person a person-subject key is about.
    pub fn person(&self) -> Result<Uuid, ApiError> {
        self.subject.person().ok_or_else(|| {
            ApiError::Internal(format!(
                "analytic about a person keyed by {:?}",
                self.subject
            ))
        })
    }

    /// The subject's organization (every subject but the platform has one).
    pub fn organization(&self) -> Result<Uuid, ApiError> {
        self.org.ok_or_else(|| {
            ApiError::Internal(format!(
                "{} keyed without an organization",
                self.kind.as_str()
            ))
        })
    }

    pub fn with_params(mut self, params: String) -> Self {
        self.params = params;
        self
    }

    fn flight_name(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.kind.as_str(),
            self.subject.type_str(),
            self.subject.id().map(|u| u.to_string()).unwrap_or_default(),
            self.params
        )
    }
}

/// A computed answer with what its meta reports.
#[derive(Debug, Clone)]
pub struct Computed<T> {
    pub answer: T,
    /// The period of data covered, [start, end).
    pub window: (DateTime<Utc>, DateTime<Utc>),
    /// At least one group under 10 people was suppressed.
    pub suppressed: bool,
    /// Predictive answers: the newest activity the computation saw.
    pub data_freshness: Option<DateTime<Utc>>,
    pub model_version: Option<&'static str>,
    pub confidence: Option<f64>,
}

impl<T> Computed<T> {
    pub fn new(answer: T, window: (DateTime<Utc>, DateTime<Utc>)) -> Self {
        Self {
            answer,
            window,
            suppressed: false,
            data_freshness: None,
            model_version: None,
            confidence: None,
        }
    }

    pub fn suppressed(mut self, any: bool) -> Self {
        self.suppressed = any;
        self
    }
}

/// The stored form of an answer (`analytics_cache.result`).
#[derive(Serialize, serde::Deserialize)]
struct Stored<T> {
    answer: T,
    window_start: DateTime<Utc>,
    window_end: DateTime<Utc>,
    suppressed: bool,
    data_freshness: Option<DateTime<Utc>>,
}

/// The entries being computed in this process, each behind its own lock.
#[derive(Default)]
pub struct Flights {
    entries: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl Flights {
    fn entry(&self, name: String) -> Arc<tokio::sync::Mutex<()>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Forget finished flights so the map stays as small as the work.
        entries.retain(|_, w| w.strong_count() > 0);
        if let Some(lock) = entries.get(&name).and_then(Weak::upgrade) {
            return lock;
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        entries.insert(name, Arc::downgrade(&lock));
        lock
    }
}

/// An answer with its meta; `None` when the subject opted out of the kind.
pub struct Served<T> {
    pub answer: Option<T>,
    pub meta: common::AnalyticsMeta,
}

type Resolve<'a> = Box<
    dyn for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<Key, ApiError>>
        + Send
        + 'a,
>;

/// Serves one analytic: resolve under the caller, cache, compute on a miss.
pub async fn serve<T, C>(
    state: &AppState,
    ctx: &AuthContext,
    fresh: bool,
    resolve: Resolve<'static>,
    compute: C,
) -> Result<Served<T>, ApiError>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    C: for<'c> FnOnce(
            &'c mut AsyncPgConnection,
            Key,
        ) -> BoxFuture<'c, Result<Computed<T>, ApiError>>
        + Send
        + 'static,
{
    let (key, hit) = state
        .tx(ctx, move |conn| {
            Box::pin(async move {
                let key = resolve(conn).await?;
                set_identity(conn, &DbIdentity::analytics(key.org)).await?;
                if key.opted_out {
                    forget(conn, &key).await?;
                    return Ok((key, None));
                }
                let hit = if fresh {
                    None
                } else {
                    lookup::<T>(conn, &key).await?
                };
                Ok((key, hit))
            })
        })
        .await?;
    if key.opted_out {
        return Ok(opted_out());
    }
    if let Some(served) = hit {
        return Ok(served);
    }

    let flight = state.flights.entry(key.flight_name());
    let _turn = flight.lock().await;
    let mut conn = crate::db::Lease::get(&state.pool).await?;
    let identity = DbIdentity::analytics(key.org);
    let served = transaction(&mut conn, Begin::writing(&identity), move |conn| {
        Box::pin(async move {
            db::lock_computation(conn, &key.flight_name()).await?;
            if !fresh {
                if let Some(served) = lookup::<T>(conn, &key).await? {
                    return Ok(served);
                }
            }
            let computed = compute(conn, key.clone()).await?;
            store(conn, &key, computed).await
        })
    })
    .await;
    conn.finish();
    served
}

/// A resolver from a closure (boxing it for [`serve`]).
pub fn resolver<'a, F>(f: F) -> Resolve<'a>
where
    F: for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, Result<Key, ApiError>>
        + Send
        + 'a,
{
    Box::new(f)
}

fn meta(
    computed_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    from_cache: bool,
    window: (DateTime<Utc>, DateTime<Utc>),
    suppressed: bool,
    model_version: Option<String>,
    data_freshness: Option<DateTime<Utc>>,
) -> common::AnalyticsMeta {
    common::AnalyticsMeta {
        computed_at: Some(to_timestamp(computed_at)),
        expires_at: Some(to_timestamp(expires_at)),
        from_cache,
        window: Some(common::TimeWindow {
            start: Some(to_timestamp(window.0)),
            end: Some(to_timestamp(window.1)),
        }),
        any_group_suppressed: suppressed,
        model_version: model_version.unwrap_or_default(),
        data_freshness: data_freshness.map(to_timestamp),
    }
}

fn opted_out<T>() -> Served<T> {
    let now = Utc::now();
    Served {
        answer: None,
        meta: meta(
            now,
            now,
            false,
            (now, now),
            false,
            Some(crate::domain::analytics::predictive::MODEL_VERSION.into()),
            None,
        ),
    }
}

impl Key {
    fn entry(&self) -> db::EntryKey<'_> {
        db::EntryKey {
            kind: self.kind.as_str(),
            subject_type: self.subject.type_str(),
            subject_id: self.subject.id(),
            params: &self.params,
        }
    }
}

/// The unexpired cached answer of `key`. One that no longer parses (an
/// answer stored by an older version) is a miss, and is replaced.
async fn lookup<T: DeserializeOwned>(
    conn: &mut AsyncPgConnection,
    key: &Key,
) -> Result<Option<Served<T>>, ApiError> {
    let Some(row) = db::unexpired(conn, key.entry()).await? else {
        return Ok(None);
    };
    let Ok(stored) = serde_json::from_value::<Stored<T>>(row.result) else {
        return Ok(None);
    };
    Ok(Some(Served {
        answer: Some(stored.answer),
        meta: meta(
            row.computed_at,
            row.expires_at,
            true,
            (stored.window_start, stored.window_end),
            stored.suppressed,
            row.model_version,
            stored.data_freshness,
        ),
    }))
}

async fn store<T: Serialize>(
    conn: &mut AsyncPgConnection,
    key: &Key,
    computed: Computed<T>,
) -> Result<Served<T>, ApiError> {
    // Microseconds, as PostgreSQL stores it: the computing call and the
    // cached ones report the same instant.
    let computed_at = Utc::now().trunc_subsecs(6);
    let ttl = chrono::Duration::from_std(key.kind.ttl())
        .map_err(|e| ApiError::Internal(format!("ttl: {e}")))?;
    let expires_at = computed_at + ttl;
    let stored = Stored {
        answer: computed.answer,
        window_start: computed.window.0,
        window_end: computed.window.1,
        suppressed: computed.suppressed,
        data_freshness: computed.data_freshness,
    };
    let result = serde_json::to_value(&stored)
        .map_err(|e| ApiError::Internal(format!("analytics answer to JSON: {e}")))?;
    db::put(
        conn,
        db::NewEntry {
            key: key.entry(),
            organization: key.org,
            audience: key.kind.audience().as_str(),
            person: key.subject.person(),
            result: &result,
            confidence: computed.confidence,
            model_version: computed.model_version,
            computed_at,
            expires_at,
        },
    )
    .await?;
    Ok(Served {
        answer: Some(stored.answer),
        meta: meta(
            computed_at,
            expires_at,
            false,
            (stored.window_start, stored.window_end),
            stored.suppressed,
            computed.model_version.map(String::from),
            stored.data_freshness,
        ),
    })
}

/// Deletes `key`'s kind for its person (an opted-out predictive kind).
async fn forget(conn: &mut AsyncPgConnection, key: &Key) -> Result<(), ApiError> {
    if let Some(person) = key.subject.person() {
        db::forget(conn, person, key.kind.as_str()).await?;
    }
    Ok(())
}
