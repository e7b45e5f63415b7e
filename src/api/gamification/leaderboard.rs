//! GetLeaderboard: a page of a board plus the caller's own rank.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::mapping;
use super::watch::{BoardHub, NAMED};
use crate::api::{ApiError, AppState, paging};
use crate::auth::{AuthContext, Principal, Role};
use crate::db::boards::{self, Names, Period, Reach};
use crate::db::schema::{courses, organizations};
use crate::domain::gamification::boards::{
    Standing, anonymous_name, board_order, page_ranks, percentile, view,
};
use crate::domain::gamification::periods::{local_midnight, month_start, week_start};
use crate::proto::gamification::v1 as pb;

/// Entries per page: default and maximum (SPEC).
pub const BOARD_PAGE: (u32, u32) = (10, 50);

/// What a board request asks for, checked.
#[derive(Debug, Clone, Copy)]
pub struct BoardRequest {
    pub period: pb::LeaderboardPeriod,
    pub scope: Scope,
    pub offset: i64,
    pub limit: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Organization(Uuid),
    Platform,
    Course(Uuid),
}

/// A computed board: entries, the caller's standing, the counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Board {
    pub entries: Vec<pb::LeaderboardEntry>,
    pub own: pb::OwnRank,
    pub ranked_users: u32,
    pub period_start: String,
    pub as_of: DateTime<Utc>,
    pub more: bool,
}

/// Checks period, scope and paging against the caller's role.
pub fn check(
    ctx: &AuthContext,
    period: i32,
    scope: i32,
    course_id: &str,
    organization_id: &str,
    page: Option<&crate::proto::common::v1::PageRequest>,
) -> Result<BoardRequest, ApiError> {
    let (caller_org, role) = match &ctx.principal {
        Principal::User { org_id, role, .. } => (*org_id, *role),
        Principal::Service { .. } => {
            return Err(ApiError::PermissionDenied(
                "boards are for people's tokens".into(),
            ));
        }
    };
    let period = match pb::LeaderboardPeriod::try_from(period) {
        Ok(pb::LeaderboardPeriod::Unspecified) => pb::LeaderboardPeriod::Week,
        Ok(p) => p,
        Err(_) => return Err(ApiError::invalid("period", "unknown period")),
    };
    let platform = role == Role::PlatformAdmin;
    let scope = match pb::LeaderboardScope::try_from(scope) {
        Ok(pb::LeaderboardScope::Unspecified | pb::LeaderboardScope::Organization) => {
            let org = if organization_id.is_empty() {
                caller_org
            } else {
                Uuid::parse_str(organization_id)
                    .map_err(|_| ApiError::invalid("organization_id", "must be a UUID"))?
            };
            if org != caller_org && !platform {
                return Err(ApiError::PermissionDenied(
                    "only platform admins may read another organization's board".into(),
                ));
            }
            Scope::Organization(org)
        }
        Ok(pb::LeaderboardScope::Platform) if platform => Scope::Platform,
        Ok(pb::LeaderboardScope::Platform) => {
            return Err(ApiError::PermissionDenied(
                "the platform board is for platform admins".into(),
            ));
        }
        Ok(pb::LeaderboardScope::Course) => {
            Scope::Course(Uuid::parse_str(course_id).map_err(|_| {
                ApiError::invalid("course_id", "is required for a course board (a UUID)")
            })?)
        }
        Err(_) => return Err(ApiError::invalid("scope", "unknown scope")),
    };
    let limit = paging::page_size(page, BOARD_PAGE.0, BOARD_PAGE.1)?;
    let offset = match paging::after_cursor(page, "board")? {
        None => 0,
        Some(n) => n.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::invalid("page.page_token", "not a token from a previous page")
        })?,
    };
    Ok(BoardRequest {
        period,
        scope,
        offset,
        limit,
    })
}

pub async fn get(
    state: &AppState,
    hub: &BoardHub,
    ctx: &AuthContext,
    req: pb::GetLeaderboardRequest,
) -> Result<pb::GetLeaderboardResponse, ApiError> {
    let checked = check(
        ctx,
        req.period,
        req.scope,
        &req.course_id,
        &req.organization_id,
        req.page.as_ref(),
    )?;
    let board = compute(state, hub, ctx, checked).await?;
    Ok(pb::GetLeaderboardResponse {
        entries: board.entries,
        own: Some(board.own),
        ranked_users: board.ranked_users,
        period_start_date: board.period_start,
        as_of: Some(mapping::timestamp(board.as_of)),
        page: Some(crate::proto::common::v1::PageResponse {
            next_page_token: if board.more {
                hex::encode(format!("board:{}", checked.offset + checked.limit))
            } else {
                String::new()
            },
            total_size: None,
        }),
    })
}

/// Computes one board for the caller: from the hub's snapshots when they
/// hold all it needs, else in one transaction (which renews them).
pub async fn compute(
    state: &AppState,
    hub: &BoardHub,
    ctx: &AuthContext,
    req: BoardRequest,
) -> Result<Board, ApiError> {
    let hub = hub.clone();
    let caller = crate::api::caller_user(&ctx.principal)
        .ok_or_else(|| ApiError::PermissionDenied("boards are for people's tokens".into()))?;
    let caller_org = ctx.org_id().unwrap_or_default();
    if let Some(board) = from_snapshots(&hub, caller, caller_org, req) {
        return Ok(board);
    }
    state
        .read_tx(ctx, move |conn| {
            Box::pin(async move { board(conn, &hub, caller, caller_org, req).await })
        })
        .await
}

/// The board's period in its organization's time zone: the period, its
/// zone, and its first day as text (empty for all-time).
async fn resolve(
    conn: &mut AsyncPgConnection,
    req: &BoardRequest,
    caller_org: Uuid,
    as_of: DateTime<Utc>,
) -> Result<(Period, chrono_tz::Tz, String), ApiError> {
    let zone_org = match req.scope {
        Scope::Organization(org) => org,
        Scope::Platform => caller_org,
        Scope::Course(course) => courses::table
            .find(course)
            .select(courses::organization_id)
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| ApiError::NotFound(format!("course {course}")))?,
    };
    let zone: String = organizations::table
        .find(zone_org)
        .select(organizations::time_zone)
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("organization {zone_org}")))?;
    let zone = crate::domain::zone::zone(&zone);
    let (period, start) = period_of(req.period, as_of, zone);
    Ok((period, zone, start))
}

/// The board period containing `as_of` in `zone`, and its first day as
/// text (empty for all-time).
fn period_of(
    kind: pb::LeaderboardPeriod,
    as_of: DateTime<Utc>,
    zone: chrono_tz::Tz,
) -> (Period, String) {
    let period = match kind {
        pb::LeaderboardPeriod::Month => Period::Month(month_start(as_of, zone)),
        pb::LeaderboardPeriod::AllTime => Period::AllTime,
        _ => Period::Week(week_start(as_of, zone)),
    };
    let start = match period {
        Period::Week(d) | Period::Month(d) => d.to_string(),
        Period::AllTime => String::new(),
    };
    (period, start)
}

/// A live board's reach and the organization whose time zone sets its
/// period; `None` for course boards.
fn live_reach(scope: Scope, caller_org: Uuid) -> Option<(Reach, Uuid)> {
    match scope {
        Scope::Organization(org) => Some((Reach::Organization(org), org)),
        Scope::Platform => Some((Reach::Platform, caller_org)),
        Scope::Course(_) => None,
    }
}

/// A live board answered from memory alone: the hub holds a snapshot of
/// the board as last read (with the zone its period was worked out in), no
/// older than the snapshot age or being renewed, and the caller is on it.
/// No transaction: the auth layer checks the token before the answer
/// leaves. `None` when anything is missing, or a new period has begun (the
/// transaction path reads the board and renews the snapshot).
fn from_snapshots(
    hub: &BoardHub,
    caller: Uuid,
    caller_org: Uuid,
    req: BoardRequest,
) -> Option<Board> {
    let (reach, zone_org) = live_reach(req.scope, caller_org)?;
    if req.offset + req.limit > NAMED as i64 {
        return None;
    }
    let (zone, period, ranked) = hub.remembered(reach, req.period, zone_org)?;
    let (now_period, period_start) = period_of(req.period, Utc::now(), zone);
    if now_period != period {
        return None;
    }
    // Someone not on the board (hidden, or without points yet) needs the
    // own row read.
    let me = ranked.standing_of(caller)?;
    let (standings, first_rank, count, own) = standings_of(&ranked.board, (me.points, true), req);
    Some(Board {
        entries: entries_from(
            &standings,
            &ranked.names,
            first_rank,
            req.offset,
            Some(caller),
        ),
        own,
        ranked_users: u32::try_from(count).unwrap_or(u32::MAX),
        period_start,
        as_of: ranked.as_of,
        more: (req.offset + standings.len() as i64) < count,
    })
}

/// The first instant a course board counts (None: all time).
fn course_from(period: Period, zone: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    match period {
        Period::Week(d) | Period::Month(d) => Some(local_midnight(d, zone)),
        Period::AllTime => None,
    }
}

async fn board(
    conn: &mut AsyncPgConnection,
    hub: &BoardHub,
    caller: Uuid,
    caller_org: Uuid,
    req: BoardRequest,
) -> Result<Board, ApiError> {
    let as_of = Utc::now();
    let (period, zone, period_start) = resolve(conn, &req, caller_org, as_of).await?;
    let ((standings, first_rank, ranked, own), as_of) = match req.scope {
        Scope::Course(course) => (
            course_standings(conn, course, course_from(period, zone), caller, req).await?,
            as_of,
        ),
        Scope::Organization(_) | Scope::Platform => {
            let (reach, zone_org) = live_reach(req.scope, caller_org)
                .ok_or_else(|| ApiError::Internal("a live board without a reach".into()))?;
            let how = (req.period, zone_org, zone);
            live_standings(conn, hub, reach, period, how, caller, req).await?
        }
    };
    let more = (req.offset + standings.len() as i64) < ranked;
    let entries = entries_of(conn, &standings, first_rank, req.offset, Some(caller)).await?;
    Ok(Board {
        entries,
        own,
        ranked_users: u32::try_from(ranked).unwrap_or(u32::MAX),
        period_start,
        as_of,
        more,
    })
}

/// Board entries of a page: rank, the name privacy allows, the id of
/// public people (and of the caller).
async fn entries_of(
    conn: &mut AsyncPgConnection,
    standings: &[Standing],
    first_rank: u32,
    offset: i64,
    caller: Option<Uuid>,
) -> Result<Vec<pb::LeaderboardEntry>, ApiError> {
    let ids: Vec<Uuid> = standings.iter().map(|s| s.user_id).collect();
    let names = boards::names(conn, &ids).await?;
    Ok(entries_from(standings, &names, first_rank, offset, caller))
}

/// [`entries_of`] with the names known: someone without a row in `names`
/// is shown anonymously.
fn entries_from(
    standings: &[Standing],
    names: &Names,
    first_rank: u32,
    offset: i64,
    caller: Option<Uuid>,
) -> Vec<pb::LeaderboardEntry> {
    let points: Vec<i64> = standings.iter().map(|s| s.points).collect();
    let ranks = page_ranks(&points, first_rank, offset as u32);
    standings
        .iter()
        .zip(ranks)
        .map(|(s, rank)| {
            let (privacy, name) = names
                .get(&s.user_id)
                .cloned()
                .unwrap_or(("anonymous".into(), None));
            let is_caller = Some(s.user_id) == caller;
            let public = privacy == "public";
            pb::LeaderboardEntry {
                rank,
                display_name: match (public, name) {
                    (true, Some(name)) => name,
                    _ => anonymous_name(s.user_id),
                },
                user_id: if public || is_caller {
                    s.user_id.to_string()
                } else {
                    String::new()
                },
                points: s.points.max(0) as u64,
                is_caller,
            }
        })
        .collect()
}

/// One computation of a board for all its watchers: the top entries (no
/// caller marked), every ranked person's points (highest first) and the
/// watchers' own points and board presence.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub entries: Vec<pb::LeaderboardEntry>,
    /// The person of each entry (entries show ids of public people only).
    pub ids: Vec<Uuid>,
    pub points: Vec<i64>,
    pub own: std::collections::HashMap<Uuid, (i64, bool)>,
    /// The watchers whose own standing was read.
    pub watchers: Vec<Uuid>,
    pub as_of: DateTime<Utc>,
}

pub async fn snapshot(
    conn: &mut AsyncPgConnection,
    caller_org: Uuid,
    req: BoardRequest,
    watchers: &[Uuid],
) -> Result<Snapshot, ApiError> {
    let as_of = Utc::now();
    let (period, zone, _) = resolve(conn, &req, caller_org, as_of).await?;
    let (top, points, own) = match req.scope {
        Scope::Course(course) => {
            let rows = boards::course_board(conn, course, course_from(period, zone)).await?;
            let mut ranked: Vec<Standing> =
                rows.iter().filter(|(_, on)| *on).map(|(s, _)| *s).collect();
            ranked.sort_by(board_order);
            let own = rows
                .iter()
                .filter(|(s, _)| watchers.contains(&s.user_id))
                .map(|(s, on)| (s.user_id, (s.points, *on)))
                .collect();
            let points = ranked.iter().map(|s| s.points).collect();
            ranked.truncate(req.limit as usize);
            (ranked, points, own)
        }
        Scope::Organization(_) | Scope::Platform => {
            let reach = match req.scope {
                Scope::Organization(org) => Reach::Organization(org),
                _ => Reach::Platform,
            };
            let top = boards::page(conn, reach, period, 0, req.limit).await?;
            let points = boards::all_points(conn, reach, period).await?;
            let own = boards::own_rows(conn, watchers)
                .await?
                .into_iter()
                .map(|(u, r)| (u, (r.points(period), r.on_board)))
                .collect();
            (top, points, own)
        }
    };
    let entries = entries_of(conn, &top, 1, 0, None).await?;
    Ok(Snapshot {
        entries,
        ids: top.iter().map(|s| s.user_id).collect(),
        watchers: watchers.to_vec(),
        points,
        own,
        as_of,
    })
}

impl Snapshot {
    /// What one watcher sees: their entry marked and their own rank.
    pub fn view(&self, caller: Uuid) -> pb::WatchLeaderboardResponse {
        let (points, on_board) = self.own.get(&caller).copied().unwrap_or((0, false));
        let entries = self
            .entries
            .iter()
            .zip(&self.ids)
            .map(|(e, id)| {
                let mut e = e.clone();
                if *id == caller {
                    e.is_caller = true;
                    e.user_id = caller.to_string();
                }
                e
            })
            .collect();
        let own = if points <= 0 {
            pb::OwnRank {
                rank: 0,
                percentile: 0.0,
                points: 0,
                hidden: !on_board,
            }
        } else {
            // `points` is highest first.
            let above = self.points.partition_point(|p| *p > points);
            let not_below = self.points.partition_point(|p| *p >= points);
            let below = self.points.len() - not_below;
            let including = self.points.len() + usize::from(!on_board);
            pb::OwnRank {
                rank: 1 + above as u32,
                percentile: percentile(below as u64, including as u64),
                points: points as u64,
                hidden: !on_board,
            }
        };
        pb::WatchLeaderboardResponse {
            entries,
            own: Some(own),
            ranked_users: u32::try_from(self.points.len()).unwrap_or(u32::MAX),
            as_of: Some(mapping::timestamp(self.as_of)),
        }
    }
}

type Standings = (Vec<Standing>, u32, i64, pb::OwnRank);

/// A live board: the page, the rank of its first entry, how many are
/// ranked, and the caller's own standing. The ranked list comes from the
/// hub's short-lived snapshot (one read per board and refresh period, so a
/// rank is a binary search, not a count over the board); the caller's own
/// row is read live for people the snapshot does not hold (hidden, or new).
async fn live_standings(
    conn: &mut AsyncPgConnection,
    hub: &BoardHub,
    reach: Reach,
    period: Period,
    how: (pb::LeaderboardPeriod, Uuid, chrono_tz::Tz),
    caller: Uuid,
    req: BoardRequest,
) -> Result<(Standings, DateTime<Utc>), ApiError> {
    let ranked = hub.ranked(conn, reach, period, how).await?;
    let own = match ranked.standing_of(caller) {
        Some(me) => (me.points, true),
        None => {
            let mine = boards::own_row(conn, caller).await?;
            (
                mine.map_or(0, |r| r.points(period)),
                mine.is_some_and(|r| r.on_board),
            )
        }
    };
    Ok((standings_of(&ranked.board, own, req), ranked.as_of))
}

/// A course board, ranked in memory (a course's learners are few).
async fn course_standings(
    conn: &mut AsyncPgConnection,
    course: Uuid,
    from: Option<DateTime<Utc>>,
    caller: Uuid,
    req: BoardRequest,
) -> Result<Standings, ApiError> {
    let rows = boards::course_board(conn, course, from).await?;
    let mut ranked: Vec<Standing> = rows.iter().filter(|(_, on)| *on).map(|(s, _)| *s).collect();
    ranked.sort_by(board_order);
    let own = rows
        .iter()
        .find(|(s, _)| s.user_id == caller)
        .map_or((0, false), |(s, on)| (s.points, *on));
    Ok(standings_of(&ranked, own, req))
}

fn standings_of(ranked: &[Standing], own: (i64, bool), req: BoardRequest) -> Standings {
    let v = view(ranked, own, req.offset as usize, req.limit as usize);
    let own = pb::OwnRank {
        rank: v.own_rank,
        percentile: v.own_percentile,
        points: own.0.max(0) as u64,
        hidden: !own.1,
    };
    (v.page, v.first_rank, v.ranked as i64, own)
}
