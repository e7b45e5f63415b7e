//! Skill gaps (analytic 2) and the recommendations built on them (17).

use uuid::Uuid;

/// The five factors' weights: gap size, business priority, market demand,
/// prerequisite blocking, career impact.
pub const WEIGHTS: [f64; 5] = [0.25, 0.30, 0.20, 0.15, 0.10];
/// Gaps recommendations are made for.
pub const RECOMMENDED_GAPS: usize = 3;

/// A skill the learner's role or courses require, with what is known of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub skill_id: Uuid,
    /// 0..100, the highest any source requires.
    pub required: f64,
    /// 0..100, 0 when never assessed.
    pub current: f64,
    /// 0..1: the organization's priority weight (0 when not a priority).
    pub business_priority: f64,
    /// 0..1.
    pub market_demand: f64,
    /// 0..1: the target role's career impact (0 without one).
    pub career_impact: f64,
    /// Skills this one needs first.
    pub prerequisites: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    pub skill_id: Uuid,
    pub required: f64,
    pub current: f64,
    /// max(0, required - current) / 100.
    pub gap: f64,
    pub business_priority: f64,
    pub market_demand: f64,
    /// Share of the learner's other gaps that need this skill first.
    pub prerequisite_blocking: f64,
    pub career_impact: f64,
    /// 100 x the weighted sum of the five factors.
    pub priority: f64,
}

/// The gaps among `requirements` (current below required), highest
/// priority first (ties: larger gap, then skill id, so the order is stable).
pub fn gap_matrix(requirements: &[Requirement]) -> Vec<Gap> {
    let open: Vec<&Requirement> = requirements
        .iter()
        .filter(|r| r.current < r.required)
        .collect();
    let others = open.len().saturating_sub(1);
    let mut gaps: Vec<Gap> = open
        .iter()
        .map(|r| {
            let blocked = open
                .iter()
                .filter(|o| o.skill_id != r.skill_id && o.prerequisites.contains(&r.skill_id))
                .count();
            let blocking = if others == 0 {
                0.0
            } else {
                blocked as f64 / others as f64
            };
            let gap = ((r.required - r.current).max(0.0) / 100.0).min(1.0);
            let factors = [
                gap,
                r.business_priority.clamp(0.0, 1.0),
                r.market_demand.clamp(0.0, 1.0),
                blocking,
                r.career_impact.clamp(0.0, 1.0),
            ];
            let priority = 100.0 * factors.iter().zip(WEIGHTS).map(|(f, w)| f * w).sum::<f64>();
            Gap {
                skill_id: r.skill_id,
                required: r.required,
                current: r.current,
                gap,
                business_priority: factors[1],
                market_demand: factors[2],
                prerequisite_blocking: blocking,
                career_impact: factors[4],
                priority,
            }
        })
        .collect();
    gaps.sort_by(|a, b| {
        b.priority
            .total_cmp(&a.priority)
            .then(b.gap.total_cmp(&a.gap))
            .then(a.skill_id.cmp(&b.skill_id))
    });
    gaps
}

/// A course that teaches a skill, as a recommendation candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub course_id: Uuid,
    pub skill_id: Uuid,
    /// The learner already completed or is taking it.
    pub taken: bool,
}

/// What to do about one gap: a course to take, or (no untaken course
/// teaches it) the skill itself to practise.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Course(Uuid),
    Skill(Uuid),
}

/// One recommendation per gap among the top 3, in priority order: the first
/// untaken course (by id, for a stable answer) teaching the skill, else the
/// skill.
pub fn recommend(gaps: &[Gap], offers: &[Offer]) -> Vec<(Next, Gap)> {
    gaps.iter()
        .take(RECOMMENDED_GAPS)
        .map(|g| {
            let course = offers
                .iter()
                .filter(|o| o.skill_id == g.skill_id && !o.taken)
                .map(|o| o.course_id)
                .min();
            let next = course.map_or(Next::Skill(g.skill_id), Next::Course);
            (next, g.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(n: u128, required: f64, current: f64) -> Requirement {
        Requirement {
            skill_id: Uuid::from_u128(n),
            required,
            current,
            business_priority: 0.0,
            market_demand: 0.0,
            career_impact: 0.0,
            prerequisites: vec![],
        }
    }

    #[test]
    fn priority_is_the_weighted_sum_of_the_five_factors() {
        let mut r = req(1, 80.0, 40.0);
        r.business_priority = 1.0;
        r.market_demand = 0.5;
        r.career_impact = 0.5;
        let gaps = gap_matrix(&[r]);
        // 100 x (0.25 x 0.4 + 0.30 x 1 + 0.20 x 0.5 + 0.15 x 0 + 0.10 x 0.5) = 55
        assert_eq!(gaps.len(), 1);
        assert!((gaps[0].priority - 55.0).abs() < 1e-9);
        assert!((gaps[0].gap - 0.4).abs() < 1e-12);
    }

    #[test]
    fn only_skills_below_the_requirement_are_gaps() {
        let gaps = gap_matrix(&[req(1, 80.0, 80.0), req(2, 80.0, 79.0), req(3, 60.0, 90.0)]);
        assert_eq!(gaps.len(), 1);
        assert_eq!(gaps[0].skill_id, Uuid::from_u128(2));
    }

    #[test]
    fn blocking_counts_the_other_gaps_that_need_the_skill_first() {
        let base = req(1, 80.0, 0.0);
        let mut a = req(2, 80.0, 0.0);
        a.prerequisites = vec![base.skill_id];
        let b = req(3, 80.0, 0.0);
        let gaps = gap_matrix(&[base.clone(), a, b]);
        let of = |id: u128| {
            gaps.iter()
                .find(|g| g.skill_id == Uuid::from_u128(id))
                .unwrap()
        };
        assert_eq!(of(1).prerequisite_blocking, 0.5);
        assert_eq!(of(2).prerequisite_blocking, 0.0);
        // The blocking skill outranks equal gaps.
        assert_eq!(gaps[0].skill_id, base.skill_id);
        // A mastered prerequisite blocks nothing (it is no gap).
        let mut mastered = base;
        mastered.current = 90.0;
        let mut c = req(4, 80.0, 10.0);
        c.prerequisites = vec![mastered.skill_id];
        assert!(
            gap_matrix(&[mastered, c])
                .iter()
                .all(|g| g.prerequisite_blocking == 0.0)
        );
    }

    #[test]
    fn recommendations_take_the_top_three_gaps_and_skip_taken_courses() {
        let gaps = gap_matrix(&[
            req(1, 80.0, 0.0),
            req(2, 80.0, 10.0),
            req(3, 80.0, 20.0),
            req(4, 80.0, 30.0),
        ]);
        let offers = [
            Offer {
                course_id: Uuid::from_u128(100),
                skill_id: Uuid::from_u128(1),
                taken: true,
            },
            Offer {
                course_id: Uuid::from_u128(101),
                skill_id: Uuid::from_u128(1),
                taken: false,
            },
            Offer {
                course_id: Uuid::from_u128(102),
                skill_id: Uuid::from_u128(2),
                taken: true,
            },
        ];
        let recs = recommend(&gaps, &offers);
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].0, Next::Course(Uuid::from_u128(101)));
        assert_eq!(recs[1].0, Next::Skill(Uuid::from_u128(2)));
        assert_eq!(recs[2].0, Next::Skill(Uuid::from_u128(3)));
    }
}
