//! Small statistics the analytics share.

/// Rounds half up (2.5 -> 3), for scores shown as integers.
pub fn round_half_up(x: f64) -> u32 {
    (x + 0.5).floor().max(0.0) as u32
}

/// The arithmetic mean; `None` for no values.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Least-squares slope of `values` against their index 0..n-1; 0 for fewer
/// than two values.
pub fn slope(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 2 {
        return 0.0;
    }
    let mean_x = (n - 1) as f64 / 2.0;
    let mean_y = values.iter().sum::<f64>() / n as f64;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, y) in values.iter().enumerate() {
        let dx = i as f64 - mean_x;
        num += dx * (y - mean_y);
        den += dx * dx;
    }
    num / den
}

/// The `p` quantile (0..1) of sorted values by linear interpolation
/// between closest ranks (the common "type 7" definition).
pub fn quantile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
    let h = (sorted.len() - 1) as f64 * p;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// 100 x (values strictly below `value`) / (all values, `value`'s own
/// included): the leaderboard's percentile, so the top of 10 distinct
/// values has 90.
pub fn percentile_below(value: f64, group: &[f64]) -> f64 {
    if group.is_empty() {
        return 0.0;
    }
    let below = group.iter().filter(|v| **v < value).count();
    100.0 * below as f64 / group.len() as f64
}

/// Share `part / whole`, 0 when there is no whole.
pub fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_up() {
        assert_eq!(round_half_up(79.5), 80);
        assert_eq!(round_half_up(79.49), 79);
        assert_eq!(round_half_up(0.0), 0);
    }

    #[test]
    fn slope_of_a_line_is_its_gradient() {
        assert_eq!(slope(&[50.0, 52.0, 54.0, 56.0]), 2.0);
        assert_eq!(slope(&[70.0]), 0.0);
        assert!((slope(&[60.0, 50.0, 70.0]) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn quantiles_interpolate() {
        let v = [10.0, 20.0, 30.0, 40.0];
        assert_eq!(quantile(&v, 0.5), Some(25.0));
        assert_eq!(quantile(&v, 0.25), Some(17.5));
        assert_eq!(quantile(&v, 1.0), Some(40.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn percentile_counts_strictly_below_over_the_whole_group() {
        let group: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile_below(10.0, &group), 90.0);
        assert_eq!(percentile_below(1.0, &group), 0.0);
        assert_eq!(percentile_below(5.0, &[5.0, 5.0, 1.0, 9.0]), 25.0);
    }
}
