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
