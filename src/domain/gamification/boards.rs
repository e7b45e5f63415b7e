//! Leaderboard rules (SPEC "Leaderboard"): rank = 1 + ranked people with
//! strictly more points (ties share a rank: 1, 2, 2, 4); order within a tie
//! fixed (earlier reach first, then user id); percentile = 100 x people
//! strictly below / ranked people including the caller; people with 0
//! points are not on the board. Also what a board shows of a person
//! (privacy) and whose board a request names.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Entries per page of a board: default and maximum (SPEC).
pub const BOARD_PAGE: (u32, u32) = (10, 50);

/// Whose board a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Organization(Uuid),
    Platform,
    Course(Uuid),
}

/// A person's standing in a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub user_id: Uuid,
    pub points: i64,
    pub reached_at: Option<DateTime<Utc>>,
}

/// Board order: points desc, earlier reach, user id.
pub fn board_order(a: &Standing, b: &Standing) -> std::cmp::Ordering {
    b.points
        .cmp(&a.points)
        .then(a.reached_at.cmp(&b.reached_at))
        .then(a.user_id.cmp(&b.user_id))
}

/// Ranks of a page sorted in board order whose first entry has rank
/// `first_rank`: equal points share the rank, the next one takes its
/// position.
pub fn page_ranks(points: &[i64], first_rank: u32, offset: u32) -> Vec<u32> {
    let mut ranks = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        let rank = match (i, ranks.last()) {
            (0, _) | (_, None) => first_rank,
            (_, Some(prev)) if points[i - 1] == *p => *prev,
            _ => offset + i as u32 + 1,
        };
        ranks.push(rank);
    }
    ranks
}

/// 100 x below / ranked (0 for an empty board).
pub fn percentile(below: u64, ranked_including_caller: u64) -> f64 {
    if ranked_including_caller == 0 {
        0.0
    } else {
        100.0 * below as f64 / ranked_including_caller as f64
    }
}

/// The caller's rank and percentile on a board (`ranked` in board order;
/// `own`: their points and whether they are on it): (0, 0) without points.
pub fn own_rank(ranked: &[Standing], own: (i64, bool)) -> (u32, f64) {
    let (points, on_board) = own;
    if points <= 0 {
        return (0, 0.0);
    }
    let above = ranked.partition_point(|s| s.points > points);
    let below = ranked.len() - ranked.partition_point(|s| s.points >= points);
    let including = ranked.len() + usize::from(!on_board);
    (above as u32 + 1, percentile(below as u64, including as u64))
}

/// A course board from everyone with points from the course (`on`: on
/// boards at all): its ranked people in board order.
pub fn course_ranking(rows: &[(Standing, bool)]) -> Vec<Standing> {
    let mut ranked: Vec<Standing> = rows.iter().filter(|(_, on)| *on).map(|(s, _)| *s).collect();
    ranked.sort_by(board_order);
    ranked
}

/// Whether a person's privacy setting lets a board show their name and id.
pub fn is_public(privacy: &str) -> bool {
    privacy == "public"
}

/// What a board shows of one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub display_name: String,
    /// `None`: the id is not shown.
    pub user_id: Option<Uuid>,
}

/// A board entry's person as privacy allows: public people by name and id,
/// everyone else by an anonymous name and no id; the caller always sees
/// their own id. `names`: their privacy and display name, `None` when
/// unknown (shown anonymously).
pub fn shown(user_id: Uuid, names: Option<(&str, Option<&str>)>, is_caller: bool) -> Shown {
    let (privacy, name) = names.unwrap_or(("anonymous", None));
    let public = is_public(privacy);
    Shown {
        display_name: match (public, name) {
            (true, Some(name)) => name.to_owned(),
            _ => anonymous_name(user_id),
        },
        user_id: (public || is_caller).then_some(user_id),
    }
}

/// "Anonymous learner #<6 hex>": stable per person, and not the id.
pub fn anonymous_name(user_id: Uuid) -> String {
    let digest = Sha256::digest([b"stride-anonymous:".as_slice(), user_id.as_bytes()].concat());
    format!("Anonymous learner #{}", hex::encode(&digest[..3]))
}

/// A page of a board and the caller's standing, from the whole board in
/// board order (`ranked`: ranked people only).
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub page: Vec<Standing>,
    /// Rank of the page's first entry.
    pub first_rank: u32,
    pub ranked: usize,
    /// 0 when the caller has no points.
    pub own_rank: u32,
    pub own_percentile: f64,
}

/// `own`: the caller's points and whether they are on the board (a hidden
/// caller is not in `ranked` but counts among "ranked people including the
/// caller" for their own percentile).
pub fn view(ranked: &[Standing], own: (i64, bool), offset: usize, limit: usize) -> View {
    let page: Vec<Standing> = ranked.iter().skip(offset).take(limit).copied().collect();
    let first_rank = page.first().map_or(1, |f| {
        1 + ranked.partition_point(|s| s.points > f.points) as u32
    });
    let (own_rank, own_percentile) = own_rank(ranked, own);
    View {
        page,
        first_rank,
        ranked: ranked.len(),
        own_rank,
        own_percentile,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_a_rank_and_the_next_takes_its_position() {
        assert_eq!(page_ranks(&[50, 40, 40, 30], 1, 0), [1, 2, 2, 4]);
        assert_eq!(page_ranks(&[40, 40, 30], 2, 1), [2, 2, 4]);
        assert_eq!(page_ranks(&[], 1, 0), Vec::<u32>::new());
    }

    fn board(points: &[i64]) -> Vec<Standing> {
        let mut rows: Vec<Standing> = points
            .iter()
            .enumerate()
            .map(|(i, p)| Standing {
                user_id: Uuid::from_u128(i as u128 + 1),
                points: *p,
                reached_at: None,
            })
            .collect();
        rows.sort_by(board_order);
        rows
    }

    #[test]
    fn percentile_counts_people_strictly_below() {
        // The top of 10 distinct scores has percentile 90 (SPEC).
        let ten = board(&(1..=10).collect::<Vec<i64>>());
        let top = view(&ten, (10, true), 0, 10);
        assert_eq!((top.own_rank, top.own_percentile), (1, 90.0));
        let bottom = view(&ten, (1, true), 0, 10);
        assert_eq!((bottom.own_rank, bottom.own_percentile), (10, 0.0));
        // Ties: neither above nor below.
        let tied = view(&board(&[5, 5, 5, 1]), (5, true), 0, 10);
        assert_eq!((tied.own_rank, tied.own_percentile), (1, 25.0));
        let none = view(&ten, (0, true), 0, 10);
        assert_eq!((none.own_rank, none.own_percentile), (0, 0.0));
        assert_eq!(percentile(0, 0), 0.0);
    }

    #[test]
    fn a_hidden_caller_counts_only_for_their_own_percentile() {
        // Not on the board of 3: rank among them, out of 3 + themselves.
        let v = view(&board(&[100, 100, 30]), (60, false), 0, 10);
        assert_eq!((v.own_rank, v.own_percentile, v.ranked), (3, 25.0, 3));
    }

    #[test]
    fn pages_start_at_the_rank_of_their_first_entry() {
        let b = board(&[50, 40, 40, 30]);
        let second = view(&b, (0, false), 2, 2);
        assert_eq!(second.first_rank, 2, "the tie continues on the next page");
        assert_eq!(
            second.page.iter().map(|s| s.points).collect::<Vec<_>>(),
            [40, 30]
        );
        let past_end = view(&b, (0, false), 9, 2);
        assert!(past_end.page.is_empty());
        assert_eq!(past_end.first_rank, 1);
    }

    #[test]
    fn board_order_breaks_ties_by_earlier_reach_then_id() {
        let at = |m: u32| Some(format!("2026-11-20T10:{m:02}:00Z").parse().unwrap());
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut rows = [
            Standing {
                user_id: b,
                points: 10,
                reached_at: at(1),
            },
            Standing {
                user_id: a,
                points: 10,
                reached_at: at(1),
            },
            Standing {
                user_id: b,
                points: 10,
                reached_at: at(0),
            },
            Standing {
                user_id: a,
                points: 20,
                reached_at: at(9),
            },
        ];
        rows.sort_by(board_order);
        let order: Vec<_> = rows
            .iter()
            .map(|r| (r.points, r.reached_at, r.user_id))
            .collect();
        assert_eq!(
            order,
            [
                (20, at(9), a),
                (10, at(0), b),
                (10, at(1), a),
                (10, at(1), b)
            ]
        );
    }

    #[test]
    fn own_rank_is_the_views_own_rank() {
        let b = board(&[100, 100, 30]);
        assert_eq!(own_rank(&b, (100, true)), (1, 100.0 / 3.0));
        assert_eq!(own_rank(&b, (60, false)), (3, 25.0));
        assert_eq!(own_rank(&b, (0, true)), (0, 0.0));
        assert_eq!(own_rank(&[], (5, false)), (1, 0.0));
        let v = view(&b, (30, true), 0, 1);
        assert_eq!((v.own_rank, v.own_percentile), own_rank(&b, (30, true)));
    }

    #[test]
    fn a_course_board_ranks_only_people_on_boards_in_board_order() {
        let s = |id: u128, points: i64| Standing {
            user_id: Uuid::from_u128(id),
            points,
            reached_at: None,
        };
        let rows = [
            (s(1, 20), true),
            (s(2, 90), false),
            (s(3, 90), true),
            (s(4, 50), true),
        ];
        let ranked: Vec<_> = course_ranking(&rows)
            .iter()
            .map(|r| (r.user_id.as_u128(), r.points))
            .collect();
        assert_eq!(ranked, [(3, 90), (4, 50), (1, 20)]);
        assert!(course_ranking(&[]).is_empty());
    }

    #[test]
    fn only_public_people_are_shown_by_name_and_id() {
        let (me, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let public = shown(other, Some(("public", Some("Ada"))), false);
        assert_eq!(public.display_name, "Ada");
        assert_eq!(public.user_id, Some(other));
        for privacy in ["anonymous", "hidden", "PUBLIC", ""] {
            let s = shown(other, Some((privacy, Some("Ada"))), false);
            assert_eq!(s.display_name, anonymous_name(other), "{privacy}");
            assert_eq!(s.user_id, None, "{privacy}");
        }
        // A public person without a name, and someone unknown.
        assert_eq!(
            shown(other, Some(("public", None)), false).display_name,
            anonymous_name(other)
        );
        assert_eq!(shown(other, None, false).user_id, None);
        // The caller sees their own id, not their name, when anonymous.
        let mine = shown(me, Some(("anonymous", Some("Me"))), true);
        assert_eq!(mine.user_id, Some(me));
        assert_eq!(mine.display_name, anonymous_name(me));
        assert!(is_public("public") && !is_public("anonymous"));
    }

    #[test]
    fn anonymous_names_are_stable_and_differ_per_person() {
        let a = anonymous_name(Uuid::from_u128(1));
        assert_eq!(a, anonymous_name(Uuid::from_u128(1)));
        assert_ne!(a, anonymous_name(Uuid::from_u128(2)));
        assert!(a.starts_with("Anonymous learner #") && a.len() == "Anonymous learner #".len() + 6);
    }
}
