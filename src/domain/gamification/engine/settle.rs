//! Step 3: the daily cap over every touched day, then each person's
//! totals, periods, counters, streak, freezes and achievements.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{DayTotal, Earned, Facts, PeriodBounds, Person, Plan, Reach, Wanted};
use crate::domain::events::Kind;
use crate::domain::gamification::ledger::{
    Entry, LatestAward, latest_award_after, period_after, recap_day,
};
use crate::domain::gamification::levels::level_of;
use crate::domain::gamification::periods::{local_midnight, month_start, week_start};
use crate::domain::gamification::standing::{PointsRow, counters_of};
use crate::domain::gamification::streaks::FreezeFact;

/// The plan for `persons`: `entries` are the merged ledger rows with every
/// row of the `touched` days, `now` dates the current week and month.
pub fn settle(
    persons: Vec<Person<'_>>,
    wanted: Wanted,
    mut entries: Vec<(Uuid, Entry)>,
    touched: &BTreeSet<(Uuid, NaiveDate)>,
    facts: &Facts,
    reach: Reach<'_>,
    now: DateTime<Utc>,
) -> Plan {
    let mut plan = Plan {
        resumed: wanted.resumed.len(),
        days: recap(&mut entries, touched, facts.rules.cap),
        ..Plan::default()
    };
    for p in &persons {
        plan.organizations.insert(p.user_id, p.organization_id);
        let mine: Vec<&Entry> = entries
            .iter()
            .filter(|(u, _)| *u == p.user_id)
            .map(|(_, e)| e)
            .collect();
        let mut after = totals(p, &mine, reach, facts, &mut plan.latest_from_ledger);
        let streak = &wanted.streaks[&p.user_id];
        after.current_streak = streak.run as i32;
        after.longest_streak = streak.longest as i32;
        after.last_active_date = streak.last_active;
        after.freezes_held = i16::from(streak.freezes_held);
        after.streak_zone = Some(p.zone.name().to_string());
        let count = |things: &super::Things| things.get(&p.user_id).map_or(0, |c| c.len() as i32);
        after.courses_completed = count(&facts.completions);
        after.skills_acquired = count(&facts.mastered);
        if let Some(d) = facts.domains.get(&p.user_id) {
            after.domains_mastered = *d;
        }
        if let Some(bounds) = periods(p, &mine, reach, facts, now, &mut after) {
            plan.period_bounds.push(bounds);
        }
        let (add, remove) = freeze_changes(p.user_id, &streak.freezes, &facts.freezes);
        plan.freezes_add.extend(add);
        plan.freezes_remove.extend(remove);
        plan.earned.extend(earned(p, &after, facts));
        plan.after.insert(p.user_id, after);
    }
    plan.entries = entries;
    plan.before = persons.into_iter().map(|p| (p.user_id, p.before)).collect();
    plan
}

/// The cap again over every touched day, whole; returns the days' totals.
fn recap(
    entries: &mut [(Uuid, Entry)],
    touched: &BTreeSet<(Uuid, NaiveDate)>,
    cap: i32,
) -> Vec<DayTotal> {
    let mut by_day: BTreeMap<(Uuid, NaiveDate), Vec<&mut Entry>> = BTreeMap::new();
    for (u, e) in entries.iter_mut() {
        if touched.contains(&(*u, e.local_date)) {
            by_day.entry((*u, e.local_date)).or_default().push(e);
        }
    }
    by_day
        .into_iter()
        .map(|((user_id, local_date), mut day)| {
            recap_day(&mut day, cap);
            let live = day.iter().filter(|e| !e.removed);
            DayTotal {
                user_id,
                local_date,
                awarded: live.clone().map(|e| e.awarded).sum(),
                capped: live.map(|e| e.capped).sum(),
            }
        })
        .collect()
}

/// Totals, counters of events and the level. A batch moves the stored
/// totals by what it changed; a recompute sums everything.
fn totals(
    p: &Person<'_>,
    mine: &[&Entry],
    reach: Reach<'_>,
    facts: &Facts,
    latest_from_ledger: &mut Vec<Uuid>,
) -> PointsRow {
    let mut after = p.before.clone();
    let entries = || mine.iter().copied();
    match reach {
        Reach::Batch(_) => {
            match latest_award_after(p.before.total_reached_at, entries()) {
                LatestAward::Known(at) => after.total_reached_at = at,
                LatestAward::ReadLedger => {
                    // Read back from the ledger once written; this bound
                    // only keeps the row valid until then.
                    let latest = entries()
                        .filter(|e| !e.removed && e.awarded > 0)
                        .map(|e| e.occurred_at)
                        .max();
                    after.total_reached_at = after.total_reached_at.max(latest);
                    latest_from_ledger.push(p.user_id);
                }
            }
            after.total_points += entries().map(Entry::awarded_delta).sum::<i64>();
            after.capped_points += entries().map(Entry::capped_delta).sum::<i64>();
            after.lessons_completed += p.count(Kind::LessonCompleted);
            after.paths_completed += p.count(Kind::LearningPathCompleted);
            after.peers_helped += p.count(Kind::PeerHelped);
        }
        Reach::Everything => {
            let live = entries().filter(|e| !e.removed);
            after.total_reached_at = live
                .clone()
                .filter(|e| e.awarded > 0)
                .map(|e| e.occurred_at)
                .max();
            after.total_points = live.clone().map(|e| i64::from(e.awarded)).sum();
            after.capped_points = live.map(|e| i64::from(e.capped)).sum();
            // Paths and peers exist only as events, which retention drops
            // after 90 days: their stored counters stand.
            after.lessons_completed = facts.lessons.get(&p.user_id).copied().unwrap_or(0);
        }
    }
    if after.total_points == 0 {
        after.total_reached_at = None;
    }
    after.level = level_of(after.total_points.max(0) as u64) as i32;
    after
}

/// Sets the current week and month in the organization's zone. A batch
/// moves the stored periods by what it changed in them; a new period, a
/// recompute, or a changed latest award of a period sums the ledger
/// instead: those bounds are returned.
fn periods(
    p: &Person<'_>,
    mine: &[&Entry],
    reach: Reach<'_>,
    facts: &Facts,
    now: DateTime<Utc>,
    after: &mut PointsRow,
) -> Option<PeriodBounds> {
    let zone = facts
        .org_zones
        .get(&p.organization_id)
        .copied()
        .unwrap_or(chrono_tz::UTC);
    let (week, month) = (week_start(now, zone), month_start(now, zone));
    let (week_from, month_from) = (local_midnight(week, zone), local_midnight(month, zone));
    let entries = || mine.iter().copied();
    let moved = (!reach.is_everything()
        && p.before.week_start == Some(week)
        && p.before.month_start == Some(month))
    .then(|| {
        let week = period_after(p.before.week(), week_from, entries())?;
        let month = period_after(p.before.month(), month_from, entries())?;
        Some((week, month))
    })
    .flatten();
    after.week_start = Some(week);
    after.month_start = Some(month);
    match moved {
        Some((week, month)) => {
            after.set_periods(week, month);
            None
        }
        None => Some(PeriodBounds {
            user_id: p.user_id,
            week_from,
            month_from,
        }),
    }
}

type FreezeChanges = (Vec<(Uuid, FreezeFact)>, Vec<(Uuid, FreezeFact)>);

/// Freeze facts to add and to remove. A resumed streak has no stored facts
/// read, and only adds: its stored ones stand.
fn freeze_changes(
    user: Uuid,
    wanted: &[FreezeFact],
    stored: &[(Uuid, FreezeFact)],
) -> FreezeChanges {
    let want: HashSet<&FreezeFact> = wanted.iter().collect();
    let have: HashSet<&FreezeFact> = stored
        .iter()
        .filter(|(u, _)| *u == user)
        .map(|(_, f)| f)
        .collect();
    let add = wanted
        .iter()
        .filter(|f| !have.contains(f))
        .map(|f| (user, f.clone()))
        .collect();
    let remove = have
        .iter()
        .filter(|f| !want.contains(*f))
        .map(|f| (user, (*f).clone()))
        .collect();
    (add, remove)
}

/// Achievements whose criteria the person now meets and has not earned:
/// earned at the latest event of the batch (a recompute: now).
fn earned(p: &Person<'_>, after: &PointsRow, facts: &Facts) -> Vec<Earned> {
    let counters = counters_of(after);
    let latest = p.events.iter().max_by_key(|e| e.event.occurred_at);
    let (at, source) = latest.map_or_else(
        || (Utc::now(), "recompute".to_string()),
        |e| (e.event.occurred_at, e.event.event_id.clone()),
    );
    facts
        .achievements
        .iter()
        .filter(|a| a.organization_id.is_none_or(|o| o == p.organization_id))
        .filter(|a| !facts.held.contains(&(p.user_id, a.id.clone())))
        .filter(|a| a.criterion.met(&counters))
        .map(|a| Earned {
            user_id: p.user_id,
            achievement_id: a.id.clone(),
            earned_at: at,
            source_key: source.clone(),
        })
        .collect()
}
