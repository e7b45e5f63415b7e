//! Predictive analytics 15-16: drop-off risk and outcome forecast. Rules,
//! not a trained model: every answer names the rules' version.

use chrono::{Days, NaiveDate};

use super::learner::MOMENTUM_THRESHOLD;

/// The version of these rules, reported with every predictive answer.
pub const MODEL_VERSION: &str = "stride-rules-2026.12";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskBand {
    Critical,
    High,
    Medium,
    Low,
}

/// critical > 80, high 61-80, medium 40-60, low < 40.
pub fn risk_band(score: u32) -> RiskBand {
    match score {
        81.. => RiskBand::Critical,
        61..=80 => RiskBand::High,
        40..=60 => RiskBand::Medium,
        _ => RiskBand::Low,
    }
}

/// A factor that added to the risk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskFactor {
    pub name: &'static str,
    pub points: u32,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Risk {
    pub score: u32,
    pub band: RiskBand,
    pub factors: Vec<RiskFactor>,
}

/// SPEC drop-off risk: +40 engagement (integer score) below 50, +30
/// momentum change below -20% (never without a prior week), +30 no
/// learning activity in the last 7 days.
pub fn drop_off_risk(engagement: u32, momentum_change: Option<f64>, recent_progress: bool) -> Risk {
    let mut factors = Vec::new();
    if engagement < 50 {
        factors.push(RiskFactor {
            name: "low_engagement",
            points: 40,
            description: format!("engagement score {engagement} is below 50"),
        });
    }
    if let Some(change) = momentum_change.filter(|c| *c < -MOMENTUM_THRESHOLD) {
        factors.push(RiskFactor {
            name: "velocity_drop",
            points: 30,
            description: format!(
                "lessons in the last 7 days fell {:.0}% against the 7 before",
                -change * 100.0
            ),
        });
    }
    if !recent_progress {
        factors.push(RiskFactor {
            name: "no_recent_progress",
            points: 30,
            description: "no learning activity in the last 7 days".into(),
        });
    }
    let score = factors.iter().map(|f| f.points).sum();
    Risk {
        score,
        band: risk_band(score),
        factors,
    }
}

/// What the forecast of one course knows.
#[derive(Debug, Clone, PartialEq)]
pub struct CourseFacts {
    pub progress_percent: f64,
    /// Local days since enrollment, at least 1.
    pub days_enrolled: u32,
    /// The learner's scores in this course, oldest first.
    pub course_scores: Vec<f64>,
    /// The learner's average over all assessments, if any.
    pub overall_average: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    pub completion: Option<NaiveDate>,
    pub final_score: f64,
    /// 0..1.
    pub confidence: f64,
}

/// Scores after which the score projection is fully trusted.
const SCORES_FOR_CONFIDENCE: f64 = 5.0;

/// Completion at the average pace since enrollment (progress per day);
/// final score = the course average, else the learner's overall average;
/// confidence = half from how many course scores back it (5 is full), half
/// from how far the course is done.
pub fn forecast(today: NaiveDate, facts: &CourseFacts) -> Forecast {
    // An unknown (NaN) progress counts as none.
    let progress = match facts.progress_percent {
        p if p.is_nan() => 0.0,
        p => p.clamp(0.0, 100.0),
    };
    let per_day = progress / f64::from(facts.days_enrolled.max(1));
    let completion = if progress >= 100.0 {
        Some(today)
    } else if per_day > 0.0 {
        let days = ((100.0 - progress) / per_day).ceil() as u64;
        today.checked_add_days(Days::new(days))
    } else {
        None
    };
    let course_average = super::stats::mean(&facts.course_scores);
    let final_score = course_average.or(facts.overall_average).unwrap_or(0.0);
    let score_support = (facts.course_scores.len() as f64 / SCORES_FOR_CONFIDENCE).min(1.0);
    let confidence = 0.5 * score_support + 0.5 * progress / 100.0;
    Forecast {
        completion,
        final_score,
        confidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_adds_the_spec_factors() {
        let r = drop_off_risk(49, Some(-0.21), false);
        assert_eq!(r.score, 100);
        assert_eq!(r.band, RiskBand::Critical);
        let names: Vec<_> = r.factors.iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            ["low_engagement", "velocity_drop", "no_recent_progress"]
        );
        // Boundaries: 50 is not low, exactly -20% is no drop, no prior week never is.
        assert_eq!(drop_off_risk(50, Some(-0.2), true).score, 0);
        assert_eq!(drop_off_risk(50, None, true).score, 0);
        assert_eq!(drop_off_risk(10, None, true).score, 40);
        assert_eq!(drop_off_risk(80, Some(-0.5), false).score, 60);
        assert_eq!(drop_off_risk(20, Some(-0.5), true).score, 70);
    }

    #[test]
    fn risk_bands() {
        assert_eq!(risk_band(100), RiskBand::Critical);
        assert_eq!(risk_band(81), RiskBand::Critical);
        assert_eq!(risk_band(80), RiskBand::High);
        assert_eq!(risk_band(61), RiskBand::High);
        assert_eq!(risk_band(60), RiskBand::Medium);
        assert_eq!(risk_band(40), RiskBand::Medium);
        assert_eq!(risk_band(39), RiskBand::Low);
        assert_eq!(risk_band(0), RiskBand::Low);
    }

    #[test]
    fn forecast_projects_the_pace_since_enrollment() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let f = forecast(
            today,
            &CourseFacts {
                progress_percent: 40.0,
                days_enrolled: 10,
                course_scores: vec![60.0, 80.0],
                overall_average: Some(50.0),
            },
        );
        // 4%/day, 60% left: 15 days.
        assert_eq!(f.completion, NaiveDate::from_ymd_opt(2026, 12, 16));
        assert_eq!(f.final_score, 70.0);
        // 0.5 x 2/5 + 0.5 x 0.4
        assert!((f.confidence - 0.4).abs() < 1e-12);
        let idle = forecast(
            today,
            &CourseFacts {
                progress_percent: 0.0,
                days_enrolled: 3,
                course_scores: vec![],
                overall_average: Some(55.0),
            },
        );
        assert_eq!(
            (idle.completion, idle.final_score, idle.confidence),
            (None, 55.0, 0.0)
        );
    }
}
