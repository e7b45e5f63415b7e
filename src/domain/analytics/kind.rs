//! What the cache stores: one kind per analytic, its audience and the time
//! to live of its answers.

use std::time::Duration;

/// The families of SPEC "Analytics (19), by audience"; each has a TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Learner,
    Trainer,
    Organization,
    Predictive,
    Comparison,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Learner => "learner",
            Audience::Trainer => "trainer",
            Audience::Organization => "organization",
            Audience::Predictive => "predictive",
            Audience::Comparison => "comparison",
        }
    }
}

/// One analytic. The names are the `analytics_cache.kind` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    LearningVelocity,
    SkillGapMatrix,
    EngagementScore,
    MasteryProgress,
    AssessmentPerformance,
    ContentEffectiveness,
    CoursePerformance,
    CourseHealth,
    StudentDistribution,
    TeachingEffectiveness,
    OrganizationVelocity,
    StrategicAlignment,
    DepartmentAnalytics,
    LearningCulture,
    DropOffRisk,
    OutcomeForecast,
    Recommendations,
    SkillDemand,
    PeerComparison,
}

const HOUR: u64 = 3600;

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LearningVelocity => "learning_velocity",
            Kind::SkillGapMatrix => "skill_gap_matrix",
            Kind::EngagementScore => "engagement_score",
            Kind::MasteryProgress => "mastery_progress",
            Kind::AssessmentPerformance => "assessment_performance",
            Kind::ContentEffectiveness => "content_effectiveness",
            Kind::CoursePerformance => "course_performance",
            Kind::CourseHealth => "course_health",
            Kind::StudentDistribution => "student_distribution",
            Kind::TeachingEffectiveness => "teaching_effectiveness",
            Kind::OrganizationVelocity => "organization_velocity",
            Kind::StrategicAlignment => "strategic_alignment",
            Kind::DepartmentAnalytics => "department_analytics",
            Kind::LearningCulture => "learning_culture",
            Kind::DropOffRisk => "drop_off_risk",
            Kind::OutcomeForecast => "outcome_forecast",
            Kind::Recommendations => "recommendations",
            Kind::SkillDemand => "skill_demand",
            Kind::PeerComparison => "peer_comparison",
        }
    }

    /// The family, as the cache table's CHECK has it.
    pub fn audience(self) -> Audience {
        use Kind::*;
        match self {
            LearningVelocity
            | SkillGapMatrix
            | EngagementScore
            | MasteryProgress
            | AssessmentPerformance
            | ContentEffectiveness => Audience::Learner,
            CoursePerformance | CourseHealth | StudentDistribution | TeachingEffectiveness => {
                Audience::Trainer
            }
            OrganizationVelocity | StrategicAlignment | DepartmentAnalytics | LearningCulture => {
                Audience::Organization
            }
            DropOffRisk | OutcomeForecast | Recommendations => Audience::Predictive,
            SkillDemand | PeerComparison => Audience::Comparison,
        }
    }

    /// SPEC TTLs: learner 4 h, trainer 2 h, org 6 h, predictive 48 h, skill
    /// demand 24 h. Peer comparison is about one learner: the learner TTL.
    pub fn ttl(self) -> Duration {
        let hours = match (self, self.audience()) {
            (Kind::SkillDemand, _) => 24,
            (_, Audience::Learner | Audience::Comparison) => 4,
            (_, Audience::Trainer) => 2,
            (_, Audience::Organization) => 6,
            (_, Audience::Predictive) => 48,
        };
        Duration::from_secs(hours * HOUR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_follow_the_audience() {
        assert_eq!(Kind::EngagementScore.ttl().as_secs(), 4 * 3600);
        assert_eq!(Kind::CourseHealth.ttl().as_secs(), 2 * 3600);
        assert_eq!(Kind::LearningCulture.ttl().as_secs(), 6 * 3600);
        assert_eq!(Kind::DropOffRisk.ttl().as_secs(), 48 * 3600);
        assert_eq!(Kind::SkillDemand.ttl().as_secs(), 24 * 3600);
        assert_eq!(Kind::PeerComparison.ttl().as_secs(), 4 * 3600);
    }
}
