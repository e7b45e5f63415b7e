//! Achievement definitions (platform-wide or an organization's) and who
//! earned which.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{achievements, user_achievements};

/// An achievement definition as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = achievements, check_for_backend(diesel::pg::Pg))]
pub struct Achievement {
    pub id: String,
    pub organization_id: Option<Uuid>,
    pub name: String,
    pub description: String,
    pub icon: Option<String>,
    pub tier: String,
    pub criteria: serde_json::Value,
}

impl Achievement {
    /// The definitions the organization's people can earn (its own and
    /// platform ones, platform ones last); with `inactive_too`, also
    /// inactive ones (people keep what they earned).
    pub async fn visible(
        conn: &mut AsyncPgConnection,
        org: Uuid,
        inactive_too: bool,
    ) -> QueryResult<Vec<Self>> {
        let query = achievements::table
            .filter(
                achievements::organization_id
                    .is_null()
                    .or(achievements::organization_id.eq(org)),
            )
            .select(Self::as_select())
            .order((
                achievements::organization_id.desc(),
                achievements::created_at,
                achievements::id,
            ))
            .into_boxed();
        let query = if inactive_too {
            query
        } else {
            query.filter(achievements::active)
        };
        query.load(conn).await
    }

    /// Inserts the definition; false when its id is taken.
    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<bool> {
        let inserted = diesel::insert_into(achievements::table)
            .values(self)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        Ok(inserted > 0)
    }
}

/// An achievement a person earned, and when.
#[derive(Debug, Clone, Queryable)]
pub struct Earned {
    pub achievement_id: String,
    pub earned_at: DateTime<Utc>,
}

pub async fn earned_by(conn: &mut AsyncPgConnection, user: Uuid) -> QueryResult<Vec<Earned>> {
    user_achievements::table
        .filter(user_achievements::user_id.eq(user))
        .select((
            user_achievements::achievement_id,
            user_achievements::earned_at,
        ))
        .load(conn)
        .await
}
