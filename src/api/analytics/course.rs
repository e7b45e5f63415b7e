//! Trainer analytics 7-10 over courses and their students. Every figure is
//! an aggregate over a course's learners: a course under 10 is suppressed.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::cache::{Computed, Key, Subject};
use crate::api::ApiError;
use crate::db::schema::{assessments, courses, enrollments};
use crate::domain::analytics::course::{self as rules, Enrollment};
use crate::domain::analytics::{shown, stats};
use crate::proto::analytics::v1 as pb;

/// The courses a trainer-family key covers, by name: (id, name).
async fn course_set(
    conn: &mut AsyncPgConnection,
    key: &Key,
) -> Result<Vec<(Uuid, String)>, ApiError> {
    let query = courses::table
        .select((courses::id, courses::name))
        .order((courses::name.asc(), courses::id.asc()))
        .into_boxed();
    let query = match key.subject {
        Subject::Course(id) => query.filter(courses::id.eq(id)),
        Subject::User(trainer) => query.filter(courses::trainer_id.eq(trainer)),
        Subject::Organization(org) => query.filter(courses::organization_id.eq(org)),
        other => {
            return Err(ApiError::Internal(format!(
                "course analytic keyed by {other:?}"
            )));
        }
    };
    Ok(query.load(conn).await?)
}

/// Every enrollment of `ids`, with its person, by course.
async fn enrollments_of(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<(Uuid, Enrollment)>>, ApiError> {
    type Row = (Uuid, Uuid, String, DateTime<Utc>, Option<DateTime<Utc>>);
    let rows: Vec<Row> = enrollments::table
        .filter(enrollments::course_id.eq_any(ids))
        .select((
            enrollments::course_id,
            enrollments::user_id,
            enrollments::status,
            enrollments::enrolled_at,
            enrollments::last_progress_at,
        ))
        .load(conn)
        .await?;
    let mut by_course: HashMap<Uuid, Vec<(Uuid, Enrollment)>> = HashMap::new();
    for (course, user, status, enrolled_at, last_progress_at) in rows {
        by_course.entry(course).or_default().push((
            user,
            Enrollment {
                status,
                enrolled_at,
                last_progress_at,
            },
        ));
    }
    Ok(by_course)
}

/// Each (course, person)'s scores in `ids`.
async fn scores_by_student(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, Uuid, f64)>, ApiError> {
    let rows: Vec<(Option<Uuid>, Uuid, f64)> = assessments::table
        .filter(assessments::course_id.eq_any(ids))
        .select((
            assessments::course_id,
            assessments::user_id,
            assessments::score,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(c, u, s)| c.map(|c| (c, u, s)))
        .collect())
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
    let ids: Vec<Uuid> = set.iter().map(|c| c.0).collect();
    let by_course = enrollments_of(conn, &ids).await?;
    let mut scores: HashMap<Uuid, Vec<f64>> = HashMap::new();
    for (course, _, score) in scores_by_student(conn, &ids).await? {
        scores.entry(course).or_default().push(score);
    }
    Ok(set
        .into_iter()
        .map(|(id, name)| {
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
        .map(|c| c.0)
        .collect();
    // One figure per student: the mean of their scores in these courses.
    let mut per_student: BTreeMap<Uuid, Vec<f64>> = BTreeMap::new();
    for (_, user, score) in scores_by_student(conn, &ids).await? {
        per_student.entry(user).or_default().push(score);
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
    let taught: HashSet<Uuid> = courses::table
        .filter(courses::trainer_id.eq(trainer))
        .select(courses::id)
        .load::<Uuid>(conn)
        .await?
        .into_iter()
        .collect();
    let all: Vec<(Uuid, Uuid, String)> = enrollments::table
        .filter(enrollments::organization_id.eq(org))
        .select((
            enrollments::course_id,
            enrollments::user_id,
            enrollments::status,
        ))
        .load(conn)
        .await?;
    let org_scores: Vec<(Option<Uuid>, f64)> = assessments::table
        .filter(assessments::organization_id.eq(org))
        .select((assessments::course_id, assessments::score))
        .load(conn)
        .await?;
    let mine: Vec<(Uuid, String)> = all
        .iter()
        .filter(|(c, _, _)| taught.contains(c))
        .map(|(_, u, s)| (*u, s.clone()))
        .collect();
    let students: HashSet<Uuid> = mine.iter().map(|(u, _)| *u).collect();
    let org_people: HashSet<Uuid> = all.iter().map(|(_, u, _)| *u).collect();
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
        .filter(|(c, _)| c.is_some_and(|c| taught.contains(&c)))
        .map(|(_, s)| *s)
        .collect();
    let every_score: Vec<f64> = org_scores.iter().map(|(_, s)| *s).collect();
    let every: Vec<(Uuid, String)> = all.iter().map(|(_, u, s)| (*u, s.clone())).collect();
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
