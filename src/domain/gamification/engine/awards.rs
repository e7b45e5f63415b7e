//! The awards a person's facts call for: per event (keyed by the event
//! id) and once per thing (keyed by the thing), before the daily cap.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::rules::Rules;
use super::{Person, Reach};
use crate::domain::events::Payload;
use crate::domain::gamification::ledger::{
    Entry, course_key, milestone_key, milestone_rule, skill_key, streak_day_key,
};
use crate::domain::gamification::streaks::Milestone;

/// A time as PostgreSQL stores it (microseconds), so batch events compare
/// and sort like the rows read back.
pub fn stored_precision(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    at.trunc_subsecs(6)
}

/// A new award, not split by the cap yet.
pub fn new_entry(
    (rule_id, rule_version): (String, i32),
    source_key: String,
    course_id: Option<Uuid>,
    (occurred_at, local_date): (DateTime<Utc>, NaiveDate),
    base: i32,
    trigger: Option<String>,
) -> Entry {
    Entry {
        rule_id,
        rule_version,
        source_key,
        course_id,
        occurred_at,
        local_date,
        base,
        awarded: base,
        capped: 0,
        trigger,
        stored: None,
        removed: false,
    }
}

/// The points an assessment pays: its score, rounded, within 0..=100.
pub fn assessment_points(score: f64) -> i32 {
    score.round().clamp(0.0, 100.0) as i32
}

/// Awards paid per event, keyed by the event id: an assessment pays its
/// score, a practice its fixed amount.
pub fn event_awards(p: &Person<'_>, rules: &Rules) -> Vec<Entry> {
    p.events
        .iter()
        .filter_map(|b| {
            let e = b.event;
            let (rule, points, course) = match &e.payload {
                Payload::AssessmentGraded {
                    score, course_id, ..
                } => {
                    let version = rules.version("assessment_graded")?;
                    (
                        ("assessment_graded".to_string(), version),
                        assessment_points(*score),
                        Some(*course_id),
                    )
                }
                Payload::PracticePassed { course_id, .. } => {
                    let (version, points) = rules.fixed("practice_passed")?;
                    (("practice_passed".to_string(), version), points, *course_id)
                }
                _ => return None,
            };
            let id = e.event_id.clone();
            let when = (stored_precision(e.occurred_at), b.local_date);
            Some(new_entry(rule, id.clone(), course, when, points, Some(id)))
        })
        .collect()
}

/// What once-per-thing awards derive from, for one person.
pub struct ThingFacts<'f> {
    /// Learning days with their first learning time.
    pub days: &'f BTreeMap<NaiveDate, DateTime<Utc>>,
    /// Completed courses with their (earliest) completion time.
    pub completions: &'f [(Uuid, DateTime<Utc>)],
    /// Skills acquired with the time mastery first reached the mark.
    pub mastered: &'f [(Uuid, DateTime<Utc>)],
}

/// Awards paid once per course completed, skill acquired and active day,
/// at the earliest time stored for it. A batch looks only at the things
/// its events name; a recompute at all of them.
pub fn thing_awards(
    p: &Person<'_>,
    rules: &Rules,
    reach: Reach<'_>,
    facts: &ThingFacts<'_>,
) -> Vec<Entry> {
    let all = reach.is_everything();
    let courses = p.names(|e| match e.payload {
        Payload::CourseCompleted { course_id } => Some(course_id),
        _ => None,
    });
    let skill_ids = p.names(|e| e.payload.skill_id());
    let dates: HashSet<NaiveDate> = p.learning_dates().collect();
    let mut out = Vec::new();
    if let Some((version, points)) = rules.fixed("course_completed") {
        let named = facts.completions.iter();
        for (course, at) in named.filter(|(c, _)| all || courses.contains(c)) {
            let trigger = p.trigger(*at, |e| {
                matches!(e.payload, Payload::CourseCompleted { course_id } if course_id == *course)
            });
            let rule = ("course_completed".to_string(), version);
            let when = (*at, p.local_date(*at));
            let key = course_key(*course);
            out.push(new_entry(rule, key, Some(*course), when, points, trigger));
        }
    }
    if let Some((version, points)) = rules.fixed("skill_acquired") {
        let named = facts.mastered.iter();
        for (skill, at) in named.filter(|(s, _)| all || skill_ids.contains(s)) {
            let trigger = p.trigger(*at, |e| e.payload.skill_id() == Some(*skill));
            let rule = ("skill_acquired".to_string(), version);
            let when = (*at, p.local_date(*at));
            out.push(new_entry(
                rule,
                skill_key(*skill),
                None,
                when,
                points,
                trigger,
            ));
        }
    }
    if let Some((version, points)) = rules.fixed("streak_day") {
        for (day, at) in facts.days.iter().filter(|(d, _)| all || dates.contains(d)) {
            let trigger = p.trigger(*at, |e| e.kind().is_learning_activity());
            let rule = ("streak_day".to_string(), version);
            let key = streak_day_key(*day);
            out.push(new_entry(rule, key, None, (*at, *day), points, trigger));
        }
    }
    out
}

/// Awards for the streak milestones reached, dated by the first learning
/// time of the day each was reached on.
pub fn milestone_awards(
    p: &Person<'_>,
    rules: &Rules,
    milestones: &[Milestone],
    days: &BTreeMap<NaiveDate, DateTime<Utc>>,
) -> Vec<Entry> {
    milestones
        .iter()
        .filter_map(|m| {
            let rule = milestone_rule(m.days);
            let (version, points) = rules.fixed(&rule)?;
            let at = days.get(&m.local_date)?;
            let trigger = p.trigger(*at, |e| e.kind().is_learning_activity());
            Some(new_entry(
                (rule, version),
                milestone_key(m.days),
                None,
                (*at, m.local_date),
                points,
                trigger,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assessment_pays_its_rounded_score_within_bounds() {
        assert_eq!(assessment_points(79.5), 80);
        assert_eq!(assessment_points(-3.0), 0);
        assert_eq!(assessment_points(130.0), 100);
    }

    #[test]
    fn stored_precision_drops_what_postgres_would() {
        let at: DateTime<Utc> = "2026-11-20T10:00:00.123456789Z".parse().unwrap();
        let expected: DateTime<Utc> = "2026-11-20T10:00:00.123456Z".parse().unwrap();
        assert_eq!(stored_precision(at), expected);
    }
}
