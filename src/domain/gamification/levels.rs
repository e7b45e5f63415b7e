//! Levels (SPEC): L1 0-99, L2 100-299, L3 300-599, L4 600-999, L5 1000-1499,
//! then one more level per further 500 points.

/// Where a point total stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelInfo {
    /// 1-based.
    pub level: u32,
    /// Points at which this level starts.
    pub start: u64,
    /// Points at which the next level starts.
    pub next: u64,
    pub to_next: u64,
    /// 0-100 through the current level.
    pub progress_percent: f64,
}

/// Start of levels 1 to 5; from level 5 on, each level spans 500 points.
const STARTS: [u64; 5] = [0, 100, 300, 600, 1000];
const STEP_AFTER_L5: u64 = 500;

/// Points at which `level` (1-based) starts.
pub fn level_start(level: u32) -> u64 {
    match level {
        0 | 1 => 0,
        2..=5 => STARTS[level as usize - 1],
        _ => STARTS[4] + u64::from(level - 5) * STEP_AFTER_L5,
    }
}

/// The level of a point total.
pub fn level_of(points: u64) -> u32 {
    if points >= STARTS[4] {
        // Past about 2 * 10^12 points the level stops at u32::MAX.
        u32::try_from((points - STARTS[4]) / STEP_AFTER_L5)
            .ok()
            .and_then(|above| above.checked_add(5))
            .unwrap_or(u32::MAX)
    } else {
        STARTS
            .iter()
            .rposition(|start| points >= *start)
            .map_or(1, |i| i as u32 + 1)
    }
}

pub fn level_info(points: u64) -> LevelInfo {
    let level = level_of(points);
    let start = level_start(level);
    // The last level has no next one: it spans everything above.
    let next = match level.checked_add(1) {
        Some(following) => level_start(following),
        None => u64::MAX,
    };
    let span = (next - start).max(1);
    LevelInfo {
        level,
        start,
        next,
        to_next: next - points,
        progress_percent: 100.0 * (points - start) as f64 / span as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_follow_the_spec() {
        let cases = [
            (0, 1),
            (99, 1),
            (100, 2),
            (299, 2),
            (300, 3),
            (599, 3),
            (600, 4),
            (999, 4),
            (1000, 5),
            (1499, 5),
            (1500, 6),
            (1999, 6),
            (2000, 7),
            (10_999, 24),
            (11_000, 25),
        ];
        for (points, level) in cases {
            assert_eq!(level_of(points), level, "{points} points");
        }
    }

    #[test]
    fn progress_to_the_next_level_is_reported() {
        let info = level_info(450);
        assert_eq!(
            (info.level, info.start, info.next, info.to_next),
            (3, 300, 600, 150)
        );
        assert!((info.progress_percent - 50.0).abs() < 1e-9);
        let top = level_info(1750);
        assert_eq!(
            (top.level, top.start, top.next, top.to_next),
            (6, 1500, 2000, 250)
        );
        assert_eq!(level_info(0).progress_percent, 0.0);
    }

    #[test]
    fn level_start_and_level_of_agree() {
        for level in 1..200 {
            assert_eq!(level_of(level_start(level)), level);
            assert_eq!(level_of(level_start(level + 1) - 1), level);
        }
    }
}
