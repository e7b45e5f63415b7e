//! GetProfile, ListLedger, ListAchievements and CreateAchievement.

use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::mapping;
use crate::api::{ApiError, AppState, caller_user, enforce, paging, uuid_or};
use crate::auth::{AuthContext, Principal, Role};
use crate::db::models::achievement::{Achievement, Earned, earned_by};
use crate::db::models::point_transaction::ledger_page;
use crate::db::models::user::User;
use crate::db::models::user_points::{PointsRow, points_of};
use crate::domain::access;
use crate::domain::gamification::achievements::{Criterion, MAX_CRITERIA_BYTES};
use crate::domain::gamification::levels::level_info;
use crate::domain::gamification::standing::counters_of;
use crate::domain::gamification::streaks::MILESTONES;
use crate::proto::gamification::v1 as pb;

/// Ledger entries per page: default and maximum.
const LEDGER_PAGE: (u32, u32) = (50, 200);

/// The person a read is about (empty: the caller), checked against the
/// caller's role.
fn target(ctx: &AuthContext, user_id: &str) -> Result<Uuid, ApiError> {
    let target = uuid_or("user_id", user_id, caller_user(&ctx.principal))?;
    enforce(access::read_person(&ctx.principal, target))?;
    Ok(target)
}

pub async fn get_profile(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::GetProfileRequest,
) -> Result<pb::GetProfileResponse, ApiError> {
    let user = target(ctx, &req.user_id)?;
    state
        .read_tx(ctx, move |conn| {
            Box::pin(async move {
                let (org, zone) = person(conn, user).await?;
                let row = points_of(conn, user).await?;
                let defs = Achievement::visible(conn, org, true).await?;
                let earned = earned_by(conn, user).await?;
                let today = Utc::now().with_timezone(&zone).date_naive();
                Ok(profile(user, row, &defs, &earned, today))
            })
        })
        .await
}

/// The person's organization and time zone; NOT_FOUND when the caller
/// cannot see them (row-level security) or they do not exist.
async fn person(
    conn: &mut AsyncPgConnection,
    user: Uuid,
) -> Result<(Uuid, chrono_tz::Tz), ApiError> {
    let (org, zone) = User::home(conn, user)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user {user}")))?;
    Ok((org, crate::domain::zone::zone(&zone)))
}

fn profile(
    user: Uuid,
    row: Option<PointsRow>,
    defs: &[Achievement],
    earned: &[Earned],
    today: NaiveDate,
) -> pb::GetProfileResponse {
    let total = row.as_ref().map_or(0, |r| r.total_points.max(0) as u64);
    let level = level_info(total);
    let counters = row.as_ref().map(counters_of).unwrap_or_default();
    let longest = row.as_ref().map_or(0, |r| r.longest_streak.max(0) as u32);
    let last_active = row.as_ref().and_then(|r| r.last_active_date);
    // The stored run is the streak ending on the last active day: current
    // only while that day is today or yesterday.
    let current = match (row.as_ref(), last_active) {
        (Some(r), Some(last)) if last >= today.pred_opt().unwrap_or(today) => {
            r.current_streak.max(0) as u32
        }
        _ => 0,
    };
    let achievements = defs
        .iter()
        .filter_map(|def| {
            let criterion = Criterion::parse(&def.criteria).ok()?;
            let (current, target) = criterion.progress(&counters);
            let when = earned
                .iter()
                .find(|e| e.achievement_id == def.id)
                .map(|e| e.earned_at);
            Some(pb::AchievementProgress {
                achievement: Some(mapping::achievement(def)),
                earned: when.is_some(),
                earned_at: when.map(mapping::timestamp),
                current: if when.is_some() { target } else { current },
                target,
            })
        })
        .collect();
    pb::GetProfileResponse {
        user_id: user.to_string(),
        total_points: total,
        capped_points: row.as_ref().map_or(0, |r| r.capped_points.max(0) as u64),
        level: Some(pb::Level {
            level: level.level,
            level_start_points: level.start,
            next_level_points: level.next,
            points_to_next_level: level.to_next,
            progress_percent: level.progress_percent,
        }),
        streak: Some(pb::Streak {
            current_days: current,
            longest_days: longest,
            last_active_date: last_active.map(|d| d.to_string()).unwrap_or_default(),
            freezes_held: row.as_ref().map_or(0, |r| r.freezes_held.max(0) as u32),
            next_milestone_days: MILESTONES.into_iter().find(|m| *m > longest).unwrap_or(0),
        }),
        achievements,
    }
}

pub async fn list_ledger(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::ListLedgerRequest,
) -> Result<pb::ListLedgerResponse, ApiError> {
    let user = target(ctx, &req.user_id)?;
    let size = paging::page_size(req.page.as_ref(), LEDGER_PAGE.0, LEDGER_PAGE.1)?;
    let after = paging::after_cursor(req.page.as_ref(), "ledger")?
        .map(|c| ledger_cursor(&c))
        .transpose()?;
    let rows = state
        .read_tx(ctx, move |conn| {
            Box::pin(async move {
                person(conn, user).await?;
                Ok(ledger_page(conn, user, size, after).await?)
            })
        })
        .await?;
    let next = rows.last().map(|r| {
        format!(
            "{}|{}",
            r.occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            r.id
        )
    });
    Ok(pb::ListLedgerResponse {
        page: Some(crate::proto::common::v1::PageResponse {
            next_page_token: paging::cursor_token("ledger", next, rows.len(), size),
            total_size: None,
        }),
        entries: rows
            .into_iter()
            .map(|r| pb::LedgerEntry {
                rule_id: r.rule_id,
                rule_version: r.rule_version.max(0) as u32,
                source_key: r.source_key,
                points_awarded: r.points_awarded.max(0) as u32,
                points_capped: r.points_capped.max(0) as u32,
                occurred_at: Some(mapping::timestamp(r.occurred_at)),
                local_date: r.local_date.to_string(),
            })
            .collect(),
    })
}

fn ledger_cursor(cursor: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    let bad = || ApiError::invalid("page.page_token", "not a token from a previous page");
    let (at, id) = cursor.split_once('|').ok_or_else(bad)?;
    let at = DateTime::parse_from_rfc3339(at).map_err(|_| bad())?;
    Ok((
        at.with_timezone(&Utc),
        Uuid::parse_str(id).map_err(|_| bad())?,
    ))
}

pub async fn list_achievements(
    state: &AppState,
    ctx: &AuthContext,
) -> Result<pb::ListAchievementsResponse, ApiError> {
    let org = ctx
        .org_id()
        .ok_or_else(|| ApiError::PermissionDenied("a person's token is needed".into()))?;
    let defs = state
        .read_tx(ctx, move |conn| {
            Box::pin(async move { Ok(Achievement::visible(conn, org, false).await?) })
        })
        .await?;
    Ok(pb::ListAchievementsResponse {
        achievements: defs.iter().map(mapping::achievement).collect(),
    })
}

/// CreateAchievement: an org admin adds one for the organization (id
/// `<org>:<slug>`); a platform admin adds a platform-wide one (id `<slug>`).
pub async fn create_achievement(
    state: &AppState,
    ctx: &AuthContext,
    req: pb::CreateAchievementRequest,
) -> Result<pb::CreateAchievementResponse, ApiError> {
    let org = match &ctx.principal {
        Principal::User {
            role: Role::PlatformAdmin,
            ..
        } => None,
        Principal::User {
            role: Role::OrgAdmin,
            org_id,
            ..
        } => Some(*org_id),
        _ => {
            return Err(ApiError::PermissionDenied(
                "only admins add achievements".into(),
            ));
        }
    };
    let mut bad = Vec::new();
    let slug_max = if org.is_some() { 27 } else { 64 };
    let slug_ok = (1..=slug_max).contains(&req.id.len())
        && req
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !slug_ok {
        bad.push(crate::domain::FieldViolation::new(
            "id",
            format!("1-{slug_max} lower-case letters, digits or underscores"),
        ));
    }
    let mut text = |field: &str, value: &str, min: usize, max: usize| {
        if let Err(why) = crate::domain::fields::text(value, min, max) {
            bad.push(crate::domain::FieldViolation::new(field, why));
        }
    };
    text("name", &req.name, 1, 100);
    text("description", &req.description, 0, 500);
    text("icon", &req.icon, 0, 32);
    let tier = mapping::tier_name(req.tier);
    if tier.is_none() {
        bad.push(crate::domain::FieldViolation::new(
            "tier",
            "is required: beginner, intermediate, advanced or elite",
        ));
    }
    if req.criteria_json.len() > MAX_CRITERIA_BYTES {
        bad.push(crate::domain::FieldViolation::new(
            "criteria_json",
            format!("at most {MAX_CRITERIA_BYTES} bytes"),
        ));
    }
    let criteria = match Criterion::parse_text(&req.criteria_json) {
        Ok(_) => serde_json::from_str::<serde_json::Value>(&req.criteria_json).ok(),
        Err(why) => {
            bad.push(crate::domain::FieldViolation::new("criteria_json", why));
            None
        }
    };
    let (Some(tier), Some(criteria), true) = (tier, criteria, bad.is_empty()) else {
        return Err(ApiError::InvalidArgument(bad));
    };
    let id = match org {
        Some(org) => format!("{org}:{}", req.id),
        None => req.id.clone(),
    };
    let icon = (!req.icon.is_empty()).then(|| req.icon.clone());
    let row = Achievement {
        id,
        organization_id: org,
        name: req.name,
        description: req.description,
        icon,
        tier: tier.to_string(),
        criteria,
    };
    let stored = row.clone();
    state
        .tx(ctx, move |conn| {
            Box::pin(async move {
                if !stored.insert(conn).await? {
                    return Err(ApiError::AlreadyExists(format!(
                        "achievement {:?} already exists",
                        stored.id
                    )));
                }
                Ok(())
            })
        })
        .await?;
    Ok(pb::CreateAchievementResponse {
        achievement: Some(mapping::achievement(&row)),
    })
}
