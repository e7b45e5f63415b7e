//! UpsertEnrollments: who takes which course, keyed by (user, course).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::ENROLLMENTS;
use super::check::{Check, Findings};
use super::write::{owners_of, refused, summary};
use crate::api::ApiError;
use crate::db::models::Tenanted;
use crate::db::models::enrollment::CatalogEnrollment;
use crate::proto::events::v1 as pb;

/// An enrollment; its organization (nil here) is filled from its course.
pub(super) fn check_enrollment(
    enrollment: &pb::Enrollment,
    c: &mut Check<'_>,
) -> Result<CatalogEnrollment, ApiError> {
    let enrolled_at = match &enrollment.enrolled_at {
        None => Utc::now(),
        Some(at) => u32::try_from(at.nanos)
            .ok()
            .and_then(|nanos| DateTime::from_timestamp(at.seconds, nanos))
            .unwrap_or_else(|| {
                c.fail("enrolled_at", "is not a valid timestamp");
                Utc::now()
            }),
    };
    Ok(CatalogEnrollment {
        id: c.id("id", &enrollment.id),
        user_id: c.id("user_id", &enrollment.user_id),
        course_id: c.id("course_id", &enrollment.course_id),
        organization_id: Uuid::nil(),
        enrolled_at,
    })
}

pub(super) async fn write_enrollments(
    conn: &mut AsyncPgConnection,
    mut items: Vec<CatalogEnrollment>,
) -> Result<pb::UpsertSummary, ApiError> {
    let mut found = Findings::new(ENROLLMENTS);
    found.unique("id", items.iter().map(|e| e.id));
    found.unique("course_id", items.iter().map(|e| (e.user_id, e.course_id)));
    let users = owners_of(conn, Tenanted::Users, items.iter().map(|e| e.user_id)).await?;
    let courses = owners_of(conn, Tenanted::Courses, items.iter().map(|e| e.course_id)).await?;
    for (index, enrollment) in items.iter_mut().enumerate() {
        let user = users.get(&enrollment.user_id);
        match courses.get(&enrollment.course_id) {
            Some(Some(org)) => {
                enrollment.organization_id = *org;
                found.belongs(index, "user_id", user, Some(*org), "user");
            }
            _ => {
                found.add(
                    index,
                    "course_id",
                    "no such course (or not visible to this token)",
                );
                if user.is_none() {
                    found.add(
                        index,
                        "user_id",
                        "no such user (or not visible to this token)",
                    );
                }
            }
        }
    }
    let ids: Vec<Uuid> = items.iter().map(|e| e.id).collect();
    let stored: HashMap<Uuid, (Uuid, Uuid)> = CatalogEnrollment::keys(conn, &ids)
        .await?
        .into_iter()
        .map(|(id, user, course)| (id, (user, course)))
        .collect();
    for (index, enrollment) in items.iter().enumerate() {
        if stored
            .get(&enrollment.id)
            .is_some_and(|key| *key != (enrollment.user_id, enrollment.course_id))
        {
            found.add(
                index,
                "id",
                "already names the enrollment of another user or course",
            );
        }
    }
    found.done()?;
    let written: HashMap<(Uuid, Uuid), bool> = CatalogEnrollment::upsert(conn, &items)
        .await
        .map_err(|err| refused(ENROLLMENTS, err))?
        .into_iter()
        .collect();
    let keys = items.iter().map(|e| (e.user_id, e.course_id));
    Ok(summary(keys, &written, &HashSet::new()))
}
