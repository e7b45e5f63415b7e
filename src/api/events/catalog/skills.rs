//! UpsertSkills, UpsertCourseSkills and UpsertPrioritySkills: skills with
//! their prerequisites, the skills a course teaches, and an organization's
//! priorities.

use std::collections::{HashMap, HashSet};

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::check::{Check, Findings};
use super::write::{changed_sets, ensure_own, org_zones, owners_of, refused, summary};
use super::{LINKS, PRIORITY_SKILLS, SKILLS};
use crate::api::ApiError;
use crate::db::models::Tenanted;
use crate::db::models::course::NewCourseSkill;
use crate::db::models::skill::{CatalogSkill, NewOrgPrioritySkill, NewSkillPrerequisite};
use crate::proto::events::v1 as pb;

/// Mastery a course requires when the link says 0 (SPEC: 80).
const DEFAULT_REQUIRED_MASTERY: i16 = crate::domain::thresholds::REQUIRED_MASTERY;

// ---------------------------------------------------------------------------
// Skills.

pub(super) struct SkillItem {
    row: CatalogSkill,
    prerequisites: Vec<Uuid>,
}

pub(super) fn check_skill(skill: &pb::Skill, c: &mut Check<'_>) -> Result<SkillItem, ApiError> {
    let organization_id = c.skill_org("organization_id", &skill.organization_id)?;
    let id = c.id("id", &skill.id);
    let level = match pb::SkillLevel::try_from(skill.level) {
        Ok(pb::SkillLevel::Beginner) => "beginner",
        Ok(pb::SkillLevel::Intermediate) => "intermediate",
        Ok(pb::SkillLevel::Advanced) => "advanced",
        _ => {
            c.fail(
                "level",
                "must be SKILL_LEVEL_BEGINNER, SKILL_LEVEL_INTERMEDIATE or SKILL_LEVEL_ADVANCED",
            );
            "beginner"
        }
    };
    let domain = match skill.domain.as_str() {
        "" => "general".to_string(),
        domain => c.text("domain", domain, 1, 100),
    };
    let prerequisites = c.ids("prerequisite_ids", &skill.prerequisite_ids);
    for (j, prerequisite) in prerequisites.iter().enumerate() {
        if *prerequisite == id && !id.is_nil() {
            c.fail(
                &format!("prerequisite_ids[{j}]"),
                "cannot be the skill itself",
            );
        }
    }
    let row = CatalogSkill {
        id,
        organization_id,
        name: c.text("name", &skill.name, 1, 200),
        domain,
        level,
        market_demand: skill.market_demand.map(|d| c.fraction("market_demand", d)),
    };
    Ok(SkillItem { row, prerequisites })
}

pub(super) async fn write_skills(
    conn: &mut AsyncPgConnection,
    items: Vec<SkillItem>,
) -> Result<pb::UpsertSummary, ApiError> {
    let mut found = Findings::new(SKILLS);
    found.unique("id", items.iter().map(|s| s.row.id));
    let orgs = items.iter().enumerate();
    let orgs = orgs.filter_map(|(index, s)| s.row.organization_id.map(|org| (index, org)));
    org_zones(conn, &mut found, orgs).await?;
    // Prerequisites may be stored or come in the same batch.
    let mut known = owners_of(
        conn,
        Tenanted::Skills,
        items.iter().flat_map(|s| s.prerequisites.clone()),
    )
    .await?;
    known.extend(items.iter().map(|s| (s.row.id, s.row.organization_id)));
    for (index, skill) in items.iter().enumerate() {
        for (j, prerequisite) in skill.prerequisites.iter().enumerate() {
            let field = format!("prerequisite_ids[{j}]");
            let owner = known.get(prerequisite);
            found.belongs(index, &field, owner, skill.row.organization_id, "skill");
        }
    }
    found.done()?;
    let rows: Vec<CatalogSkill> = items.iter().map(|s| s.row.clone()).collect();
    let written: HashMap<Uuid, bool> = CatalogSkill::upsert(conn, &rows)
        .await
        .map_err(|err| refused(SKILLS, err))?
        .into_iter()
        .collect();
    let keys = items.iter().map(|s| (s.row.id, s.row.organization_id));
    ensure_own(conn, Tenanted::Skills, SKILLS, keys, &written).await?;
    let changed = set_prerequisites(conn, &items).await?;
    Ok(summary(items.iter().map(|s| s.row.id), &written, &changed))
}

/// Replaces the prerequisites of every skill whose set differs; returns
/// those skills.
pub(super) async fn set_prerequisites(
    conn: &mut AsyncPgConnection,
    items: &[SkillItem],
) -> Result<HashSet<Uuid>, ApiError> {
    let ids: Vec<Uuid> = items.iter().map(|s| s.row.id).collect();
    let stored = NewSkillPrerequisite::of_skills(conn, &ids).await?;
    let changed = changed_sets(
        stored,
        items.iter().map(|s| (s.row.id, s.prerequisites.clone())),
    );
    if !changed.is_empty() {
        let rows: Vec<NewSkillPrerequisite> = items
            .iter()
            .filter(|s| changed.contains(&s.row.id))
            .flat_map(|s| {
                s.prerequisites
                    .iter()
                    .map(|prerequisite| NewSkillPrerequisite {
                        skill_id: s.row.id,
                        prerequisite_skill_id: *prerequisite,
                    })
            })
            .collect();
        let skills: Vec<Uuid> = changed.iter().copied().collect();
        NewSkillPrerequisite::replace(conn, &skills, &rows).await?;
    }
    Ok(changed)
}

// ---------------------------------------------------------------------------
// Course skills.

pub(super) fn check_link(
    link: &pb::CourseSkill,
    c: &mut Check<'_>,
) -> Result<NewCourseSkill, ApiError> {
    let required_mastery = match link.required_mastery {
        0 => DEFAULT_REQUIRED_MASTERY,
        // In 1..=100 by the guard, so it fits.
        mastery @ 1..=100 => mastery as i16,
        _ => {
            c.fail("required_mastery", "must be 0 (the default 80) to 100");
            DEFAULT_REQUIRED_MASTERY
        }
    };
    Ok(NewCourseSkill {
        course_id: c.id("course_id", &link.course_id),
        skill_id: c.id("skill_id", &link.skill_id),
        required_mastery,
    })
}

pub(super) async fn write_links(
    conn: &mut AsyncPgConnection,
    items: Vec<NewCourseSkill>,
) -> Result<pb::UpsertSummary, ApiError> {
    let mut found = Findings::new(LINKS);
    found.unique("skill_id", items.iter().map(|l| (l.course_id, l.skill_id)));
    let courses = owners_of(conn, Tenanted::Courses, items.iter().map(|l| l.course_id)).await?;
    let skills = owners_of(conn, Tenanted::Skills, items.iter().map(|l| l.skill_id)).await?;
    for (index, link) in items.iter().enumerate() {
        match courses.get(&link.course_id) {
            Some(org) => {
                found.belongs(index, "skill_id", skills.get(&link.skill_id), *org, "skill")
            }
            None => found.add(
                index,
                "course_id",
                "no such course (or not visible to this token)",
            ),
        }
    }
    found.done()?;
    let written: HashMap<(Uuid, Uuid), bool> = NewCourseSkill::upsert_catalog(conn, &items)
        .await
        .map_err(|err| refused(LINKS, err))?
        .into_iter()
        .collect();
    let keys = items.iter().map(|l| (l.course_id, l.skill_id));
    Ok(summary(keys, &written, &HashSet::new()))
}

// ---------------------------------------------------------------------------
// Priority skills.

pub(super) fn check_priority(
    skill: &pb::PrioritySkill,
    c: &mut Check<'_>,
) -> Result<NewOrgPrioritySkill, ApiError> {
    Ok(NewOrgPrioritySkill {
        organization_id: c.org("organization_id", &skill.organization_id)?,
        skill_id: c.id("skill_id", &skill.skill_id),
        weight: c.fraction("weight", skill.weight),
    })
}

pub(super) async fn write_priorities(
    conn: &mut AsyncPgConnection,
    items: Vec<NewOrgPrioritySkill>,
) -> Result<pb::UpsertSummary, ApiError> {
    let mut found = Findings::new(PRIORITY_SKILLS);
    found.unique(
        "skill_id",
        items.iter().map(|p| (p.organization_id, p.skill_id)),
    );
    let orgs = items.iter().map(|p| p.organization_id).enumerate();
    org_zones(conn, &mut found, orgs).await?;
    let skills = owners_of(conn, Tenanted::Skills, items.iter().map(|p| p.skill_id)).await?;
    for (index, priority) in items.iter().enumerate() {
        let owner = skills.get(&priority.skill_id);
        found.belongs(
            index,
            "skill_id",
            owner,
            Some(priority.organization_id),
            "skill",
        );
    }
    found.done()?;
    let written: HashMap<(Uuid, Uuid), bool> = NewOrgPrioritySkill::upsert_catalog(conn, &items)
        .await
        .map_err(|err| refused(PRIORITY_SKILLS, err))?
        .into_iter()
        .collect();
    let keys = items.iter().map(|p| (p.organization_id, p.skill_id));
    Ok(summary(keys, &written, &HashSet::new()))
}
