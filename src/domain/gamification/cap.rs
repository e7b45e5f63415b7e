//! The daily cap: at most 1,000 points per person and local day; what is
//! over is recorded as capped, not dropped.

/// Points a rule pays, split into what counts and what the cap withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Award {
    pub awarded: i32,
    pub capped: i32,
}

/// Splits `points` given what the day already paid (`paid_today`) and the
/// day's `cap`.
pub fn apply_cap(points: i32, paid_today: i32, cap: i32) -> Award {
    let room = cap.saturating_sub(paid_today.max(0)).max(0);
    let points = points.max(0);
    let awarded = points.min(room);
    Award {
        awarded,
        capped: points - awarded,
    }
}

/// Splits a day's awards, given in `occurred_at` order (SPEC: the cap
/// applies in that order; the award that crosses it is split).
pub fn split_day(points: &[i32], cap: i32) -> Vec<Award> {
    let mut paid = 0;
    points
        .iter()
        .map(|p| {
            let award = apply_cap(*p, paid, cap);
            paid += award.awarded;
            award
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_capped_in_order_and_the_crossing_award_is_split() {
        let awards = split_day(&[400, 500, 100, 100, 10], 1000);
        let awarded: Vec<i32> = awards.iter().map(|a| a.awarded).collect();
        let capped: Vec<i32> = awards.iter().map(|a| a.capped).collect();
        assert_eq!(awarded, [400, 500, 100, 0, 0]);
        assert_eq!(capped, [0, 0, 0, 100, 10]);
        let crossing = split_day(&[990, 100, 5], 1000);
        assert_eq!(
            crossing[1],
            Award {
                awarded: 10,
                capped: 90
            }
        );
        assert_eq!(
            crossing[2],
            Award {
                awarded: 0,
                capped: 5
            }
        );
    }

    #[test]
    fn under_the_cap_everything_counts() {
        assert_eq!(
            apply_cap(100, 0, 1000),
            Award {
                awarded: 100,
                capped: 0
            }
        );
        assert_eq!(
            apply_cap(100, 900, 1000),
            Award {
                awarded: 100,
                capped: 0
            }
        );
    }

    #[test]
    fn the_excess_is_recorded_as_capped() {
        assert_eq!(
            apply_cap(100, 950, 1000),
            Award {
                awarded: 50,
                capped: 50
            }
        );
        assert_eq!(
            apply_cap(100, 1000, 1000),
            Award {
                awarded: 0,
                capped: 100
            }
        );
        assert_eq!(
            apply_cap(100, 1200, 1000),
            Award {
                awarded: 0,
                capped: 100
            }
        );
    }

    #[test]
    fn awarded_plus_capped_is_always_the_rule_amount() {
        for points in [0, 1, 10, 50, 100] {
            for paid in [0, 500, 999, 1000, 1500] {
                let a = apply_cap(points, paid, 1000);
                assert_eq!(a.awarded + a.capped, points);
                assert!(paid.min(1000) + a.awarded <= 1000);
            }
        }
    }
}
