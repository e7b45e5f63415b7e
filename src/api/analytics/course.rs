//! Trainer analytics 7-10 over courses and their students. Every figure is
//! an aggregate over a course's learners: a course under 10 is suppressed.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::cache::{Computed, Key, Subject};
use crate::api::ApiError;
use crate::db::analytics::course::{self as store, Course, Courses};
use crate::domain::analytics::course::{self as rules, Enrollment};
use crate::domain::analytics::{shown, stats};
use crate::proto::analytics::v1 as pb;

/// The courses a trainer-family key covers, by name.
async fn course_set(conn: &mut AsyncPgConnection, key: &Key) -> Result<Vec<Course>, ApiError> {
    let set = match key.subject {
        Subject::Course(id) => Courses::One(id),
        Subject::User(trainer) => Courses::TaughtBy(trainer),
        Subject::Organization(org) => Courses::Of(org),
        other => {
            return Err(ApiError::Internal(format!(
                "course analytic keyed by {other:?}"
            )));
        }
    };
    Ok(store::course_set(conn, set).await?)
}

/// Every enrollment of `ids`, with its person, by course.
async fn enrollments_of(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<(Uuid, Enrollment)>>, ApiError> {
    let mut by_course: HashMap<Uuid, Vec<(Uuid, Enrollment)>> = HashMap::new();
    for row in store::enrollments_of(conn, ids).await? {
        by_course.entry(row.course_id).or_default().push((
            row.user_id,
            Enrollment {
                status: row.status,
                enrolled_at: row.enrolled_at,
                last_progress_at: row.last_progress_at,
            },
        ));
    }
    Ok(by_course)
}

/// The figures of one course's people: performance, average score, start.
struct CourseFigures {
    id: Uuid,
    name: String,
    performance: rules::Performance,
    average_score: Option<f64>,
    first_enrolled: Option<DateTime<Utc>>,
}

async fn figures(
    conn: &mut AsyncPgConnection,
    key: &Key,
    now: DateTime<Utc>,
) -> Result<Vec<CourseFigures>, ApiError> {
    let set = course_set(conn, key).await?;
    let ids: Vec<Uuid> = set.iter().map(|c| c.id).collect();
    let by_course = enrollments_of(conn, &ids).await?;
    let mut scores: HashMap<Uuid, Vec<f64>> = HashMap::new();
    for s in store::scores_by_student(conn, &ids).await? {
        scores.entry(s.course_id).or_default().push(s.score);
    }
    Ok(set
        .into_iter()
        .map(|Course { id, name }| {
            let list: Vec<Enrollment> = by_course
                .get(&id)
                .map(|l| l.iter().map(|(_, e)| e.clone()).collect())
                .unwrap_or_default();
            CourseFigures {
                id,
                name,
                performance: rules::performance(&list, now),
                average_score: scores.get(&id).and_then(|s| stats::mean(s)),
                first_enrolled: list.iter().map(|e| e.enrolled_at).min(),
            }
        })
        .collect())
}

fn window_of(figures: &[CourseFigures], now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = figures.iter().filter_map(|f| f.first_enrolled).min();
    (start.unwrap_or(now), now)
}

pub async fn performance(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetCoursePerformanceResponse>, ApiError> {
    let now = Utc::now();
    let list = figures(conn, &key, now).await?;
    let mut suppressed = false;
    let courses = list
        .iter()
        .map(|f| {
            let show = shown(f.performance.enrolled as usize);
            suppressed |= !show;
            pb::CoursePerformance {
                course_id: f.id.to_string(),
                course_name: f.name.clone(),
                suppressed: !show,
                enrolled: show.then_some(f.performance.enrolled),
                completed: show.then_some(f.performance.completed),
                average_score: f.average_score.filter(|_| show),
                drop_outs: show.then_some(f.performance.drop_outs),
            }
        })
        .collect();
    Ok(Computed::new(
        pb::GetCoursePerformanceResponse {
            meta: None,
            courses,
        },
        window_of(&list, now),
    )
    .suppressed(suppressed))
}

pub async fn health(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetCourseHealthResponse>, ApiError> {
    let now = Utc::now();
    let list = figures(conn, &key, now).await?;
    let mut suppressed = false;
    let courses = list
        .iter()
        .map(|f| {
            if !shown(f.performance.enrolled as usize) {
                suppressed = true;
                return pb::CourseHealth {
                    course_id: f.id.to_string(),
                    suppressed: true,
                    score: None,
                    factors: vec![],
                };
            }
            let (score, factors) = rules::health(&f.performance, f.average_score);
            pb::CourseHealth {
                course_id: f.id.to_string(),
                suppressed: false,
                score: Some(score),
                factors: factors
                    .into_iter()
                    .map(|(name, value, weight)| pb::HealthFactor {
                        name: name.into(),
                        value,
                        weight,
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(Computed::new(
        pb::GetCourseHealthResponse {
            meta: None,
            courses,
        },
        window_of(&list, now),
    )
    .suppressed(suppressed))
}

pub async fn distribution(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetStudentDistributionResponse>, ApiError> {
    let now = Utc::now();
    let ids: Vec<Uuid> = course_set(conn, &key)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    // One figure per student: the mean of their scores in these courses.
    let mut per_student: BTreeMap<Uuid, Vec<f64>> = BTreeMap::new();
    for s in store::scores_by_student(conn, &ids).await? {
        per_student.entry(s.user_id).or_default().push(s.score);
    }
    let averages: Vec<f64> = per_student
        .values()
        .filter_map(|s| stats::mean(s))
        .collect();
    let window = (now, now);
    if !shown(averages.len()) {
        return Ok(Computed::new(
            pb::GetStudentDistributionResponse {
                meta: None,
                suppressed: true,
                ..Default::default()
            },
            window,
        )
        .suppressed(true));
    }
    let d = rules::distribution(&averages);
    Ok(Computed::new(
        pb::GetStudentDistributionResponse {
            meta: None,
            suppressed: false,
            histogram: d
                .histogram
                .into_iter()
                .map(|(lower, upper, count)| pb::HistogramBucket {
                    lower,
                    upper,
                    count,
                })
                .collect(),
            q1: d.q1,
            median: d.median,
            q3: d.q3,
            outliers: d.outliers,
        },
        window,
    ))
}

/// Average score and completion rate over a set of enrollments and scores.
fn outcome(enrolled: &[(Uuid, String)], scores: &[f64]) -> (Option<f64>, f64) {
    let completed = enrolled.iter().filter(|(_, s)| s == "completed").count() as u64;
    (
        stats::mean(scores),
        stats::share(completed, enrolled.len() as u64),
    )
}

pub async fn teaching(
    conn: &mut AsyncPgConnection,
    key: Key,
) -> Result<Computed<pb::GetTeachingEffectivenessResponse>, ApiError> {
    let trainer = key.person()?;
    let org = key.organization()?;
    let now = Utc::now();
    let taught: HashSet<Uuid> = store::taught_by(conn, trainer).await?;
    let all = store::org_enrollments(conn, org).await?;
    let org_scores = store::org_scores(conn, org).await?;
    let mine: Vec<(Uuid, String)> = all
        .iter()
        .filter(|e| taught.contains(&e.course_id))
        .map(|e| (e.user_id, e.status.clone()))
        .collect();
    let students: HashSet<Uuid> = mine.iter().map(|(u, _)| *u).collect();
    let org_people: HashSet<Uuid> = all.iter().map(|e| e.user_id).collect();
    let window = (now, now);
    if !shown(students.len()) || !shown(org_people.len()) {
        return Ok(Computed::new(
            pb::GetTeachingEffectivenessResponse {
                meta: None,
                suppressed: true,
                ..Default::default()
            },
            window,
        )
        .suppressed(true));
    }
    let my_scores: Vec<f64> = org_scores
        .iter()
        .filter(|s| s.course_id.is_some_and(|c| taught.contains(&c)))
        .map(|s| s.score)
        .collect();
    let every_score: Vec<f64> = org_scores.iter().map(|s| s.score).collect();
    let every: Vec<(Uuid, String)> = all.iter().map(|e| (e.user_id, e.status.clone())).collect();
    let (my_score, my_completion) = outcome(&mine, &my_scores);
    let (org_score, org_completion) = outcome(&every, &every_score);
    Ok(Computed::new(
        pb::GetTeachingEffectivenessResponse {
            meta: None,
            suppressed: false,
            students_average_score: my_score,
            org_average_score: org_score,
            students_completion_rate: Some(my_completion),
            org_completion_rate: Some(org_completion),
            score_gain: my_score.zip(org_score).map(|(a, b)| a - b),
            completion_gain: Some(my_completion - org_completion),
        },
        window,
    ))
}
