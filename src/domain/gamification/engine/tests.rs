//! The engine's steps on hand-made facts (the store-backed runs are
//! covered by the ingestion property and integration tests).

use super::*;
use crate::domain::gamification::ledger::Stored;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

const ALICE: Uuid = Uuid::from_u128(1);
const ORG: Uuid = Uuid::from_u128(9);

fn rules() -> Rules {
    let row = |rule_id: &str, calculation: &str, points: Option<i32>| RuleRow {
        rule_id: rule_id.into(),
        version: 1,
        calculation: calculation.into(),
        points,
    };
    Rules::new(vec![
        row("assessment_graded", "score", None),
        row("streak_day", "fixed", Some(10)),
        row("course_completed", "fixed", Some(200)),
        row("streak_milestone_7", "fixed", Some(50)),
        row("daily_cap", "cap", Some(100)),
    ])
}

fn graded(id: &str, when: &str, score: f64) -> ValidEvent {
    ValidEvent {
        event_id: id.into(),
        occurred_at: at(when),
        user_id: ALICE,
        organization_id: Some(ORG),
        payload: Payload::AssessmentGraded {
            course_id: Uuid::from_u128(5),
            assessment_ref: "quiz".into(),
            skill_id: None,
            score,
        },
    }
}

fn placed(event: &ValidEvent) -> BatchEvent<'_> {
    BatchEvent {
        event,
        organization_id: ORG,
        local_date: event.occurred_at.date_naive(),
        zone: chrono_tz::UTC,
    }
}

fn stored(key: &str, rule: &str, when: &str, awarded: i32, capped: i32) -> (Uuid, Entry) {
    let occurred_at = at(when);
    let local_date = occurred_at.date_naive();
    let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, key.as_bytes());
    (
        ALICE,
        Entry {
            rule_id: rule.into(),
            rule_version: 1,
            source_key: key.into(),
            course_id: None,
            occurred_at,
            local_date,
            base: awarded + capped,
            awarded,
            capped,
            trigger: None,
            stored: Some(Stored {
                id,
                occurred_at,
                local_date,
                awarded,
                capped,
            }),
            removed: false,
        },
    )
}

fn wanted_entry(key: &str, rule: &str, when: &str, base: i32) -> (Uuid, Entry) {
    let (u, mut e) = stored(key, rule, when, base, 0);
    e.stored = None;
    (u, e)
}

#[test]
fn a_wanted_award_takes_over_its_stored_row_and_moves_it() {
    let (_, old) = stored(
        "course:1",
        "course_completed",
        "2026-11-20T10:00:00Z",
        200,
        0,
    );
    let wanted = vec![wanted_entry(
        "course:1",
        "course_completed",
        "2026-11-19T09:00:00Z",
        200,
    )];
    let merged = merge(
        wanted,
        vec![(ALICE, old.clone())],
        Reach::Everything,
        &HashSet::new(),
    );
    assert_eq!(merged.len(), 1);
    let (_, e) = &merged[0];
    assert_eq!(e.stored.map(|s| s.id), old.stored.map(|s| s.id));
    assert_eq!(e.occurred_at, at("2026-11-19T09:00:00Z"));
    assert!(e.changed());
    // Both days are capped again: the one it left and the one it joined.
    let touched = touched_days(&merged, Reach::Batch(&LearningDays::new()));
    assert!(touched.contains(&(ALICE, day("2026-11-19"))));
    assert!(touched.contains(&(ALICE, day("2026-11-20"))));
}

#[test]
fn a_milestone_no_longer_reached_goes_only_when_the_streak_replayed() {
    let milestone = stored(
        "streak_milestone:7",
        "streak_milestone_7",
        "2026-11-20T10:00:00Z",
        50,
        0,
    );
    let days = LearningDays::new();
    let replayed = merge(
        Vec::new(),
        vec![milestone.clone()],
        Reach::Batch(&days),
        &HashSet::new(),
    );
    assert!(replayed[0].1.removed);
    let resumed: HashSet<Uuid> = [ALICE].into();
    let kept = merge(Vec::new(), vec![milestone], Reach::Batch(&days), &resumed);
    assert!(!kept[0].1.removed);
}

#[test]
fn a_recompute_removes_unwanted_thing_awards_but_keeps_event_awards() {
    let course = stored(
        "course:1",
        "course_completed",
        "2026-11-20T10:00:00Z",
        200,
        0,
    );
    let quiz = stored("ev-1", "assessment_graded", "2026-11-20T11:00:00Z", 80, 0);
    let merged = merge(
        Vec::new(),
        vec![course, quiz],
        Reach::Everything,
        &HashSet::new(),
    );
    let removed: Vec<&str> = merged
        .iter()
        .filter(|(_, e)| e.removed)
        .map(|(_, e)| e.source_key.as_str())
        .collect();
    assert_eq!(removed, ["course:1"]);
}

#[test]
fn stored_matches_take_day_rows_only_for_wanted_keys_and_once() {
    let by_key = vec![stored(
        "course:1",
        "course_completed",
        "2026-11-20T10:00:00Z",
        200,
        0,
    )];
    let on_days = vec![
        by_key[0].clone(),
        stored(
            "streak:2026-11-20",
            "streak_day",
            "2026-11-20T08:00:00Z",
            10,
            0,
        ),
        stored("ev-9", "assessment_graded", "2026-11-20T09:00:00Z", 40, 0),
    ];
    let keys = vec!["course:1".to_string(), "streak:2026-11-20".to_string()];
    let found = stored_matches(by_key, &on_days, &keys);
    let keys: Vec<&str> = found.iter().map(|(_, e)| e.source_key.as_str()).collect();
    assert_eq!(keys, ["course:1", "streak:2026-11-20"]);
}

#[test]
fn day_rows_join_only_on_touched_days_and_only_once() {
    let mut entries = vec![stored(
        "ev-1",
        "assessment_graded",
        "2026-11-20T09:00:00Z",
        40,
        0,
    )];
    let touched: BTreeSet<_> = [(ALICE, day("2026-11-20"))].into();
    let rows = vec![
        entries[0].clone(),
        stored("ev-2", "assessment_graded", "2026-11-20T10:00:00Z", 30, 0),
        stored("ev-2", "assessment_graded", "2026-11-20T10:00:00Z", 30, 0),
        stored("ev-3", "assessment_graded", "2026-11-21T10:00:00Z", 30, 0),
    ];
    add_day_rows(&mut entries, rows, &touched);
    let keys: Vec<&str> = entries.iter().map(|(_, e)| e.source_key.as_str()).collect();
    assert_eq!(keys, ["ev-1", "ev-2"]);
}

/// One batch through every step: a late assessment lands on a day the cap
/// already filled, so the earlier stored award keeps its points and the
/// new one is capped.
#[test]
fn a_batch_settles_the_cap_totals_and_what_each_event_paid() {
    let event = graded("ev-late", "2026-11-20T12:00:00Z", 79.6);
    let batch = [placed(&event)];
    let mut before = PointsRow::empty(ALICE, ORG);
    before.total_points = 90;
    before.level = 1;
    before.last_active_date = Some(day("2026-11-20"));
    before.current_streak = 1;
    before.longest_streak = 1;
    before.streak_zone = Some("UTC".into());
    let rows: HashMap<Uuid, PointsRow> = [(ALICE, before)].into();
    let persons = persons(people_of(&batch), &rows);
    let facts = Facts {
        rules: rules(),
        ..Facts::default()
    };
    let days: LearningDays = [(
        ALICE,
        [(day("2026-11-20"), at("2026-11-20T08:00:00Z"))].into(),
    )]
    .into();
    let reach = Reach::Batch(&days);
    let resumes = resumes(&persons, &facts.completions, reach);
    assert!(
        resumes.contains_key(&ALICE),
        "a later event on the last day goes on"
    );
    let mut wanted = wanted(&persons, &facts, reach, &resumes);
    let keys = wanted.keys();
    assert!(keys.contains(&"ev-late".to_string()));
    assert!(keys.contains(&"streak:2026-11-20".to_string()));
    let on_days = vec![
        stored(
            "streak:2026-11-20",
            "streak_day",
            "2026-11-20T08:00:00Z",
            10,
            0,
        ),
        stored(
            "ev-early",
            "assessment_graded",
            "2026-11-20T09:00:00Z",
            80,
            0,
        ),
    ];
    let found = stored_matches(Vec::new(), &on_days, &keys);
    let mut entries = merge(
        std::mem::take(&mut wanted.entries),
        found,
        reach,
        &wanted.resumed,
    );
    let touched = touched_days(&entries, reach);
    add_day_rows(&mut entries, on_days, &touched);
    let plan = settle(
        persons,
        wanted,
        entries,
        &touched,
        &facts,
        reach,
        at("2026-11-21T00:00:00Z"),
    );

    // 10 + 80 stored, the cap is 100: the late 80 pays 10.
    assert_eq!(
        plan.paid(&batch),
        [Paid {
            awarded: 10,
            capped: 70
        }]
    );
    let after = &plan.after[&ALICE];
    assert_eq!(after.total_points, 100);
    assert_eq!(after.capped_points, 70);
    assert_eq!(
        plan.days,
        [DayTotal {
            user_id: ALICE,
            local_date: day("2026-11-20"),
            awarded: 100,
            capped: 70
        }]
    );
    assert_eq!(plan.resumed, 1);
    assert_eq!(
        plan.ledger_rows_changed()[&ALICE],
        1,
        "only the new row is written"
    );
}

#[test]
fn a_streak_computed_in_another_zone_replays() {
    let event = graded("ev", "2026-11-20T12:00:00Z", 50.0);
    let batch = [placed(&event)];
    let mut before = PointsRow::empty(ALICE, ORG);
    before.last_active_date = Some(day("2026-11-19"));
    before.current_streak = 1;
    before.longest_streak = 1;
    before.streak_zone = Some("Europe/Paris".into());
    let rows: HashMap<Uuid, PointsRow> = [(ALICE, before)].into();
    let persons = persons(people_of(&batch), &rows);
    let days = LearningDays::new();
    assert!(resumes(&persons, &Things::new(), Reach::Batch(&days)).is_empty());
}
