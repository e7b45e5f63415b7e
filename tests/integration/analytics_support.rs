//! A small organization with known activity for the analytics tests: the
//! catalogue inserted as the owner, every event published through
//! ingestion (PublishEvents), each at a whole number of days before now so
//! that its local day (everyone is in UTC) is known: `ago(d)` is today - d.
//!
//! People: learners L0..L11 (L0..L9 in Engineering with job role
//! "analyst", L10 and L11 in Sales), trainer T (Sales) teaching C1 and C2,
//! org admin A. Another organization B with one learner X.
//!
//! Catalogue: C1 "Data 101" (10 lessons, teaches S1 at 80), C2 "Advanced"
//! (4 lessons), C3 "Python" (5 lessons, teaches S2 at 80, no trainer), C4
//! "SQL Deep Dive" (teaches S1, nobody enrolled). Skills S1 "SQL" and S2
//! "Python" (domain data, S2 needs S1 first, S2's market demand set to
//! 0.5), S3 "Statistics" (domain math). Role "analyst" needs S1 (80, career
//! impact 0.5) and S3 (70, career impact 1.0); S1 is the organization's
//! priority (weight 1). The organization aims at 4 lessons a week.
//!
//! Events (d = days ago):
//! - L0..L11 enroll in C1 at d30; L0 in C2 at d30 and in C3 at d20; L1 in
//!   C2 at d30.
//! - L0: C1 lessons at d1, d2, d3, d8, d9, d15; C1 progress 60% at d1; C3
//!   assessment 40 at d2; a login and a 30-minute session every day d0..d6.
//! - L1: C2 lessons at d8, d9; C2 assessments 60, 65, 70, 80, 85 at d14..d10;
//!   S1 mastery 90 at d40; S3 mastery 50 at d12.
//! - L2..L11 (i = 2..11): C1 assessment 50 + 5 (i - 2) at d12; S3 mastery
//!   50 + 5 (i - 2) at d12; C1 completed at d10.
//! - L3 helps L4 twice at d3 (peer help).

use chrono::{DateTime, Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use stride::auth::Role;
use stride::proto::events::v1 as ev;
use uuid::Uuid;

use crate::harness::TestServer;
use crate::ingest_support::timestamp;

pub struct Campus {
    pub org: Uuid,
    pub other_org: Uuid,
    /// L0..L11
    pub learners: Vec<Uuid>,
    pub trainer: Uuid,
    pub admin: Uuid,
    pub outsider: Uuid,
    pub engineering: Uuid,
    pub sales: Uuid,
    /// C1..C4
    pub courses: [Uuid; 4],
    /// S1..S3
    pub skills: [Uuid; 3],
    pub now: DateTime<Utc>,
}

impl Campus {
    /// `d` days before the campus was built (5 s earlier, so even d = 0 is
    /// in the past).
    pub fn ago(&self, d: i64) -> DateTime<Utc> {
        self.now - Duration::days(d) - Duration::seconds(5)
    }

    pub async fn start() -> (TestServer, Campus) {
        let server = TestServer::start().await;
        let id = Uuid::new_v4;
        let campus = Campus {
            org: id(),
            other_org: id(),
            learners: (0..12).map(|_| id()).collect(),
            trainer: id(),
            admin: id(),
            outsider: id(),
            engineering: id(),
            sales: id(),
            courses: [id(), id(), id(), id()],
            skills: [id(), id(), id()],
            now: Utc::now(),
        };
        campus.create(&server.db_url).await;
        let events = campus.events();
        let results = campus.publish(&server, events).await;
        let refused: Vec<_> = results
            .iter()
            .filter(|r| r.status != ev::EventStatus::Accepted as i32)
            .collect();
        assert!(refused.is_empty(), "events refused: {refused:?}");
        (server, campus)
    }

    async fn create(&self, owner_url: &str) {
        let mut conn = AsyncPgConnection::establish(owner_url)
            .await
            .expect("owner connection");
        let (org, b) = (self.org, self.other_org);
        let [c1, c2, c3, c4] = self.courses;
        let [s1, s2, s3] = self.skills;
        let mut sql = format!(
            "INSERT INTO organizations (id, name, settings) VALUES \
               ('{org}', 'Campus', '{{\"lesson_target_per_week\": 4}}'), ('{b}', 'Elsewhere', '{{}}');
             INSERT INTO departments (id, organization_id, kind, name) VALUES \
               ('{}', '{org}', 'department', 'Engineering'), ('{}', '{org}', 'department', 'Sales');",
            self.engineering, self.sales
        );
        let mut person = |id: Uuid,
                          org: Uuid,
                          name: &str,
                          role: &str,
                          dept: Option<Uuid>,
                          job: Option<&str>| {
            let dept = dept.map_or("NULL".to_string(), |d| format!("'{d}'"));
            let job = job.map_or("NULL".to_string(), |j| format!("'{j}'"));
            sql += &format!(
                "INSERT INTO users (id, organization_id, email, full_name, time_zone, department_id, job_role) \
                 VALUES ('{id}', '{org}', '{id}@campus.example', '{name}', 'UTC', {dept}, {job});
                 INSERT INTO user_roles (user_id, role, organization_id) VALUES ('{id}', '{role}', '{org}');"
            );
        };
        for (i, l) in self.learners.iter().enumerate() {
            let (dept, job) = if i < 10 {
                (self.engineering, Some("analyst"))
            } else {
                (self.sales, None)
            };
            person(*l, org, &format!("L{i}"), "learner", Some(dept), job);
        }
        person(self.trainer, org, "T", "trainer", Some(self.sales), None);
        person(self.admin, org, "A", "org_admin", None, None);
        person(self.outsider, b, "X", "learner", None, None);
        let t = self.trainer;
        sql += &format!(
            "INSERT INTO courses (id, organization_id, trainer_id, name, expected_lessons) VALUES \
               ('{c1}', '{org}', '{t}', 'Data 101', 10), ('{c2}', '{org}', '{t}', 'Advanced', 4), \
               ('{c3}', '{org}', NULL, 'Python', 5), ('{c4}', '{org}', NULL, 'SQL Deep Dive', 6);
             INSERT INTO skills (id, organization_id, name, domain, market_demand) VALUES \
               ('{s1}', '{org}', 'SQL', 'data', NULL), ('{s2}', '{org}', 'Python', 'data', 0.5), \
               ('{s3}', '{org}', 'Statistics', 'math', NULL);
             INSERT INTO skill_prerequisites (skill_id, prerequisite_skill_id) VALUES ('{s2}', '{s1}');
             INSERT INTO course_skills (course_id, skill_id, required_mastery) VALUES \
               ('{c1}', '{s1}', 80), ('{c3}', '{s2}', 80), ('{c4}', '{s1}', 80);
             INSERT INTO job_role_skills (organization_id, job_role, skill_id, required_mastery, career_impact) VALUES \
               ('{org}', 'analyst', '{s1}', 80, 0.5), ('{org}', 'analyst', '{s3}', 70, 1.0);
             INSERT INTO org_priority_skills (organization_id, skill_id, weight) VALUES ('{org}', '{s1}', 1.0);"
        );
        for (course, n) in [(c1, 10), (c2, 4), (c3, 5)] {
            for p in 0..n {
                sql += &format!(
                    "INSERT INTO lessons (id, course_id, organization_id, title, position) \
                     VALUES ('{}', '{course}', '{org}', 'Lesson {p}', {p});",
                    lesson_id(course, p)
                );
            }
        }
        conn.batch_execute(&sql).await.expect("insert campus");
    }

    fn events(&self) -> Vec<ev::Event> {
        use ev::event::Payload as P;
        let [c1, c2, c3, _] = self.courses;
        let [s1, _, s3] = self.skills;
        let mut out = Vec::new();
        let mut push = |user: Uuid, d: i64, payload: P| {
            out.push(ev::Event {
                event_id: format!("e{}", out.len()),
                occurred_at: timestamp(self.ago(d)),
                user_id: user.to_string(),
                organization_id: String::new(),
                payload: Some(payload),
            });
        };
        let enroll = |c: Uuid| {
            P::EnrollmentCreated(ev::EnrollmentCreated {
                course_id: c.to_string(),
            })
        };
        let lesson = |c: Uuid, p: u32| {
            P::LessonCompleted(ev::LessonCompleted {
                course_id: c.to_string(),
                lesson_id: lesson_id(c, p).to_string(),
            })
        };
        let graded = |c: Uuid, score: f64| {
            P::AssessmentGraded(ev::AssessmentGraded {
                course_id: c.to_string(),
                assessment_id: format!("quiz-{score}"),
                skill_id: String::new(),
                score,
            })
        };
        let mastery = |s: Uuid, m: f64| {
            P::SkillMasteryUpdated(ev::SkillMasteryUpdated {
                skill_id: s.to_string(),
                mastery: m,
            })
        };
        let l = &self.learners;
        for learner in l {
            push(*learner, 30, enroll(c1));
        }
        push(l[0], 30, enroll(c2));
        push(l[0], 20, enroll(c3));
        push(l[1], 30, enroll(c2));
        // L0
        for (p, d) in [1, 2, 3, 8, 9, 15].into_iter().enumerate() {
            push(l[0], d, lesson(c1, p as u32));
        }
        push(
            l[0],
            1,
            P::ProgressUpdated(ev::ProgressUpdated {
                course_id: c1.to_string(),
                progress_percent: 60.0,
            }),
        );
        push(l[0], 2, graded(c3, 40.0));
        for d in 0..=6 {
            push(l[0], d, P::Login(ev::Login {}));
            let end = self.ago(d);
            push(
                l[0],
                d,
                P::LearningSession(ev::LearningSession {
                    session_id: format!("s{d}"),
                    started_at: timestamp(end - Duration::minutes(30)),
                    ended_at: timestamp(end),
                }),
            );
        }
        // L1
        push(l[1], 8, lesson(c2, 0));
        push(l[1], 9, lesson(c2, 1));
        for (score, d) in [(60.0, 14), (65.0, 13), (70.0, 12), (80.0, 11), (85.0, 10)] {
            push(l[1], d, graded(c2, score));
        }
        push(l[1], 40, mastery(s1, 90.0));
        push(l[1], 12, mastery(s3, 50.0));
        // L2..L11
        for (i, learner) in l.iter().enumerate().skip(2) {
            let score = 50.0 + 5.0 * (i as f64 - 2.0);
            push(*learner, 12, graded(c1, score));
            push(*learner, 12, mastery(s3, score));
            push(
                *learner,
                10,
                P::CourseCompleted(ev::CourseCompleted {
                    course_id: c1.to_string(),
                }),
            );
        }
        for n in 0..2 {
            push(
                l[3],
                3,
                P::PeerHelped(ev::PeerHelped {
                    peer_user_id: l[4].to_string(),
                    context: format!("forum answer {n}"),
                }),
            );
        }
        out
    }

    pub async fn publish(&self, server: &TestServer, list: Vec<ev::Event>) -> Vec<ev::EventResult> {
        crate::ingest_support::publish_stream(server, self.org, list).await
    }

    /// A token for a person of the campus acting as `role`.
    pub fn token(&self, server: &TestServer, user: Uuid, role: Role) -> String {
        let org = if user == self.outsider {
            self.other_org
        } else {
            self.org
        };
        server.user_token(user, org, role)
    }

    pub fn learner_token(&self, server: &TestServer, i: usize) -> String {
        self.token(server, self.learners[i], Role::Learner)
    }
}

/// Lesson `p` of `course`: derived, so tests can name it.
pub fn lesson_id(course: Uuid, p: u32) -> Uuid {
    Uuid::new_v5(&course, &p.to_be_bytes())
}
