//! Who is in the demo: the two organizations, the staff, the organization
//! chart, the learners, and the second, small tenant's people.

use rand::Rng;
use rand::rngs::StdRng;
use uuid::Uuid;

use super::{
    Course, DEMO_ADMIN, DEMO_ORG, DEMO_PLATFORM_ADMIN, DemoPlan, Department, OTHER_ORG, Org,
    Person, id,
};
use crate::auth::Role;

/// Northwind Learning (the demo organization) and Contoso Academy.
pub(super) fn add_orgs(plan: &mut DemoPlan) {
    plan.orgs.push(Org {
        id: DEMO_ORG,
        name: "Northwind Learning".into(),
        domain: "northwind.example".into(),
        time_zone: "Europe/Berlin".into(),
    });
    plan.orgs.push(Org {
        id: OTHER_ORG,
        name: "Contoso Academy".into(),
        domain: "contoso.example".into(),
        time_zone: "America/New_York".into(),
    });
}

/// A team and its share of the learners.
type TeamShare = (&'static str, f64);

/// (department, teams with their sizes as shares of the learners, job role)
const DEPARTMENTS: &[(&str, &[TeamShare], &str)] = &[
    (
        "Engineering",
        &[("Platform", 0.21), ("Mobile", 0.17)],
        "backend_engineer",
    ),
    (
        "Sales",
        &[("Enterprise", 0.14), ("SMB", 0.11)],
        "account_executive",
    ),
    (
        "Customer Success",
        &[("Onboarding", 0.12), ("Support", 0.09)],
        "customer_success_manager",
    ),
    (
        "Operations",
        &[("Finance", 0.08), ("Facilities", 0.05)],
        "operations_analyst",
    ),
    // Under 10 people: the k-anonymity rule suppresses it in group analytics.
    ("People", &[("Talent", 0.03)], "people_partner"),
];

const FIRST_NAMES: &[&str] = &[
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira",
    "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera",
    "Wes", "Xin", "Yara", "Zoe",
];
const LAST_NAMES: &[&str] = &[
    "Adler", "Brandt", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Ito",
    "Jensen", "Kowalski", "Lopez", "Meyer", "Novak", "Okafor", "Petrov", "Quist", "Rossi",
    "Schmidt", "Tanaka", "Ueda", "Vogel", "Weber", "Young", "Zimmer",
];

/// A team learners are placed in.
pub(super) struct Team {
    department: Uuid,
    id: Uuid,
    /// Its share of the learners.
    share: f64,
    job_role: &'static str,
}

fn person(id: Uuid, org_id: Uuid, name: &str, roles: Vec<Role>, tz: &str) -> Person {
    let email = format!(
        "{}@{}",
        name.to_lowercase().replace(' ', "."),
        if org_id == DEMO_ORG {
            "northwind.example"
        } else {
            "contoso.example"
        }
    );
    Person {
        id,
        org_id,
        email,
        full_name: name.into(),
        time_zone: tz.into(),
        department_id: None,
        team_id: None,
        job_role: None,
        roles,
    }
}

/// The org admin (who also learns), a platform admin and the trainers;
/// returns the trainers.
pub(super) fn add_staff(plan: &mut DemoPlan) -> Vec<Uuid> {
    let tz = "Europe/Berlin";
    plan.people.push(person(
        DEMO_ADMIN,
        DEMO_ORG,
        "Olivia Admin",
        vec![Role::OrgAdmin, Role::Learner],
        tz,
    ));
    plan.people.push(person(
        DEMO_PLATFORM_ADMIN,
        DEMO_ORG,
        "Pat Platform",
        vec![Role::PlatformAdmin],
        tz,
    ));
    [
        "Tom Trainer",
        "Theresa Tutor",
        "Tariq Teacher",
        "Tina Coach",
        "Theo Mentor",
        "Tessa Guide",
    ]
    .iter()
    .map(|name| {
        let trainer = person(id("user", name), DEMO_ORG, name, vec![Role::Trainer], tz);
        let tid = trainer.id;
        plan.people.push(trainer);
        tid
    })
    .collect()
}

/// The departments and their teams; returns the teams.
pub(super) fn add_departments(plan: &mut DemoPlan) -> Vec<Team> {
    let mut teams = Vec::new();
    for (dept, dept_teams, job_role) in DEPARTMENTS {
        let dept_id = id("department", dept);
        plan.departments.push(Department {
            id: dept_id,
            org_id: DEMO_ORG,
            parent_id: None,
            kind: "department",
            name: (*dept).into(),
        });
        for (team, share) in *dept_teams {
            let team_id = id("team", team);
            plan.departments.push(Department {
                id: team_id,
                org_id: DEMO_ORG,
                parent_id: Some(dept_id),
                kind: "team",
                name: (*team).into(),
            });
            teams.push(Team {
                department: dept_id,
                id: team_id,
                share: *share,
                job_role,
            });
        }
    }
    teams
}

/// `learners` learners spread over `teams` by their shares (the last team
/// takes what rounding leaves).
pub(super) fn add_learners(plan: &mut DemoPlan, rng: &mut StdRng, learners: usize, teams: &[Team]) {
    let total_share: f64 = teams.iter().map(|t| t.share).sum();
    let mut n = 0usize;
    for (t, team) in teams.iter().enumerate() {
        let size = if t + 1 == teams.len() {
            learners.saturating_sub(n)
        } else {
            ((learners as f64) * team.share / total_share).round() as usize
        };
        for _ in 0..size {
            n += 1;
            let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
            let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
            let name = format!("{first} {last} {n}");
            // A fifth of the organization works from New York.
            let tz = if rng.random_bool(0.2) {
                "America/New_York"
            } else {
                "Europe/Berlin"
            };
            let mut learner = person(
                id("user", &format!("learner-{n}")),
                DEMO_ORG,
                &name,
                vec![Role::Learner],
                tz,
            );
            learner.department_id = Some(team.department);
            learner.team_id = Some(team.id);
            learner.job_role = Some(team.job_role.into());
            plan.people.push(learner);
        }
    }
}

/// Contoso Academy: a trainer, an admin, twelve learners and one course.
pub(super) fn add_other_org(plan: &mut DemoPlan) {
    let tz = "America/New_York";
    let trainer = Uuid::new_v5(&OTHER_ORG, b"trainer");
    plan.people.push(person(
        trainer,
        OTHER_ORG,
        "Carl Contoso",
        vec![Role::Trainer],
        tz,
    ));
    plan.people.push(person(
        Uuid::new_v5(&OTHER_ORG, b"admin"),
        OTHER_ORG,
        "Cora Contoso",
        vec![Role::OrgAdmin],
        tz,
    ));
    for n in 1..=12 {
        plan.people.push(person(
            Uuid::new_v5(&OTHER_ORG, format!("learner-{n}").as_bytes()),
            OTHER_ORG,
            &format!("Contoso Learner {n}"),
            vec![Role::Learner],
            tz,
        ));
    }
    plan.courses.push(Course {
        id: Uuid::new_v5(&OTHER_ORG, b"course"),
        org_id: OTHER_ORG,
        trainer_id: trainer,
        name: "Contoso Onboarding".into(),
        lessons: (1..=4)
            .map(|n| Uuid::new_v5(&OTHER_ORG, format!("lesson-{n}").as_bytes()))
            .collect(),
        skills: Vec::new(),
    });
}
