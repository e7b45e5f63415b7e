//! A board request, checked, and what GetLeaderboard and WatchLeaderboard
//! both work out for it: its period in its organization's time zone, the
//! standing of the people asked about, and its entries as privacy shows
//! them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::snapshots::Ranked;
use crate::api::{ApiError, enforce, paging};
use crate::auth::AuthContext;
use crate::db::boards::{self, Names, Period, Reach};
use crate::db::models::course::CourseOwner;
use crate::db::models::organization::Organization;
use crate::domain::access;
use crate::domain::gamification::boards::{
    Standing, course_ranking, own_rank, page_ranks, shown, view,
};
use crate::domain::gamification::periods::{local_midnight, month_start, week_start};
use crate::proto::gamification::v1 as pb;

pub use crate::domain::gamification::boards::{BOARD_PAGE, Scope};

/// What a board request asks for, checked.
#[derive(Debug, Clone, Copy)]
pub struct BoardRequest {
    pub period: pb::LeaderboardPeriod,
    pub scope: Scope,
    pub offset: i64,
    pub limit: i64,
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
    enforce(access::read_boards(&ctx.principal))?;
    let caller_org = ctx.org_id().unwrap_or_default();
    let period = match pb::LeaderboardPeriod::try_from(period) {
        Ok(pb::LeaderboardPeriod::Unspecified) => pb::LeaderboardPeriod::Week,
        Ok(p) => p,
        Err(_) => return Err(ApiError::invalid("period", "unknown period")),
    };
    let scope = match pb::LeaderboardScope::try_from(scope) {
        Ok(pb::LeaderboardScope::Unspecified | pb::LeaderboardScope::Organization) => {
            Scope::Organization(if organization_id.is_empty() {
                caller_org
            } else {
                Uuid::parse_str(organization_id)
                    .map_err(|_| ApiError::invalid("organization_id", "must be a UUID"))?
            })
        }
        Ok(pb::LeaderboardScope::Platform) => Scope::Platform,
        Ok(pb::LeaderboardScope::Course) => {
            Scope::Course(Uuid::parse_str(course_id).map_err(|_| {
                ApiError::invalid("course_id", "is required for a course board (a UUID)")
            })?)
        }
        Err(_) => return Err(ApiError::invalid("scope", "unknown scope")),
    };
    enforce(access::read_board(&ctx.principal, scope))?;
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

/// The board's period in its organization's time zone: the period, its
/// zone, and its first day as text (empty for all-time).
pub async fn resolve(
    conn: &mut AsyncPgConnection,
    req: &BoardRequest,
    caller_org: Uuid,
    as_of: DateTime<Utc>,
) -> Result<(Period, chrono_tz::Tz, String), ApiError> {
    let zone_org = match req.scope {
        Scope::Organization(org) => org,
        Scope::Platform => caller_org,
        Scope::Course(course) => CourseOwner::of(conn, course)
            .await?
            .map(|owner| owner.organization)
            .ok_or_else(|| ApiError::NotFound(format!("course {course}")))?,
    };
    let zone = Organization::time_zone(conn, zone_org)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("organization {zone_org}")))?;
    let zone = crate::domain::zone::zone(&zone);
    let (period, start) = period_of(req.period, as_of, zone);
    Ok((period, zone, start))
}

/// The board period containing `as_of` in `zone`, and its first day as
/// text (empty for all-time).
pub fn period_of(
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
pub fn live_reach(scope: Scope, caller_org: Uuid) -> Option<(Reach, Uuid)> {
    match scope {
        Scope::Organization(org) => Some((Reach::Organization(org), org)),
        Scope::Platform => Some((Reach::Platform, caller_org)),
        Scope::Course(_) => None,
    }
}

/// The first instant a course board counts (None: all time).
pub fn course_from(period: Period, zone: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    match period {
        Period::Week(d) | Period::Month(d) => Some(local_midnight(d, zone)),
        Period::AllTime => None,
    }
}

/// People's standing on a board: points, and whether they are on it.
pub type Own = HashMap<Uuid, (i64, bool)>;

/// A course board: its ranked people in board order (ranked in memory, a
/// course's learners are few), and the standing of those of `people` with
/// points from the course.
pub async fn course_board(
    conn: &mut AsyncPgConnection,
    course: Uuid,
    from: Option<DateTime<Utc>>,
    people: &[Uuid],
) -> Result<(Vec<Standing>, Own), ApiError> {
    let rows = boards::course_board(conn, course, from).await?;
    let own = rows
        .iter()
        .filter(|(s, _)| people.contains(&s.user_id))
        .map(|(s, on)| (s.user_id, (s.points, *on)))
        .collect();
    Ok((course_ranking(&rows), own))
}

/// The standing of `people` on a live board: from its snapshot for those on
/// it, else from their own rows (hidden, or without points yet); people
/// without a row are left out.
pub async fn live_own(
    conn: &mut AsyncPgConnection,
    ranked: &Ranked,
    period: Period,
    people: &[Uuid],
) -> Result<Own, ApiError> {
    let mut own = Own::new();
    let mut off: Vec<Uuid> = Vec::new();
    for &person in people {
        match ranked.standing_of(person) {
            Some(me) => {
                own.insert(person, (me.points, true));
            }
            None => off.push(person),
        }
    }
    let rows = match off.as_slice() {
        [] => Vec::new(),
        [one] => boards::own_row(conn, *one)
            .await?
            .map(|r| (*one, r))
            .into_iter()
            .collect(),
        many => boards::own_rows(conn, many).await?,
    };
    own.extend(
        rows.into_iter()
            .map(|(u, r)| (u, (r.points(period), r.on_board))),
    );
    Ok(own)
}

/// A page of a board: its standings, the rank of its first entry, how many
/// are ranked, and the caller's own standing.
pub type Standings = (Vec<Standing>, u32, i64, pb::OwnRank);

/// The page `req` asks for of `ranked` (board order), and the caller's own
/// standing from `own` (points, on the board).
pub fn standings_of(ranked: &[Standing], own: (i64, bool), req: BoardRequest) -> Standings {
    let v = view(ranked, own, req.offset as usize, req.limit as usize);
    let rank = own_message((v.own_rank, v.own_percentile), own);
    (v.page, v.first_rank, v.ranked as i64, rank)
}

/// The caller's own rank on `ranked` (board order) as sent.
pub fn own_rank_on(ranked: &[Standing], own: (i64, bool)) -> pb::OwnRank {
    own_message(own_rank(ranked, own), own)
}

fn own_message((rank, percentile): (u32, f64), own: (i64, bool)) -> pb::OwnRank {
    pb::OwnRank {
        rank,
        percentile,
        points: own.0.max(0) as u64,
        hidden: !own.1,
    }
}

/// Board entries of a page: rank, the name privacy allows, the id of
/// public people (and of the caller).
pub async fn entries_of(
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
pub fn entries_from(
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
            let is_caller = Some(s.user_id) == caller;
            let known = names
                .get(&s.user_id)
                .map(|(privacy, name)| (privacy.as_str(), name.as_deref()));
            let person = shown(s.user_id, known, is_caller);
            pb::LeaderboardEntry {
                rank,
                display_name: person.display_name,
                user_id: person.user_id.map(|id| id.to_string()).unwrap_or_default(),
                points: s.points.max(0) as u64,
                is_caller,
            }
        })
        .collect()
}
