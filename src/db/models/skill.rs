//! `skills`, `skill_prerequisites`, `org_priority_skills`, `job_role_skills`.

use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{job_role_skills, org_priority_skills, skill_prerequisites, skills};

#[derive(Debug, Insertable)]
#[diesel(table_name = skills)]
pub struct NewSkill<'a> {
    pub id: Uuid,
    pub organization_id: Option<Uuid>,
    pub name: &'a str,
    pub domain: &'a str,
    pub level: &'a str,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = skill_prerequisites)]
pub struct NewSkillPrerequisite {
    pub skill_id: Uuid,
    pub prerequisite_skill_id: Uuid,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = org_priority_skills)]
pub struct NewOrgPrioritySkill {
    pub organization_id: Uuid,
    pub skill_id: Uuid,
    pub weight: f64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = job_role_skills)]
pub struct NewJobRoleSkill<'a> {
    pub organization_id: Uuid,
    pub job_role: &'a str,
    pub skill_id: Uuid,
    pub required_mastery: i16,
    pub career_impact: f64,
}

use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// A skill as the catalogue upserts it.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = skills)]
pub struct CatalogSkill {
    pub id: Uuid,
    /// `None`: platform-wide.
    pub organization_id: Option<Uuid>,
    pub name: String,
    pub domain: String,
    pub level: &'static str,
    pub market_demand: Option<f64>,
}

impl CatalogSkill {
    /// Catalogue upsert by id (see `api::events::catalog`); a stored skill
    /// of another organization (or platform-wide for an organization's
    /// skill, and the reverse) is left alone. Returns `(id, inserted)` of
    /// the rows inserted or changed.
    pub async fn upsert(
        conn: &mut AsyncPgConnection,
        rows: &[Self],
    ) -> QueryResult<Vec<(Uuid, bool)>> {
        super::catalog_upsert!(conn, skills, rows,
            key: skills::id,
            guard: skills::organization_id.is_not_distinct_from(excluded(skills::organization_id)),
            set: [name, domain, level, market_demand],
            returning: skills::id)
    }
}

impl NewSkillPrerequisite {
    /// The prerequisites of `skills` as (skill, prerequisite).
    pub async fn of_skills(
        conn: &mut AsyncPgConnection,
        skills: &[Uuid],
    ) -> QueryResult<Vec<(Uuid, Uuid)>> {
        skill_prerequisites::table
            .filter(skill_prerequisites::skill_id.eq_any(skills))
            .select((
                skill_prerequisites::skill_id,
                skill_prerequisites::prerequisite_skill_id,
            ))
            .load(conn)
            .await
    }

    /// Replaces the prerequisites of `skills` with `rows`.
    pub async fn replace(
        conn: &mut AsyncPgConnection,
        skills: &[Uuid],
        rows: &[Self],
    ) -> QueryResult<()> {
        diesel::delete(skill_prerequisites::table)
            .filter(skill_prerequisites::skill_id.eq_any(skills))
            .execute(conn)
            .await?;
        diesel::insert_into(skill_prerequisites::table)
            .values(rows)
            .execute(conn)
            .await
            .map(drop)
    }
}

impl NewOrgPrioritySkill {
    /// Catalogue upsert by (organization, skill). Returns `((organization,
    /// skill), inserted)` of the rows inserted or changed.
    pub async fn upsert_catalog(
        conn: &mut AsyncPgConnection,
        rows: &[Self],
    ) -> QueryResult<Vec<((Uuid, Uuid), bool)>> {
        super::catalog_upsert!(conn, org_priority_skills, rows,
            key: (org_priority_skills::organization_id, org_priority_skills::skill_id),
            guard: org_priority_skills::organization_id.eq(excluded(org_priority_skills::organization_id)),
            set: [weight],
            returning: (org_priority_skills::organization_id, org_priority_skills::skill_id))
    }
}
