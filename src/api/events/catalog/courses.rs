//! UpsertCourses, UpsertLessons and UpsertLearningPaths: the courses, their
//! lessons, and the paths through them.

use std::collections::{HashMap, HashSet};

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::check::{Check, Findings};
use super::write::{changed_sets, ensure_own, org_zones, owners_of, refused, summary};
use super::{COURSES, LESSONS, PATHS};
use crate::api::ApiError;
use crate::db::models::Tenanted;
use crate::db::models::course::{CatalogCourse, NewLesson};
use crate::db::models::learning_path::{CatalogLearningPath, NewLearningPathCourse};
use crate::proto::events::v1 as pb;

// ---------------------------------------------------------------------------
// Courses and lessons.

pub(super) fn check_course(
    course: &pb::Course,
    c: &mut Check<'_>,
) -> Result<CatalogCourse, ApiError> {
    Ok(CatalogCourse {
        organization_id: c.org("organization_id", &course.organization_id)?,
        id: c.id("id", &course.id),
        trainer_id: c.optional_id("trainer_id", &course.trainer_id),
        name: c.text("name", &course.name, 1, 300),
        description: (!course.description.is_empty()).then(|| course.description.clone()),
        expected_lessons: c.count("expected_lessons", course.expected_lessons),
        expected_duration_minutes: c.count(
            "expected_duration_minutes",
            course.expected_duration_minutes,
        ),
    })
}

pub(super) async fn write_courses(
    conn: &mut AsyncPgConnection,
    items: Vec<CatalogCourse>,
) -> Result<pb::UpsertSummary, ApiError> {
    let mut found = Findings::new(COURSES);
    found.unique("id", items.iter().map(|c| c.id));
    let orgs = items.iter().map(|c| c.organization_id).enumerate();
    org_zones(conn, &mut found, orgs).await?;
    let trainers = owners_of(
        conn,
        Tenanted::Users,
        items.iter().filter_map(|c| c.trainer_id),
    )
    .await?;
    for (index, course) in items.iter().enumerate() {
        if let Some(trainer) = course.trainer_id {
            let org = Some(course.organization_id);
            found.belongs(index, "trainer_id", trainers.get(&trainer), org, "user");
        }
    }
    found.done()?;
    let written: HashMap<Uuid, bool> = CatalogCourse::upsert(conn, &items)
        .await
        .map_err(|err| refused(COURSES, err))?
        .into_iter()
        .collect();
    let keys = items.iter().map(|c| (c.id, Some(c.organization_id)));
    ensure_own(conn, Tenanted::Courses, COURSES, keys, &written).await?;
    Ok(summary(
        items.iter().map(|c| c.id),
        &written,
        &HashSet::new(),
    ))
}

/// A lesson; its organization (nil here) is filled from its course.
pub(super) fn check_lesson(lesson: &pb::Lesson, c: &mut Check<'_>) -> Result<NewLesson, ApiError> {
    Ok(NewLesson {
        id: c.id("id", &lesson.id),
        course_id: c.id("course_id", &lesson.course_id),
        organization_id: Uuid::nil(),
        title: c.text("title", &lesson.title, 0, 300),
        position: c.count("position", lesson.position).unwrap_or(0),
    })
}

pub(super) async fn write_lessons(
    conn: &mut AsyncPgConnection,
    mut items: Vec<NewLesson>,
) -> Result<pb::UpsertSummary, ApiError> {
    let mut found = Findings::new(LESSONS);
    found.unique("id", items.iter().map(|l| l.id));
    let courses = owners_of(conn, Tenanted::Courses, items.iter().map(|l| l.course_id)).await?;
    for (index, lesson) in items.iter_mut().enumerate() {
        match courses.get(&lesson.course_id) {
            Some(Some(org)) => lesson.organization_id = *org,
            _ => found.add(
                index,
                "course_id",
                "no such course (or not visible to this token)",
            ),
        }
    }
    found.done()?;
    let written: HashMap<Uuid, bool> = NewLesson::upsert_catalog(conn, &items)
        .await
        .map_err(|err| refused(LESSONS, err))?
        .into_iter()
        .collect();
    let keys = items.iter().map(|l| (l.id, Some(l.organization_id)));
    ensure_own(conn, Tenanted::Lessons, LESSONS, keys, &written).await?;
    Ok(summary(
        items.iter().map(|l| l.id),
        &written,
        &HashSet::new(),
    ))
}

// ---------------------------------------------------------------------------
// Learning paths.

pub(super) struct PathItem {
    row: CatalogLearningPath,
    courses: Vec<Uuid>,
}

pub(super) fn check_path(path: &pb::LearningPath, c: &mut Check<'_>) -> Result<PathItem, ApiError> {
    let row = CatalogLearningPath {
        organization_id: c.org("organization_id", &path.organization_id)?,
        id: c.id("id", &path.id),
        name: c.text("name", &path.name, 1, 300),
        description: (!path.description.is_empty()).then(|| path.description.clone()),
    };
    Ok(PathItem {
        row,
        courses: c.ids("course_ids", &path.course_ids),
    })
}

pub(super) async fn write_paths(
    conn: &mut AsyncPgConnection,
    items: Vec<PathItem>,
) -> Result<pb::UpsertSummary, ApiError> {
    let mut found = Findings::new(PATHS);
    found.unique("id", items.iter().map(|p| p.row.id));
    let orgs = items.iter().map(|p| p.row.organization_id).enumerate();
    org_zones(conn, &mut found, orgs).await?;
    let courses = owners_of(
        conn,
        Tenanted::Courses,
        items.iter().flat_map(|p| p.courses.clone()),
    )
    .await?;
    for (index, path) in items.iter().enumerate() {
        for (j, course) in path.courses.iter().enumerate() {
            let org = Some(path.row.organization_id);
            found.belongs(
                index,
                &format!("course_ids[{j}]"),
                courses.get(course),
                org,
                "course",
            );
        }
    }
    found.done()?;
    let rows: Vec<CatalogLearningPath> = items.iter().map(|p| p.row.clone()).collect();
    let written: HashMap<Uuid, bool> = CatalogLearningPath::upsert(conn, &rows)
        .await
        .map_err(|err| refused(PATHS, err))?
        .into_iter()
        .collect();
    let keys = items
        .iter()
        .map(|p| (p.row.id, Some(p.row.organization_id)));
    ensure_own(conn, Tenanted::LearningPaths, PATHS, keys, &written).await?;
    let changed = set_path_courses(conn, &items).await?;
    Ok(summary(items.iter().map(|p| p.row.id), &written, &changed))
}

/// Replaces the course list of every path whose list (with positions)
/// differs; returns those paths.
pub(super) async fn set_path_courses(
    conn: &mut AsyncPgConnection,
    items: &[PathItem],
) -> Result<HashSet<Uuid>, ApiError> {
    let ids: Vec<Uuid> = items.iter().map(|p| p.row.id).collect();
    let stored = NewLearningPathCourse::of_paths(conn, &ids)
        .await?
        .into_iter()
        .map(|(path, course, position)| (path, (position, course)))
        .collect();
    let positioned =
        |p: &PathItem| -> Vec<(i32, Uuid)> { (0..).zip(p.courses.iter().copied()).collect() };
    let changed = changed_sets(stored, items.iter().map(|p| (p.row.id, positioned(p))));
    if !changed.is_empty() {
        let rows: Vec<NewLearningPathCourse> = items
            .iter()
            .filter(|p| changed.contains(&p.row.id))
            .flat_map(|p| {
                positioned(p)
                    .into_iter()
                    .map(|(position, course_id)| NewLearningPathCourse {
                        path_id: p.row.id,
                        course_id,
                        position,
                    })
            })
            .collect();
        let paths: Vec<Uuid> = changed.iter().copied().collect();
        NewLearningPathCourse::replace(conn, &paths, &rows).await?;
    }
    Ok(changed)
}
