//! Trainer analytics 7-10: course performance, health, score distribution.

use chrono::{DateTime, Duration, Utc};

use super::stats::{quantile, round_half_up};

/// An active enrollment without learning progress for this long counts as
/// a drop-out.
pub const DROP_OUT_DAYS: i64 = 30;
/// A learner with progress this recent is active in the course.
pub const ACTIVE_DAYS: i64 = 14;

/// One enrollment as the course analytics see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrollment {
    /// "active", "completed" or "dropped".
    pub status: String,
    pub enrolled_at: DateTime<Utc>,
    pub last_progress_at: Option<DateTime<Utc>>,
}

impl Enrollment {
    fn last_sign(&self) -> DateTime<Utc> {
        self.last_progress_at.unwrap_or(self.enrolled_at)
    }

    /// Dropped, or still active with no progress in 30 days.
    pub fn dropped_out(&self, now: DateTime<Utc>) -> bool {
        match self.status.as_str() {
            "dropped" => true,
            "active" => self.last_sign() < now - Duration::days(DROP_OUT_DAYS),
            _ => false,
        }
    }

    /// Completed, or progressed in the last 14 days.
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        self.status == "completed"
            || (self.status == "active" && self.last_sign() >= now - Duration::days(ACTIVE_DAYS))
    }
}

/// Headline figures of one course.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Performance {
    pub enrolled: u32,
    pub completed: u32,
    pub drop_outs: u32,
    pub active: u32,
}

pub fn performance(enrollments: &[Enrollment], now: DateTime<Utc>) -> Performance {
    let count =
        |f: &dyn Fn(&Enrollment) -> bool| enrollments.iter().filter(|e| f(e)).count() as u32;
    Performance {
        enrolled: enrollments.len() as u32,
        completed: count(&|e| e.status == "completed"),
        drop_outs: count(&|e| e.dropped_out(now)),
        active: count(&|e| e.active(now)),
    }
}

/// The health score's factors (name, weight): completion rate, average
/// score / 100, share of active learners, share not dropped out.
pub const HEALTH_WEIGHTS: [(&str, f64); 4] = [
    ("completion_rate", 0.30),
    ("average_score", 0.30),
    ("active_share", 0.20),
    ("retention", 0.20),
];

/// Health 0-100 with its factors (name, value 0..1, weight).
pub fn health(p: &Performance, average_score: Option<f64>) -> (u32, Vec<(&'static str, f64, f64)>) {
    let of = |n: u32| {
        if p.enrolled == 0 {
            0.0
        } else {
            f64::from(n) / f64::from(p.enrolled)
        }
    };
    let values = [
        of(p.completed),
        average_score
            .filter(|a| !a.is_nan())
            .unwrap_or(0.0)
            .clamp(0.0, 100.0)
            / 100.0,
        of(p.active),
        1.0 - of(p.drop_outs),
    ];
    let factors: Vec<(&'static str, f64, f64)> = HEALTH_WEIGHTS
        .iter()
        .zip(values)
        .map(|((name, weight), value)| (*name, value, *weight))
        .collect();
    let score = round_half_up(100.0 * factors.iter().map(|(_, v, w)| v * w).sum::<f64>());
    (score, factors)
}

/// A score distribution: ten buckets of 10 points (the last includes 100),
/// quartiles, and the values beyond 1.5 IQR.
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    /// (lower, upper, count)
    pub histogram: Vec<(f64, f64, u32)>,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub outliers: Vec<f64>,
}

pub fn distribution(scores: &[f64]) -> Distribution {
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut histogram: Vec<(f64, f64, u32)> = (0..10)
        .map(|i| (f64::from(i) * 10.0, f64::from(i + 1) * 10.0, 0))
        .collect();
    for s in &sorted {
        let i = ((s / 10.0).floor().clamp(0.0, 9.0)) as usize;
        histogram[i].2 += 1;
    }
    let q = |p| quantile(&sorted, p).unwrap_or(0.0);
    let (q1, median, q3) = (q(0.25), q(0.5), q(0.75));
    let iqr = q3 - q1;
    let outliers = sorted
        .iter()
        .copied()
        .filter(|s| *s < q1 - 1.5 * iqr || *s > q3 + 1.5 * iqr)
        .collect();
    Distribution {
        histogram,
        q1,
        median,
        q3,
        outliers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enrollment(status: &str, days_since_progress: i64, now: DateTime<Utc>) -> Enrollment {
        Enrollment {
            status: status.into(),
            enrolled_at: now - Duration::days(100),
            last_progress_at: Some(now - Duration::days(days_since_progress)),
        }
    }

    #[test]
    fn drop_outs_are_dropped_or_silent_for_thirty_days() {
        let now = Utc::now();
        assert!(enrollment("dropped", 0, now).dropped_out(now));
        assert!(enrollment("active", 31, now).dropped_out(now));
        assert!(!enrollment("active", 29, now).dropped_out(now));
        assert!(!enrollment("completed", 90, now).dropped_out(now));
        assert!(enrollment("active", 14, now).active(now));
        assert!(!enrollment("active", 15, now).active(now));
    }

    #[test]
    fn health_weighs_its_four_factors() {
        let p = Performance {
            enrolled: 10,
            completed: 5,
            drop_outs: 2,
            active: 6,
        };
        // 100 x (0.3 x 0.5 + 0.3 x 0.8 + 0.2 x 0.6 + 0.2 x 0.8) = 67
        let (score, factors) = health(&p, Some(80.0));
        assert_eq!(score, 67);
        assert_eq!(factors.len(), 4);
        assert_eq!(factors[0], ("completion_rate", 0.5, 0.3));
    }

    #[test]
    fn distribution_buckets_quartiles_and_outliers() {
        let scores = [
            50.0, 60.0, 62.0, 65.0, 70.0, 71.0, 72.0, 75.0, 80.0, 100.0, 5.0,
        ];
        let d = distribution(&scores);
        assert_eq!(d.histogram.len(), 10);
        assert_eq!(d.histogram[9], (90.0, 100.0, 1)); // 100 in the last bucket
        assert_eq!(d.histogram[0].2, 1);
        assert_eq!(d.histogram[6].2, 3); // 60, 62, 65
        assert_eq!(d.histogram[7].2, 4); // 70, 71, 72, 75
        assert_eq!(d.median, 70.0);
        assert_eq!(d.q1, 61.0);
        assert_eq!(d.q3, 73.5);
        // IQR 12.5: below 42.25 or above 92.25.
        assert_eq!(d.outliers, vec![5.0, 100.0]);
    }
}
