//! `stride demo`: a realistic demo organization (trainers, 240 learners,
//! courses, skills, four months of events) so every RPC has data to show.
//!
//! The plan is simulated in [`plan`] (pure, deterministic per seed) and
//! written here in one transaction: all of it or nothing.
//!
//! Events go through the ingestion pipeline (`db::ingest`), so the state
//! derived from them (enrollments, assessments, skills, daily activity, and
//! later gamification) follows the same rules as events sent by upstream
//! services.

pub mod plan;

use anyhow::{Context, Result};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::api::events::convert::validate;
use crate::db::ingest::{self, Outcome};
use crate::db::models::{
    course::{NewCourse, NewCourseSkill, NewLesson},
    department::NewDepartment,
    learning_path::{NewLearningPath, NewLearningPathCourse},
    organization::NewOrganization,
    skill::{NewJobRoleSkill, NewOrgPrioritySkill, NewSkill, NewSkillPrerequisite},
    user::{NewUser, NewUserRole},
};
use crate::db::schema;
use plan::{DEMO_ADMIN, DEMO_ORG, DemoPlan};

/// Rows per INSERT: well under Postgres' 65,535 bind parameters for the
/// widest table (learning_events, 11 columns).
const CHUNK: usize = 2_000;
/// Events per ingestion batch (the service's default stream batch).
const INGEST_BATCH: usize = 500;

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

/// Publishes the plan's events through the ingestion pipeline, in batches,
/// inside the demo's transaction: the raw log, receipts and everything
/// derived (enrollments, assessments, skills, daily activity) come out
/// exactly as if upstream services had sent them.
async fn write_activity(conn: &mut AsyncPgConnection, plan: &DemoPlan) -> QueryResult<()> {
    let now = Utc::now();
    let total = plan.events.len();
    let mut done = 0;
    for chunk in plan.events.chunks(INGEST_BATCH) {
        let checked: Vec<_> = chunk
            .iter()
            .map(|e| validate(&plan::to_proto(e), now))
            .collect();
        let outcomes = ingest::apply(conn, None, &checked).await?;
        if let Some((event, outcome)) = chunk
            .iter()
            .zip(&outcomes)
            .find(|(_, o)| !matches!(o, Outcome::Accepted(_)))
        {
            // A plan the rules refuse is a bug in the simulation: fail loudly
            // (the transaction rolls back) rather than write partial data.
            return Err(diesel::result::Error::QueryBuilderError(
                format!(
                    "demo event {} was not accepted: {outcome:?}",
                    event.event_id
                )
                .into(),
            ));
        }
        done += chunk.len();
        eprint!("\r  {:<14} {:>7}/{}", "events", done, total);
    }
    eprintln!("\r  {:<14} {:>7} ingested", "events", total);
    Ok(())
}
