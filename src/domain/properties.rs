//! Properties every pure rule keeps for any input its types allow: no
//! panic, and every figure within its documented range. Inputs are drawn
//! wider than the service sends (extreme and non-finite numbers, dates far
//! apart), since stored data and future callers are not the validators'.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use super::analytics::course::{self, Enrollment};
use super::analytics::learner::{self, DayFigures, ENGAGEMENT_DAYS};
use super::analytics::organization::culture_index;
use super::analytics::predictive::{self, CourseFacts, RiskBand};
use super::analytics::stats;
use super::gamification::boards::{self, Standing};
use super::gamification::cap::{apply_cap, split_day};
use super::gamification::levels::level_info;
use super::gamification::streaks::{MAX_FREEZES, MILESTONES, replay};

/// Any f64, non-finite ones included.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        -1e6f64..1e6,
    ]
}

/// A score as stored (0-100) or anything else.
fn score() -> impl Strategy<Value = f64> {
    prop_oneof![4 => 0.0f64..=100.0, 1 => any_f64()]
}

/// Dates from year 1 to 9999 (the events' own range is narrower).
fn date() -> impl Strategy<Value = NaiveDate> {
    (1i32..=3_652_059).prop_map(|n| NaiveDate::from_num_days_from_ce_opt(n).expect("in range"))
}

/// A clock reading a service could have: 2000-2100.
fn now() -> impl Strategy<Value = DateTime<Utc>> {
    (946_684_800i64..4_102_444_800).prop_map(|s| DateTime::from_timestamp(s, 0).expect("in range"))
}

fn in_percent(x: f64) -> bool {
    (0.0..=100.0).contains(&x)
}

fn in_unit(x: f64) -> bool {
    (0.0..=1.0).contains(&x)
}

proptest! {
    #[test]
    fn a_level_brackets_its_points(points in any::<u64>()) {
        let info = level_info(points);
        prop_assert!(info.level >= 1);
        prop_assert!(info.start <= points, "{info:?}");
        prop_assert!(info.next >= info.start, "{info:?}");
        prop_assert!(in_percent(info.progress_percent), "{info:?}");
        prop_assert_eq!(info.to_next, info.next.saturating_sub(points));
    }

    #[test]
    fn the_cap_never_pays_more_than_its_room_nor_loses_points(
        points in any::<i32>(), paid in any::<i32>(), cap in any::<i32>()
    ) {
        let award = apply_cap(points, paid, cap);
        prop_assert!(award.awarded >= 0 && award.capped >= 0, "{award:?}");
        prop_assert_eq!(
            i64::from(award.awarded) + i64::from(award.capped),
            i64::from(points.max(0))
        );
        let room = (i64::from(cap) - i64::from(paid.max(0))).max(0);
        prop_assert!(i64::from(award.awarded) <= room, "{award:?} room {room}");
    }

    #[test]
    fn a_capped_day_pays_at_most_the_cap(
        points in prop::collection::vec(any::<i32>(), 0..40), cap in 0i32..=1_000_000
    ) {
        let awards = split_day(&points, cap);
        prop_assert_eq!(awards.len(), points.len());
        let paid: i64 = awards.iter().map(|a| i64::from(a.awarded)).sum();
        prop_assert!(paid <= i64::from(cap));
    }

    #[test]
    fn a_replayed_streak_is_consistent(
        days in prop::collection::vec(date(), 0..60),
        completions in prop::collection::vec(date(), 0..40),
        today in date(),
    ) {
        let completions: Vec<(NaiveDate, String)> = completions
            .into_iter()
            .enumerate()
            .map(|(i, d)| (d, format!("course:{i}")))
            .collect();
        let state = replay(&days, &completions);
        let distinct: std::collections::BTreeSet<_> = days.iter().collect();
        prop_assert!(state.run <= state.longest);
        prop_assert!(state.longest as usize <= distinct.len());
        prop_assert!(state.current(today) <= state.longest);
        prop_assert!(state.freezes_held <= MAX_FREEZES);
        prop_assert_eq!(state.last_active, distinct.iter().next_back().map(|d| **d));
        for m in &state.milestones {
            prop_assert!(MILESTONES.contains(&m.days) && m.days <= state.longest);
        }
    }

    #[test]
    fn engagement_is_a_score_out_of_100(
        figures in prop::array::uniform14((any::<u32>(), any::<u32>(), any::<u32>()))
    ) {
        let days: [DayFigures; ENGAGEMENT_DAYS] = figures.map(|(l, s, a)| DayFigures {
            logins: l,
            session_seconds: s,
            learning_activities: a,
        });
        let e = learner::engagement(&days);
        prop_assert!(e.score <= 100);
        prop_assert_eq!(e.band, learner::engagement_band(e.score));
        for part in [e.logins, e.session, e.activity] {
            prop_assert!(in_unit(part));
        }
    }

    #[test]
    fn learner_figures_stay_in_range(
        last7 in any::<u32>(), prior7 in any::<u32>(),
        total in any::<u32>(), progress in any_f64(), per_week in any_f64(),
        today in date(),
        scores in prop::collection::vec(score(), 0..30),
    ) {
        let (change, _) = learner::momentum(last7, prior7);
        prop_assert!(change.is_none_or(f64::is_finite));
        let remaining = learner::remaining_lessons(total, progress);
        prop_assert!(remaining <= total);
        if let Some(done) = learner::estimated_completion(today, remaining, per_week) {
            prop_assert!(done >= today);
        }
        prop_assert!(in_unit(learner::pass_rate(&scores)));
        let _ = learner::performance_trend(&scores);
    }

    #[test]
    fn risk_and_forecast_stay_in_range(
        engagement in any::<u32>(), change in prop::option::of(any_f64()), recent in any::<bool>(),
        progress in any_f64(), days_enrolled in any::<u32>(),
        course_scores in prop::collection::vec(score(), 0..20),
        overall in prop::option::of(score()),
        today in date(),
    ) {
        let risk = predictive::drop_off_risk(engagement, change, recent);
        prop_assert!(risk.score <= 100);
        prop_assert_eq!(risk.band, predictive::risk_band(risk.score));
        prop_assert_eq!(risk.score, risk.factors.iter().map(|f| f.points).sum::<u32>());
        if risk.score == 0 {
            prop_assert_eq!(risk.band, RiskBand::Low);
        }
        let facts = CourseFacts {
            progress_percent: progress,
            days_enrolled,
            course_scores,
            overall_average: overall,
        };
        let f = predictive::forecast(today, &facts);
        prop_assert!(in_unit(f.confidence), "{f:?}");
        if let Some(done) = f.completion {
            prop_assert!(done >= today);
        }
    }

    #[test]
    fn statistics_stay_within_their_inputs(
        mut values in prop::collection::vec(-1e9f64..1e9, 0..50),
        p in any_f64(), x in any_f64(),
        part in any::<u64>(), whole in any::<u64>(),
    ) {
        values.sort_by(f64::total_cmp);
        if let Some(q) = stats::quantile(&values, p) {
            prop_assert!(values[0] <= q && q <= values[values.len() - 1], "{q}");
        }
        if let Some(m) = stats::mean(&values) {
            prop_assert!(values[0] <= m + 1e-6 && m - 1e-6 <= values[values.len() - 1]);
        }
        prop_assert!(stats::slope(&values).is_finite());
        prop_assert!(in_percent(stats::percentile_below(x, &values)));
        let share = stats::share(part.min(whole), whole);
        prop_assert!(in_unit(share));
    }

    #[test]
    fn organization_and_course_scores_are_out_of_100(
        participation in any_f64(), streaks in any_f64(), helps in any_f64(),
        statuses in prop::collection::vec(
            (prop::sample::select(vec!["active", "completed", "dropped", "paused"]),
             0i64..400, prop::option::of(0i64..400)),
            0..30,
        ),
        average in prop::option::of(any_f64()),
        scores in prop::collection::vec(score(), 0..40),
        now in now(),
    ) {
        prop_assert!(culture_index(participation, streaks, helps) <= 100);
        let enrollments: Vec<Enrollment> = statuses
            .into_iter()
            .map(|(status, enrolled, progress)| Enrollment {
                status: status.to_string(),
                enrolled_at: now - Duration::days(enrolled),
                last_progress_at: progress.map(|d| now - Duration::days(d)),
            })
            .collect();
        let performance = course::performance(&enrollments, now);
        prop_assert!(performance.completed <= performance.enrolled);
        prop_assert!(performance.drop_outs <= performance.enrolled);
        prop_assert!(performance.active <= performance.enrolled);
        let (health, factors) = course::health(&performance, average);
        prop_assert!(health <= 100);
        for (_, value, _) in factors {
            prop_assert!(in_unit(value));
        }
        let d = course::distribution(&scores);
        let counted: u32 = d.histogram.iter().map(|(_, _, n)| n).sum();
        prop_assert_eq!(counted as usize, scores.len());
    }

    #[test]
    fn board_ranks_and_percentiles_stay_in_range(
        points in prop::collection::vec(-1_000i64..100_000, 0..60),
        own in -1_000i64..100_000, on_board in any::<bool>(),
        offset in 0usize..80, limit in 0usize..60,
    ) {
        let mut ranked: Vec<Standing> = points
            .iter()
            .enumerate()
            .map(|(i, p)| Standing { user_id: Uuid::from_u128(i as u128 + 1), points: *p, reached_at: None })
            .collect();
        ranked.sort_by(boards::board_order);
        let view = boards::view(&ranked, (own, on_board), offset, limit);
        prop_assert!(view.page.len() <= limit);
        prop_assert_eq!(view.ranked, ranked.len());
        prop_assert!(view.own_rank as usize <= ranked.len() + 1);
        prop_assert!(in_percent(view.own_percentile));
        let page_points: Vec<i64> = view.page.iter().map(|s| s.points).collect();
        let ranks = boards::page_ranks(&page_points, view.first_rank, offset as u32);
        prop_assert!(ranks.windows(2).all(|w| w[0] <= w[1]));
        let below = offset.min(limit) as u64;
        prop_assert!(in_percent(boards::percentile(below, limit as u64)));
    }
}
