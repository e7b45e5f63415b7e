//! RecomputeGamification: rebuilds points, levels, streaks, freezes and
//! achievements from the ledger and the derived tables, for one person, an
//! organization or everyone, optionally as a dry run that only reports.

use std::collections::HashMap;

use uuid::Uuid;

use crate::api::{ApiError, AppState, enforce};
use crate::auth::{AuthContext, Principal, Role};
use crate::db::gamification;
use crate::db::models::user::User;
use crate::db::models::user_points::PointsRow;
use crate::domain::access;
use crate::domain::gamification::engine::Plan;
use crate::proto::gamification::v1 as pb;
use crate::proto::gamification::v1::recompute_gamification_request::Target;

/// People per transaction: bounds how long one holds their locks.
const CHUNK: usize = 200;

pub async fn run(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::RecomputeGamificationRequest,
) -> Result<pb::RecomputeGamificationResponse, ApiError> {
    let dry_run = req.dry_run;
    let people = people(state, ctx, req.target).await?;
    let mut differences = Vec::new();
    for chunk in people.chunks(CHUNK) {
        let ids = chunk.to_vec();
        let found = state
            .tx(ctx, move |conn| {
                Box::pin(async move {
                    let plan = gamification::recompute(conn, &ids, dry_run).await?;
                    Ok(differences_of(&plan))
                })
            })
            .await?;
        differences.extend(found);
    }
    Ok(pb::RecomputeGamificationResponse {
        users_checked: u32::try_from(people.len()).unwrap_or(u32::MAX),
        differences,
        dry_run,
    })
}

/// The people a target names, after the role check.
async fn people(
    state: &AppState,
    ctx: &AuthContext,
    target: Option<Target>,
) -> Result<Vec<Uuid>, ApiError> {
    let platform = matches!(
        ctx.principal,
        Principal::User {
            role: Role::PlatformAdmin,
            ..
        }
    );
    let filter: Option<Uuid> = match target {
        None => {
            return Err(ApiError::invalid(
                "target",
                "set user_id, organization_id or all",
            ));
        }
        Some(Target::UserId(id)) => {
            let id =
                Uuid::parse_str(&id).map_err(|_| ApiError::invalid("user_id", "must be a UUID"))?;
            enforce(access::read_person(&ctx.principal, id))?;
            return Ok(vec![id]);
        }
        Some(Target::OrganizationId(org)) => {
            let org = Uuid::parse_str(&org)
                .map_err(|_| ApiError::invalid("organization_id", "must be a UUID"))?;
            enforce(access::administer_org(&ctx.principal, org))?;
            Some(org)
        }
        Some(Target::All(true)) if platform => None,
        Some(Target::All(true)) => {
            return Err(ApiError::PermissionDenied(
                "recomputing everyone is for platform admins".into(),
            ));
        }
        Some(Target::All(false)) => return Err(ApiError::invalid("all", "must be true when set")),
    };
    state
        .tx(ctx, move |conn| {
            Box::pin(async move { Ok(User::ids(conn, filter).await?) })
        })
        .await
}

/// The people whose stored state the plan changes, with each change.
pub fn differences_of(plan: &Plan) -> Vec<pb::RecomputeDifference> {
    let mut earned: HashMap<Uuid, Vec<&str>> = HashMap::new();
    for (user, id) in plan.earned() {
        earned.entry(user).or_default().push(id);
    }
    let ledger = plan.ledger_rows_changed();
    let freezes = plan.freeze_changes_by_person();
    plan.after
        .iter()
        .filter_map(|(user, after)| {
            let before = plan.before.get(user)?;
            let mut changes = changed_fields(before, after);
            if let Some(n) = ledger.get(user).filter(|n| **n > 0) {
                changes.insert("ledger_rows".into(), format!("{n} rows to write"));
            }
            if let Some(n) = freezes.get(user) {
                changes.insert("freeze_history".into(), format!("{n} facts to write"));
            }
            if let Some(ids) = earned.get(user) {
                changes.insert(
                    "achievements".into(),
                    format!("to award: {}", ids.join(", ")),
                );
            }
            (!changes.is_empty()).then(|| pb::RecomputeDifference {
                user_id: user.to_string(),
                changes,
            })
        })
        .collect()
}

/// The stored fields a recompute would change, as "stored -> recomputed"
/// (period columns are derived from the ledger, compared through it).
fn changed_fields(before: &PointsRow, after: &PointsRow) -> HashMap<String, String> {
    macro_rules! compare {
        ($($field:ident),* $(,)?) => {
            [$((stringify!($field), format!("{:?}", before.$field), format!("{:?}", after.$field))),*]
        };
    }
    let pairs = compare!(
        total_points,
        capped_points,
        level,
        current_streak,
        longest_streak,
        last_active_date,
        freezes_held,
        courses_completed,
        lessons_completed,
        skills_acquired,
        domains_mastered,
        total_reached_at,
        peers_helped,
    );
    pairs
        .into_iter()
        .filter(|(_, b, a)| b != a)
        .map(|(name, b, a)| (name.to_string(), format!("{b} -> {a}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_fields_are_reported() {
        let row = PointsRow {
            total_points: 10,
            ..PointsRow::empty(Uuid::nil(), Uuid::nil())
        };
        let mut after = row.clone();
        after.total_points = 110;
        after.level = 2;
        after.week_points = 5;
        let changes = changed_fields(&row, &after);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(changes["total_points"], "10 -> 110");
        assert_eq!(changes["level"], "1 -> 2");
    }
}
