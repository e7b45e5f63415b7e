//! `user_preferences`: a missing row means the defaults.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{analytics_cache, user_preferences};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = user_preferences)]
pub struct Preferences {
    pub user_id: Uuid,
    pub organization_id: Uuid,
    pub leaderboard_privacy: String,
    pub drop_off_risk_opt_out: bool,
    pub forecasting_opt_out: bool,
    pub recommendations_opt_out: bool,
    pub notification_preferences: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}

impl Preferences {
    /// The defaults of a user without a stored row.
    pub fn defaults(user_id: Uuid, organization_id: Uuid) -> Self {
        Self {
            user_id,
            organization_id,
            leaderboard_privacy: "public".into(),
            drop_off_risk_opt_out: false,
            forecasting_opt_out: false,
            recommendations_opt_out: false,
            notification_preferences: serde_json::json!({}),
            updated_at: Utc::now(),
        }
    }

    pub async fn find(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<Self>> {
        user_preferences::table
            .find(user_id)
            .select(Self::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The predictive analytics kinds this person opted out of.
    pub fn opted_out_kinds(&self) -> Vec<&'static str> {
        [
            (self.drop_off_risk_opt_out, "drop_off_risk"),
            (self.forecasting_opt_out, "outcome_forecast"),
            (self.recommendations_opt_out, "recommendations"),
        ]
        .into_iter()
        .filter_map(|(out, kind)| out.then_some(kind))
        .collect()
    }

    /// Inserts or replaces the row. The cached answers of every predictive
    /// kind opted out of are deleted in the same transaction (SPEC: an
    /// opted-out kind's cached rows are deleted).
    pub async fn save(&self, conn: &mut AsyncPgConnection) -> QueryResult<Self> {
        let saved = self.upsert(conn).await?;
        let kinds = saved.opted_out_kinds();
        if !kinds.is_empty() {
            diesel::delete(
                analytics_cache::table
                    .filter(analytics_cache::user_id.eq(saved.user_id))
                    .filter(analytics_cache::kind.eq_any(kinds)),
            )
            .execute(conn)
            .await?;
        }
        Ok(saved)
    }

    async fn upsert(&self, conn: &mut AsyncPgConnection) -> QueryResult<Self> {
        use user_preferences::*;
        diesel::insert_into(table)
            .values(self)
            .on_conflict(user_id)
            .do_update()
            .set((
                leaderboard_privacy.eq(excluded(leaderboard_privacy)),
                drop_off_risk_opt_out.eq(excluded(drop_off_risk_opt_out)),
                forecasting_opt_out.eq(excluded(forecasting_opt_out)),
                recommendations_opt_out.eq(excluded(recommendations_opt_out)),
                notification_preferences.eq(excluded(notification_preferences)),
                updated_at.eq(diesel::dsl::now),
            ))
            .returning(Self::as_returning())
            .get_result(conn)
            .await
    }
}
