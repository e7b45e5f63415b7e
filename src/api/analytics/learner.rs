//! Learner analytics 1-6, about one person (the caller, a trainer's
//! student, an admin's member).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::cache::{Computed, Key};
use super::subject::{job_role_of, today, zone_of};
use crate::api::ApiError;
use crate::db::analytics::learner as db;
use crate::db::analytics::learner::Graded;
use crate::db::models::skill::NewSkillPrerequisite;
use crate::domain::analytics::gaps::{Gap, Requirement, gap_matrix};
use crate::domain::analytics::learner::{
    self as rules, DEFAULT_LESSON_TARGET, DayFigures, ENGAGEMENT_DAYS, Engagement, EngagementBand,
    MASTERY, Momentum, Trend,
};
use crate::domain::analytics::{shown, stats};
use crate::domain::gamification::periods::local_midnight;
use crate::proto::analytics::v1 as pb;

/// Where a person's day-based analytics stand: now, their zone's today.
pub struct Clock {
    pub now: DateTime<Utc>,
    pub zone: chrono_tz::Tz,
    pub today: NaiveDate,
}

impl Clock {
    pub async fn of(conn: &mut AsyncPgConnection, user: Uuid) -> Result<Self, ApiError> {
        let zone = zone_of(conn, user).await?;
        let now = Utc::now();
        Ok(Self {
            now,
            zone,
            today: today(now, zone),
        })
    }

    /// [start of the local day `days_back` before today, now).
    pub fn window(&self, days_back: u64) -> (DateTime<Utc>, DateTime<Utc>) {
        let first = self.today - Days::new(days_back);
        (local_midnight(first, self.zone), self.now)
    }
}

pub fn momentum_pb(m: Momentum) -> pb::Momentum {
    match m {
        Momentum::Accelerating => pb::Momentum::Accelerating,
        Momentum::Stable => pb::Momentum::Stable,
        Momentum::Declining => pb::Momentum::Declining,
    }
}

/// Lessons per local day over the 28 days ending today.
async fn lessons_by_day(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    today: NaiveDate,
) -> Result<Vec<(NaiveDate, i32)>, ApiError> {
    Ok(db::lessons_by_day(conn, user, today - Days::new(27), today).await?)
}

/// The pace figures velocity, risk and peers share.
pub struct Pace {
    pub last7: u32,
    pub prior7: u32,
    pub per_week: f64,
}

pub fn pace(days: &[(NaiveDate, i32)], today: NaiveDate) -> Pace {
    let sum = |from: u64, to: u64| -> u32 {
        days.iter()
            .filter(|(d, _)| *d <= today - Days::new(from) && *d >= today - Days::new(to))
            .map(|(_, n)| (*n).max(0) as u32)
            .sum()
    };
    Pace {
        last7: sum(0, 6),
        prior7: sum(7, 13),
        per_week: f64::from(sum(0, 27)) / 4.0,
    }
}

pub async fn user_pace(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    today: NaiveDate,
) -> Result<Pace, ApiError> {
    Ok(pace(&lessons_by_day(conn, user, today).await?, today))
}

pub async fn velocity(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetLearningVelocityResponse>, ApiError> {
    let user = key.person()?;
    let clock = Clock::of(conn, user).await?;
    let pace = user_pace(conn, user, clock.today).await?;
    let (change, momentum) = rules::momentum(pace.last7, pace.prior7);
    let settings = db::org_settings_of(conn, user).await?;
    let target = settings
        .get("lesson_target_per_week")
        .and_then(serde_json::Value::as_f64)
        .filter(|t| *t > 0.0)
        .unwrap_or(DEFAULT_LESSON_TARGET);
    let remaining = remaining_lessons(conn, user).await?;
    let done = rules::estimated_completion(clock.today, remaining, pace.per_week);
    Ok(Computed::new(
        pb::GetLearningVelocityResponse {
            meta: None,
            lessons_per_week: pace.per_week,
            target_per_week: target,
            last7: pace.last7,
            prior7: pace.prior7,
            momentum_change: change,
            momentum: momentum_pb(momentum).into(),
            estimated_completion_date: done.map(|d| d.to_string()).unwrap_or_default(),
            remaining_lessons: remaining,
        },
        clock.window(27),
    ))
}

/// Lessons left over the person's active enrollments (a course's size is
/// its expected_lessons, else its lesson count).
async fn remaining_lessons(conn: &mut AsyncPgConnection, user: Uuid) -> Result<u32, ApiError> {
    let active = db::active_courses(conn, user).await?;
    let ids: Vec<Uuid> = active.iter().map(|a| a.course).collect();
    let counts = db::lesson_counts(conn, &ids).await?;
    Ok(active
        .iter()
        .map(|a| {
            let total = a
                .expected_lessons
                .map(i64::from)
                .unwrap_or_else(|| counts.get(&a.course).copied().unwrap_or(0));
            rules::remaining_lessons(
                u32::try_from(total.max(0)).unwrap_or(u32::MAX),
                a.progress_percent,
            )
        })
        .sum())
}

/// The 14 local days of the engagement score, oldest first.
pub async fn engagement_days(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    today: NaiveDate,
) -> Result<[DayFigures; ENGAGEMENT_DAYS], ApiError> {
    let first = today - Days::new(ENGAGEMENT_DAYS as u64 - 1);
    let rows = db::activity_days(conn, user, first, today).await?;
    Ok(days_of(
        first,
        rows.iter()
            .map(|r| (r.date, (r.logins, r.session_seconds, r.learning_activities))),
    ))
}

/// Places (day, (logins, session seconds, learning activities)) rows into
/// the 14 days starting at `first`.
pub fn days_of(
    first: NaiveDate,
    rows: impl Iterator<Item = (NaiveDate, (i32, i32, i32))>,
) -> [DayFigures; ENGAGEMENT_DAYS] {
    let mut days = [DayFigures::default(); ENGAGEMENT_DAYS];
    for (date, (logins, seconds, activities)) in rows {
        let Ok(i) = usize::try_from((date - first).num_days()) else {
            continue;
        };
        if let Some(day) = days.get_mut(i) {
            *day = DayFigures {
                logins: logins.max(0) as u32,
                session_seconds: seconds.max(0) as u32,
                learning_activities: activities.max(0) as u32,
            };
        }
    }
    days
}

pub fn band_pb(band: EngagementBand) -> pb::EngagementBand {
    match band {
        EngagementBand::High => pb::EngagementBand::High,
        EngagementBand::Medium => pb::EngagementBand::Medium,
        EngagementBand::Low => pb::EngagementBand::Low,
    }
}

pub async fn user_engagement(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    today: NaiveDate,
) -> Result<Engagement, ApiError> {
    Ok(rules::engagement(
        &engagement_days(conn, user, today).await?,
    ))
}

pub async fn engagement(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetEngagementScoreResponse>, ApiError> {
    let user = key.person()?;
    let clock = Clock::of(conn, user).await?;
    let e = user_engagement(conn, user, clock.today).await?;
    Ok(Computed::new(
        pb::GetEngagementScoreResponse {
            meta: None,
            score: e.score,
            band: band_pb(e.band).into(),
            logins_component: e.logins,
            session_component: e.session,
            activity_component: e.activity,
        },
        clock.window(ENGAGEMENT_DAYS as u64 - 1),
    ))
}

pub async fn mastery(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetMasteryProgressResponse>, ApiError> {
    let user = key.person()?;
    let clock = Clock::of(conn, user).await?;
    let rows = db::held_skills(conn, user).await?;
    let mut domains: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for skill in &rows {
        let entry = domains.entry(skill.domain.as_str()).or_default();
        if rules::is_mastered(skill.mastery_level) {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
    // Month starts (local), the last 12 ending with the current month.
    let this_month = clock.today.with_day(1).unwrap_or(clock.today);
    let months: Vec<NaiveDate> = (0..12u32)
        .rev()
        .filter_map(|back| this_month.checked_sub_months(Months::new(back)))
        .collect();
    let over_time = months
        .iter()
        .map(|month| {
            let end = local_midnight(*month + Months::new(1), clock.zone);
            let mastered = rows
                .iter()
                .filter(|s| s.mastered_at.is_some_and(|at| at < end))
                .count() as u32;
            pb::MasteryPoint {
                month: month.to_string(),
                mastered,
            }
        })
        .collect();
    let start = local_midnight(
        <[NaiveDate]>::first(&months).copied().unwrap_or(this_month),
        clock.zone,
    );
    Ok(Computed::new(
        pb::GetMasteryProgressResponse {
            meta: None,
            mastered: domains.values().map(|d| d.0).sum(),
            in_progress: domains.values().map(|d| d.1).sum(),
            domains: domains
                .iter()
                .map(|(domain, (mastered, in_progress))| pb::DomainMastery {
                    domain: (*domain).to_string(),
                    mastered: *mastered,
                    in_progress: *in_progress,
                    total_skills: mastered + in_progress,
                })
                .collect(),
            over_time,
        },
        (start, clock.now),
    ))
}

/// A person's assessments, oldest first.
pub async fn assessments_of(
    conn: &mut AsyncPgConnection,
    user: Uuid,
) -> Result<Vec<Graded>, ApiError> {
    Ok(db::assessments_of(conn, user).await?)
}

pub fn trend_pb(t: Trend) -> pb::Trend {
    match t {
        Trend::Improving => pb::Trend::Improving,
        Trend::Stable => pb::Trend::Stable,
        Trend::Declining => pb::Trend::Declining,
    }
}

pub async fn performance(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetAssessmentPerformanceResponse>, ApiError> {
    let user = key.person()?;
    let now = Utc::now();
    let graded = assessments_of(conn, user).await?;
    let scores: Vec<f64> = graded.iter().map(|g| g.score).collect();
    let first = <[Graded]>::first(&graded).map(|g| g.graded_at);
    let (slope, trend) = rules::performance_trend(&scores);
    let last = &scores[scores.len().saturating_sub(rules::TREND_WINDOW)..];
    Ok(Computed::new(
        pb::GetAssessmentPerformanceResponse {
            meta: None,
            assessments: scores.len() as u32,
            average_score: stats::mean(&scores).unwrap_or(0.0),
            pass_rate: rules::pass_rate(&scores),
            trend_slope: slope,
            trend: trend_pb(trend).into(),
            last_scores: last.to_vec(),
        },
        (first.unwrap_or(now), now),
    ))
}

const SECONDS_PER_DAY: f64 = 86_400.0;

fn days_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_seconds().max(0) as f64 / SECONDS_PER_DAY
}

pub async fn effectiveness(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetContentEffectivenessResponse>, ApiError> {
    let user = key.person()?;
    let now = Utc::now();
    let mine = db::enrollments_of(conn, user).await?;
    let ids: Vec<Uuid> = mine.iter().map(|r| r.course).collect();
    let mut durations: HashMap<Uuid, Vec<f64>> = HashMap::new();
    for c in db::completions(conn, &ids).await? {
        if let Some(done) = c.completed_at {
            durations
                .entry(c.course)
                .or_default()
                .push(days_between(c.enrolled_at, done));
        }
    }
    let mut suppressed = false;
    let courses = mine
        .iter()
        .map(|e| {
            let group = durations.get(&e.course).map_or(&[][..], Vec::as_slice);
            let average = if shown(group.len()) {
                stats::mean(group)
            } else {
                suppressed = true;
                None
            };
            pb::CourseEffectiveness {
                course_id: e.course.to_string(),
                course_name: e.course_name.clone(),
                progress_percent: e.progress_percent,
                completed: e.status == "completed",
                days_spent: days_between(e.enrolled_at, e.completed_at.unwrap_or(now)),
                course_average_days: average,
            }
        })
        .collect();
    let done = mine.iter().filter(|r| r.status == "completed").count() as u64;
    let start = mine.iter().map(|r| r.enrolled_at).min().unwrap_or(now);
    Ok(Computed::new(
        pb::GetContentEffectivenessResponse {
            meta: None,
            completion_rate: stats::share(done, mine.len() as u64),
            courses,
        },
        (start, now),
    )
    .suppressed(suppressed))
}

/// A gap with the skill's name and domain.
pub struct NamedGap {
    pub gap: Gap,
    pub name: String,
    pub domain: String,
}

/// Months of platform demand the market-demand factor looks at.
const DEMAND_MONTHS: u32 = 12;

/// The person's skill gaps, highest priority first: what their job role
/// (job_role_skills) and active courses (course_skills) require.
pub async fn skill_gaps(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    org: Uuid,
    today: NaiveDate,
) -> Result<Vec<NamedGap>, ApiError> {
    let job_role = job_role_of(conn, user).await?;
    let mut required: HashMap<Uuid, (f64, f64)> = HashMap::new();
    if let Some(role) = &job_role {
        for r in db::job_role_requirements(conn, org, role).await? {
            required.insert(r.skill, (f64::from(r.required_mastery), r.career_impact));
        }
    }
    for (skill, mastery) in db::active_course_requirements(conn, user).await? {
        let entry = required.entry(skill).or_insert((0.0, 0.0));
        entry.0 = entry.0.max(f64::from(mastery));
    }
    let ids: Vec<Uuid> = required.keys().copied().collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let current = db::mastery_of(conn, user, &ids).await?;
    let priority = db::priority_weights(conn, org, &ids).await?;
    let info = db::skill_info(conn, &ids).await?;
    let prerequisites = NewSkillPrerequisite::of_skills(conn, &ids).await?;
    let demand = market_demand(conn, today).await?;
    let requirements: Vec<Requirement> = info
        .iter()
        .map(|skill| {
            let id = &skill.id;
            let (mastery, impact) = required[id];
            Requirement {
                skill_id: *id,
                required: if mastery > 0.0 { mastery } else { MASTERY },
                current: current.get(id).copied().unwrap_or(0.0),
                business_priority: priority.get(id).copied().unwrap_or(0.0),
                market_demand: skill
                    .market_demand
                    .unwrap_or_else(|| demand.get(id).copied().unwrap_or(0.0)),
                career_impact: impact,
                prerequisites: prerequisites
                    .iter()
                    .filter(|(s, _)| s == id)
                    .map(|(_, p)| *p)
                    .collect(),
            }
        })
        .collect();
    let names: HashMap<Uuid, (&String, &String)> =
        info.iter().map(|s| (s.id, (&s.name, &s.domain))).collect();
    Ok(gap_matrix(&requirements)
        .into_iter()
        .map(|gap| {
            let (name, domain) = names[&gap.skill_id];
            NamedGap {
                name: name.clone(),
                domain: domain.clone(),
                gap,
            }
        })
        .collect())
}

/// Market demand per platform skill, 0..1: learners who took it up over
/// the last 12 months (cohorts of at least 10) relative to the most
/// demanded skill.
async fn market_demand(
    conn: &mut AsyncPgConnection,
    today: NaiveDate,
) -> Result<HashMap<Uuid, f64>, ApiError> {
    let from = today
        .with_day(1)
        .and_then(|d| d.checked_sub_months(Months::new(DEMAND_MONTHS - 1)))
        .unwrap_or(today);
    let rows = db::platform_demand_since(conn, from).await?;
    let mut totals: HashMap<Uuid, i64> = HashMap::new();
    for (skill, learners) in rows {
        *totals.entry(skill).or_default() += learners.unwrap_or(0);
    }
    let top = totals.values().copied().max().unwrap_or(0);
    Ok(totals
        .into_iter()
        .map(|(skill, n)| (skill, stats::share(n.max(0) as u64, top.max(0) as u64)))
        .collect())
}

pub async fn gap_matrix_of(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetSkillGapMatrixResponse>, ApiError> {
    let user = key.person()?;
    let org = key.organization()?;
    let clock = Clock::of(conn, user).await?;
    let gaps = skill_gaps(conn, user, org, clock.today).await?;
    Ok(Computed::new(
        pb::GetSkillGapMatrixResponse {
            meta: None,
            gaps: gaps
                .into_iter()
                .map(|g| pb::SkillGap {
                    skill_id: g.gap.skill_id.to_string(),
                    skill_name: g.name,
                    domain: g.domain,
                    required_mastery: g.gap.required,
                    current_mastery: g.gap.current,
                    gap: g.gap.gap,
                    business_priority: g.gap.business_priority,
                    market_demand: g.gap.market_demand,
                    prerequisite_blocking: g.gap.prerequisite_blocking,
                    career_impact: g.gap.career_impact,
                    priority: g.gap.priority,
                })
                .collect(),
        },
        (clock.now, clock.now),
    ))
}
