//! GetLeaderboard: a page of a board plus the caller's own rank.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::board::{
    self, BoardRequest, Scope, Standings, course_from, entries_from, entries_of, live_reach,
    period_of, standings_of,
};
use super::mapping;
use super::snapshots::{BoardSnapshots, How, NAMED};
use crate::api::{ApiError, AppState};
use crate::auth::AuthContext;
use crate::db::boards::{Period, Reach};
use crate::proto::gamification::v1 as pb;

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

pub async fn get(
    state: &AppState,
    snapshots: &BoardSnapshots,
    ctx: &AuthContext,
    req: pb::GetLeaderboardRequest,
) -> Result<pb::GetLeaderboardResponse, ApiError> {
    let checked = board::check(
        ctx,
        req.period,
        req.scope,
        &req.course_id,
        &req.organization_id,
        req.page.as_ref(),
    )?;
    let board = compute(state, snapshots, ctx, checked).await?;
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

/// Computes one board for the caller: from the board's snapshot when it
/// holds all it needs, else in one transaction (which renews it).
pub async fn compute(
    state: &AppState,
    snapshots: &BoardSnapshots,
    ctx: &AuthContext,
    req: BoardRequest,
) -> Result<Board, ApiError> {
    let snapshots = snapshots.clone();
    let caller = crate::api::caller_user(&ctx.principal)
        .ok_or_else(|| ApiError::PermissionDenied("boards are for people's tokens".into()))?;
    let caller_org = ctx.org_id().unwrap_or_default();
    if let Some(board) = from_snapshot(&snapshots, caller, caller_org, req) {
        return Ok(board);
    }
    state
        .read_tx(ctx, move |conn| {
            Box::pin(async move { read(conn, &snapshots, caller, caller_org, req).await })
        })
        .await
}

/// A live board answered from memory alone: a snapshot of the board as last
/// read is held (with the zone its period was worked out in), no older than
/// the snapshot age or being renewed, and the caller is on it. No
/// transaction: the auth layer checks the token before the answer leaves.
/// `None` when anything is missing, or a new period has begun (the
/// transaction path reads the board and renews the snapshot).
fn from_snapshot(
    snapshots: &BoardSnapshots,
    caller: Uuid,
    caller_org: Uuid,
    req: BoardRequest,
) -> Option<Board> {
    let (reach, zone_org) = live_reach(req.scope, caller_org)?;
    if req.offset + req.limit > NAMED as i64 {
        return None;
    }
    let (zone, period, ranked) = snapshots.remembered(reach, req.period, zone_org)?;
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

/// The board through the transaction.
async fn read(
    conn: &mut AsyncPgConnection,
    snapshots: &BoardSnapshots,
    caller: Uuid,
    caller_org: Uuid,
    req: BoardRequest,
) -> Result<Board, ApiError> {
    let as_of = Utc::now();
    let (period, zone, period_start) = board::resolve(conn, &req, caller_org, as_of).await?;
    let ((standings, first_rank, ranked, own), as_of) = match req.scope {
        Scope::Course(course) => {
            let from = course_from(period, zone);
            let (ranked, own) = board::course_board(conn, course, from, &[caller]).await?;
            let own = own.get(&caller).copied().unwrap_or((0, false));
            (standings_of(&ranked, own, req), as_of)
        }
        Scope::Organization(_) | Scope::Platform => {
            let (reach, zone_org) = live_reach(req.scope, caller_org)
                .ok_or_else(|| ApiError::Internal("a live board without a reach".into()))?;
            let how = (req.period, zone_org, zone);
            live_standings(conn, snapshots, reach, period, how, caller, req).await?
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

/// A live board: the page, the rank of its first entry, how many are
/// ranked, and the caller's own standing. The ranked list comes from the
/// board's short-lived snapshot (one read per board and refresh period, so
/// a rank is a binary search, not a count over the board); the caller's own
/// row is read live for people the snapshot does not hold (hidden, or new).
async fn live_standings(
    conn: &mut AsyncPgConnection,
    snapshots: &BoardSnapshots,
    reach: Reach,
    period: Period,
    how: How,
    caller: Uuid,
    req: BoardRequest,
) -> Result<(Standings, DateTime<Utc>), ApiError> {
    let ranked = snapshots.ranked(conn, reach, period, how).await?;
    let own = board::live_own(conn, &ranked, period, &[caller]).await?;
    let own = own.get(&caller).copied().unwrap_or((0, false));
    Ok((standings_of(&ranked.board, own, req), ranked.as_of))
}
