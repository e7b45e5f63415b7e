//! The point rules a run pays by: the active version of each, and the
//! daily cap.

use std::collections::HashMap;

/// The cap when no active `cap` rule says otherwise (SPEC: 1,000 a day).
pub const DEFAULT_DAILY_CAP: i32 = 1000;

/// An active row of `point_rules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRow {
    pub rule_id: String,
    pub version: i32,
    pub calculation: String,
    pub points: Option<i32>,
}

/// The active version of every rule, and the daily cap.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    by_id: HashMap<String, (i32, Option<i32>)>,
    pub cap: i32,
}

impl Rules {
    pub fn new(rows: Vec<RuleRow>) -> Rules {
        let cap = rows
            .iter()
            .find(|r| r.calculation == "cap")
            .and_then(|r| r.points)
            .unwrap_or(DEFAULT_DAILY_CAP);
        Rules {
            by_id: rows
                .into_iter()
                .map(|r| (r.rule_id, (r.version, r.points)))
                .collect(),
            cap,
        }
    }

    /// `(version, points)` of a fixed rule, `None` when it is inactive.
    pub fn fixed(&self, rule: &str) -> Option<(i32, i32)> {
        self.by_id.get(rule).and_then(|(v, p)| p.map(|p| (*v, p)))
    }

    /// The active version of a rule, `None` when it is inactive.
    pub fn version(&self, rule: &str) -> Option<i32> {
        self.by_id.get(rule).map(|(v, _)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(rule_id: &str, version: i32, calculation: &str, points: Option<i32>) -> RuleRow {
        RuleRow {
            rule_id: rule_id.into(),
            version,
            calculation: calculation.into(),
            points,
        }
    }

    #[test]
    fn the_cap_rule_sets_the_cap_and_defaults_to_the_spec() {
        assert_eq!(Rules::new(Vec::new()).cap, DEFAULT_DAILY_CAP);
        let rules = Rules::new(vec![row("daily_cap", 2, "cap", Some(500))]);
        assert_eq!(rules.cap, 500);
    }

    #[test]
    fn a_rule_without_points_has_a_version_but_is_not_fixed() {
        let rules = Rules::new(vec![
            row("assessment_graded", 3, "score", None),
            row("practice_passed", 1, "fixed", Some(15)),
        ]);
        assert_eq!(rules.version("assessment_graded"), Some(3));
        assert_eq!(rules.fixed("assessment_graded"), None);
        assert_eq!(rules.fixed("practice_passed"), Some((1, 15)));
        assert_eq!(rules.fixed("course_completed"), None);
    }
}
