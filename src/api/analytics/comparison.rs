//! Comparison analytics: skill demand (18) from the skill-demand
//! aggregates, and a learner against anonymous peers (19).

use std::collections::HashMap;

use chrono::{Datelike, Days, Months, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::cache::{Computed, Key, Subject};
use super::learner::{Clock, days_of, pace};
use super::subject::job_role_of;
use crate::api::ApiError;
use crate::db::analytics::comparison::{self as store, ActivityDay, PeerGroup};
use crate::db::analytics::people;
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
        Subject::Platform => store::platform_demand(conn, from)
            .await?
            .into_iter()
            .map(|d| {
                let figures = d.learner_count.zip(d.mastered_count);
                (
                    d.skill_id,
                    d.month,
                    figures.map(|(l, k)| (l, k, d.avg_mastery)),
                )
            })
            .collect(),
        Subject::Organization(org) => store::tenant_demand(conn, org, from)
            .await?
            .into_iter()
            .map(|d| {
                let (l, k, a) = (d.learner_count, d.mastered_count, d.avg_mastery);
                (
                    d.skill_id,
                    d.month,
                    shown(l.max(0) as usize).then_some((l, k, a)),
                )
            })
            .collect(),
        other => {
            return Err(ApiError::Internal(format!(
                "skill demand keyed by {other:?}"
            )));
        }
    };
    let ids: Vec<Uuid> = points.iter().map(|p| p.0).collect();
    let names = store::skill_names(conn, &ids).await?;
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
    let members = match group {
        Peers::Course(course) => PeerGroup::Enrolled(course),
        Peers::JobRole => PeerGroup::JobRole(job_role_of(conn, user).await?.unwrap_or_default()),
        Peers::Organization => PeerGroup::Everyone,
    };
    let mut group_ids = store::peer_group(conn, org, members).await?;
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
    let points = people::total_points(conn, None, group).await?;
    let first = today - Days::new(27);
    let days = store::activity_days(conn, group, first, today).await?;
    let mut by_user: HashMap<Uuid, Vec<&ActivityDay>> = HashMap::new();
    for d in &days {
        by_user.entry(d.user_id).or_default().push(d);
    }
    let scores = people::scores(conn, people::Graded::default(), group).await?;
    let engagement_first = today - Days::new(ENGAGEMENT_DAYS as u64 - 1);
    let figures = |person: &Uuid| -> (f64, f64, f64) {
        let rows = by_user.get(person).map_or(&[][..], Vec::as_slice);
        let lessons: Vec<(NaiveDate, i32)> = rows
            .iter()
            .map(|r| (r.local_date, r.lessons_completed))
            .collect();
        let e = engagement(&days_of(
            engagement_first,
            rows.iter().map(|r| {
                let day = (r.logins, r.session_seconds, r.learning_activities);
                (r.local_date, day)
            }),
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
