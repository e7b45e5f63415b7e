//! `stride demo`: a realistic demo organization (trainers, 240 learners,
//! courses, skills, four months of events) so every RPC has data to show.
//!
//! The plan is simulated in [`plan`] (pure, deterministic per seed) and
//! written here in one transaction: all of it or nothing.
//!
//! Events are written with the state derived from them (enrollment progress,
//! assessments, skills, daily activity). Gamification state (points, levels,
//! streaks, achievements) is not derived here: it comes from the ingestion
//! pipeline and `rules recompute` once those exist.

pub mod plan;

use anyhow::{Context, Result};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::models::{
    assessment::NewAssessment,
    course::{NewCourse, NewCourseSkill, NewLesson},
    daily_activity::NewDailyActivity,
    department::NewDepartment,
    enrollment::NewEnrollment,
    learning_event::{NewEventReceipt, NewLearningEvent, payload_hash},
    learning_path::{NewLearningPath, NewLearningPathCourse},
    organization::NewOrganization,
    skill::{NewJobRoleSkill, NewOrgPrioritySkill, NewSkill, NewSkillPrerequisite},
    user::{NewUser, NewUserRole},
    user_skill::NewUserSkill,
};
use crate::db::schema;
use plan::{DEMO_ADMIN, DEMO_ORG, DemoPlan};

/// Rows per INSERT: well under Postgres' 65,535 bind parameters for the
/// widest table (learning_events, 11 columns).
const CHUNK: usize = 2_000;

/// Inserts `rows` into `table` in chunks and reports progress on stderr.
macro_rules! insert_all {
    ($conn:expr, $table:expr, $rows:expr, $label:expr) => {{
        let rows = $rows;
        let total = rows.len();
        for (i, chunk) in rows.chunks(CHUNK).enumerate() {
            diesel::insert_into($table)
                .values(chunk)
                .execute($conn)
                .await?;
            if total > CHUNK {
                eprint!(
                    "\r  {:<14} {:>7}/{}",
                    $label,
                    ((i + 1) * CHUNK).min(total),
                    total
                );
            }
        }
        eprintln!("\r  {:<14} {:>7} rows", $label, total);
    }};
}

/// Fills the database at `url` with the demo organization; a no-op when it
/// is already there. Returns a summary for the operator.
pub async fn fill(url: &str, learners: usize, seed: u64) -> Result<String> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("cannot connect to the database")?;
    let existing: i64 = schema::organizations::table
        .filter(schema::organizations::id.eq(DEMO_ORG))
        .count()
        .get_result(&mut conn)
        .await?;
    if existing > 0 {
        return Ok(format!(
            "the demo organization is already there (nothing written)\n{}",
            usage()
        ));
    }
    eprintln!("simulating {learners} learners (seed {seed})...");
    let plan = plan::build(learners, seed, Utc::now());
    eprintln!(
        "writing {} people, {} courses, {} events...",
        plan.people.len(),
        plan.courses.len(),
        plan.events.len()
    );
    conn.transaction::<_, diesel::result::Error, _>(async |conn| write(conn, &plan).await)
        .await
        .context("writing the demo data failed; nothing was written")?;
    Ok(format!(
        "demo data written: {} learners, {} courses, {} events\n{}",
        plan.learner_count(),
        plan.courses.len(),
        plan.events.len(),
        usage()
    ))
}

fn usage() -> String {
    format!(
        "organization {DEMO_ORG} (Northwind Learning)\norg admin    {DEMO_ADMIN} (also a learner)\n\
         a course     {} (SQL for Analysts)\n\
         token:       stride token --sub {DEMO_ADMIN} --org {DEMO_ORG} --role org_admin",
        plan::course_id("SQL for Analysts")
    )
}

async fn write(conn: &mut AsyncPgConnection, plan: &DemoPlan) -> QueryResult<()> {
    use schema::*;

    let orgs: Vec<_> = plan
        .orgs
        .iter()
        .map(|o| NewOrganization {
            id: o.id,
            name: &o.name,
            domain: Some(&o.domain),
            time_zone: &o.time_zone,
            settings: None,
        })
        .collect();
    insert_all!(conn, organizations::table, &orgs, "organizations");

    let departments_rows: Vec<_> = plan
        .departments
        .iter()
        .map(|d| NewDepartment {
            id: d.id,
            organization_id: d.org_id,
            parent_id: d.parent_id,
            kind: d.kind,
            name: &d.name,
        })
        .collect();
    insert_all!(conn, departments::table, &departments_rows, "departments");

    let users_rows: Vec<_> = plan
        .people
        .iter()
        .map(|p| NewUser {
            id: p.id,
            organization_id: p.org_id,
            email: &p.email,
            full_name: &p.full_name,
            time_zone: &p.time_zone,
            department_id: p.department_id,
            team_id: p.team_id,
            job_role: p.job_role.as_deref(),
            password_hash: None,
            avatar_url: None,
        })
        .collect();
    insert_all!(conn, users::table, &users_rows, "users");
    let roles: Vec<_> = plan
        .people
        .iter()
        .flat_map(|p| {
            p.roles.iter().map(|r| NewUserRole {
                user_id: p.id,
                role: r.as_str(),
                organization_id: p.org_id,
            })
        })
        .collect();
    insert_all!(conn, user_roles::table, &roles, "user roles");

    let skills_rows: Vec<_> = plan
        .skills
        .iter()
        .map(|s| NewSkill {
            id: s.id,
            organization_id: None,
            name: &s.name,
            domain: &s.domain,
            level: s.level,
        })
        .collect();
    insert_all!(conn, skills::table, &skills_rows, "skills");
    let prereqs: Vec<_> = plan
        .prerequisites
        .iter()
        .map(|(skill_id, prerequisite_skill_id)| NewSkillPrerequisite {
            skill_id: *skill_id,
            prerequisite_skill_id: *prerequisite_skill_id,
        })
        .collect();
    insert_all!(conn, skill_prerequisites::table, &prereqs, "prerequisites");

    write_courses(conn, plan).await?;
    write_activity(conn, plan).await
}

async fn write_courses(conn: &mut AsyncPgConnection, plan: &DemoPlan) -> QueryResult<()> {
    use schema::*;

    let courses_rows: Vec<_> = plan
        .courses
        .iter()
        .map(|c| NewCourse {
            id: c.id,
            organization_id: c.org_id,
            trainer_id: Some(c.trainer_id),
            name: &c.name,
            expected_lessons: i32::try_from(c.lessons.len()).ok(),
        })
        .collect();
    insert_all!(conn, courses::table, &courses_rows, "courses");
    let lessons_rows: Vec<_> = plan
        .courses
        .iter()
        .flat_map(|c| {
            c.lessons.iter().enumerate().map(|(i, id)| NewLesson {
                id: *id,
                course_id: c.id,
                organization_id: c.org_id,
                title: format!("{} - lesson {}", c.name, i + 1),
                position: i as i32,
            })
        })
        .collect();
    insert_all!(conn, lessons::table, &lessons_rows, "lessons");
    let links: Vec<_> = plan
        .courses
        .iter()
        .flat_map(|c| {
            c.skills.iter().map(|(skill_id, required)| NewCourseSkill {
                course_id: c.id,
                skill_id: *skill_id,
                required_mastery: *required,
            })
        })
        .collect();
    insert_all!(conn, course_skills::table, &links, "course skills");

    let paths: Vec<_> = plan
        .paths
        .iter()
        .map(|p| NewLearningPath {
            id: p.id,
            organization_id: p.org_id,
            name: &p.name,
        })
        .collect();
    insert_all!(conn, learning_paths::table, &paths, "paths");
    let path_courses: Vec<_> = plan
        .paths
        .iter()
        .flat_map(|p| {
            p.courses
                .iter()
                .enumerate()
                .map(|(i, c)| NewLearningPathCourse {
                    path_id: p.id,
                    course_id: *c,
                    position: i as i32,
                })
        })
        .collect();
    insert_all!(
        conn,
        learning_path_courses::table,
        &path_courses,
        "path courses"
    );

    let priorities: Vec<_> = plan
        .priority_skills
        .iter()
        .map(|(org, skill, weight)| NewOrgPrioritySkill {
            organization_id: *org,
            skill_id: *skill,
            weight: *weight,
        })
        .collect();
    insert_all!(conn, org_priority_skills::table, &priorities, "priorities");
    let role_needs: Vec<_> = plan
        .role_skills
        .iter()
        .map(|(org, role, skill, required, impact)| NewJobRoleSkill {
            organization_id: *org,
            job_role: role,
            skill_id: *skill,
            required_mastery: *required,
            career_impact: *impact,
        })
        .collect();
    insert_all!(conn, job_role_skills::table, &role_needs, "role skills");
    Ok(())
}

async fn write_activity(conn: &mut AsyncPgConnection, plan: &DemoPlan) -> QueryResult<()> {
    use schema::*;

    let enrollments_rows: Vec<_> = plan
        .enrollments
        .iter()
        .map(|e| NewEnrollment {
            id: e.id,
            user_id: e.user_id,
            course_id: e.course_id,
            organization_id: e.org_id,
            status: if e.completed_at.is_some() {
                "completed"
            } else {
                "active"
            },
            progress_percent: e.progress_percent,
            enrolled_at: e.enrolled_at,
            last_progress_at: e.last_progress_at,
            completed_at: e.completed_at,
        })
        .collect();
    insert_all!(conn, enrollments::table, &enrollments_rows, "enrollments");

    let receipts: Vec<_> = plan
        .events
        .iter()
        .map(|e| NewEventReceipt {
            organization_id: e.org_id,
            event_id: &e.event_id,
            payload_hash: payload_hash(&e.payload),
            kind: e.kind,
            user_id: Some(e.user_id),
            occurred_at: e.occurred_at,
        })
        .collect();
    insert_all!(conn, event_receipts::table, &receipts, "receipts");
    let events: Vec<_> = plan
        .events
        .iter()
        .map(|e| NewLearningEvent {
            organization_id: e.org_id,
            event_id: &e.event_id,
            user_id: e.user_id,
            kind: e.kind,
            occurred_at: e.occurred_at,
            local_date: e.local_date,
            is_learning_activity: e.is_learning_activity(),
            course_id: e.course_id,
            lesson_id: e.lesson_id,
            skill_id: e.skill_id,
            payload: &e.payload,
        })
        .collect();
    insert_all!(conn, learning_events::table, &events, "events");

    let graded: Vec<_> = plan
        .assessments
        .iter()
        .map(|a| NewAssessment {
            organization_id: a.org_id,
            user_id: a.user_id,
            course_id: Some(a.course_id),
            assessment_ref: &a.assessment_ref,
            score: a.score,
            graded_at: a.graded_at,
            source_event_id: &a.source_event_id,
        })
        .collect();
    insert_all!(conn, assessments::table, &graded, "assessments");
    let skills_held: Vec<_> = plan
        .user_skills
        .iter()
        .map(|s| NewUserSkill {
            user_id: s.user_id,
            skill_id: s.skill_id,
            organization_id: s.org_id,
            mastery_level: s.mastery,
            acquired_at: s.acquired_at,
            mastered_at: s.mastered_at,
            last_assessed_at: s.last_assessed_at,
        })
        .collect();
    insert_all!(conn, user_skills::table, &skills_held, "user skills");
    let days: Vec<_> = plan
        .daily
        .iter()
        .filter_map(|((user_id, local_date), d)| {
            Some(NewDailyActivity {
                user_id: *user_id,
                local_date: *local_date,
                organization_id: d.org_id,
                first_activity_at: d.first_activity_at?,
                last_activity_at: d.last_activity_at?,
                learning_activities: d.learning_activities,
                lessons_completed: d.lessons_completed,
                logins: d.logins,
                session_seconds: d.session_seconds,
            })
        })
        .collect();
    insert_all!(conn, daily_activity::table, &days, "daily activity");
    Ok(())
}
