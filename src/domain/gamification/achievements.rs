//! Achievement criteria: data, not code (SPEC). The language:
//!
//! - `{"metric": "<counter>", "gte": N}`: the person's counter is at least N
//!   (N in 1..=1,000,000);
//! - `{"all": [c, ...]}` / `{"any": [c, ...]}`: every / some criterion holds
//!   (1 to 16 of them, nested at most 4 deep).
//!
//! Counters are the `user_points` columns of the same names.

use serde_json::Value;

const MAX_DEPTH: usize = 4;
const MAX_CHILDREN: usize = 16;
const MAX_TARGET: u64 = 1_000_000;
/// Longest criteria text accepted (bytes of JSON).
pub const MAX_CRITERIA_BYTES: usize = 4096;

/// What a criterion can count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    CoursesCompleted,
    LessonsCompleted,
    SkillsAcquired,
    PathsCompleted,
    DomainsMastered,
    PeersHelped,
    LongestStreak,
    TotalPoints,
    Level,
}

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::CoursesCompleted,
        Metric::LessonsCompleted,
        Metric::SkillsAcquired,
        Metric::PathsCompleted,
        Metric::DomainsMastered,
        Metric::PeersHelped,
        Metric::LongestStreak,
        Metric::TotalPoints,
        Metric::Level,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::CoursesCompleted => "courses_completed",
            Metric::LessonsCompleted => "lessons_completed",
            Metric::SkillsAcquired => "skills_acquired",
            Metric::PathsCompleted => "paths_completed",
            Metric::DomainsMastered => "domains_mastered",
            Metric::PeersHelped => "peers_helped",
            Metric::LongestStreak => "longest_streak",
            Metric::TotalPoints => "total_points",
            Metric::Level => "level",
        }
    }
}

/// A person's counters, as criteria read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub courses_completed: u64,
    pub lessons_completed: u64,
    pub skills_acquired: u64,
    pub paths_completed: u64,
    pub domains_mastered: u64,
    pub peers_helped: u64,
    pub longest_streak: u64,
    pub total_points: u64,
    pub level: u64,
}

impl Counters {
    pub fn get(&self, metric: Metric) -> u64 {
        match metric {
            Metric::CoursesCompleted => self.courses_completed,
            Metric::LessonsCompleted => self.lessons_completed,
            Metric::SkillsAcquired => self.skills_acquired,
            Metric::PathsCompleted => self.paths_completed,
            Metric::DomainsMastered => self.domains_mastered,
            Metric::PeersHelped => self.peers_helped,
            Metric::LongestStreak => self.longest_streak,
            Metric::TotalPoints => self.total_points,
            Metric::Level => self.level,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Criterion {
    AtLeast { metric: Metric, target: u64 },
    All(Vec<Criterion>),
    Any(Vec<Criterion>),
}

impl Criterion {
    /// Parses and validates criteria; the error says what is wrong and where.
    pub fn parse(json: &Value) -> Result<Criterion, String> {
        parse_at(json, "criteria", 1)
    }

    /// Parses criteria text as stored or sent.
    pub fn parse_text(text: &str) -> Result<Criterion, String> {
        if text.len() > MAX_CRITERIA_BYTES {
            return Err(format!("criteria: at most {MAX_CRITERIA_BYTES} bytes"));
        }
        let json: Value =
            serde_json::from_str(text).map_err(|e| format!("criteria: not JSON ({e})"))?;
        Self::parse(&json)
    }

    pub fn met(&self, counters: &Counters) -> bool {
        match self {
            Criterion::AtLeast { metric, target } => counters.get(*metric) >= *target,
            Criterion::All(items) => items.iter().all(|c| c.met(counters)),
            Criterion::Any(items) => items.iter().any(|c| c.met(counters)),
        }
    }

    /// Progress as `(current, target)`, current never above target: a
    /// counter against its target; for `all` the sums; for `any` the
    /// criterion closest to done.
    pub fn progress(&self, counters: &Counters) -> (u64, u64) {
        match self {
            Criterion::AtLeast { metric, target } => (counters.get(*metric).min(*target), *target),
            Criterion::All(items) => items
                .iter()
                .map(|c| c.progress(counters))
                .fold((0, 0), |(c, t), (ci, ti)| (c + ci, t + ti)),
            Criterion::Any(items) => items
                .iter()
                .map(|c| c.progress(counters))
                .max_by(|a, b| {
                    let ra = a.0 as f64 / a.1.max(1) as f64;
                    let rb = b.0 as f64 / b.1.max(1) as f64;
                    ra.total_cmp(&rb)
                })
                .unwrap_or((0, 0)),
        }
    }
}

fn parse_at(json: &Value, at: &str, depth: usize) -> Result<Criterion, String> {
    if depth > MAX_DEPTH {
        return Err(format!("{at}: nested deeper than {MAX_DEPTH} levels"));
    }
    let Some(object) = json.as_object() else {
        return Err(format!("{at}: must be an object"));
    };
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    match keys.as_slice() {
        ["all"] | ["any"] => {
            let key = keys[0];
            let Some(items) = object[key].as_array() else {
                return Err(format!("{at}.{key}: must be a list of criteria"));
            };
            if items.is_empty() || items.len() > MAX_CHILDREN {
                return Err(format!(
                    "{at}.{key}: must hold 1 to {MAX_CHILDREN} criteria"
                ));
            }
            let parsed = items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_at(item, &format!("{at}.{key}[{i}]"), depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if key == "all" {
                Criterion::All(parsed)
            } else {
                Criterion::Any(parsed)
            })
        }
        _ if object.len() == 2 && object.contains_key("metric") && object.contains_key("gte") => {
            let name = object["metric"].as_str().unwrap_or_default();
            let metric = Metric::ALL
                .into_iter()
                .find(|m| m.as_str() == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = Metric::ALL.iter().map(|m| m.as_str()).collect();
                    format!("{at}.metric: must be one of {}", known.join(", "))
                })?;
            let target = object["gte"]
                .as_u64()
                .filter(|t| (1..=MAX_TARGET).contains(t))
                .ok_or_else(|| format!("{at}.gte: must be an integer 1 to {MAX_TARGET}"))?;
            Ok(Criterion::AtLeast { metric, target })
        }
        _ => Err(format!(
            "{at}: must be {{\"metric\": ..., \"gte\": N}}, {{\"all\": [...]}} or {{\"any\": [...]}}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn counters() -> Counters {
        Counters {
            courses_completed: 3,
            lessons_completed: 12,
            longest_streak: 31,
            ..Counters::default()
        }
    }

    #[test]
    fn every_seeded_criterion_parses_and_reads_its_counter() {
        let seeded = [
            ("courses_completed", 1, true),
            ("lessons_completed", 5, true),
            ("longest_streak", 3, true),
            ("courses_completed", 10, false),
            ("skills_acquired", 5, false),
            ("longest_streak", 30, true),
            ("skills_acquired", 20, false),
            ("paths_completed", 1, false),
            ("longest_streak", 100, false),
            ("domains_mastered", 1, false),
            ("longest_streak", 365, false),
            ("peers_helped", 50, false),
        ];
        for (metric, gte, met) in seeded {
            let c = Criterion::parse(&json!({ "metric": metric, "gte": gte })).unwrap();
            assert_eq!(c.met(&counters()), met, "{metric} >= {gte}");
        }
    }

    #[test]
    fn progress_is_capped_at_the_target() {
        let c = Criterion::parse(&json!({ "metric": "courses_completed", "gte": 10 })).unwrap();
        assert_eq!(c.progress(&counters()), (3, 10));
        let c = Criterion::parse(&json!({ "metric": "lessons_completed", "gte": 5 })).unwrap();
        assert_eq!(c.progress(&counters()), (5, 5));
    }

    #[test]
    fn all_and_any_combine() {
        let all = json!({ "all": [
            { "metric": "courses_completed", "gte": 2 },
            { "metric": "lessons_completed", "gte": 20 } ] });
        let c = Criterion::parse(&all).unwrap();
        assert!(!c.met(&counters()));
        assert_eq!(c.progress(&counters()), (2 + 12, 22));
        let any = json!({ "any": [
            { "metric": "courses_completed", "gte": 10 },
            { "metric": "lessons_completed", "gte": 20 } ] });
        let c = Criterion::parse(&any).unwrap();
        assert!(!c.met(&counters()));
        assert_eq!(c.progress(&counters()), (12, 20), "the closest one");
        let c = Criterion::parse(&json!({ "any": [ { "metric": "level", "gte": 1 } ] })).unwrap();
        assert!(c.met(&Counters {
            level: 1,
            ..Counters::default()
        }));
    }

    #[test]
    fn bad_criteria_say_where_and_why() {
        let cases = [
            (json!([]), "criteria: must be an object"),
            (json!({ "metric": "karma", "gte": 1 }), "criteria.metric"),
            (json!({ "metric": "level", "gte": 0 }), "criteria.gte"),
            (
                json!({ "metric": "level", "gte": 2_000_000 }),
                "criteria.gte",
            ),
            (json!({ "metric": "level", "gte": 1.5 }), "criteria.gte"),
            (json!({ "metric": "level" }), "criteria: must be"),
            (
                json!({ "metric": "level", "gte": 1, "extra": true }),
                "criteria: must be",
            ),
            (json!({ "all": [] }), "criteria.all"),
            (
                json!({ "any": [ { "metric": "x", "gte": 1 } ] }),
                "criteria.any[0].metric",
            ),
        ];
        for (json, expected) in cases {
            let err = Criterion::parse(&json).unwrap_err();
            assert!(err.starts_with(expected), "{json}: {err}");
        }
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        let mut deep = json!({ "metric": "level", "gte": 1 });
        for _ in 0..4 {
            deep = json!({ "all": [deep] });
        }
        assert!(
            Criterion::parse(&deep)
                .unwrap_err()
                .contains("nested deeper")
        );
        let wide: Vec<Value> = (0..17)
            .map(|_| json!({ "metric": "level", "gte": 1 }))
            .collect();
        assert!(Criterion::parse(&json!({ "any": wide })).is_err());
        let long = format!("{{\"metric\": \"level\", \"gte\": 1{}}}", " ".repeat(5000));
        assert!(Criterion::parse_text(&long).unwrap_err().contains("4096"));
        assert!(Criterion::parse_text("{").unwrap_err().contains("not JSON"));
    }
}
