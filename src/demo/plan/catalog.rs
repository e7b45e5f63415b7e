//! What the demo organization teaches: skills and their prerequisites,
//! courses, learning paths, and the skills the organization and its job
//! roles ask for.

use std::collections::HashMap;

use uuid::Uuid;

use super::{Course, DEMO_ORG, DemoPlan, LearningPath, Skill, id};

/// Skill ids by name.
pub(super) type SkillIds = HashMap<&'static str, Uuid>;

/// A skill a job role needs: (skill, required mastery, career impact).
type RoleNeed = (&'static str, i16, f64);

/// (domain, skills)
const SKILLS: &[(&str, &[&str])] = &[
    ("Programming", &["Rust", "Python", "SQL", "Testing"]),
    ("Cloud", &["Kubernetes", "AWS", "Terraform"]),
    ("Data", &["Statistics", "Visualization", "Machine Learning"]),
    (
        "Communication",
        &["Presentation", "Negotiation", "Business Writing"],
    ),
    ("Leadership", &["Coaching", "Feedback", "Planning"]),
    ("Security", &["Threat Modeling", "Secure Coding"]),
];

/// (course, lesson count, skills, departments it is meant for)
const COURSES: &[(&str, usize, &[&str], &[&str])] = &[
    (
        "Rust Fundamentals",
        12,
        &["Rust", "Testing"],
        &["Engineering"],
    ),
    (
        "SQL for Analysts",
        8,
        &["SQL", "Statistics"],
        &["Engineering", "Operations"],
    ),
    (
        "Python Essentials",
        10,
        &["Python"],
        &["Engineering", "Operations"],
    ),
    (
        "Kubernetes in Practice",
        9,
        &["Kubernetes", "AWS"],
        &["Engineering"],
    ),
    (
        "Infrastructure as Code",
        7,
        &["Terraform", "AWS"],
        &["Engineering"],
    ),
    (
        "Secure Coding",
        6,
        &["Secure Coding", "Threat Modeling"],
        &["Engineering"],
    ),
    (
        "Data Visualization",
        6,
        &["Visualization", "Statistics"],
        &["Operations", "Sales"],
    ),
    (
        "Intro to Machine Learning",
        10,
        &["Machine Learning", "Python"],
        &["Engineering"],
    ),
    ("Negotiation Mastery", 8, &["Negotiation"], &["Sales"]),
    (
        "Presenting with Impact",
        6,
        &["Presentation"],
        &["Sales", "Customer Success"],
    ),
    (
        "Writing for Business",
        5,
        &["Business Writing"],
        &["Customer Success", "People", "Sales"],
    ),
    (
        "Coaching Conversations",
        6,
        &["Coaching", "Feedback"],
        &["People", "Customer Success"],
    ),
    (
        "Planning and Prioritizing",
        5,
        &["Planning"],
        &["Operations", "People"],
    ),
    (
        "Customer Empathy",
        5,
        &["Feedback", "Presentation"],
        &["Customer Success"],
    ),
];

const PATHS: &[(&str, &[&str])] = &[
    (
        "Backend Engineer",
        &["Rust Fundamentals", "SQL for Analysts", "Secure Coding"],
    ),
    (
        "Sales Excellence",
        &["Negotiation Mastery", "Presenting with Impact"],
    ),
    (
        "People Leader",
        &["Coaching Conversations", "Planning and Prioritizing"],
    ),
];

/// Whether the demo course at `index` (its place in [`COURSES`], which is
/// also its place in the plan) is meant for `department`.
pub(super) fn meant_for(index: usize, department: &str) -> bool {
    COURSES[index].3.contains(&department)
}

pub(super) fn add_skills(plan: &mut DemoPlan) -> SkillIds {
    let mut ids = HashMap::new();
    for (domain, names) in SKILLS {
        for (i, name) in names.iter().enumerate() {
            let skill = Skill {
                id: id("skill", name),
                name: (*name).into(),
                domain: (*domain).into(),
                level: ["beginner", "intermediate", "advanced"][i % 3],
            };
            ids.insert(*name, skill.id);
            plan.skills.push(skill);
        }
    }
    for (skill, prereq) in [
        ("Statistics", "SQL"),
        ("Machine Learning", "Statistics"),
        ("Machine Learning", "Python"),
        ("Kubernetes", "AWS"),
        ("Secure Coding", "Testing"),
        ("Coaching", "Feedback"),
    ] {
        plan.prerequisites.push((ids[skill], ids[prereq]));
    }
    ids
}

/// The demo organization's courses, taught by `trainers` in turn, and its
/// learning paths.
pub(super) fn add_courses(plan: &mut DemoPlan, skills: &SkillIds, trainers: &[Uuid]) {
    for (i, (name, lessons, course_skills, _)) in COURSES.iter().enumerate() {
        let course_id = id("course", name);
        plan.courses.push(Course {
            id: course_id,
            org_id: DEMO_ORG,
            trainer_id: trainers[i % trainers.len()],
            name: (*name).into(),
            lessons: (1..=*lessons)
                .map(|n| id("lesson", &format!("{name}#{n}")))
                .collect(),
            skills: course_skills
                .iter()
                .enumerate()
                .map(|(k, s)| (skills[s], if k == 0 { 80 } else { 70 }))
                .collect(),
        });
    }
    for (name, courses) in PATHS {
        plan.paths.push(LearningPath {
            id: id("path", name),
            org_id: DEMO_ORG,
            name: (*name).into(),
            courses: courses.iter().map(|c| id("course", c)).collect(),
        });
    }
}

/// The skills the organization puts first, and what each job role needs.
pub(super) fn add_priorities(plan: &mut DemoPlan, skills: &SkillIds) {
    for (skill, weight) in [
        ("Rust", 1.0),
        ("Kubernetes", 0.8),
        ("Negotiation", 0.6),
        ("Coaching", 0.7),
    ] {
        plan.priority_skills.push((DEMO_ORG, skills[skill], weight));
    }
    let roles: &[(&str, &[RoleNeed])] = &[
        (
            "backend_engineer",
            &[
                ("Rust", 80, 1.0),
                ("SQL", 80, 0.8),
                ("Testing", 70, 0.6),
                ("Kubernetes", 60, 0.5),
            ],
        ),
        (
            "account_executive",
            &[("Negotiation", 80, 1.0), ("Presentation", 75, 0.7)],
        ),
        (
            "customer_success_manager",
            &[
                ("Presentation", 70, 0.6),
                ("Feedback", 80, 0.8),
                ("Business Writing", 70, 0.5),
            ],
        ),
        (
            "operations_analyst",
            &[
                ("SQL", 75, 0.8),
                ("Statistics", 70, 0.7),
                ("Planning", 70, 0.5),
            ],
        ),
        (
            "people_partner",
            &[("Coaching", 80, 1.0), ("Feedback", 80, 0.8)],
        ),
    ];
    for (role, needs) in roles {
        for (skill, required, impact) in *needs {
            plan.role_skills
                .push((DEMO_ORG, (*role).into(), skills[skill], *required, *impact));
        }
    }
}
