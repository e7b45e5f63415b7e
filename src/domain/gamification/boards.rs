//! Leaderboard rules (SPEC "Leaderboard"): rank = 1 + ranked people with
//! strictly more points (ties share a rank: 1, 2, 2, 4); order within a tie
//! fixed (earlier reach first, then user id); percentile = 100 x people
//! strictly below / ranked people including the caller; people with 0
//! points are not on the board.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

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

/// "Anonymous learner #<6 hex>": stable per person, and not the id.
pub fn anonymous_name(user_id: Uuid) -> String {
    let digest = Sha256::digest([b"stride-anonymous:".as_slice(), user_id.as_bytes()].concat());
    format!("Anonymous learner #{}", hex::encode(&digest[..3]))
}

/// The caller's rank and percentile on a board of `others` (ranked people,
/// the caller excluded) given their own points: rank 0 with no points.
pub fn own_rank(own_points: i64, others: &[i64]) -> (u32, f64) {
    if own_points <= 0 {
        return (0, 0.0);
    }
    let above = others.iter().filter(|p| **p > own_points).count() as u32;
    let below = others
        .iter()
        .filter(|p| **p < own_points && **p > 0)
        .count() as u64;
    let ranked = others.iter().filter(|p| **p > 0).count() as u64 + 1;
    (above + 1, percentile(below, ranked))
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

    #[test]
    fn percentile_counts_people_strictly_below() {
        // The top of 10 distinct scores has percentile 90 (SPEC).
        let others: Vec<i64> = (1..=9).collect();
        assert_eq!(own_rank(10, &others), (1, 90.0));
        let above: Vec<i64> = (2..=10).collect();
        assert_eq!(own_rank(1, &above), (10, 0.0));
        // Ties: neither above nor below.
        assert_eq!(own_rank(5, &[5, 5, 1]), (1, 25.0));
        assert_eq!(own_rank(0, &others), (0, 0.0));
        assert_eq!(percentile(0, 0), 0.0);
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
    fn anonymous_names_are_stable_and_differ_per_person() {
        let a = anonymous_name(Uuid::from_u128(1));
        assert_eq!(a, anonymous_name(Uuid::from_u128(1)));
        assert_ne!(a, anonymous_name(Uuid::from_u128(2)));
        assert!(a.starts_with("Anonymous learner #") && a.len() == "Anonymous learner #".len() + 6);
    }
}
