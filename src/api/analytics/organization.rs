//! Organization analytics 11-14, over an organization or one department or
//! team, in weekly buckets (a person's day is their local day; a week is
//! the Monday-week holding it). Groups and weeks with fewer than 10 people
//! behind them are returned marked suppressed, without figures.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Days, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::cache::{Computed, Key, Subject};
use super::subject::{org_zone, today};
use crate::api::ApiError;
use crate::db::analytics::organization::{self as store, Group, Member};
use crate::db::analytics::people;
use crate::domain::analytics::organization::{CULTURE_STREAK_DAYS, culture_index, week_starts};
use crate::domain::analytics::{shown, stats};
use crate::domain::gamification::periods::local_midnight;
use crate::proto::analytics::v1 as pb;

/// Who and when an organization analytic covers.
struct Scope {
    org: Uuid,
    /// Active members (the whole organization, or one department/team).
    members: Vec<Member>,
    weeks: Vec<NaiveDate>,
    today: NaiveDate,
    window: (DateTime<Utc>, DateTime<Utc>),
}

impl Scope {
    fn ids(&self) -> Vec<Uuid> {
        self.members.iter().map(|m| m.id).collect()
    }

    fn first_day(&self) -> NaiveDate {
        <[NaiveDate]>::first(&self.weeks)
            .copied()
            .unwrap_or(self.today)
    }
}

async fn scope(conn: &mut AsyncPgConnection, key: &Key) -> Result<Scope, ApiError> {
    let org = key.organization()?;
    let weeks: u32 = key
        .params
        .strip_prefix("weeks=")
        .and_then(|w| w.parse().ok())
        .unwrap_or(crate::domain::analytics::organization::DEFAULT_WEEKS);
    let zone = org_zone(conn, org).await?;
    let now = Utc::now();
    let today = today(now, zone);
    let members = store::active_members(conn, org, department(key)).await?;
    let weeks = week_starts(today, weeks);
    let start = local_midnight(<[NaiveDate]>::first(&weeks).copied().unwrap_or(today), zone);
    Ok(Scope {
        org,
        members,
        weeks,
        today,
        window: (start, now),
    })
}

/// Per member and week: (lessons, learning activities).
type Weekly = HashMap<(Uuid, NaiveDate), (i64, i64)>;

async fn weekly_activity(conn: &mut AsyncPgConnection, s: &Scope) -> Result<Weekly, ApiError> {
    let ids = s.ids();
    let mut out = Weekly::new();
    for week in &s.weeks {
        let rows = store::activity_between(conn, s.org, *week, *week + Days::new(6), &ids).await?;
        for row in rows {
            out.insert(
                (row.user_id, *week),
                (row.lessons.unwrap_or(0), row.activities.unwrap_or(0)),
            );
        }
    }
    Ok(out)
}

/// A weekly figure over the people behind it; suppressed under 10.
fn weekly(week: NaiveDate, people: usize, value: f64) -> pb::WeeklyValue {
    let show = shown(people);
    pb::WeeklyValue {
        week_start: week.to_string(),
        value: show.then_some(value),
        suppressed: !show,
    }
}

/// The departments and teams an answer is broken down by: all of the
/// organization's, or the one asked for and its teams.
async fn groups(
    conn: &mut AsyncPgConnection,
    key: &Key,
    org: Uuid,
) -> Result<Vec<Group>, ApiError> {
    Ok(store::groups(conn, org, department(key)).await?)
}

/// The department or team a key is restricted to, if any.
fn department(key: &Key) -> Option<Uuid> {
    match key.subject {
        Subject::Department(d) => Some(d),
        _ => None,
    }
}

fn members_of(s: &Scope, group: Uuid) -> Vec<Uuid> {
    s.members
        .iter()
        .filter(|m| m.department == Some(group) || m.team == Some(group))
        .map(|m| m.id)
        .collect()
}

/// A group's figures, or only its name when under 10 members.
fn group_figures(
    id: Uuid,
    name: String,
    members: usize,
    values: impl FnOnce() -> HashMap<String, f64>,
) -> pb::GroupFigures {
    let show = shown(members);
    pb::GroupFigures {
        group_id: id.to_string(),
        group_name: name,
        suppressed: !show,
        members: show.then_some(members as u32),
        values: if show { values() } else { HashMap::new() },
    }
}

/// Lessons per member per week and the share of members who learned, over
/// `people` in the window.
fn pace_values(people: &[Uuid], activity: &Weekly, weeks: usize) -> HashMap<String, f64> {
    let set: HashSet<&Uuid> = people.iter().collect();
    let mut lessons = 0i64;
    let mut active: HashSet<&Uuid> = HashSet::new();
    for ((user, _), (l, a)) in activity {
        if let Some(u) = set.get(user) {
            lessons += l;
            if *a > 0 {
                active.insert(u);
            }
        }
    }
    let per_member_week = lessons as f64 / (people.len().max(1) * weeks.max(1)) as f64;
    HashMap::from([
        ("lessons_per_member_week".to_string(), per_member_week),
        (
            "active_share".to_string(),
            stats::share(active.len() as u64, people.len() as u64),
        ),
    ])
}

pub async fn velocity(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetOrganizationVelocityResponse>, ApiError> {
    let s = scope(conn, &key).await?;
    let activity = weekly_activity(conn, &s).await?;
    let mut suppressed = false;
    let over_time: Vec<pb::WeeklyValue> = s
        .weeks
        .iter()
        .map(|week| {
            let (mut lessons, mut active) = (0i64, 0usize);
            for ((_, w), (l, a)) in &activity {
                if w == week && *a > 0 {
                    lessons += l;
                    active += 1;
                }
            }
            let v = weekly(*week, active, lessons as f64 / active.max(1) as f64);
            suppressed |= v.suppressed;
            v
        })
        .collect();
    let groups: Vec<pb::GroupFigures> = groups(conn, &key, s.org)
        .await?
        .into_iter()
        .map(|Group { id, name }| {
            let people = members_of(&s, id);
            let g = group_figures(id, name, people.len(), || {
                pace_values(&people, &activity, s.weeks.len())
            });
            suppressed |= g.suppressed;
            g
        })
        .collect();
    Ok(Computed::new(
        pb::GetOrganizationVelocityResponse {
            meta: None,
            over_time,
            groups,
        },
        s.window,
    )
    .suppressed(suppressed))
}

pub async fn alignment(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetStrategicAlignmentResponse>, ApiError> {
    let s = scope(conn, &key).await?;
    let ids = s.ids();
    let activity = weekly_activity(conn, &s).await?;
    let learners: HashSet<Uuid> = activity
        .iter()
        .filter(|(_, (_, a))| *a > 0)
        .map(|((u, _), _)| *u)
        .collect();
    if !shown(learners.len()) {
        return Ok(Computed::new(
            pb::GetStrategicAlignmentResponse {
                meta: None,
                suppressed: true,
                ..Default::default()
            },
            s.window,
        )
        .suppressed(true));
    }
    let rows = store::activities_by_day(conn, s.org, s.window.0, s.first_day(), &ids).await?;
    let courses: HashSet<Uuid> = rows.iter().filter_map(|r| r.course_id).collect();
    let courses: Vec<Uuid> = courses.into_iter().collect();
    let taught = store::skills_taught(conn, &courses).await?;
    let priorities = store::priority_skills(conn, s.org).await?;
    let priority: HashSet<Uuid> = priorities.iter().map(|p| p.id).collect();
    // Per week: (all activities, on a priority skill); per priority skill: count.
    let mut by_week: BTreeMap<NaiveDate, (i64, i64)> = BTreeMap::new();
    let mut by_skill: HashMap<Uuid, i64> = HashMap::new();
    let (mut total, mut aligned) = (0i64, 0i64);
    for row in &rows {
        let n = row.count;
        let about: Vec<Uuid> = match row.skill_id {
            Some(skill) => vec![skill],
            None => row
                .course_id
                .and_then(|c| taught.get(&c).cloned())
                .unwrap_or_default(),
        };
        let on_priority = about.iter().any(|s| priority.contains(s));
        let week = crate::domain::gamification::periods::monday_of(row.local_date);
        let entry = by_week.entry(week).or_default();
        entry.0 += n;
        total += n;
        if on_priority {
            entry.1 += n;
            aligned += n;
        }
        for s in about.iter().filter(|s| priority.contains(s)) {
            *by_skill.entry(*s).or_default() += n;
        }
    }
    let share = |part: i64, whole: i64| stats::share(part.max(0) as u64, whole.max(0) as u64);
    let mut suppressed = false;
    let over_time = s
        .weeks
        .iter()
        .map(|week| {
            let people = activity
                .iter()
                .filter(|((_, w), (_, a))| w == week && *a > 0)
                .count();
            let (all, on) = by_week.get(week).copied().unwrap_or_default();
            let v = weekly(*week, people, share(on, all));
            suppressed |= v.suppressed;
            v
        })
        .collect();
    Ok(Computed::new(
        pb::GetStrategicAlignmentResponse {
            meta: None,
            aligned_share: share(aligned, total),
            skills: priorities
                .into_iter()
                .map(|p| pb::PrioritySkillShare {
                    skill_id: p.id.to_string(),
                    share: share(by_skill.get(&p.id).copied().unwrap_or(0), total),
                    skill_name: p.name,
                    weight: p.weight,
                })
                .collect(),
            over_time,
            suppressed: false,
        },
        s.window,
    )
    .suppressed(suppressed))
}

pub async fn departments(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetDepartmentAnalyticsResponse>, ApiError> {
    let s = scope(conn, &key).await?;
    let activity = weekly_activity(conn, &s).await?;
    let ids = s.ids();
    let scores = people::scores(
        conn,
        people::Graded {
            org: Some(s.org),
            since: Some(s.window.0),
        },
        &ids,
    )
    .await?;
    let statuses = store::enrollment_statuses(conn, s.org, &ids).await?;
    let points = people::total_points(conn, Some(s.org), &ids).await?;
    let mut suppressed = false;
    let groups = groups(conn, &key, s.org)
        .await?
        .into_iter()
        .map(|Group { id, name }| {
            let people = members_of(&s, id);
            let g = group_figures(id, name, people.len(), || {
                let set: HashSet<Uuid> = people.iter().copied().collect();
                let mut values = pace_values(&people, &activity, s.weeks.len());
                let group_scores: Vec<f64> = people
                    .iter()
                    .flat_map(|p| scores.get(p).cloned().unwrap_or_default())
                    .collect();
                if let Some(avg) = stats::mean(&group_scores) {
                    values.insert("average_score".into(), avg);
                }
                let mine: Vec<&String> = statuses
                    .iter()
                    .filter(|st| set.contains(&st.user_id))
                    .map(|st| &st.status)
                    .collect();
                let done = mine.iter().filter(|st| st.as_str() == "completed").count();
                values.insert(
                    "completion_rate".into(),
                    stats::share(done as u64, mine.len() as u64),
                );
                let total: i64 = people
                    .iter()
                    .map(|p| points.get(p).copied().unwrap_or(0))
                    .sum();
                values.insert(
                    "average_points".into(),
                    total as f64 / people.len().max(1) as f64,
                );
                values
            });
            suppressed |= g.suppressed;
            g
        })
        .collect();
    Ok(Computed::new(
        pb::GetDepartmentAnalyticsResponse { meta: None, groups },
        s.window,
    )
    .suppressed(suppressed))
}

pub async fn culture(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetLearningCultureResponse>, ApiError> {
    let s = scope(conn, &key).await?;
    let members = s.members.len();
    if !shown(members) {
        return Ok(Computed::new(
            pb::GetLearningCultureResponse {
                meta: None,
                suppressed: true,
                ..Default::default()
            },
            s.window,
        )
        .suppressed(true));
    }
    let ids = s.ids();
    let activity = weekly_activity(conn, &s).await?;
    let learned: HashSet<Uuid> = activity
        .iter()
        .filter(|(_, (_, a))| *a > 0)
        .map(|((u, _), _)| *u)
        .collect();
    let yesterday = s.today - Days::new(1);
    let streaking = store::streaking(conn, s.org, &ids, CULTURE_STREAK_DAYS, yesterday).await?;
    let helps = store::peer_helps(conn, s.org, s.window.0, &ids).await?;
    let participation = stats::share(learned.len() as u64, members as u64);
    let streak_share = stats::share(streaking.max(0) as u64, members as u64);
    let peer_help_rate = helps as f64 * 10.0 / members as f64;
    let over_time = s
        .weeks
        .iter()
        .map(|week| {
            let active = activity
                .iter()
                .filter(|((_, w), (_, a))| w == week && *a > 0)
                .count();
            weekly(*week, members, stats::share(active as u64, members as u64))
        })
        .collect();
    Ok(Computed::new(
        pb::GetLearningCultureResponse {
            meta: None,
            index: culture_index(participation, streak_share, peer_help_rate),
            participation,
            streak_share,
            peer_help_rate,
            over_time,
            suppressed: false,
        },
        s.window,
    ))
}
