//! Predictive analytics 15-17 about one learner. Each kind is opt-out per
//! person (user_preferences): an opted-out kind is never computed (see
//! `cache::serve`), and its cached rows are deleted when the person opts out.

use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::cache::{Computed, Key};
use super::learner::{Clock, assessments_of, skill_gaps, user_engagement, user_pace};
use crate::api::ApiError;
use crate::db::analytics::predictive as store;
use crate::domain::analytics::gaps::{Next, Offer, recommend};
use crate::domain::analytics::learner as learner_rules;
use crate::domain::analytics::predictive::{self as rules, CourseFacts, MODEL_VERSION, RiskBand};
use crate::domain::analytics::stats;
use crate::proto::analytics::v1 as pb;

/// The newest activity of a person the computation saw.
/// The last 28 days are looked at first: their few partitions plan fast,
/// and an active learner's newest activity is there; only an inactive one
/// costs the look over every partition.
async fn freshness(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    today: NaiveDate,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let recent = store::newest_activity(conn, user, today - Days::new(27)).await?;
    if recent.is_some() {
        return Ok(recent);
    }
    // Not NaiveDate::MIN: PostgreSQL's dates start at 4713 BC, and a bound
    // outside them fails the query ("date out of range").
    Ok(store::newest_activity(conn, user, crate::domain::events::EARLIEST_DAY).await?)
}

fn predictive<T>(
    answer: T,
    window: (DateTime<Utc>, DateTime<Utc>),
    fresh_as_of: Option<DateTime<Utc>>,
) -> Computed<T> {
    let mut c = Computed::new(answer, window);
    c.model_version = Some(MODEL_VERSION);
    c.data_freshness = fresh_as_of;
    c
}

fn band_pb(band: RiskBand) -> pb::RiskBand {
    match band {
        RiskBand::Critical => pb::RiskBand::Critical,
        RiskBand::High => pb::RiskBand::High,
        RiskBand::Medium => pb::RiskBand::Medium,
        RiskBand::Low => pb::RiskBand::Low,
    }
}

pub async fn drop_off_risk(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetDropOffRiskResponse>, ApiError> {
    let user = key.person()?;
    let clock = Clock::of(conn, user).await?;
    let engagement = user_engagement(conn, user, clock.today).await?;
    let pace = user_pace(conn, user, clock.today).await?;
    let (change, _) = learner_rules::momentum(pace.last7, pace.prior7);
    // "No progress in 7 days": no learning activity in (now - 7 days, now].
    let recent =
        store::learning_activities_between(conn, user, clock.now - Duration::days(7), clock.now)
            .await?;
    let risk = rules::drop_off_risk(engagement.score, change, recent > 0);
    let fresh_as_of = freshness(conn, user, clock.today).await?;
    Ok(predictive(
        pb::GetDropOffRiskResponse {
            meta: None,
            opted_out: false,
            score: risk.score,
            band: band_pb(risk.band).into(),
            factors: risk
                .factors
                .into_iter()
                .map(|f| pb::RiskFactor {
                    name: f.name.into(),
                    points: f.points,
                    description: f.description,
                })
                .collect(),
        },
        clock.window(13),
        fresh_as_of,
    ))
}

/// The course a forecast is restricted to (`course=<id>` in the params).
pub fn forecast_params(course: Option<Uuid>) -> String {
    course.map(|c| format!("course={c}")).unwrap_or_default()
}

pub async fn forecast(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetOutcomeForecastResponse>, ApiError> {
    let user = key.person()?;
    let clock = Clock::of(conn, user).await?;
    let only: Option<Uuid> = key
        .params
        .strip_prefix("course=")
        .and_then(|c| c.parse().ok());
    let active = store::active_enrollments(conn, user, only).await?;
    // One read of the person's assessments serves the overall and the
    // per-course figures.
    let graded = assessments_of(conn, user).await?;
    let all_scores: Vec<f64> = graded.iter().map(|g| g.score).collect();
    let overall = stats::mean(&all_scores);
    let mut courses = Vec::with_capacity(active.len());
    let mut start = clock.now;
    for e in active {
        let (course, enrolled_at) = (e.course_id, e.enrolled_at);
        start = start.min(enrolled_at);
        let course_scores: Vec<f64> = graded
            .iter()
            .filter(|g| g.course == Some(course))
            .map(|g| g.score)
            .collect();
        let seconds = (clock.now - enrolled_at).num_seconds().max(0);
        let days = u32::try_from((seconds + 86_399) / 86_400).unwrap_or(u32::MAX);
        let f = rules::forecast(
            clock.today,
            &CourseFacts {
                progress_percent: e.progress_percent,
                days_enrolled: days.max(1),
                course_scores,
                overall_average: overall,
            },
        );
        courses.push(pb::CourseForecast {
            course_id: course.to_string(),
            projected_completion_date: f.completion.map(|d| d.to_string()).unwrap_or_default(),
            projected_final_score: f.final_score,
            confidence: f.confidence,
        });
    }
    let confidence = stats::mean(&courses.iter().map(|c| c.confidence).collect::<Vec<_>>());
    let fresh_as_of = freshness(conn, user, clock.today).await?;
    let mut c = predictive(
        pb::GetOutcomeForecastResponse {
            meta: None,
            opted_out: false,
            courses,
        },
        (start, clock.now),
        fresh_as_of,
    );
    c.confidence = confidence;
    Ok(c)
}

pub async fn recommendations(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetRecommendationsResponse>, ApiError> {
    let user = key.person()?;
    let org = key.organization()?;
    let clock = Clock::of(conn, user).await?;
    let named = skill_gaps(conn, user, org, clock.today).await?;
    let gaps: Vec<_> = named.iter().map(|n| n.gap.clone()).collect();
    let wanted: Vec<Uuid> = gaps.iter().take(3).map(|g| g.skill_id).collect();
    let teaching = store::courses_teaching(conn, org, &wanted).await?;
    let taken = store::enrolled_courses(conn, user).await?;
    let offers: Vec<Offer> = teaching
        .iter()
        .map(|t| Offer {
            course_id: t.course_id,
            skill_id: t.skill_id,
            taken: taken.contains(&t.course_id),
        })
        .collect();
    let recommendations = recommend(&gaps, &offers)
        .into_iter()
        .map(|(next, gap)| {
            let skill = named
                .iter()
                .find(|n| n.gap.skill_id == gap.skill_id)
                .map_or("", |n| n.name.as_str());
            let reason = format!(
                "closes the gap on {skill}: mastery {:.0} of the {:.0} required",
                gap.current, gap.required
            );
            let (kind, id, title) = match next {
                Next::Course(course) => {
                    let title = teaching
                        .iter()
                        .find(|t| t.course_id == course)
                        .map_or(String::new(), |t| t.course_name.clone());
                    ("course", course, title)
                }
                Next::Skill(id) => ("skill", id, skill.to_string()),
            };
            pb::Recommendation {
                kind: kind.into(),
                id: id.to_string(),
                title,
                reason,
                priority: gap.priority,
            }
        })
        .collect();
    let fresh_as_of = freshness(conn, user, clock.today).await?;
    Ok(predictive(
        pb::GetRecommendationsResponse {
            meta: None,
            opted_out: false,
            recommendations,
        },
        (clock.now, clock.now),
        fresh_as_of,
    ))
}
