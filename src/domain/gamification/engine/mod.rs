//! The gamification engine as pure steps over what the store read. Per
//! run (a batch of events, or a recompute), for each person:
//! 1. per-event awards (assessment score, practice) keyed by the event id;
//! 2. once-per-thing awards keyed by the thing (`course:<id>`,
//!    `skill:<id>`, `streak:<day>`, `streak_milestone:<n>`), carrying the
//!    earliest time the thing happened as the derived tables hold it after
//!    the batch merged (so a late, earlier event moves them);
//! 3. the streak (freezes, milestones): resumed from the stored row when
//!    the batch brings only later days and completions, else replayed from
//!    the person's active days;
//! 4. the daily cap re-applied to every day whose awards changed;
//! 5. totals, the current week and month, counters, level, achievements.
//!
//! The store (`db::gamification`) reads in rounds, each a few statements
//! sent together: the people's rows and [`Facts`], then the history of
//! those whose streak replays, then the ledger rows the [`Wanted`] awards
//! may be, then the rest of the days they touch; it writes the [`Plan`].

mod awards;
mod rules;
mod settle;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use self::awards::{ThingFacts, event_awards, milestone_awards, thing_awards};
pub use self::awards::{assessment_points, stored_precision};
pub use self::rules::{DEFAULT_DAILY_CAP, RuleRow, Rules};
pub use self::settle::settle;
use crate::domain::events::{Kind, Payload, ValidEvent};
use crate::domain::gamification::achievements::Criterion;
use crate::domain::gamification::ledger::{Entry, course_key, milestone_key};
use crate::domain::gamification::standing::PointsRow;
use crate::domain::gamification::streaks::{
    FreezeFact, MILESTONES, Resume, StreakState, can_resume, replay, resume,
};

/// An accepted event of the batch, with what ingestion resolved for it.
pub struct BatchEvent<'a> {
    pub event: &'a ValidEvent,
    pub organization_id: Uuid,
    pub local_date: NaiveDate,
    /// The person's time zone.
    pub zone: Tz,
}

/// Learning days by person: the day and its first learning time.
pub type LearningDays = HashMap<Uuid, BTreeMap<NaiveDate, DateTime<Utc>>>;

/// Things done by person (completed courses, skills acquired) with the
/// earliest time, sorted.
pub type Things = HashMap<Uuid, Vec<(Uuid, DateTime<Utc>)>>;

/// What one event paid (its own award and the once-per-thing awards whose
/// time it set), after the cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Paid {
    pub awarded: i32,
    pub capped: i32,
}

/// Whether a run covers every stored fact of the people (recompute) or only
/// what the batch touched (with the batch's learning days as merged).
#[derive(Debug, Clone, Copy)]
pub enum Reach<'d> {
    Batch(&'d LearningDays),
    Everything,
}

impl Reach<'_> {
    pub fn is_everything(self) -> bool {
        matches!(self, Reach::Everything)
    }
}

/// The people of a run: organization, zone and batch events by person.
pub type People<'a> = BTreeMap<Uuid, (Uuid, Tz, Vec<&'a BatchEvent<'a>>)>;

/// Groups a batch's events by person.
pub fn people_of<'a>(batch: &'a [BatchEvent<'a>]) -> People<'a> {
    let mut people: People<'a> = BTreeMap::new();
    for b in batch {
        people
            .entry(b.event.user_id)
            .or_insert_with(|| (b.organization_id, b.zone, Vec::new()))
            .2
            .push(b);
    }
    people
}

/// One person being (re)computed.
pub struct Person<'a> {
    pub user_id: Uuid,
    pub organization_id: Uuid,
    pub zone: Tz,
    pub events: Vec<&'a BatchEvent<'a>>,
    pub before: PointsRow,
}

impl Person<'_> {
    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.zone).date_naive()
    }

    /// The batch event with exactly this time that `fits`: the event a
    /// once-per-thing award is reported under.
    fn trigger(&self, at: DateTime<Utc>, fits: impl Fn(&ValidEvent) -> bool) -> Option<String> {
        self.events
            .iter()
            .find(|e| stored_precision(e.event.occurred_at) == at && fits(e.event))
            .map(|e| e.event.event_id.clone())
    }

    /// The local days of the batch's learning activity.
    fn learning_dates(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.events
            .iter()
            .filter(|b| b.event.kind().is_learning_activity())
            .map(|b| b.local_date)
    }

    fn names(&self, pick: impl Fn(&ValidEvent) -> Option<Uuid>) -> HashSet<Uuid> {
        self.events.iter().filter_map(|b| pick(b.event)).collect()
    }

    fn count(&self, kind: Kind) -> i32 {
        self.events
            .iter()
            .filter(|e| e.event.kind() == kind)
            .count() as i32
    }
}

/// The people with their stored rows (people without one are left out).
pub fn persons<'a>(people: People<'a>, before: &HashMap<Uuid, PointsRow>) -> Vec<Person<'a>> {
    people
        .into_iter()
        .filter_map(|(user_id, (organization_id, zone, events))| {
            Some(Person {
                user_id,
                organization_id,
                zone,
                events,
                before: before.get(&user_id)?.clone(),
            })
        })
        .collect()
}

/// An active achievement definition.
#[derive(Debug, Clone)]
pub struct Achievement {
    pub id: String,
    /// `None`: platform-wide.
    pub organization_id: Option<Uuid>,
    pub criterion: Criterion,
}

/// What the store read for a run, beyond the people's rows.
#[derive(Default)]
pub struct Facts {
    pub rules: Rules,
    pub completions: Things,
    pub mastered: Things,
    /// The whole history of learning days of the people whose streak
    /// replays.
    pub history: LearningDays,
    /// Stored freeze facts of the people whose streak replays.
    pub freezes: Vec<(Uuid, FreezeFact)>,
    pub org_zones: HashMap<Uuid, Tz>,
    /// Domains mastered, for the people whose skills the run touched.
    pub domains: HashMap<Uuid, i32>,
    /// Lessons completed, recounted (recompute only).
    pub lessons: HashMap<Uuid, i32>,
    pub achievements: Vec<Achievement>,
    /// `(person, achievement id)` already earned.
    pub held: HashSet<(Uuid, String)>,
}

/// A person's streak can go on from their stored row: where it stands and
/// what the batch adds (its learning days, the completions it set).
pub struct Resumable {
    start: Resume,
    days: Vec<NaiveDate>,
    completions: Vec<(NaiveDate, String)>,
}

/// A completion as the streak sees it: the local day and the course key.
fn completion_of(p: &Person<'_>, (course, at): &(Uuid, DateTime<Utc>)) -> (NaiveDate, String) {
    (p.local_date(*at), course_key(*course))
}

/// The people of a batch whose streak goes on from the stored row (a
/// recompute replays everyone).
pub fn resumes(
    persons: &[Person<'_>],
    completions: &Things,
    reach: Reach<'_>,
) -> HashMap<Uuid, Resumable> {
    if reach.is_everything() {
        return HashMap::new();
    }
    persons
        .iter()
        .filter_map(|p| {
            let done = completions.get(&p.user_id).map_or(&[][..], Vec::as_slice);
            Some((p.user_id, resumable(p, done)?))
        })
        .collect()
}

/// Whether the batch only brings facts after the person's stored streak
/// (see `can_resume`). The completions the batch set are those at a time
/// of one of its events; the stored row must have counted all the others.
fn resumable(p: &Person<'_>, done: &[(Uuid, DateTime<Utc>)]) -> Option<Resumable> {
    let set_now: HashSet<(Uuid, DateTime<Utc>)> = p
        .events
        .iter()
        .filter_map(|b| match b.event.payload {
            Payload::CourseCompleted { course_id } => {
                Some((course_id, stored_precision(b.event.occurred_at)))
            }
            _ => None,
        })
        .collect();
    let (new, old): (Vec<_>, Vec<_>) = done.iter().partition(|c| set_now.contains(c));
    let row = &p.before;
    // Completions are dated in the person's zone: a streak computed in
    // another one (or before the zone was stored) is replayed once. A row
    // with no days nor completions yet has nothing dated.
    let nothing_dated = row.last_active_date.is_none() && row.courses_completed == 0;
    if row.streak_zone.as_deref() != Some(p.zone.name()) && !nothing_dated {
        return None;
    }
    let start = Resume {
        run: u32::try_from(row.current_streak).ok()?,
        longest: u32::try_from(row.longest_streak).ok()?,
        last_active: row.last_active_date,
        freezes_held: u8::try_from(row.freezes_held).ok()?,
        completions: usize::try_from(row.courses_completed).ok()?,
    };
    if old.len() != start.completions {
        return None;
    }
    let stored_latest = old.into_iter().map(|c| completion_of(p, c)).max();
    let completions: Vec<(NaiveDate, String)> =
        new.into_iter().map(|c| completion_of(p, c)).collect();
    let days: Vec<NaiveDate> = p.learning_dates().collect();
    can_resume(&start, stored_latest.as_ref(), &days, &completions).then_some(Resumable {
        start,
        days,
        completions,
    })
}

/// The awards a run's facts call for, before the stored ledger is seen.
pub struct Wanted {
    pub entries: Vec<(Uuid, Entry)>,
    pub streaks: HashMap<Uuid, StreakState>,
    /// People whose streak went on from their stored row.
    pub resumed: HashSet<Uuid>,
}

/// Step 1: each person's streak and the awards their facts call for.
pub fn wanted(
    persons: &[Person<'_>],
    facts: &Facts,
    reach: Reach<'_>,
    resumes: &HashMap<Uuid, Resumable>,
) -> Wanted {
    let empty_days = BTreeMap::new();
    let mut out = Wanted {
        entries: Vec::new(),
        streaks: HashMap::new(),
        resumed: resumes.keys().copied().collect(),
    };
    for p in persons {
        let completions = facts
            .completions
            .get(&p.user_id)
            .map_or(&[][..], Vec::as_slice);
        let mastered = facts
            .mastered
            .get(&p.user_id)
            .map_or(&[][..], Vec::as_slice);
        let (streak, days) = match (resumes.get(&p.user_id), reach) {
            (Some(r), Reach::Batch(batch_days)) => (
                resume(&r.start, &r.days, &r.completions),
                batch_days.get(&p.user_id).unwrap_or(&empty_days),
            ),
            _ => {
                let days = facts.history.get(&p.user_id).unwrap_or(&empty_days);
                let dates: Vec<NaiveDate> = days.keys().copied().collect();
                let earn: Vec<(NaiveDate, String)> =
                    completions.iter().map(|c| completion_of(p, c)).collect();
                (replay(&dates, &earn), days)
            }
        };
        let things = ThingFacts {
            days,
            completions,
            mastered,
        };
        let mut mine = event_awards(p, &facts.rules);
        mine.extend(thing_awards(p, &facts.rules, reach, &things));
        mine.extend(milestone_awards(p, &facts.rules, &streak.milestones, days));
        out.entries.extend(mine.into_iter().map(|e| (p.user_id, e)));
        out.streaks.insert(p.user_id, streak);
    }
    out
}

impl Wanted {
    /// The keys of the stored rows the wanted awards may be (and every
    /// milestone, which a replay may no longer reach).
    pub fn keys(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|(_, e)| e.source_key.clone())
            .chain(MILESTONES.iter().map(|m| milestone_key(*m)))
            .collect()
    }

    /// The (person, day) pairs the wanted awards fall on: their rows hold
    /// the streak-day and per-event keys, and the cap needs all of them.
    pub fn days(&self) -> BTreeSet<(Uuid, NaiveDate)> {
        self.entries
            .iter()
            .map(|(u, e)| (*u, e.local_date))
            .collect()
    }
}

/// Whether a source key names a once-per-thing award.
fn is_thing_key(key: &str) -> bool {
    ["course:", "skill:", "streak:", "streak_milestone:"]
        .iter()
        .any(|p| key.starts_with(p))
}

/// Stored rows found by key (courses, skills, milestones through their
/// own index) and the rows of the wanted days with a wanted key (a streak
/// day's row lies on its day, an event's award on the event's day), once
/// each.
pub fn stored_matches(
    by_key: Vec<(Uuid, Entry)>,
    on_days: &[(Uuid, Entry)],
    keys: &[String],
) -> Vec<(Uuid, Entry)> {
    let wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
    let found: HashSet<Uuid> = by_key.iter().filter_map(|(_, e)| stored_id(e)).collect();
    let mut out = by_key;
    out.extend(
        on_days
            .iter()
            .filter(|(_, e)| {
                stored_id(e).is_some_and(|id| !found.contains(&id))
                    && wanted.contains(e.source_key.as_str())
            })
            .cloned(),
    );
    out
}

fn stored_id(e: &Entry) -> Option<Uuid> {
    e.stored.map(|s| s.id)
}

/// Step 2: pairs each wanted entry with the stored row of the same
/// (person, rule, key), which keeps its id and moves to the wanted time.
/// Stored rows no entry wants stay as they are, except once-per-thing
/// awards that no longer hold: milestones of a replayed streak (a replay
/// yields them all; a resumed one only the new) and, in a recompute, any
/// of them.
pub fn merge(
    wanted: Vec<(Uuid, Entry)>,
    stored: Vec<(Uuid, Entry)>,
    reach: Reach<'_>,
    resumed: &HashSet<Uuid>,
) -> Vec<(Uuid, Entry)> {
    let mut stored_by: BTreeMap<(Uuid, String, String), Entry> = stored
        .into_iter()
        .map(|(u, e)| ((u, e.rule_id.clone(), e.source_key.clone()), e))
        .collect();
    let mut out: Vec<(Uuid, Entry)> = wanted
        .into_iter()
        .map(|(u, entry)| {
            let key = (u, entry.rule_id.clone(), entry.source_key.clone());
            let stored = stored_by.remove(&key).and_then(|old| old.stored);
            (u, Entry { stored, ..entry })
        })
        .collect();
    for ((u, rule, key), mut old) in stored_by {
        let milestone = rule.starts_with("streak_milestone_") && !resumed.contains(&u);
        if milestone || (reach.is_everything() && is_thing_key(&key)) {
            old.removed = true;
        }
        out.push((u, old));
    }
    out
}

/// The (person, day) pairs whose cap is re-applied: every day an award
/// changed on or left (a recompute: every day of every award).
pub fn touched_days(entries: &[(Uuid, Entry)], reach: Reach<'_>) -> BTreeSet<(Uuid, NaiveDate)> {
    entries
        .iter()
        .filter(|(_, e)| reach.is_everything() || e.changed())
        .flat_map(|(u, e)| {
            std::iter::once((*u, e.local_date)).chain(e.stored.map(|s| (*u, s.local_date)))
        })
        .collect()
}

/// Adds the stored rows of the touched days the run does not hold yet (a
/// day is capped whole).
pub fn add_day_rows(
    entries: &mut Vec<(Uuid, Entry)>,
    rows: impl IntoIterator<Item = (Uuid, Entry)>,
    touched: &BTreeSet<(Uuid, NaiveDate)>,
) {
    let known: HashSet<Uuid> = entries.iter().filter_map(|(_, e)| stored_id(e)).collect();
    let mut seen = HashSet::new();
    entries.extend(rows.into_iter().filter(|(u, e)| {
        stored_id(e).is_some_and(|id| !known.contains(&id) && seen.insert(id))
            && touched.contains(&(*u, e.local_date))
    }));
}

/// Achievements earned: `(person, achievement, earned at, source key)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Earned {
    pub user_id: Uuid,
    pub achievement_id: String,
    pub earned_at: DateTime<Utc>,
    pub source_key: String,
}

/// A touched day's totals after the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayTotal {
    pub user_id: Uuid,
    pub local_date: NaiveDate,
    pub awarded: i32,
    pub capped: i32,
}

/// The first instants of a person's current week and month, for the
/// store to sum the ledger from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodBounds {
    pub user_id: Uuid,
    pub week_from: DateTime<Utc>,
    pub month_from: DateTime<Utc>,
}

/// What the engine decided for a set of people, before it is written.
#[derive(Default)]
pub struct Plan {
    /// Ledger rows by person: wanted, stored, and the rest of touched days.
    pub entries: Vec<(Uuid, Entry)>,
    pub organizations: HashMap<Uuid, Uuid>,
    /// `user_points` before and after, by person. Period columns of
    /// `after` are filled in by the database after the ledger is written
    /// for the people of `period_bounds`.
    pub before: BTreeMap<Uuid, PointsRow>,
    pub after: BTreeMap<Uuid, PointsRow>,
    /// People whose current week and month are summed from the ledger.
    pub period_bounds: Vec<PeriodBounds>,
    /// People whose latest award only the written ledger can tell.
    pub latest_from_ledger: Vec<Uuid>,
    pub freezes_add: Vec<(Uuid, FreezeFact)>,
    pub freezes_remove: Vec<(Uuid, FreezeFact)>,
    pub earned: Vec<Earned>,
    /// Every touched day's totals.
    pub days: Vec<DayTotal>,
    /// People whose `user_points` row existed when the run started.
    pub existing: HashSet<Uuid>,
    /// People whose streak went on from their stored row (the rest
    /// replayed their history).
    pub resumed: usize,
}

impl Plan {
    /// Ledger rows the plan inserts, moves, re-splits or removes, by person.
    pub fn ledger_rows_changed(&self) -> HashMap<Uuid, usize> {
        let mut out = HashMap::new();
        for (u, _) in self.entries.iter().filter(|(_, e)| e.changed()) {
            *out.entry(*u).or_default() += 1;
        }
        out
    }

    /// Achievements the plan awards: `(person, achievement id)`.
    pub fn earned(&self) -> impl Iterator<Item = (Uuid, &str)> {
        self.earned
            .iter()
            .map(|e| (e.user_id, e.achievement_id.as_str()))
    }

    /// Freeze facts added and removed, by person.
    pub fn freeze_changes_by_person(&self) -> HashMap<Uuid, usize> {
        let mut out = HashMap::new();
        for (u, _) in self.freezes_add.iter().chain(&self.freezes_remove) {
            *out.entry(*u).or_default() += 1;
        }
        out
    }

    /// What each event of `batch` paid, in its order: the awards written
    /// under it as their trigger.
    pub fn paid(&self, batch: &[BatchEvent<'_>]) -> Vec<Paid> {
        let mut paid: HashMap<&str, Paid> = HashMap::new();
        let written = self
            .entries
            .iter()
            .filter(|(_, e)| e.changed() && !e.removed);
        for (_, e) in written {
            if let Some(trigger) = &e.trigger {
                let p = paid.entry(trigger.as_str()).or_default();
                p.awarded += e.awarded;
                p.capped += e.capped;
            }
        }
        batch
            .iter()
            .map(|b| {
                paid.get(b.event.event_id.as_str())
                    .copied()
                    .unwrap_or_default()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
