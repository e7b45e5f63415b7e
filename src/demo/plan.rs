//! The demo organization as plain data: a deterministic simulation (same
//! seed, same data) of people learning over the last months. Pure: no I/O,
//! the clock is passed in.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::Role;
use crate::proto::events::v1 as pb;

/// The demo organization's id (fixed so README examples can use it).
pub const DEMO_ORG: Uuid = Uuid::from_u128(0x5d1a4a5e_0000_4000_8000_000000000001);
/// The demo org admin's id (fixed, used in the README).
pub const DEMO_ADMIN: Uuid = Uuid::from_u128(0x5d1a4a5e_0000_4000_8000_000000000002);
/// A platform admin, member of the demo organization.
pub const DEMO_PLATFORM_ADMIN: Uuid = Uuid::from_u128(0x5d1a4a5e_0000_4000_8000_000000000003);
/// A second, small organization, to show tenant isolation.
pub const OTHER_ORG: Uuid = Uuid::from_u128(0x5d1a4a5e_0000_4000_8000_000000000004);

/// How far back the simulated history reaches.
const HISTORY_DAYS: i64 = 120;
/// Assessment pass mark (SPEC: 70).
const PASS_MARK: f64 = 70.0;

#[derive(Debug, Clone)]
pub struct Org {
    pub id: Uuid,
    pub name: String,
    pub domain: String,
    pub time_zone: String,
}

#[derive(Debug, Clone)]
pub struct Department {
    pub id: Uuid,
    pub org_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub kind: &'static str,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Person {
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub time_zone: String,
    pub department_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub job_role: Option<String>,
    pub roles: Vec<Role>,
}

#[derive(Debug, Clone)]
pub struct Skill {
    pub id: Uuid,
    pub name: String,
    pub domain: String,
    pub level: &'static str,
}

#[derive(Debug, Clone)]
pub struct Course {
    pub id: Uuid,
    pub org_id: Uuid,
    pub trainer_id: Uuid,
    pub name: String,
    pub lessons: Vec<Uuid>,
    /// (skill, required mastery)
    pub skills: Vec<(Uuid, i16)>,
}

#[derive(Debug, Clone)]
pub struct LearningPath {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub courses: Vec<Uuid>,
}

/// A learner's enrollment in a course (the rest of it is in its events).
#[derive(Debug, Clone)]
pub struct Enrollment {
    pub enrolled_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// One learning event as an upstream service would publish it.
#[derive(Debug, Clone)]
pub struct Event {
    pub event_id: String,
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub kind: &'static str,
    pub occurred_at: DateTime<Utc>,
    pub local_date: NaiveDate,
    pub course_id: Option<Uuid>,
    pub lesson_id: Option<Uuid>,
    pub skill_id: Option<Uuid>,
    pub payload: Value,
}

/// A graded attempt at a course's final assessment (the rest of it is in
/// its `assessment_graded` event).
#[derive(Debug, Clone)]
pub struct Assessment {
    pub score: f64,
}

/// Everything the demo writes.
#[derive(Debug, Default)]
pub struct DemoPlan {
    pub orgs: Vec<Org>,
    pub departments: Vec<Department>,
    pub people: Vec<Person>,
    pub skills: Vec<Skill>,
    /// (skill, prerequisite)
    pub prerequisites: Vec<(Uuid, Uuid)>,
    pub courses: Vec<Course>,
    pub paths: Vec<LearningPath>,
    /// (org, skill, weight 0..1)
    pub priority_skills: Vec<(Uuid, Uuid, f64)>,
    /// (org, job role, skill, required mastery, career impact 0..1)
    pub role_skills: Vec<(Uuid, String, Uuid, i16, f64)>,
    pub enrollments: Vec<Enrollment>,
    pub events: Vec<Event>,
    pub assessments: Vec<Assessment>,
}

impl DemoPlan {
    pub fn learner_count(&self) -> usize {
        self.people
            .iter()
            .filter(|p| p.org_id == DEMO_ORG && p.roles == [Role::Learner])
            .count()
    }
}

/// A stable id for a named demo object.
/// The id of a demo course, by name (stable across runs).
pub fn course_id(name: &str) -> Uuid {
    id("course", name)
}

fn id(kind: &str, name: &str) -> Uuid {
    Uuid::new_v5(&DEMO_ORG, format!("{kind}:{name}").as_bytes())
}

/// (department, teams with their sizes as shares of the learners, job role)
/// A team and its share of the learners.
type TeamShare = (&'static str, f64);
/// A skill a job role needs: (skill, required mastery, career impact).
type RoleNeed = (&'static str, i16, f64);

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

/// Builds the whole demo for `learners` learners, `now` being the end of the
/// simulated history.
pub fn build(learners: usize, seed: u64, now: DateTime<Utc>) -> DemoPlan {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut plan = DemoPlan::default();
    let tz_name = "Europe/Berlin";
    plan.orgs.push(Org {
        id: DEMO_ORG,
        name: "Northwind Learning".into(),
        domain: "northwind.example".into(),
        time_zone: tz_name.into(),
    });
    plan.orgs.push(Org {
        id: OTHER_ORG,
        name: "Contoso Academy".into(),
        domain: "contoso.example".into(),
        time_zone: "America/New_York".into(),
    });

    let skill_ids = add_skills(&mut plan);
    let staff = add_staff(&mut plan);
    add_courses(&mut plan, &skill_ids, &staff.trainers);
    let teams = add_departments(&mut plan);
    add_priorities(&mut plan, &skill_ids);
    add_learners(&mut plan, &mut rng, learners, &teams);
    add_other_org(&mut plan);
    simulate(&mut plan, &mut rng, now);
    plan
}

fn add_skills(plan: &mut DemoPlan) -> HashMap<&'static str, Uuid> {
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

struct Staff {
    trainers: Vec<Uuid>,
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

fn add_staff(plan: &mut DemoPlan) -> Staff {
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
    let trainers: Vec<Uuid> = [
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
    .collect();
    Staff { trainers }
}

fn add_courses(plan: &mut DemoPlan, skills: &HashMap<&'static str, Uuid>, trainers: &[Uuid]) {
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

/// Returns (department id, team id, team name, share, job role) per team.
fn add_departments(plan: &mut DemoPlan) -> Vec<(Uuid, Uuid, &'static str, f64, &'static str)> {
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
            teams.push((dept_id, team_id, *dept, *share, *job_role));
        }
    }
    teams
}

fn add_priorities(plan: &mut DemoPlan, skills: &HashMap<&'static str, Uuid>) {
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

fn add_learners(
    plan: &mut DemoPlan,
    rng: &mut StdRng,
    learners: usize,
    teams: &[(Uuid, Uuid, &'static str, f64, &'static str)],
) {
    let total_share: f64 = teams.iter().map(|t| t.3).sum();
    let mut n = 0usize;
    for (t, (dept_id, team_id, _, share, job_role)) in teams.iter().enumerate() {
        let size = if t + 1 == teams.len() {
            learners.saturating_sub(n)
        } else {
            ((learners as f64) * share / total_share).round() as usize
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
            learner.department_id = Some(*dept_id);
            learner.team_id = Some(*team_id);
            learner.job_role = Some((*job_role).into());
            plan.people.push(learner);
        }
    }
}

fn add_other_org(plan: &mut DemoPlan) {
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

/// Per-learner state during the simulation.
struct Progress {
    done: usize,
    enrollment: usize,
}

fn simulate(plan: &mut DemoPlan, rng: &mut StdRng, now: DateTime<Utc>) {
    let dept_names: HashMap<Uuid, String> = plan
        .departments
        .iter()
        .map(|d| (d.id, d.name.clone()))
        .collect();
    let people = plan.people.clone();
    let org_learners: Vec<Uuid> = people
        .iter()
        .filter(|p| p.org_id == DEMO_ORG)
        .map(|p| p.id)
        .collect();
    let mut seq = 0u64;
    for learner in people.iter().filter(|p| p.roles.contains(&Role::Learner)) {
        let tz: Tz = crate::domain::zone::zone(&learner.time_zone);
        let dept = learner
            .department_id
            .and_then(|d| dept_names.get(&d))
            .cloned()
            .unwrap_or_default();
        // Pick 2-4 courses meant for the learner's department (or any, for the rest).
        let mut candidates: Vec<usize> = plan
            .courses
            .iter()
            .enumerate()
            .filter(|(_, c)| c.org_id == learner.org_id)
            .filter(|(i, _)| learner.org_id != DEMO_ORG || COURSES[*i].3.contains(&dept.as_str()))
            .map(|(i, _)| i)
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let wanted = rng.random_range(2..=4).min(candidates.len());
        let mut chosen = Vec::new();
        while chosen.len() < wanted {
            chosen.push(candidates.swap_remove(rng.random_range(0..candidates.len())));
        }
        // Engagement profile: how often they learn, how well, when they stopped.
        let activity: f64 = rng.random_range(0.08..0.75);
        let skill: f64 = rng.random_range(55.0..92.0);
        let stopped_days_ago: i64 = if rng.random_bool(0.15) {
            rng.random_range(8..40)
        } else {
            0
        };
        let start_days_ago: i64 = rng.random_range(14..HISTORY_DAYS);

        let mut progress = Vec::new();
        for (k, course) in chosen.iter().enumerate() {
            let enrolled_at = now - Duration::days(start_days_ago - 7 * k as i64)
                + Duration::minutes(rng.random_range(0..600));
            let enrolled_at = enrolled_at.min(now - Duration::hours(1));
            plan.enrollments.push(Enrollment {
                enrolled_at,
                completed_at: None,
            });
            let enrollment = plan.enrollments.len() - 1;
            push_event(
                plan,
                &mut seq,
                learner,
                tz,
                "enrollment_created",
                enrolled_at,
                Some(plan.courses[*course].id),
                None,
                None,
                json!({}),
            );
            progress.push((
                *course,
                Progress {
                    done: 0,
                    enrollment,
                },
            ));
        }

        let today = now.with_timezone(&tz).date_naive();
        let first_day = today - Duration::days(start_days_ago);
        let mut mastery: HashMap<Uuid, f64> = HashMap::new();
        let mut completed_courses: Vec<Uuid> = Vec::new();
        let mut day = first_day;
        // Whole days only, up to yesterday: no event lands after `now`.
        while day < today {
            let stopped = stopped_days_ago > 0 && day > today - Duration::days(stopped_days_ago);
            let weekend = matches!(day.format("%a").to_string().as_str(), "Sat" | "Sun");
            let p = if weekend { activity * 0.4 } else { activity };
            if stopped || !rng.random_bool(p.clamp(0.0, 1.0)) {
                day += Duration::days(1);
                continue;
            }
            let start_local = day.and_time(NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default())
                + Duration::minutes(rng.random_range(0..600));
            let Some(mut t) = tz
                .from_local_datetime(&start_local)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
            else {
                day += Duration::days(1);
                continue;
            };
            if t >= now {
                break;
            }
            push_event(
                plan,
                &mut seq,
                learner,
                tz,
                "login",
                t,
                None,
                None,
                None,
                json!({}),
            );
            let minutes = rng.random_range(10..90);
            let ended = t + Duration::minutes(minutes);
            push_event(
                plan,
                &mut seq,
                learner,
                tz,
                "learning_session",
                t,
                None,
                None,
                None,
                json!({"started_at": t.to_rfc3339(), "ended_at": ended.to_rfc3339()}),
            );
            let lessons_today = rng.random_range(1..=3);
            for _ in 0..lessons_today {
                t += Duration::minutes(rng.random_range(5..25));
                let Some((course_i, prog)) = progress.iter_mut().find(|(c, pr)| {
                    pr.done < plan.courses[*c].lessons.len()
                        && plan.enrollments[pr.enrollment].enrolled_at <= t
                }) else {
                    break;
                };
                let course = plan.courses[*course_i].clone();
                let lesson = course.lessons[prog.done];
                prog.done += 1;
                push_event(
                    plan,
                    &mut seq,
                    learner,
                    tz,
                    "lesson_completed",
                    t,
                    Some(course.id),
                    Some(lesson),
                    None,
                    json!({}),
                );
                let pct = (100.0 * prog.done as f64 / course.lessons.len() as f64 * 100.0).round()
                    / 100.0;
                push_event(
                    plan,
                    &mut seq,
                    learner,
                    tz,
                    "progress_updated",
                    t,
                    Some(course.id),
                    None,
                    None,
                    json!({"progress_percent": pct}),
                );
                if prog.done < course.lessons.len() {
                    continue;
                }
                // Last lesson: the course's assessment, retaken until passed.
                let mut score;
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    t += Duration::minutes(20);
                    score = (skill + rng.random_range(-15.0..15.0) + 4.0 * (attempt - 1) as f64)
                        .clamp(0.0, 100.0)
                        .round();
                    push_event(
                        plan,
                        &mut seq,
                        learner,
                        tz,
                        "assessment_graded",
                        t,
                        Some(course.id),
                        None,
                        None,
                        json!({"assessment_id": format!("{}-final", course.name), "score": score}),
                    );
                    plan.assessments.push(Assessment { score });
                    if score >= PASS_MARK || attempt >= 3 {
                        break;
                    }
                }
                if score >= PASS_MARK {
                    push_event(
                        plan,
                        &mut seq,
                        learner,
                        tz,
                        "course_completed",
                        t,
                        Some(course.id),
                        None,
                        None,
                        json!({}),
                    );
                    plan.enrollments[prog.enrollment].completed_at = Some(t);
                    completed_courses.push(course.id);
                    for (skill_id, _) in &course.skills {
                        let m = mastery.entry(*skill_id).or_insert(0.0);
                        *m = (*m + score * 0.9).min(100.0).round();
                        let value = *m;
                        push_event(
                            plan,
                            &mut seq,
                            learner,
                            tz,
                            "skill_mastery_updated",
                            t,
                            None,
                            None,
                            Some(*skill_id),
                            json!({"mastery": value}),
                        );
                    }
                    for path in plan
                        .paths
                        .clone()
                        .iter()
                        .filter(|p| p.courses.contains(&course.id))
                    {
                        if path.courses.iter().all(|c| completed_courses.contains(c)) {
                            push_event(
                                plan,
                                &mut seq,
                                learner,
                                tz,
                                "learning_path_completed",
                                t,
                                None,
                                None,
                                None,
                                json!({"path_id": path.id}),
                            );
                        }
                    }
                }
            }
            if rng.random_bool(0.25)
                && let Some((c, _)) = progress.first()
            {
                let course = &plan.courses[*c];
                if let Some((skill_id, _)) = course.skills.first().copied() {
                    t += Duration::minutes(10);
                    push_event(
                        plan,
                        &mut seq,
                        learner,
                        tz,
                        "practice_passed",
                        t,
                        Some(course.id),
                        None,
                        Some(skill_id),
                        json!({"exercise_id": format!("ex-{}", rng.random_range(1..50))}),
                    );
                }
            }
            if learner.org_id == DEMO_ORG && rng.random_bool(0.05) {
                let peer = org_learners[rng.random_range(0..org_learners.len())];
                if peer != learner.id {
                    t += Duration::minutes(5);
                    push_event(
                        plan,
                        &mut seq,
                        learner,
                        tz,
                        "peer_helped",
                        t,
                        None,
                        None,
                        None,
                        json!({"peer_user_id": peer, "context": "forum answer"}),
                    );
                }
            }
            day += Duration::days(1);
        }
    }
}

/// The event as an upstream service would publish it.
pub fn to_proto(e: &Event) -> pb::Event {
    use pb::event::Payload as P;
    let text = |k: &str| {
        e.payload
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let number = |k: &str| e.payload.get(k).and_then(Value::as_f64).unwrap_or_default();
    let id = |u: Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
    let time = |k: &str| {
        DateTime::parse_from_rfc3339(&text(k))
            .ok()
            .map(|t| prost_types::Timestamp {
                seconds: t.timestamp(),
                nanos: t.timestamp_subsec_nanos() as i32,
            })
    };
    let course_id = id(e.course_id);
    let payload = match e.kind {
        "enrollment_created" => P::EnrollmentCreated(pb::EnrollmentCreated { course_id }),
        "progress_updated" => P::ProgressUpdated(pb::ProgressUpdated {
            course_id,
            progress_percent: number("progress_percent"),
        }),
        "lesson_completed" => P::LessonCompleted(pb::LessonCompleted {
            course_id,
            lesson_id: id(e.lesson_id),
        }),
        "course_completed" => P::CourseCompleted(pb::CourseCompleted { course_id }),
        "assessment_graded" => P::AssessmentGraded(pb::AssessmentGraded {
            course_id,
            assessment_id: text("assessment_id"),
            skill_id: id(e.skill_id),
            score: number("score"),
        }),
        "skill_mastery_updated" => P::SkillMasteryUpdated(pb::SkillMasteryUpdated {
            skill_id: id(e.skill_id),
            mastery: number("mastery"),
        }),
        "practice_passed" => P::PracticePassed(pb::PracticePassed {
            exercise_id: text("exercise_id"),
            course_id,
            skill_id: id(e.skill_id),
        }),
        "learning_session" => P::LearningSession(pb::LearningSession {
            session_id: e.event_id.clone(),
            started_at: time("started_at"),
            ended_at: time("ended_at"),
        }),
        "peer_helped" => P::PeerHelped(pb::PeerHelped {
            peer_user_id: text("peer_user_id"),
            context: text("context"),
        }),
        "learning_path_completed" => P::LearningPathCompleted(pb::LearningPathCompleted {
            path_id: text("path_id"),
        }),
        _ => P::Login(pb::Login {}),
    };
    pb::Event {
        event_id: e.event_id.clone(),
        occurred_at: Some(prost_types::Timestamp {
            seconds: e.occurred_at.timestamp(),
            nanos: e.occurred_at.timestamp_subsec_nanos() as i32,
        }),
        user_id: e.user_id.to_string(),
        organization_id: e.org_id.to_string(),
        payload: Some(payload),
    }
}

/// Appends an event.
#[allow(clippy::too_many_arguments)]
fn push_event(
    plan: &mut DemoPlan,
    seq: &mut u64,
    learner: &Person,
    tz: Tz,
    kind: &'static str,
    at: DateTime<Utc>,
    course_id: Option<Uuid>,
    lesson_id: Option<Uuid>,
    skill_id: Option<Uuid>,
    mut payload: Value,
) {
    *seq += 1;
    let event_id = format!("demo-{}-{:06}", &learner.id.simple().to_string()[..8], seq);
    if let Value::Object(map) = &mut payload {
        if let Some(c) = course_id {
            map.insert("course_id".into(), json!(c));
        }
        if let Some(l) = lesson_id {
            map.insert("lesson_id".into(), json!(l));
        }
        if let Some(s) = skill_id {
            map.insert("skill_id".into(), json!(s));
        }
    }
    let local_date = at.with_timezone(&tz).date_naive();
    let event = Event {
        event_id,
        org_id: learner.org_id,
        user_id: learner.id,
        kind,
        occurred_at: at,
        local_date,
        course_id,
        lesson_id,
        skill_id,
        payload,
    };
    plan.events.push(event);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
    }

    /// FNV-1a over everything the demo writes (catalog rows and events as
    /// published), so a refactor that changes the data for a seed shows.
    fn fingerprint(plan: &DemoPlan) -> u64 {
        let mut text = format!(
            "{:?}{:?}{:?}{:?}{:?}{:?}{:?}{:?}{:?}",
            plan.orgs,
            plan.departments,
            plan.people,
            plan.skills,
            plan.prerequisites,
            plan.courses,
            plan.paths,
            plan.priority_skills,
            plan.role_skills
        );
        for e in &plan.events {
            text.push_str(&format!(
                "{}|{}|{}|{:?}|{:?}\n",
                e.kind,
                e.local_date,
                e.payload,
                e.skill_id,
                to_proto(e)
            ));
        }
        text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    #[test]
    fn the_plan_for_a_seed_stays_the_same() {
        let got: Vec<u64> = [(240, 7), (60, 5), (40, 11), (20, 42)]
            .iter()
            .map(|(learners, seed)| fingerprint(&build(*learners, *seed, now())))
            .collect();
        // Computed on the code before the demo was split into modules.
        assert_eq!(
            got,
            [
                0x534f_fd26_1bda_cf86,
                0xd889_112f_c8bb_ea54,
                0x67ca_5a45_b4f0_bd75,
                0xcfc7_1a9c_2e12_57c9
            ]
        );
    }

    #[test]
    fn same_seed_same_plan() {
        let a = build(60, 3, now());
        let b = build(60, 3, now());
        assert_eq!(a.events.len(), b.events.len());
        assert_eq!(
            a.events.iter().map(|e| &e.event_id).collect::<Vec<_>>(),
            b.events.iter().map(|e| &e.event_id).collect::<Vec<_>>()
        );
    }

    #[test]
    fn plan_has_the_promised_shape() {
        let plan = build(240, 7, now());
        assert_eq!(plan.learner_count(), 240);
        assert!(
            plan.people
                .iter()
                .filter(|p| p.roles.contains(&Role::Trainer))
                .count()
                >= 6
        );
        assert!(
            plan.events.len() > 10_000,
            "months of events: {}",
            plan.events.len()
        );
        let oldest = plan.events.iter().map(|e| e.occurred_at).min().unwrap();
        assert!(now() - oldest > Duration::days(60), "history spans months");
        assert!(
            plan.events.iter().all(|e| e.occurred_at <= now()),
            "nothing in the future"
        );
        // Event ids are unique: they are idempotency keys.
        let mut ids: Vec<_> = plan.events.iter().map(|e| &e.event_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), plan.events.len());
        // Some courses get completed, some learners pass, and scores stay in range.
        assert!(plan.enrollments.iter().any(|e| e.completed_at.is_some()));
        assert!(
            plan.assessments
                .iter()
                .all(|a| (0.0..=100.0).contains(&a.score))
        );
        // The People department stays under the k-anonymity threshold of 10.
        let people_team = id("team", "Talent");
        let size = plan
            .people
            .iter()
            .filter(|p| p.team_id == Some(people_team))
            .count();
        assert!(size > 0 && size < 10, "People/Talent has {size}");
    }

    #[test]
    fn local_dates_follow_the_learners_time_zone() {
        let plan = build(40, 11, now());
        let tz_of: HashMap<Uuid, Tz> = plan
            .people
            .iter()
            .map(|p| (p.id, p.time_zone.parse().unwrap()))
            .collect();
        for e in plan.events.iter().take(2_000) {
            assert_eq!(
                e.local_date,
                e.occurred_at.with_timezone(&tz_of[&e.user_id]).date_naive()
            );
        }
    }
}
