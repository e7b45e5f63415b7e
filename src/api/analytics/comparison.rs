//! Comparison analytics: skill demand (18) from the skill-demand
//! aggregates, and a learner against anonymous peers (19).

use std::collections::HashMap;

use chrono::{Datelike, Days, Months, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::cache::{Computed, Key, Subject};
use super::learner::{Clock, days_of, pace};
use super::subject::job_role_of;
use crate::api::ApiError;
use crate::db::schema::{assessments, daily_activity, enrollments, skills, user_points, users};
use crate::db::views::{platform_skill_demand, tenant_skill_demand};
use crate::domain::analytics::learner::{ENGAGEMENT_DAYS, engagement};
use crate::domain::analytics::{shown, stats};
use crate::domain::gamification::periods::local_midnight;
use crate::proto::analytics::v1 as pb;

/// Months of demand when the caller asks for none, and the most one answer
/// covers (aggregates are kept 7 years).
pub const DEFAULT_MONTHS: u32 = 12;
pub const MAX_MONTHS: u32 = 84;

fn first_month(today: NaiveDate, months: u32) -> NaiveDate {
    let this = today.with_day(1).unwrap_or(today);
    this.checked_sub_months(Months::new(months.saturating_sub(1)))
        .unwrap_or(this)
}

pub async fn skill_demand(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetSkillDemandResponse>, ApiError> {
    let months: u32 = key
        .params
        .strip_prefix("months=")
        .and_then(|m| m.parse().ok())
        .unwrap_or(DEFAULT_MONTHS);
    let now = Utc::now();
    let from = first_month(now.date_naive(), months);
    // (skill, month, learners, mastered, average) with None for suppressed.
    type Point = (Uuid, NaiveDate, Option<(i64, i64, Option<f64>)>);
    let points: Vec<Point> = match key.subject {
        Subject::Platform => platform_skill_demand::table
            .filter(platform_skill_demand::month.ge(from))
            .select((
                platform_skill_demand::skill_id,
                platform_skill_demand::month,
                platform_skill_demand::learner_count,
                platform_skill_demand::mastered_count,
                platform_skill_demand::avg_mastery,
            ))
            .load::<(Uuid, NaiveDate, Option<i64>, Option<i64>, Option<f64>)>(conn)
            .await?
            .into_iter()
            .map(|(s, m, l, k, a)| (s, m, l.zip(k).map(|(l, k)| (l, k, a))))
            .collect(),
        Subject::Organization(org) => tenant_skill_demand::table
            .filter(tenant_skill_demand::organization_id.eq(org))
            .filter(tenant_skill_demand::month.ge(from))
            .select((
                tenant_skill_demand::skill_id,
                tenant_skill_demand::month,
                tenant_skill_demand::learner_count,
                tenant_skill_demand::mastered_count,
                tenant_skill_demand::avg_mastery,
            ))
            .load::<(Uuid, NaiveDate, i64, i64, Option<f64>)>(conn)
            .await?
            .into_iter()
            .map(|(s, m, l, k, a)| (s, m, shown(l.max(0) as usize).then_some((l, k, a))))
            .collect(),
        other => {
            return Err(ApiError::Internal(format!(
                "skill demand keyed by {other:?}"
            )));
        }
    };
    let ids: Vec<Uuid> = points.iter().map(|p| p.0).collect();
    let names: HashMap<Uuid, String> = skills::table
        .filter(skills::id.eq_any(&ids))
        .select((skills::id, skills::name))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .collect();
    let mut out: Vec<pb::SkillDemandPoint> = points
        .into_iter()
        .map(|(skill, month, figures)| pb::SkillDemandPoint {
            skill_id: skill.to_string(),
            skill_name: names.get(&skill).cloned().unwrap_or_default(),
            month: month.to_string(),
            suppressed: figures.is_none(),
            learners: figures.map(|f| f.0 as u32),
            average_mastery: figures.and_then(|f| f.2),
            mastered: figures.map(|f| f.1 as u32),
        })
        .collect();
    out.sort_by(|a, b| {
        (a.month.as_str(), a.skill_name.as_str(), a.skill_id.as_str()).cmp(&(
            b.month.as_str(),
            b.skill_name.as_str(),
            b.skill_id.as_str(),
        ))
    });
    let suppressed = out.iter().any(|p| p.suppressed);
    let start = local_midnight(from, chrono_tz::UTC);
    Ok(Computed::new(
        pb::GetSkillDemandResponse {
            meta: None,
            points: out,
        },
        (start, now),
    )
    .suppressed(suppressed))
}

/// The peer group of a comparison, as its key's params say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peers {
    Course(Uuid),
    JobRole,
    Organization,
}

impl Peers {
    pub fn params(self) -> String {
        match self {
            Peers::Course(c) => format!("group=course:{c}"),
            Peers::JobRole => "group=job_role".into(),
            Peers::Organization => "group=organization".into(),
        }
    }

    fn parse(params: &str) -> Option<Self> {
        match params.strip_prefix("group=")? {
            "job_role" => Some(Peers::JobRole),
            "organization" => Some(Peers::Organization),
            other => other
                .strip_prefix("course:")?
                .parse()
                .ok()
                .map(Peers::Course),
        }
    }
}

pub async fn peers(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetPeerComparisonResponse>, ApiError> {
    let user = key.person()?;
    let org = key.organization()?;
    let group = Peers::parse(&key.params)
        .ok_or_else(|| ApiError::Internal(format!("peer params {:?}", key.params)))?;
    let clock = Clock::of(conn, user).await?;
    let mut members = users::table
        .filter(users::organization_id.eq(org))
        .filter(users::is_active)
        .select(users::id)
        .into_boxed();
    match group {
        Peers::Course(course) => {
            let enrolled = enrollments::table
                .filter(enrollments::course_id.eq(course))
                .select(enrollments::user_id);
            members = members.filter(users::id.eq_any(enrolled));
        }
        Peers::JobRole => {
            let role = job_role_of(conn, user).await?;
            members = members.filter(users::job_role.eq(role.unwrap_or_default()));
        }
        Peers::Organization => {}
    }
    let mut group_ids: Vec<Uuid> = members.load(conn).await?;
    if !group_ids.contains(&user) {
        group_ids.push(user);
    }
    let window = clock.window(27);
    if !shown(group_ids.len()) {
        return Ok(Computed::new(
            pb::GetPeerComparisonResponse {
                meta: None,
                suppressed: true,
                ..Default::default()
            },
            window,
        )
        .suppressed(true));
    }
    let metrics = peer_metrics(conn, user, &group_ids, clock.today).await?;
    Ok(Computed::new(
        pb::GetPeerComparisonResponse {
            meta: None,
            suppressed: false,
            peers: Some(group_ids.len() as u32 - 1),
            metrics,
        },
        window,
    ))
}

/// (person, day, lessons, logins, session seconds, learning activities)
type ActivityRow = (Uuid, NaiveDate, i32, i32, i32, i32);

/// The learner's percentile on each metric among `group` (themselves
/// included). Days are the learner's local days for everyone, so all are
/// measured over the same dates. A metric fewer than 10 people have (the
/// average score of people never assessed) is left out.
async fn peer_metrics(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    group: &[Uuid],
    today: NaiveDate,
) -> Result<Vec<pb::PeerPercentile>, ApiError> {
    let points: HashMap<Uuid, i64> = user_points::table
        .filter(user_points::user_id.eq_any(group))
        .select((user_points::user_id, user_points::total_points))
        .load::<(Uuid, i64)>(conn)
        .await?
        .into_iter()
        .collect();
    let first = today - Days::new(27);
    let days: Vec<ActivityRow> = daily_activity::table
        .filter(daily_activity::user_id.eq_any(group))
        .filter(daily_activity::local_date.between(first, today))
        .select((
            daily_activity::user_id,
            daily_activity::local_date,
            daily_activity::lessons_completed,
            daily_activity::logins,
            daily_activity::session_seconds,
            daily_activity::learning_activities,
        ))
        .load(conn)
        .await?;
    let mut by_user: HashMap<Uuid, Vec<&ActivityRow>> = HashMap::new();
    for d in &days {
        by_user.entry(d.0).or_default().push(d);
    }
    let scores: HashMap<Uuid, Vec<f64>> = assessments::table
        .filter(assessments::user_id.eq_any(group))
        .select((assessments::user_id, assessments::score))
        .load::<(Uuid, f64)>(conn)
        .await?
        .into_iter()
        .fold(HashMap::new(), |mut m, (u, s)| {
            m.entry(u).or_insert_with(Vec::new).push(s);
            m
        });
    let engagement_first = today - Days::new(ENGAGEMENT_DAYS as u64 - 1);
    let figures = |person: &Uuid| -> (f64, f64, f64) {
        let rows = by_user.get(person).map_or(&[][..], Vec::as_slice);
        let lessons: Vec<(NaiveDate, i32)> = rows.iter().map(|r| (r.1, r.2)).collect();
        let e = engagement(&days_of(
            engagement_first,
            rows.iter().map(|r| (r.1, (r.3, r.4, r.5))),
        ));
        (
            points.get(person).copied().unwrap_or(0) as f64,
            pace(&lessons, today).per_week,
            f64::from(e.score),
        )
    };
    let all: Vec<(f64, f64, f64)> = group.iter().map(figures).collect();
    let mine = figures(&user);
    let metric = |name: &str, value: f64, values: Vec<f64>| pb::PeerPercentile {
        metric: name.into(),
        value,
        percentile: stats::percentile_below(value, &values),
    };
    let mut out = vec![
        metric("points", mine.0, all.iter().map(|f| f.0).collect()),
        metric(
            "lessons_per_week",
            mine.1,
            all.iter().map(|f| f.1).collect(),
        ),
        metric("engagement", mine.2, all.iter().map(|f| f.2).collect()),
    ];
    let averages: Vec<f64> = group
        .iter()
        .filter_map(|p| scores.get(p).and_then(|s| stats::mean(s)))
        .collect();
    let my_average = scores.get(&user).and_then(|s| stats::mean(s));
    if let (Some(mine), true) = (my_average, shown(averages.len())) {
        out.push(metric("average_score", mine, averages));
    }
    Ok(out)
}
