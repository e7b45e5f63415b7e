//! Gamification writes, in the transaction that stores the events (so an
//! event can never pay twice, nor be stored without its awards), and the
//! same engine for `recompute`.
//!
//! Per batch, for each person it touched, under the lock of their
//! `user_points` row:
//! 1. per-event awards (assessment score, practice) keyed by the event id;
//! 2. once-per-thing awards keyed by the thing (`course:<id>`,
//!    `skill:<id>`, `streak:<day>`, `streak_milestone:<n>`), carrying the
//!    earliest time the thing happened, read back from the derived tables
//!    the batch just merged (so a late, earlier event moves them);
//! 3. the streak (freezes, milestones): resumed from the stored row when
//!    the batch brings only later days and completions, else replayed from
//!    the person's active days;
//! 4. the daily cap re-applied to every day whose awards changed;
//! 5. totals, the current week and month, counters, level, achievements.
//!
//! A recompute runs the same steps over everything the person has, and may
//! report the differences instead of writing them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel::sql_types::{Array, Date, Int4, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::prepared::prepared;
use uuid::Uuid;

use crate::db::schema::{
    achievements, daily_activity, enrollments, organizations, point_rules, point_transactions,
    streak_freeze_events, user_achievements, user_points, user_skills, users,
};
use crate::domain::events::{Kind, Payload, ValidEvent};
use crate::domain::gamification::achievements::{Counters, Criterion};
use crate::domain::gamification::ledger::{
    Entry, LatestAward, PeriodPoints, Stored, course_key, latest_award_after, milestone_key,
    milestone_rule, period_after, recap_day, skill_key, streak_day_key,
};
use crate::domain::gamification::levels::level_of;
use crate::domain::gamification::periods::{local_midnight, month_start, week_start};
use crate::domain::gamification::streaks::{
    FreezeFact, FreezeKind, MILESTONES, Resume, can_resume, replay, resume,
};

/// An accepted event of the batch, with what ingestion resolved for it.
pub struct BatchEvent<'a> {
    pub event: &'a ValidEvent,
    pub organization_id: Uuid,
    pub local_date: NaiveDate,
    /// The person's time zone.
    pub zone: Tz,
}

/// A batch's learning days by person, as stored after the batch merged
/// them: the day and its first learning time.
pub type LearningDays = HashMap<Uuid, BTreeMap<NaiveDate, DateTime<Utc>>>;

/// What one event paid (its own award and the once-per-thing awards whose
/// time it set), after the cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Paid {
    pub awarded: i32,
    pub capped: i32,
}

/// The active version of every rule, and the daily cap.
struct Rules {
    by_id: HashMap<String, (i32, Option<i32>)>,
    cap: i32,
}

impl Rules {
    async fn load(conn: &mut AsyncPgConnection) -> QueryResult<Rules> {
        let rows: Vec<(String, i32, String, Option<i32>)> = point_rules::table
            .filter(point_rules::active)
            .select((
                point_rules::rule_id,
                point_rules::version,
                point_rules::calculation,
                point_rules::points,
            ))
            .load(conn)
            .await?;
        let cap = rows
            .iter()
            .find(|r| r.2 == "cap")
            .and_then(|r| r.3)
            .unwrap_or(1000);
        Ok(Rules {
            by_id: rows.into_iter().map(|(id, v, _, p)| (id, (v, p))).collect(),
            cap,
        })
    }

    /// `(version, points)` of a fixed rule, `None` when it is inactive.
    fn fixed(&self, rule: &str) -> Option<(i32, i32)> {
        self.by_id.get(rule).and_then(|(v, p)| p.map(|p| (*v, p)))
    }

    fn version(&self, rule: &str) -> Option<i32> {
        self.by_id.get(rule).map(|(v, _)| *v)
    }
}

/// One person's stored `user_points` row.
#[derive(Queryable, Debug, Clone, PartialEq)]
pub struct PointsRow {
    pub user_id: Uuid,
    pub organization_id: Uuid,
    pub total_points: i64,
    pub capped_points: i64,
    pub total_reached_at: Option<DateTime<Utc>>,
    pub level: i32,
    pub current_streak: i32,
    pub longest_streak: i32,
    pub last_active_date: Option<NaiveDate>,
    pub freezes_held: i16,
    pub courses_completed: i32,
    pub lessons_completed: i32,
    pub skills_acquired: i32,
    pub paths_completed: i32,
    pub domains_mastered: i32,
    pub peers_helped: i32,
    pub week_start: Option<NaiveDate>,
    pub week_points: i64,
    pub week_reached_at: Option<DateTime<Utc>>,
    pub month_start: Option<NaiveDate>,
    pub month_points: i64,
    pub month_reached_at: Option<DateTime<Utc>>,
    /// The zone the streak was computed in (see `resumable`).
    pub streak_zone: Option<String>,
}

impl PointsRow {
    /// A person with nothing yet (the column defaults).
    pub fn empty(user_id: Uuid, organization_id: Uuid) -> Self {
        PointsRow {
            user_id,
            organization_id,
            total_points: 0,
            capped_points: 0,
            total_reached_at: None,
            level: 1,
            current_streak: 0,
            longest_streak: 0,
            last_active_date: None,
            freezes_held: 0,
            courses_completed: 0,
            lessons_completed: 0,
            skills_acquired: 0,
            paths_completed: 0,
            domains_mastered: 0,
            peers_helped: 0,
            week_start: None,
            week_points: 0,
            week_reached_at: None,
            month_start: None,
            month_points: 0,
            month_reached_at: None,
            streak_zone: None,
        }
    }
}

impl PointsRow {
    fn week(&self) -> PeriodPoints {
        PeriodPoints {
            points: self.week_points,
            reached_at: self.week_reached_at,
        }
    }

    fn month(&self) -> PeriodPoints {
        PeriodPoints {
            points: self.month_points,
            reached_at: self.month_reached_at,
        }
    }

    fn set_periods(&mut self, week: PeriodPoints, month: PeriodPoints) {
        self.week_points = week.points;
        self.week_reached_at = week.reached_at;
        self.month_points = month.points;
        self.month_reached_at = month.reached_at;
    }

    /// Nothing earned, counted or streaked (periods aside).
    pub fn is_empty_state(&self) -> bool {
        let empty = PointsRow {
            week_start: self.week_start,
            month_start: self.month_start,
            streak_zone: self.streak_zone.clone(),
            ..PointsRow::empty(self.user_id, self.organization_id)
        };
        *self == empty
    }
}

macro_rules! points_columns {
    () => {
        (
            user_points::user_id,
            user_points::organization_id,
            user_points::total_points,
            user_points::capped_points,
            user_points::total_reached_at,
            user_points::level,
            user_points::current_streak,
            user_points::longest_streak,
            user_points::last_active_date,
            user_points::freezes_held,
            user_points::courses_completed,
            user_points::lessons_completed,
            user_points::skills_acquired,
            user_points::paths_completed,
            user_points::domains_mastered,
            user_points::peers_helped,
            user_points::week_start,
            user_points::week_points,
            user_points::week_reached_at,
            user_points::month_start,
            user_points::month_points,
            user_points::month_reached_at,
            user_points::streak_zone,
        )
    };
}

/// One person being (re)computed.
struct Person<'a> {
    user_id: Uuid,
    organization_id: Uuid,
    zone: Tz,
    events: Vec<&'a BatchEvent<'a>>,
    before: PointsRow,
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

/// Whether a run covers every stored fact of the people (recompute) or only
/// what the batch touched (with the batch's learning days).
#[derive(Debug, Clone, Copy)]
enum Reach<'d> {
    Batch(&'d LearningDays),
    Everything,
}

impl Reach<'_> {
    fn is_everything(self) -> bool {
        matches!(self, Reach::Everything)
    }
}

/// What the engine decided for a set of people, before it is written.
#[derive(Default)]
pub struct Plan {
    /// Ledger rows by person: wanted, stored, and the rest of touched days.
    entries: Vec<(Uuid, Entry)>,
    organizations: HashMap<Uuid, Uuid>,
    /// `user_points` before and after, by person. Period columns of
    /// `after` are filled in by the database after the ledger is written
    /// for the people of `period_bounds`.
    pub before: BTreeMap<Uuid, PointsRow>,
    pub after: BTreeMap<Uuid, PointsRow>,
    /// People whose current week and month are summed from the ledger,
    /// with the first instants of both.
    period_bounds: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)>,
    /// People whose latest award only the written ledger can tell.
    latest_from_ledger: Vec<Uuid>,
    freezes_add: Vec<(Uuid, FreezeFact)>,
    freezes_remove: Vec<(Uuid, FreezeFact)>,
    /// (person, achievement, earned at, source key).
    earned: Vec<(Uuid, String, DateTime<Utc>, String)>,
    /// Every touched day's totals: (person, day, awarded, capped).
    days: Vec<(Uuid, NaiveDate, i32, i32)>,
    /// People whose `user_points` row existed when the run started.
    existing: HashSet<Uuid>,
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
        self.earned.iter().map(|(u, a, _, _)| (*u, a.as_str()))
    }

    /// Freeze facts added and removed, by person.
    pub fn freeze_changes_by_person(&self) -> HashMap<Uuid, usize> {
        let mut out = HashMap::new();
        for (u, _) in self.freezes_add.iter().chain(&self.freezes_remove) {
            *out.entry(*u).or_default() += 1;
        }
        out
    }
}

/// Pays the awards of a batch's accepted events; returns what each paid,
/// in the order given, and the plan written. `days` are the batch's
/// learning days as the batch left them. Runs inside the ingestion
/// transaction.
pub async fn award(
    conn: &mut AsyncPgConnection,
    batch: &[BatchEvent<'_>],
    days: &LearningDays,
) -> QueryResult<(Vec<Paid>, Plan)> {
    if batch.is_empty() {
        return Ok((Vec::new(), Plan::default()));
    }
    let mut people: People<'_> = BTreeMap::new();
    for b in batch {
        people
            .entry(b.event.user_id)
            .or_insert_with(|| (b.organization_id, b.zone, Vec::new()))
            .2
            .push(b);
    }
    let plan = plan(conn, people, Reach::Batch(days), Hold::CreateAndLock).await?;
    apply(conn, &plan).await?;
    let mut paid: HashMap<&str, Paid> = HashMap::new();
    for (_, e) in plan
        .entries
        .iter()
        .filter(|(_, e)| e.changed() && !e.removed)
    {
        if let Some(trigger) = &e.trigger {
            let p = paid.entry(trigger.as_str()).or_default();
            p.awarded += e.awarded;
            p.capped += e.capped;
        }
    }
    let paid = batch
        .iter()
        .map(|b| {
            paid.get(b.event.event_id.as_str())
                .copied()
                .unwrap_or_default()
        })
        .collect();
    Ok((paid, plan))
}

/// Recomputes the people given from everything stored about them, and
/// writes the result unless `dry_run`.
pub async fn recompute(
    conn: &mut AsyncPgConnection,
    user_ids: &[Uuid],
    dry_run: bool,
) -> QueryResult<Plan> {
    let found: Vec<(Uuid, Uuid, String)> = users::table
        .filter(users::id.eq_any(user_ids))
        .select((users::id, users::organization_id, users::time_zone))
        .load(conn)
        .await?;
    let people = found
        .into_iter()
        .map(|(id, org, zone)| (id, (org, crate::domain::zone::zone(&zone), Vec::new())))
        .collect();
    let lock = if dry_run {
        Hold::ReadOnly
    } else {
        Hold::LockExisting
    };
    let plan = plan(conn, people, Reach::Everything, lock).await?;
    if !dry_run {
        apply(conn, &plan).await?;
    }
    Ok(plan)
}

type People<'a> = BTreeMap<Uuid, (Uuid, Tz, Vec<&'a BatchEvent<'a>>)>;

/// How a run holds the people's `user_points` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    /// Ingestion: every person gets a row, locked.
    CreateAndLock,
    /// Recompute: existing rows locked; a person without one gets one only
    /// when there is something to store (a first event arriving meanwhile
    /// creates it, and its facts were not seen, so nothing is lost).
    LockExisting,
    /// Dry run: reads only.
    ReadOnly,
}

async fn plan(
    conn: &mut AsyncPgConnection,
    people: People<'_>,
    reach: Reach<'_>,
    lock: Hold,
) -> QueryResult<Plan> {
    let rules = Rules::load(conn).await?;
    let (before, existing) = lock_points(conn, &people, lock).await?;
    let persons: Vec<Person<'_>> = people
        .into_iter()
        .filter_map(|(user_id, (org, zone, events))| {
            Some(Person {
                user_id,
                organization_id: org,
                zone,
                events,
                before: before.get(&user_id)?.clone(),
            })
        })
        .collect();
    let user_ids: Vec<Uuid> = persons.iter().map(|p| p.user_id).collect();

    // The facts once-per-thing awards and streaks derive from, as merged
    // by the batch. A batch reads a person's learning days only when their
    // streak cannot go on from the stored row.
    let completed = completions(conn, &user_ids).await?;
    let mastered = mastered_skills(conn, &user_ids).await?;
    let no_completions = Vec::new();
    let resumes: HashMap<Uuid, Resumable> = match reach {
        Reach::Batch(_) => persons
            .iter()
            .filter_map(|p| {
                let done = completed.get(&p.user_id).unwrap_or(&no_completions);
                Some((p.user_id, resumable(p, done)?))
            })
            .collect(),
        Reach::Everything => HashMap::new(),
    };
    let replayed: Vec<Uuid> = user_ids
        .iter()
        .filter(|u| !resumes.contains_key(u))
        .copied()
        .collect();
    let active = active_days(conn, &replayed).await?;
    let empty_days = BTreeMap::new();

    let mut plan = Plan {
        resumed: resumes.len(),
        ..Plan::default()
    };
    let mut wanted: Vec<(Uuid, Entry)> = Vec::new();
    let mut streaks = HashMap::new();
    for p in &persons {
        let done = completed.get(&p.user_id).map_or(&[][..], Vec::as_slice);
        let skills = mastered.get(&p.user_id).map_or(&[][..], Vec::as_slice);
        let (streak, days) = match (resumes.get(&p.user_id), reach) {
            (Some(r), Reach::Batch(batch_days)) => (
                resume(&r.start, &r.days, &r.completions),
                batch_days.get(&p.user_id).unwrap_or(&empty_days),
            ),
            _ => {
                let days = active.get(&p.user_id).unwrap_or(&empty_days);
                let dates: Vec<NaiveDate> = days.keys().copied().collect();
                let earn: Vec<(NaiveDate, String)> =
                    done.iter().map(|c| completion_of(p, c)).collect();
                (replay(&dates, &earn), days)
            }
        };
        let mut mine = event_awards(p, &rules);
        mine.extend(thing_awards(p, &rules, reach, days, done, skills));
        for m in &streak.milestones {
            let rule = milestone_rule(m.days);
            let (Some((version, points)), Some(at)) = (rules.fixed(&rule), days.get(&m.local_date))
            else {
                continue;
            };
            let trigger = p.trigger(*at, |e| e.kind().is_learning_activity());
            mine.push(new_entry(
                (rule, version),
                milestone_key(m.days),
                None,
                (*at, m.local_date),
                points,
                trigger,
            ));
        }
        wanted.extend(mine.into_iter().map(|e| (p.user_id, e)));
        plan.organizations.insert(p.user_id, p.organization_id);
        streaks.insert(p.user_id, streak);
    }

    let keys: Vec<String> = wanted
        .iter()
        .map(|(_, e)| e.source_key.clone())
        .chain(MILESTONES.iter().map(|m| milestone_key(*m)))
        .collect();
    // A batch reads the ledger rows of the days its awards fall on once:
    // they hold its streak-day and per-event keys, and the cap needs them.
    let wanted_days: BTreeSet<(Uuid, NaiveDate)> =
        wanted.iter().map(|(u, e)| (*u, e.local_date)).collect();
    let day_rows = match reach {
        Reach::Batch(_) => rows_on_days(conn, &wanted_days).await?,
        Reach::Everything => Vec::new(),
    };
    let stored = stored_entries(conn, &user_ids, reach, &keys, &day_rows).await?;
    let mut entries = merge(wanted, stored, reach, &resumes);

    // The cap again over every day whose awards changed, whole.
    let touched: BTreeSet<(Uuid, NaiveDate)> = entries
        .iter()
        .filter(|(_, e)| reach.is_everything() || e.changed())
        .flat_map(|(u, e)| {
            std::iter::once((*u, e.local_date)).chain(e.stored.map(|s| (*u, s.local_date)))
        })
        .collect();
    let known: HashSet<Uuid> = entries
        .iter()
        .filter_map(|(_, e)| e.stored.map(|s| s.id))
        .collect();
    let unread: BTreeSet<(Uuid, NaiveDate)> = touched.difference(&wanted_days).copied().collect();
    let more_rows = rows_on_days(conn, &unread).await?;
    entries.extend(
        day_rows
            .into_iter()
            .chain(more_rows)
            .filter(|r| !known.contains(&r.0) && touched.contains(&(r.1, r.7)))
            .map(stored_entry),
    );
    {
        let mut by_day: BTreeMap<(Uuid, NaiveDate), Vec<&mut Entry>> = BTreeMap::new();
        for (u, e) in entries.iter_mut() {
            if touched.contains(&(*u, e.local_date)) {
                by_day.entry((*u, e.local_date)).or_default().push(e);
            }
        }
        for ((u, date), day) in by_day.iter_mut() {
            recap_day(day, rules.cap);
            let live = day.iter().filter(|e| !e.removed);
            let awarded = live.clone().map(|e| e.awarded).sum();
            let capped = live.map(|e| e.capped).sum();
            plan.days.push((*u, *date, awarded, capped));
        }
    }

    let org_zones = org_zones(conn, &persons).await?;
    let domains = domains_mastered(conn, &persons, reach).await?;
    let lessons = match reach {
        Reach::Everything => lessons_completed(conn, &user_ids).await?,
        Reach::Batch(_) => HashMap::new(),
    };
    // A resumed streak only adds freeze facts: its stored ones stand.
    let stored_freezes = stored_freezes(conn, &replayed).await?;
    let now = Utc::now();
    for p in &persons {
        let mine = || {
            entries
                .iter()
                .filter(|(u, _)| *u == p.user_id)
                .map(|(_, e)| e)
        };
        let mut after = p.before.clone();
        match reach {
            Reach::Batch(_) => {
                match latest_award_after(p.before.total_reached_at, mine()) {
                    LatestAward::Known(at) => after.total_reached_at = at,
                    LatestAward::ReadLedger => {
                        // Read back from the ledger once written; this
                        // bound only keeps the row valid until then.
                        let latest = mine()
                            .filter(|e| !e.removed && e.awarded > 0)
                            .map(|e| e.occurred_at)
                            .max();
                        after.total_reached_at = after.total_reached_at.max(latest);
                        plan.latest_from_ledger.push(p.user_id);
                    }
                }
                after.total_points += mine().map(Entry::awarded_delta).sum::<i64>();
                after.capped_points += mine().map(Entry::capped_delta).sum::<i64>();
                after.lessons_completed += p.count(Kind::LessonCompleted);
                after.paths_completed += p.count(Kind::LearningPathCompleted);
                after.peers_helped += p.count(Kind::PeerHelped);
            }
            Reach::Everything => {
                let live = mine().filter(|e| !e.removed);
                after.total_reached_at = live
                    .clone()
                    .filter(|e| e.awarded > 0)
                    .map(|e| e.occurred_at)
                    .max();
                after.total_points = live.clone().map(|e| i64::from(e.awarded)).sum();
                after.capped_points = live.map(|e| i64::from(e.capped)).sum();
                // Paths and peers exist only as events, which retention
                // drops after 90 days: their stored counters stand.
                after.lessons_completed = lessons.get(&p.user_id).copied().unwrap_or(0);
            }
        }
        if after.total_points == 0 {
            after.total_reached_at = None;
        }
        after.level = level_of(after.total_points.max(0) as u64) as i32;
        let streak = &streaks[&p.user_id];
        after.current_streak = streak.run as i32;
        after.longest_streak = streak.longest as i32;
        after.last_active_date = streak.last_active;
        after.freezes_held = i16::from(streak.freezes_held);
        after.streak_zone = Some(p.zone.name().to_string());
        after.courses_completed = completed.get(&p.user_id).map_or(0, |c| c.len() as i32);
        after.skills_acquired = mastered.get(&p.user_id).map_or(0, |s| s.len() as i32);
        if let Some(d) = domains.get(&p.user_id) {
            after.domains_mastered = *d;
        }
        let zone = org_zones
            .get(&p.organization_id)
            .copied()
            .unwrap_or(chrono_tz::UTC);
        let (week, month) = (week_start(now, zone), month_start(now, zone));
        let (week_from, month_from) = (local_midnight(week, zone), local_midnight(month, zone));
        // A batch moves the stored periods by what it changed in them; a
        // new period, a recompute, or a changed latest award of a period
        // sums the ledger instead.
        let moved = (!reach.is_everything()
            && p.before.week_start == Some(week)
            && p.before.month_start == Some(month))
        .then(|| {
            let week = period_after(p.before.week(), week_from, mine())?;
            let month = period_after(p.before.month(), month_from, mine())?;
            Some((week, month))
        })
        .flatten();
        match moved {
            Some((week, month)) => after.set_periods(week, month),
            None => plan.period_bounds.push((p.user_id, week_from, month_from)),
        }
        after.week_start = Some(week);
        after.month_start = Some(month);

        let wanted: HashSet<&FreezeFact> = streak.freezes.iter().collect();
        let have: HashSet<&FreezeFact> = stored_freezes
            .iter()
            .filter(|(u, _)| *u == p.user_id)
            .map(|(_, f)| f)
            .collect();
        plan.freezes_add.extend(
            streak
                .freezes
                .iter()
                .filter(|f| !have.contains(f))
                .map(|f| (p.user_id, f.clone())),
        );
        plan.freezes_remove.extend(
            have.iter()
                .filter(|f| !wanted.contains(*f))
                .map(|f| (p.user_id, (*f).clone())),
        );
        plan.after.insert(p.user_id, after);
    }
    plan.earned = achievements_earned(conn, &persons, &plan.after).await?;
    plan.entries = entries;
    plan.before = persons.into_iter().map(|p| (p.user_id, p.before)).collect();
    plan.existing = existing;
    Ok(plan)
}

/// A person's streak can go on from their stored row: where it stands and
/// what the batch adds (its learning days, the completions it set).
struct Resumable {
    start: Resume,
    days: Vec<NaiveDate>,
    completions: Vec<(NaiveDate, String)>,
}

/// A completion as the streak sees it: the local day and the course key.
fn completion_of(p: &Person<'_>, (course, at): &(Uuid, DateTime<Utc>)) -> (NaiveDate, String) {
    (p.local_date(*at), course_key(*course))
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

fn new_entry(
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

/// A time as PostgreSQL stores it (microseconds), so batch events compare
/// and sort like the rows read back.
fn stored_precision(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    at.trunc_subsecs(6)
}

/// Awards paid per event, keyed by the event id: an assessment pays its
/// score (rounded), a practice its fixed amount.
fn event_awards(p: &Person<'_>, rules: &Rules) -> Vec<Entry> {
    p.events
        .iter()
        .filter_map(|b| {
            let e = b.event;
            let (rule, points, course) = match &e.payload {
                Payload::AssessmentGraded {
                    score, course_id, ..
                } => {
                    let version = rules.version("assessment_graded")?;
                    let points = score.round().clamp(0.0, 100.0) as i32;
                    (
                        ("assessment_graded".to_string(), version),
                        points,
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

/// Awards paid once per course completed, skill acquired (mastery first
/// reached 80) and active day, at the earliest time stored for it. A batch
/// looks only at the things its events name; a recompute at all of them.
fn thing_awards(
    p: &Person<'_>,
    rules: &Rules,
    reach: Reach<'_>,
    days: &BTreeMap<NaiveDate, DateTime<Utc>>,
    done: &[(Uuid, DateTime<Utc>)],
    skills: &[(Uuid, DateTime<Utc>)],
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
        for (course, at) in done.iter().filter(|(c, _)| all || courses.contains(c)) {
            let trigger = p.trigger(*at, |e| {
                matches!(e.payload, Payload::CourseCompleted { course_id } if course_id == *course)
            });
            let rule = ("course_completed".to_string(), version);
            let when = (*at, p.local_date(*at));
            out.push(new_entry(
                rule,
                course_key(*course),
                Some(*course),
                when,
                points,
                trigger,
            ));
        }
    }
    if let Some((version, points)) = rules.fixed("skill_acquired") {
        for (skill, at) in skills.iter().filter(|(s, _)| all || skill_ids.contains(s)) {
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
        for (day, at) in days.iter().filter(|(d, _)| all || dates.contains(d)) {
            let trigger = p.trigger(*at, |e| e.kind().is_learning_activity());
            let rule = ("streak_day".to_string(), version);
            out.push(new_entry(
                rule,
                streak_day_key(*day),
                None,
                (*at, *day),
                points,
                trigger,
            ));
        }
    }
    out
}

/// Pairs each wanted entry with the stored row of the same (person, rule,
/// key), which keeps its id and moves to the wanted time. Stored rows no
/// entry wants stay as they are, except once-per-thing awards that no
/// longer hold: milestones of a replayed streak (a replay yields them all;
/// a resumed one only the new) and, in a recompute, any of them.
fn merge<R>(
    wanted: Vec<(Uuid, Entry)>,
    stored: Vec<(Uuid, Entry)>,
    reach: Reach<'_>,
    resumed: &HashMap<Uuid, R>,
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
        let milestone = rule.starts_with("streak_milestone_") && !resumed.contains_key(&u);
        if milestone || (reach.is_everything() && is_thing_key(&key)) {
            old.removed = true;
        }
        out.push((u, old));
    }
    out
}

fn is_thing_key(key: &str) -> bool {
    ["course:", "skill:", "streak:", "streak_milestone:"]
        .iter()
        .any(|p| key.starts_with(p))
}

// ---------------------------------------------------------------------------
// Reads.

/// Creates the missing `user_points` rows, then locks every person's row
/// (in id order, like every writer): one person's awards are computed by
/// one transaction at a time. Without `write`, only reads (missing rows
/// are the empty state).
async fn lock_points(
    conn: &mut AsyncPgConnection,
    people: &People<'_>,
    lock: Hold,
) -> QueryResult<(HashMap<Uuid, PointsRow>, HashSet<Uuid>)> {
    let ids: Vec<Uuid> = people.keys().copied().collect();
    // The people's rows, in id order (the order every writer locks them in).
    let rows_of = |ids: Vec<Uuid>| {
        user_points::table
            .filter(user_points::user_id.eq_any(ids))
            .order(user_points::user_id)
            .select(points_columns!())
    };
    if lock != Hold::CreateAndLock {
        let rows: Vec<PointsRow> = match lock {
            Hold::LockExisting => rows_of(ids).for_update().load(conn).await?,
            _ => rows_of(ids).load(conn).await?,
        };
        let existing: HashSet<Uuid> = rows.iter().map(|r| r.user_id).collect();
        let mut found: HashMap<Uuid, PointsRow> =
            rows.into_iter().map(|r| (r.user_id, r)).collect();
        for (user, (org, _, _)) in people {
            found
                .entry(*user)
                .or_insert_with(|| PointsRow::empty(*user, *org));
        }
        return Ok((found, existing));
    }
    // Most people have a row: lock those first, and insert (then lock)
    // only the missing ones, which a concurrent batch may insert too.
    let mut rows: Vec<PointsRow> = rows_of(ids).for_update().load(conn).await?;
    let locked: HashSet<Uuid> = rows.iter().map(|r| r.user_id).collect();
    let missing: Vec<(Uuid, Uuid)> = people
        .iter()
        .filter(|(user, _)| !locked.contains(user))
        .map(|(user, (org, _, _))| (*user, *org))
        .collect();
    if !missing.is_empty() {
        let new_ids: Vec<Uuid> = missing.iter().map(|(u, _)| *u).collect();
        insert_empty_rows(conn, &missing).await?;
        rows.extend(
            rows_of(new_ids)
                .for_update()
                .load::<PointsRow>(conn)
                .await?,
        );
    }
    let existing = rows.iter().map(|r| r.user_id).collect();
    Ok((rows.into_iter().map(|r| (r.user_id, r)).collect(), existing))
}

/// Creates the `user_points` rows of `(person, organization)` that do not
/// exist yet, in the empty state (a concurrent writer may create one too).
async fn insert_empty_rows(
    conn: &mut AsyncPgConnection,
    people: &[(Uuid, Uuid)],
) -> QueryResult<()> {
    let values: Vec<_> = people
        .iter()
        .map(|(user, org)| {
            (
                user_points::user_id.eq(*user),
                user_points::organization_id.eq(*org),
            )
        })
        .collect();
    diesel::insert_into(user_points::table)
        .values(&values)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Each person's active days (learning activity) with the day's first
/// learning time.
async fn active_days(conn: &mut AsyncPgConnection, users: &[Uuid]) -> QueryResult<LearningDays> {
    if users.is_empty() {
        return Ok(HashMap::new());
    }
    // A day with a first learning time is a learning day (a CHECK makes
    // it one); the filter matches the partial index
    // `daily_activity_learning_days`, read without visiting the table.
    let rows: Vec<(Uuid, NaiveDate, Option<DateTime<Utc>>)> = daily_activity::table
        .filter(daily_activity::user_id.eq_any(users))
        .filter(daily_activity::first_learning_at.is_not_null())
        .select((
            daily_activity::user_id,
            daily_activity::local_date,
            daily_activity::first_learning_at,
        ))
        .load(conn)
        .await?;
    Ok(learning_days(rows))
}

/// Day rows `(person, day, first learning time)` as [`LearningDays`]
/// (days without learning left out).
pub fn learning_days(rows: Vec<(Uuid, NaiveDate, Option<DateTime<Utc>>)>) -> LearningDays {
    let mut out = LearningDays::new();
    for (user, day, first) in rows {
        if let Some(first) = first {
            out.entry(user).or_default().insert(day, first);
        }
    }
    out
}

/// Each person's completed courses with their (earliest) completion time.
async fn completions(
    conn: &mut AsyncPgConnection,
    users: &[Uuid],
) -> QueryResult<HashMap<Uuid, Vec<(Uuid, DateTime<Utc>)>>> {
    let rows: Vec<(Uuid, Uuid, Option<DateTime<Utc>>)> = enrollments::table
        .filter(enrollments::user_id.eq_any(users))
        .filter(enrollments::completed_at.is_not_null())
        .select((
            enrollments::user_id,
            enrollments::course_id,
            enrollments::completed_at,
        ))
        .load(conn)
        .await?;
    Ok(group(rows))
}

/// Each person's skills acquired (mastery reached 80) with the first time.
async fn mastered_skills(
    conn: &mut AsyncPgConnection,
    users: &[Uuid],
) -> QueryResult<HashMap<Uuid, Vec<(Uuid, DateTime<Utc>)>>> {
    let rows: Vec<(Uuid, Uuid, Option<DateTime<Utc>>)> = user_skills::table
        .filter(user_skills::user_id.eq_any(users))
        .filter(user_skills::mastered_at.is_not_null())
        .select((
            user_skills::user_id,
            user_skills::skill_id,
            user_skills::mastered_at,
        ))
        .load(conn)
        .await?;
    Ok(group(rows))
}

fn group(
    rows: Vec<(Uuid, Uuid, Option<DateTime<Utc>>)>,
) -> HashMap<Uuid, Vec<(Uuid, DateTime<Utc>)>> {
    let mut out: HashMap<Uuid, Vec<(Uuid, DateTime<Utc>)>> = HashMap::new();
    for (user, thing, at) in rows {
        if let Some(at) = at {
            out.entry(user).or_default().push((thing, at));
        }
    }
    for list in out.values_mut() {
        list.sort();
    }
    out
}

type LedgerRow = (
    Uuid,
    Uuid,
    String,
    i32,
    String,
    Option<Uuid>,
    DateTime<Utc>,
    NaiveDate,
    i32,
    i32,
);

macro_rules! ledger_columns {
    () => {
        (
            point_transactions::id,
            point_transactions::user_id,
            point_transactions::rule_id,
            point_transactions::rule_version,
            point_transactions::source_key,
            point_transactions::course_id,
            point_transactions::occurred_at,
            point_transactions::local_date,
            point_transactions::points_awarded,
            point_transactions::points_capped,
        )
    };
}

fn stored_entry(row: LedgerRow) -> (Uuid, Entry) {
    let (id, user, rule_id, rule_version, source_key, course_id, at, day, awarded, capped) = row;
    (
        user,
        Entry {
            rule_id,
            rule_version,
            source_key,
            course_id,
            occurred_at: at,
            local_date: day,
            base: awarded + capped,
            awarded,
            capped,
            trigger: None,
            stored: Some(Stored {
                id,
                occurred_at: at,
                local_date: day,
                awarded,
                capped,
            }),
            removed: false,
        },
    )
}

/// Once-per-thing awards whose row may lie on any day: the partial index
/// `point_transactions_user_thing` holds only these (literal patterns, so
/// that a generic plan can use it too).
const THING_ROWS: &str = "(point_transactions.source_key LIKE 'course:%' \
     OR point_transactions.source_key LIKE 'skill:%' \
     OR point_transactions.source_key LIKE 'streak_milestone:%')";

/// [`THING_ROWS`] as an expression of its own with a fixed query id, so
/// that a query filtering on it is prepared once per connection.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct ThingRows;

impl diesel::expression::Expression for ThingRows {
    type SqlType = diesel::sql_types::Bool;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for ThingRows {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql(THING_ROWS);
        Ok(())
    }
}

impl diesel::AppearsOnTable<point_transactions::table> for ThingRows {}

impl diesel::expression::ValidGrouping<()> for ThingRows {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

/// The stored rows the wanted entries may be: every row of the people in a
/// recompute. In a batch, by key: courses, skills and milestones through
/// their own index, the rest among the rows of the wanted days (`on_days`:
/// a streak day's row lies on its day, and an event's award on the event's
/// day; a new event has none, its receipt being new).
async fn stored_entries(
    conn: &mut AsyncPgConnection,
    users: &[Uuid],
    reach: Reach<'_>,
    keys: &[String],
    on_days: &[LedgerRow],
) -> QueryResult<Vec<(Uuid, Entry)>> {
    let people = point_transactions::table.filter(point_transactions::user_id.eq_any(users));
    let rows: Vec<LedgerRow> = match reach {
        Reach::Everything => people.select(ledger_columns!()).load(conn).await?,
        Reach::Batch(_) => {
            let wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
            // Not boxed, no `sql()` fragment: the statement stays prepared
            // (planning it over every partition cost more than running it).
            let mut rows: Vec<LedgerRow> = people
                .filter(ThingRows)
                .filter(point_transactions::source_key.eq_any(keys))
                .select(ledger_columns!())
                .load(conn)
                .await?;
            let found: HashSet<Uuid> = rows.iter().map(|r| r.0).collect();
            rows.extend(
                on_days
                    .iter()
                    .filter(|r| !found.contains(&r.0) && wanted.contains(r.4.as_str()))
                    .cloned(),
            );
            rows
        }
    };
    Ok(rows.into_iter().map(stored_entry).collect())
}

/// The ledger rows of these (person, local day) pairs.
async fn rows_on_days(
    conn: &mut AsyncPgConnection,
    pairs: &BTreeSet<(Uuid, NaiveDate)>,
) -> QueryResult<Vec<LedgerRow>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let users: BTreeSet<Uuid> = pairs.iter().map(|(u, _)| *u).collect();
    let days: BTreeSet<NaiveDate> = pairs.iter().map(|(_, d)| *d).collect();
    // A local day lies within a day of its UTC date: bounding the
    // partition key lets the planner skip every other month.
    let first = days.iter().min().copied().unwrap_or_default() - chrono::Days::new(2);
    let last = days.iter().max().copied().unwrap_or_default() + chrono::Days::new(2);
    let rows: Vec<LedgerRow> = point_transactions::table
        .filter(point_transactions::user_id.eq_any(users))
        .filter(point_transactions::local_date.eq_any(days))
        .filter(point_transactions::occurred_at.ge(first.and_time(NaiveTime::MIN).and_utc()))
        .filter(point_transactions::occurred_at.lt(last.and_time(NaiveTime::MIN).and_utc()))
        .select(ledger_columns!())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|r| pairs.contains(&(r.1, r.7)))
        .collect())
}

async fn org_zones(
    conn: &mut AsyncPgConnection,
    persons: &[Person<'_>],
) -> QueryResult<HashMap<Uuid, Tz>> {
    let orgs: BTreeSet<Uuid> = persons.iter().map(|p| p.organization_id).collect();
    let rows: Vec<(Uuid, String)> = organizations::table
        .filter(organizations::id.eq_any(orgs))
        .select((organizations::id, organizations::time_zone))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, zone)| (id, crate::domain::zone::zone(&zone)))
        .collect())
}

#[derive(QueryableByName)]
struct PersonCount {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Int4)]
    n: i32,
}

/// Domains whose every skill (the organization's and platform-wide ones)
/// the person has mastered: for people whose skills the run touched.
async fn domains_mastered(
    conn: &mut AsyncPgConnection,
    persons: &[Person<'_>],
    reach: Reach<'_>,
) -> QueryResult<HashMap<Uuid, i32>> {
    let (users, orgs): (Vec<Uuid>, Vec<Uuid>) = persons
        .iter()
        .filter(|p| reach.is_everything() || !p.names(|e| e.payload.skill_id()).is_empty())
        .map(|p| (p.user_id, p.organization_id))
        .unzip();
    if users.is_empty() {
        return Ok(HashMap::new());
    }
    // Raw SQL: a join against an unnest of (person, organization) pairs
    // with a grouped HAVING is beyond the query builder.
    let rows: Vec<PersonCount> = prepared(
        diesel::sql_query(include_str!("sql/domains_mastered.sql"))
            .bind::<Array<SqlUuid>, _>(&users)
            .bind::<Array<SqlUuid>, _>(&orgs),
    )
    .load(conn)
    .await?;
    let mut out: HashMap<Uuid, i32> = users.iter().map(|u| (*u, 0)).collect();
    out.extend(rows.into_iter().map(|r| (r.user_id, r.n)));
    Ok(out)
}

/// Lessons completed, recounted from daily activity.
async fn lessons_completed(
    conn: &mut AsyncPgConnection,
    users: &[Uuid],
) -> QueryResult<HashMap<Uuid, i32>> {
    use diesel::dsl::sum;
    let rows: Vec<(Uuid, Option<i64>)> = daily_activity::table
        .filter(daily_activity::user_id.eq_any(users))
        .group_by(daily_activity::user_id)
        .select((
            daily_activity::user_id,
            sum(daily_activity::lessons_completed),
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(u, n)| (u, n.unwrap_or(0) as i32))
        .collect())
}

async fn stored_freezes(
    conn: &mut AsyncPgConnection,
    users: &[Uuid],
) -> QueryResult<Vec<(Uuid, FreezeFact)>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(Uuid, String, NaiveDate, String)> = streak_freeze_events::table
        .filter(streak_freeze_events::user_id.eq_any(users))
        .select((
            streak_freeze_events::user_id,
            streak_freeze_events::kind,
            streak_freeze_events::local_date,
            streak_freeze_events::source_key,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(u, kind, local_date, source_key)| {
            let kind = match kind.as_str() {
                "earned" => FreezeKind::Earned,
                "spent" => FreezeKind::Spent,
                "lost" => FreezeKind::Lost,
                _ => return None,
            };
            Some((
                u,
                FreezeFact {
                    kind,
                    local_date,
                    source_key,
                },
            ))
        })
        .collect())
}

/// Achievements whose criteria the people now meet and have not earned:
/// earned at the latest event of the batch (a recompute: now).
async fn achievements_earned(
    conn: &mut AsyncPgConnection,
    persons: &[Person<'_>],
    after: &BTreeMap<Uuid, PointsRow>,
) -> QueryResult<Vec<(Uuid, String, DateTime<Utc>, String)>> {
    let orgs: BTreeSet<Uuid> = persons.iter().map(|p| p.organization_id).collect();
    let defs: Vec<(String, Option<Uuid>, serde_json::Value)> = achievements::table
        .filter(achievements::active)
        .filter(
            achievements::organization_id
                .is_null()
                .or(achievements::organization_id.eq_any(orgs)),
        )
        .select((
            achievements::id,
            achievements::organization_id,
            achievements::criteria,
        ))
        .load(conn)
        .await?;
    let defs: Vec<(String, Option<Uuid>, Criterion)> = defs
        .into_iter()
        .filter_map(|(id, org, json)| match Criterion::parse(&json) {
            Ok(c) => Some((id, org, c)),
            Err(why) => {
                tracing::warn!(achievement.id = %id, reason = %why, "achievement criteria unreadable; skipped");
                None
            }
        })
        .collect();
    let users: Vec<Uuid> = persons.iter().map(|p| p.user_id).collect();
    let held: HashSet<(Uuid, String)> = user_achievements::table
        .filter(user_achievements::user_id.eq_any(&users))
        .select((
            user_achievements::user_id,
            user_achievements::achievement_id,
        ))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .collect();
    let mut out = Vec::new();
    for p in persons {
        let Some(row) = after.get(&p.user_id) else {
            continue;
        };
        let counters = counters_of(row);
        let latest = p.events.iter().max_by_key(|e| e.event.occurred_at);
        let (at, source) = latest.map_or_else(
            || (Utc::now(), "recompute".to_string()),
            |e| (e.event.occurred_at, e.event.event_id.clone()),
        );
        for (id, org, criterion) in &defs {
            let visible = org.is_none_or(|o| o == p.organization_id);
            if visible && !held.contains(&(p.user_id, id.clone())) && criterion.met(&counters) {
                out.push((p.user_id, id.clone(), at, source.clone()));
            }
        }
    }
    Ok(out)
}

/// The counters criteria read, from a `user_points` row.
pub fn counters_of(row: &PointsRow) -> Counters {
    let n = |v: i32| u64::try_from(v).unwrap_or(0);
    Counters {
        courses_completed: n(row.courses_completed),
        lessons_completed: n(row.lessons_completed),
        skills_acquired: n(row.skills_acquired),
        paths_completed: n(row.paths_completed),
        domains_mastered: n(row.domains_mastered),
        peers_helped: n(row.peers_helped),
        longest_streak: n(row.longest_streak),
        total_points: u64::try_from(row.total_points).unwrap_or(0),
        level: n(row.level),
    }
}

/// Reads one person's `user_points` row, if any.
pub async fn points_of(conn: &mut AsyncPgConnection, user: Uuid) -> QueryResult<Option<PointsRow>> {
    user_points::table
        .find(user)
        .select(points_columns!())
        .first(conn)
        .await
        .optional()
}

// ---------------------------------------------------------------------------
// Writes.

async fn apply(conn: &mut AsyncPgConnection, plan: &Plan) -> QueryResult<()> {
    let changed: Vec<&(Uuid, Entry)> = plan.entries.iter().filter(|(_, e)| e.changed()).collect();
    let (removed, removed_at): (Vec<Uuid>, Vec<DateTime<Utc>>) = changed
        .iter()
        .filter(|(_, e)| e.removed)
        .filter_map(|(_, e)| e.stored.map(|s| (s.id, s.occurred_at)))
        .unzip();
    if !removed.is_empty() {
        // The stored times name the partitions, pruned when planning.
        diesel::delete(
            point_transactions::table
                .filter(point_transactions::id.eq_any(removed))
                .filter(point_transactions::occurred_at.eq_any(removed_at)),
        )
        .execute(conn)
        .await?;
    }
    let inserts: Vec<&(Uuid, Entry)> = changed
        .iter()
        .filter(|(_, e)| e.stored.is_none() && !e.removed)
        .copied()
        .collect();
    if !inserts.is_empty() {
        insert_ledger(conn, plan, &inserts).await?;
    }
    let updates: Vec<(&Stored, &Entry)> = changed
        .iter()
        .filter(|(_, e)| !e.removed)
        .filter_map(|(_, e)| e.stored.as_ref().map(|s| (s, e)))
        .collect();
    if !updates.is_empty() {
        // Raw SQL: one UPDATE ... FROM unnest(...) for every moved or
        // re-split row (a moved row changes partition).
        prepared(
            diesel::sql_query(include_str!("sql/update_ledger.sql"))
                .bind::<Array<SqlUuid>, _>(updates.iter().map(|(s, _)| s.id).collect::<Vec<_>>())
                .bind::<Array<Timestamptz>, _>(
                    updates
                        .iter()
                        .map(|(s, _)| s.occurred_at)
                        .collect::<Vec<_>>(),
                )
                .bind::<Array<Timestamptz>, _>(
                    updates
                        .iter()
                        .map(|(_, e)| e.occurred_at)
                        .collect::<Vec<_>>(),
                )
                .bind::<Array<Date>, _>(
                    updates
                        .iter()
                        .map(|(_, e)| e.local_date)
                        .collect::<Vec<_>>(),
                )
                .bind::<Array<Int4>, _>(updates.iter().map(|(_, e)| e.awarded).collect::<Vec<_>>())
                .bind::<Array<Int4>, _>(updates.iter().map(|(_, e)| e.capped).collect::<Vec<_>>()),
        )
        .execute(conn)
        .await?;
    }
    if !plan.days.is_empty() {
        // Raw SQL: the per-day totals, as one UPDATE ... FROM unnest(...).
        prepared(
            diesel::sql_query(include_str!("sql/update_day_points.sql"))
                .bind::<Array<SqlUuid>, _>(plan.days.iter().map(|d| d.0).collect::<Vec<_>>())
                .bind::<Array<Date>, _>(plan.days.iter().map(|d| d.1).collect::<Vec<_>>())
                .bind::<Array<Int4>, _>(plan.days.iter().map(|d| d.2).collect::<Vec<_>>())
                .bind::<Array<Int4>, _>(plan.days.iter().map(|d| d.3).collect::<Vec<_>>()),
        )
        .execute(conn)
        .await?;
    }
    write_freezes(conn, plan).await?;
    if !plan.earned.is_empty() {
        let rows: Vec<_> = plan
            .earned
            .iter()
            .map(|(u, id, at, source)| {
                (
                    user_achievements::user_id.eq(*u),
                    user_achievements::achievement_id.eq(id),
                    user_achievements::organization_id.eq(plan
                        .organizations
                        .get(u)
                        .copied()
                        .unwrap_or_default()),
                    user_achievements::earned_at.eq(*at),
                    user_achievements::source_key.eq(source),
                )
            })
            .collect();
        diesel::insert_into(user_achievements::table)
            .values(&rows)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    }
    write_points(conn, plan).await
}

/// New ledger rows, as one fixed-text statement over arrays (prepared
/// once per connection, whatever their number).
async fn insert_ledger(
    conn: &mut AsyncPgConnection,
    plan: &Plan,
    rows: &[&(Uuid, Entry)],
) -> QueryResult<()> {
    use diesel::sql_types::{Jsonb, Nullable, Text};
    fn column<'a, T>(rows: &[&'a (Uuid, Entry)], f: impl Fn(&'a Uuid, &'a Entry) -> T) -> Vec<T> {
        rows.iter().map(|(u, e)| f(u, e)).collect()
    }
    prepared(
        diesel::sql_query(include_str!("sql/insert_ledger.sql"))
            .bind::<Array<SqlUuid>, _>(column(rows, |u, _| {
                plan.organizations.get(u).copied().unwrap_or_default()
            }))
            .bind::<Array<SqlUuid>, _>(column(rows, |u, _| *u))
            .bind::<Array<Text>, _>(column(rows, |_, e| e.rule_id.as_str()))
            .bind::<Array<Int4>, _>(column(rows, |_, e| e.rule_version))
            .bind::<Array<Text>, _>(column(rows, |_, e| e.source_key.as_str()))
            .bind::<Array<Nullable<SqlUuid>>, _>(column(rows, |_, e| e.course_id))
            .bind::<Array<Timestamptz>, _>(column(rows, |_, e| e.occurred_at))
            .bind::<Array<Date>, _>(column(rows, |_, e| e.local_date))
            .bind::<Array<Int4>, _>(column(rows, |_, e| e.awarded))
            .bind::<Array<Int4>, _>(column(rows, |_, e| e.capped))
            .bind::<Array<Jsonb>, _>(column(rows, |_, e| {
                e.trigger.as_ref().map_or_else(
                    || serde_json::json!({}),
                    |t| serde_json::json!({ "event_id": t }),
                )
            })),
    )
    .execute(conn)
    .await?;
    Ok(())
}

async fn write_freezes(conn: &mut AsyncPgConnection, plan: &Plan) -> QueryResult<()> {
    for (u, f) in &plan.freezes_remove {
        diesel::delete(
            streak_freeze_events::table
                .filter(streak_freeze_events::user_id.eq(*u))
                .filter(streak_freeze_events::kind.eq(f.kind.as_str()))
                .filter(streak_freeze_events::local_date.eq(f.local_date))
                .filter(streak_freeze_events::source_key.eq(&f.source_key)),
        )
        .execute(conn)
        .await?;
    }
    if plan.freezes_add.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = plan
        .freezes_add
        .iter()
        .map(|(u, f)| {
            (
                streak_freeze_events::user_id.eq(*u),
                streak_freeze_events::organization_id.eq(plan
                    .organizations
                    .get(u)
                    .copied()
                    .unwrap_or_default()),
                streak_freeze_events::kind.eq(f.kind.as_str()),
                streak_freeze_events::local_date.eq(f.local_date),
                streak_freeze_events::source_key.eq(&f.source_key),
            )
        })
        .collect();
    diesel::insert_into(streak_freeze_events::table)
        .values(&rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes stored `user_points` rows as one UPDATE ... FROM unnest(...).
async fn update_points(conn: &mut AsyncPgConnection, rows: &[&PointsRow]) -> QueryResult<()> {
    use diesel::sql_types::{Int2, Int8, Nullable};
    fn column<T>(rows: &[&PointsRow], f: impl Fn(&PointsRow) -> T) -> Vec<T> {
        rows.iter().map(|r| f(r)).collect()
    }
    prepared(
        diesel::sql_query(include_str!("sql/update_points.sql"))
            .bind::<Array<SqlUuid>, _>(column(rows, |r| r.user_id))
            .bind::<Array<Int8>, _>(column(rows, |r| r.total_points))
            .bind::<Array<Nullable<Timestamptz>>, _>(column(rows, |r| r.total_reached_at))
            .bind::<Array<Int8>, _>(column(rows, |r| r.capped_points))
            .bind::<Array<Int4>, _>(column(rows, |r| r.level))
            .bind::<Array<Int4>, _>(column(rows, |r| r.current_streak))
            .bind::<Array<Int4>, _>(column(rows, |r| r.longest_streak))
            .bind::<Array<Nullable<Date>>, _>(column(rows, |r| r.last_active_date))
            .bind::<Array<Int2>, _>(column(rows, |r| r.freezes_held))
            .bind::<Array<Int4>, _>(column(rows, |r| r.courses_completed))
            .bind::<Array<Int4>, _>(column(rows, |r| r.lessons_completed))
            .bind::<Array<Int4>, _>(column(rows, |r| r.skills_acquired))
            .bind::<Array<Int4>, _>(column(rows, |r| r.paths_completed))
            .bind::<Array<Int4>, _>(column(rows, |r| r.domains_mastered))
            .bind::<Array<Int4>, _>(column(rows, |r| r.peers_helped))
            .bind::<Array<Nullable<Date>>, _>(column(rows, |r| r.week_start))
            .bind::<Array<Int8>, _>(column(rows, |r| r.week_points))
            .bind::<Array<Nullable<Timestamptz>>, _>(column(rows, |r| r.week_reached_at))
            .bind::<Array<Nullable<Date>>, _>(column(rows, |r| r.month_start))
            .bind::<Array<Int8>, _>(column(rows, |r| r.month_points))
            .bind::<Array<Nullable<Timestamptz>>, _>(column(rows, |r| r.month_reached_at))
            .bind::<Array<Nullable<diesel::sql_types::Text>>, _>(column(rows, |r| {
                r.streak_zone.clone()
            })),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes every person's totals, counters and periods, then lets the
/// database sum the current week and month from the ledger as now written
/// for the people the batch could not move them for (and read back the
/// latest award where the batch changed it).
async fn write_points(conn: &mut AsyncPgConnection, plan: &Plan) -> QueryResult<()> {
    let rows: Vec<&PointsRow> = plan
        .after
        .values()
        .filter(|r| plan.existing.contains(&r.user_id) || !r.is_empty_state())
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    // Rows a recompute creates are inserted empty first (a first event
    // arriving meanwhile may have created one: the computed state wins, as
    // for stored rows); then every row is written the same way.
    let new: Vec<(Uuid, Uuid)> = rows
        .iter()
        .filter(|r| !plan.existing.contains(&r.user_id))
        .map(|r| (r.user_id, r.organization_id))
        .collect();
    if !new.is_empty() {
        insert_empty_rows(conn, &new).await?;
    }
    update_points(conn, &rows).await?;
    // Raw SQL: sums over each person's ledger with per-person bounds
    // (lateral joins over an unnest), beyond the query builder.
    let bounds = &plan.period_bounds;
    let earliest = bounds.iter().map(|b| b.1.min(b.2)).min();
    if let Some(earliest) = earliest {
        prepared(
            diesel::sql_query(include_str!("sql/update_period_points.sql"))
                .bind::<Array<SqlUuid>, _>(bounds.iter().map(|b| b.0).collect::<Vec<_>>())
                .bind::<Array<Timestamptz>, _>(bounds.iter().map(|b| b.1).collect::<Vec<_>>())
                .bind::<Array<Timestamptz>, _>(bounds.iter().map(|b| b.2).collect::<Vec<_>>())
                .bind::<Timestamptz, _>(earliest),
        )
        .execute(conn)
        .await?;
    }
    if !plan.latest_from_ledger.is_empty() {
        prepared(
            diesel::sql_query(include_str!("sql/update_latest_award.sql"))
                .bind::<Array<SqlUuid>, _>(&plan.latest_from_ledger),
        )
        .execute(conn)
        .await?;
    }
    Ok(())
}
