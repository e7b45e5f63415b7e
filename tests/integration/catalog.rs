//! Catalogue upserts (EventService Upsert*) over the real server: idempotent
//! by id, all or nothing per call, bounded to the token's organization.

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use stride::auth::{Role, Scope};
use stride::proto::events::v1 as pb;
use stride::proto::events::v1::event_service_client::EventServiceClient;
use stride::proto::identity::v1::CreateUserRequest;
use stride::proto::identity::v1::identity_service_client::IdentityServiceClient;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use uuid::Uuid;

use crate::harness::{TestServer, authed};

/// A server, an organization and a catalogue token bound to it.
struct Fx {
    server: TestServer,
    client: EventServiceClient<Channel>,
    org: Uuid,
    token: String,
}

impl Fx {
    async fn start() -> Self {
        let server = TestServer::start().await;
        let (_, org) = server.person(None, &[Role::OrgAdmin]).await;
        let token = server.org_service_token("catalog", org, &[Scope::CatalogWrite]);
        let client = EventServiceClient::new(server.channel());
        Self {
            server,
            client,
            org,
            token,
        }
    }

    /// A platform-scoped catalogue token.
    fn platform(&self) -> String {
        self.server
            .service_token("catalog-platform", &[Scope::CatalogWrite])
    }

    /// Another organization, with one admin.
    async fn other_org(&self) -> Uuid {
        self.server.person(None, &[Role::OrgAdmin]).await.1
    }

    /// One value, as text, from the owner's view of the database ("" for
    /// no row or NULL).
    async fn value(&self, sql: &str) -> String {
        #[derive(QueryableByName)]
        struct V {
            #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
            v: Option<String>,
        }
        let mut conn = AsyncPgConnection::establish(&self.server.db_url)
            .await
            .expect("owner connection");
        let rows: Vec<V> = diesel::sql_query(format!("SELECT ({sql})::text AS v"))
            .load(&mut conn)
            .await
            .expect("query");
        rows.into_iter()
            .next()
            .and_then(|r| r.v)
            .unwrap_or_default()
    }

    /// The roles a person holds, sorted, comma-separated.
    async fn roles(&self, person: Uuid) -> String {
        self.value(&format!(
            "SELECT string_agg(role, ',' ORDER BY role) FROM user_roles WHERE user_id = '{person}'"
        ))
        .await
    }

    async fn exec(&self, sql: &str) {
        let mut conn = AsyncPgConnection::establish(&self.server.db_url)
            .await
            .expect("owner connection");
        diesel::sql_query(sql)
            .execute(&mut conn)
            .await
            .expect("statement");
    }

    /// Courses named `c<i>` in the token's organization.
    async fn courses(&mut self, n: usize) -> Vec<Uuid> {
        let ids: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
        let courses = ids
            .iter()
            .enumerate()
            .map(|(i, id)| course(*id, &format!("c{i}")))
            .collect();
        let req = pb::UpsertCoursesRequest { courses };
        self.client
            .upsert_courses(authed(req, &self.token))
            .await
            .expect("courses");
        ids
    }

    /// A skill of the token's organization.
    async fn skill(&mut self) -> Uuid {
        let id = Uuid::new_v4();
        let req = pb::UpsertSkillsRequest {
            skills: vec![skill(id, Some(self.org), "Rust", &[])],
        };
        self.client
            .upsert_skills(authed(req, &self.token))
            .await
            .expect("skill");
        id
    }
}

fn counts(inserted: u32, updated: u32, unchanged: u32) -> Option<pb::UpsertSummary> {
    Some(pb::UpsertSummary {
        inserted,
        updated,
        unchanged,
    })
}

/// The fields an INVALID_ARGUMENT names.
fn fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

fn user(id: Uuid, email: &str, roles: &[&str]) -> pb::CatalogUser {
    pb::CatalogUser {
        id: id.to_string(),
        email: email.into(),
        full_name: "Ada Lovelace".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        ..Default::default()
    }
}

fn course(id: Uuid, name: &str) -> pb::Course {
    pb::Course {
        id: id.to_string(),
        name: name.into(),
        expected_lessons: 10,
        ..Default::default()
    }
}

fn skill(id: Uuid, org: Option<Uuid>, name: &str, prerequisites: &[Uuid]) -> pb::Skill {
    pb::Skill {
        id: id.to_string(),
        organization_id: org.map(|o| o.to_string()).unwrap_or_default(),
        name: name.into(),
        level: pb::SkillLevel::Beginner as i32,
        prerequisite_ids: prerequisites.iter().map(Uuid::to_string).collect(),
        ..Default::default()
    }
}

fn department(id: Uuid, parent: Option<Uuid>, name: &str) -> pb::Department {
    let kind = match parent {
        Some(_) => pb::DepartmentKind::Team,
        None => pb::DepartmentKind::Department,
    };
    pb::Department {
        id: id.to_string(),
        parent_id: parent.map(|p| p.to_string()).unwrap_or_default(),
        kind: kind as i32,
        name: name.into(),
        ..Default::default()
    }
}

fn at(rfc3339: &str) -> Option<prost_types::Timestamp> {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).expect("timestamp");
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn users_insert_repeat_unchanged_and_update_changed_fields() {
    let mut fx = Fx::start().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let mut req = pb::UpsertUsersRequest {
        users: vec![
            user(a, "ada@example.org", &["learner"]),
            user(b, "bob@example.org", &["learner", "trainer"]),
        ],
    };
    let first = fx.client.upsert_users(authed(req.clone(), &fx.token)).await;
    assert_eq!(first.unwrap().into_inner().summary, counts(2, 0, 0));
    let again = fx.client.upsert_users(authed(req.clone(), &fx.token)).await;
    assert_eq!(again.unwrap().into_inner().summary, counts(0, 0, 2));

    req.users[1].full_name = "Bob Builder".into();
    req.users[1].time_zone = "Europe/Paris".into();
    let changed = fx.client.upsert_users(authed(req, &fx.token)).await;
    assert_eq!(changed.unwrap().into_inner().summary, counts(0, 1, 1));
    let stored = fx
        .value(&format!(
            "SELECT full_name || ' ' || time_zone || ' ' || organization_id || ' ' || \
             (password_hash IS NULL) FROM users WHERE id = '{b}'"
        ))
        .await;
    assert_eq!(stored, format!("Bob Builder Europe/Paris {} true", fx.org));
    // An empty time zone is the organization's.
    let zone = fx
        .value(&format!("SELECT time_zone FROM users WHERE id = '{a}'"))
        .await;
    assert_eq!(zone, "UTC");
}

#[tokio::test(flavor = "multi_thread")]
async fn users_hold_exactly_the_listed_catalogue_roles() {
    let mut fx = Fx::start().await;
    let (person, _) = fx
        .server
        .person(Some(fx.org), &[Role::OrgAdmin, Role::Learner])
        .await;
    let mut profile = user(person, &format!("{person}@test.example"), &["trainer"]);
    profile.full_name = "Test Person".into();

    let req = pb::UpsertUsersRequest {
        users: vec![profile.clone()],
    };
    let swapped = fx.client.upsert_users(authed(req.clone(), &fx.token)).await;
    // Only the roles changed: the person counts as updated.
    assert_eq!(swapped.unwrap().into_inner().summary, counts(0, 1, 0));
    assert_eq!(fx.roles(person).await, "org_admin,trainer");
    let again = fx.client.upsert_users(authed(req, &fx.token)).await;
    assert_eq!(again.unwrap().into_inner().summary, counts(0, 0, 1));

    profile.roles.clear();
    let req = pb::UpsertUsersRequest {
        users: vec![profile.clone()],
    };
    let none = fx.client.upsert_users(authed(req, &fx.token)).await;
    assert_eq!(none.unwrap().into_inner().summary, counts(0, 1, 0));
    assert_eq!(fx.roles(person).await, "org_admin");

    profile.roles = vec!["learner".into(), "org_admin".into()];
    let req = pb::UpsertUsersRequest {
        users: vec![profile],
    };
    let admin = fx.client.upsert_users(authed(req, &fx.token)).await;
    assert_eq!(fields(&admin.unwrap_err()), ["users[0].roles[1]"]);
    assert_eq!(fx.roles(person).await, "org_admin");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_item_fails_the_call_and_nothing_is_stored() {
    let mut fx = Fx::start().await;
    let (good, bad) = (Uuid::new_v4(), Uuid::new_v4());
    let mut broken = user(bad, "nobody", &[]);
    broken.department_id = "not-a-uuid".into();
    let req = pb::UpsertUsersRequest {
        users: vec![user(good, "good@example.org", &["learner"]), broken],
    };
    let err = fx
        .client
        .upsert_users(authed(req, &fx.token))
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        ["users[1].email", "users[1].department_id"],
        "{err:?}"
    );

    // Found only against the database: an unknown zone, a missing department.
    let mut zoned = user(bad, "zoned@example.org", &[]);
    zoned.time_zone = "Mars/Olympus_Mons".into();
    let mut grouped = user(Uuid::new_v4(), "grouped@example.org", &[]);
    grouped.team_id = Uuid::new_v4().to_string();
    let req = pb::UpsertUsersRequest {
        users: vec![user(good, "good@example.org", &["learner"]), zoned, grouped],
    };
    let err = fx
        .client
        .upsert_users(authed(req, &fx.token))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["users[1].time_zone", "users[2].team_id"]);
    let stored = fx
        .value(&format!(
            "SELECT count(*) FROM users WHERE id IN ('{good}', '{bad}')"
        ))
        .await;
    assert_eq!(stored, "0");

    // Batch size: 1 to 1000 items.
    let empty = fx
        .client
        .upsert_users(authed(pb::UpsertUsersRequest::default(), &fx.token))
        .await;
    assert_eq!(fields(&empty.unwrap_err()), ["users"]);
    let many = pb::UpsertCoursesRequest {
        courses: (0..1001).map(|_| course(Uuid::new_v4(), "c")).collect(),
    };
    let many = fx.client.upsert_courses(authed(many, &fx.token)).await;
    assert_eq!(fields(&many.unwrap_err()), ["courses"]);

    // The same id twice in one call.
    let twice = pb::UpsertCoursesRequest {
        courses: vec![course(good, "a"), course(good, "b")],
    };
    let twice = fx.client.upsert_courses(authed(twice, &fx.token)).await;
    assert_eq!(fields(&twice.unwrap_err()), ["courses[1].id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_org_token_writes_only_its_own_organization() {
    let mut fx = Fx::start().await;
    let other = fx.other_org().await;
    let (mine, theirs) = (Uuid::new_v4(), Uuid::new_v4());

    // Naming another organization: refused, nothing stored.
    let mut foreign = course(theirs, "Theirs");
    foreign.organization_id = other.to_string();
    let req = pb::UpsertCoursesRequest {
        courses: vec![course(mine, "Mine"), foreign],
    };
    let err = fx
        .client
        .upsert_courses(authed(req, &fx.token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let stored = fx
        .value(&format!(
            "SELECT count(*) FROM courses WHERE id IN ('{mine}', '{theirs}')"
        ))
        .await;
    assert_eq!(stored, "0");

    // An id of the other organization (invisible to this token) is never
    // modified nor moved, whether the payload differs or not.
    let platform = fx.platform();
    let mut original = course(theirs, "Theirs");
    original.organization_id = other.to_string();
    let req = pb::UpsertCoursesRequest {
        courses: vec![original],
    };
    fx.client
        .upsert_courses(authed(req, &platform))
        .await
        .expect("course of the other organization");
    for name in ["Hijacked", "Theirs"] {
        let req = pb::UpsertCoursesRequest {
            courses: vec![course(mine, "Mine"), course(theirs, name)],
        };
        let err = fx
            .client
            .upsert_courses(authed(req, &fx.token))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{name}: {err:?}");
        assert!(err.message().contains("courses[1].id"), "{err:?}");
    }
    // Nor by a platform token naming this organization for that id.
    let mut moved = course(theirs, "Moved");
    moved.organization_id = fx.org.to_string();
    let req = pb::UpsertCoursesRequest {
        courses: vec![moved],
    };
    let err = fx
        .client
        .upsert_courses(authed(req, &platform))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let stored = fx
        .value(&format!(
            "SELECT name || ' ' || organization_id || ' ' || \
             (SELECT count(*) FROM courses WHERE id = '{mine}') FROM courses WHERE id = '{theirs}'"
        ))
        .await;
    assert_eq!(stored, format!("Theirs {other} 0"));

    // The same for a person of the other organization.
    let (person, _) = fx.server.person(Some(other), &[Role::Learner]).await;
    let mut profile = user(person, &format!("{person}@test.example"), &["trainer"]);
    profile.full_name = "Test Person".into();
    let req = pb::UpsertUsersRequest {
        users: vec![profile],
    };
    let err = fx
        .client
        .upsert_users(authed(req, &fx.token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert_eq!(fx.roles(person).await, "learner");
}

#[tokio::test(flavor = "multi_thread")]
async fn platform_tokens_name_the_organization_and_emails_stay_unique() {
    let mut fx = Fx::start().await;
    let platform = fx.platform();
    let id = Uuid::new_v4();
    let req = pb::UpsertUsersRequest {
        users: vec![user(id, "p@example.org", &["learner"])],
    };
    let err = fx
        .client
        .upsert_users(authed(req.clone(), &platform))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["users[0].organization_id"]);
    let mut named = req;
    named.users[0].organization_id = fx.org.to_string();
    let ok = fx.client.upsert_users(authed(named, &platform)).await;
    assert_eq!(ok.unwrap().into_inner().summary, counts(1, 0, 0));

    // The address of an account of another organization (which this token
    // cannot see) is taken, whatever its case.
    let other = fx.other_org().await;
    let (person, _) = fx.server.person(Some(other), &[Role::Learner]).await;
    let req = pb::UpsertUsersRequest {
        users: vec![user(Uuid::new_v4(), &format!("{person}@TEST.example"), &[])],
    };
    let err = fx
        .client
        .upsert_users(authed(req, &fx.token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert!(err.message().contains("users[0].email"), "{err:?}");
}

/// The one description of an INVALID_ARGUMENT's one violation.
fn description(status: &Status) -> String {
    let details = status.get_error_details();
    let violations = &details.bad_request().expect("BadRequest").field_violations;
    assert_eq!(violations.len(), 1, "{status:?}");
    violations[0].description.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn emails_are_held_to_the_rule_of_create_user() {
    let mut fx = Fx::start().await;
    // `a@b` has no dot in its domain: CreateUser refuses it...
    let (admin, _) = fx.server.person(Some(fx.org), &[Role::OrgAdmin]).await;
    let admin_token = fx.server.user_token(admin, fx.org, Role::OrgAdmin);
    let mut identity = IdentityServiceClient::new(fx.server.channel());
    let create = CreateUserRequest {
        email: "a@b".into(),
        full_name: "A B".into(),
        ..Default::default()
    };
    let refused = identity
        .create_user(authed(create, &admin_token))
        .await
        .unwrap_err();
    assert_eq!(fields(&refused), ["email"]);

    // ...and so does UpsertUsers, in the same words, storing nothing.
    let id = Uuid::new_v4();
    let req = pb::UpsertUsersRequest {
        users: vec![user(id, "a@b", &["learner"])],
    };
    let err = fx
        .client
        .upsert_users(authed(req, &fx.token))
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["users[0].email"]);
    assert_eq!(description(&err), description(&refused));
    let stored = fx
        .value(&format!("SELECT count(*) FROM users WHERE id = '{id}'"))
        .await;
    assert_eq!(stored, "0");

    // An address both accept is stored trimmed, as CreateUser stores it.
    let req = pb::UpsertUsersRequest {
        users: vec![user(id, &format!("  {id}@example.org "), &["learner"])],
    };
    let ok = fx.client.upsert_users(authed(req, &fx.token)).await;
    assert_eq!(ok.unwrap().into_inner().summary, counts(1, 0, 0));
    let stored = fx
        .value(&format!("SELECT email FROM users WHERE id = '{id}'"))
        .await;
    assert_eq!(stored, format!("{id}@example.org"));
}

#[tokio::test(flavor = "multi_thread")]
async fn departments_and_teams_then_people_in_them() {
    let mut fx = Fx::start().await;
    let (dept, team) = (Uuid::new_v4(), Uuid::new_v4());
    let mut req = pb::UpsertDepartmentsRequest {
        departments: vec![
            department(dept, None, "Sales"),
            department(team, Some(dept), "EMEA"),
        ],
    };
    let first = fx
        .client
        .upsert_departments(authed(req.clone(), &fx.token))
        .await;
    assert_eq!(first.unwrap().into_inner().summary, counts(2, 0, 0));
    let again = fx
        .client
        .upsert_departments(authed(req.clone(), &fx.token))
        .await;
    assert_eq!(again.unwrap().into_inner().summary, counts(0, 0, 2));
    req.departments[1].name = "Europe".into();
    let renamed = fx.client.upsert_departments(authed(req, &fx.token)).await;
    assert_eq!(renamed.unwrap().into_inner().summary, counts(0, 1, 1));
    let stored = fx
        .value(&format!(
            "SELECT kind || ' ' || name || ' ' || parent_id FROM departments WHERE id = '{team}'"
        ))
        .await;
    assert_eq!(stored, format!("team Europe {dept}"));

    let mut orphan = department(Uuid::new_v4(), None, "Orphan");
    orphan.kind = pb::DepartmentKind::Team as i32;
    let req = pb::UpsertDepartmentsRequest {
        departments: vec![orphan],
    };
    let err = fx.client.upsert_departments(authed(req, &fx.token)).await;
    assert_eq!(fields(&err.unwrap_err()), ["departments[0].parent_id"]);

    let mut placed = user(Uuid::new_v4(), "placed@example.org", &["learner"]);
    placed.department_id = dept.to_string();
    placed.team_id = team.to_string();
    let mut misplaced = user(Uuid::new_v4(), "misplaced@example.org", &["learner"]);
    misplaced.department_id = team.to_string();
    let req = pb::UpsertUsersRequest {
        users: vec![placed.clone(), misplaced],
    };
    let err = fx.client.upsert_users(authed(req, &fx.token)).await;
    assert_eq!(fields(&err.unwrap_err()), ["users[1].department_id"]);
    let req = pb::UpsertUsersRequest {
        users: vec![placed],
    };
    let ok = fx.client.upsert_users(authed(req, &fx.token)).await;
    assert_eq!(ok.unwrap().into_inner().summary, counts(1, 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn courses_and_lessons() {
    let mut fx = Fx::start().await;
    let (trainer, _) = fx.server.person(Some(fx.org), &[Role::Trainer]).await;
    let id = Uuid::new_v4();
    let mut with_trainer = course(id, "Rust 101");
    with_trainer.trainer_id = trainer.to_string();
    with_trainer.description = "Ownership and borrowing".into();
    let mut req = pb::UpsertCoursesRequest {
        courses: vec![with_trainer],
    };
    let first = fx
        .client
        .upsert_courses(authed(req.clone(), &fx.token))
        .await;
    assert_eq!(first.unwrap().into_inner().summary, counts(1, 0, 0));
    let again = fx
        .client
        .upsert_courses(authed(req.clone(), &fx.token))
        .await;
    assert_eq!(again.unwrap().into_inner().summary, counts(0, 0, 1));
    req.courses[0].expected_lessons = 12;
    req.courses[0].expected_duration_minutes = 90;
    let changed = fx.client.upsert_courses(authed(req, &fx.token)).await;
    assert_eq!(changed.unwrap().into_inner().summary, counts(0, 1, 0));
    let stored = fx
        .value(&format!(
            "SELECT expected_lessons || ' ' || expected_duration_minutes || ' ' || trainer_id \
             FROM courses WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(stored, format!("12 90 {trainer}"));

    let lesson = |n: u32| pb::Lesson {
        id: Uuid::from_u128(u128::from(n) + 1).to_string(),
        course_id: id.to_string(),
        title: format!("Lesson {n}"),
        position: n,
    };
    let mut req = pb::UpsertLessonsRequest {
        lessons: vec![lesson(0), lesson(1)],
    };
    let first = fx
        .client
        .upsert_lessons(authed(req.clone(), &fx.token))
        .await;
    assert_eq!(first.unwrap().into_inner().summary, counts(2, 0, 0));
    let again = fx
        .client
        .upsert_lessons(authed(req.clone(), &fx.token))
        .await;
    assert_eq!(again.unwrap().into_inner().summary, counts(0, 0, 2));
    req.lessons[0].title = "Intro".into();
    let changed = fx
        .client
        .upsert_lessons(authed(req.clone(), &fx.token))
        .await;
    assert_eq!(changed.unwrap().into_inner().summary, counts(0, 1, 1));
    let stored = fx
        .value(&format!(
            "SELECT string_agg(title || '@' || position || '/' || (organization_id = '{}'), ',' \
             ORDER BY position) FROM lessons WHERE course_id = '{id}'",
            fx.org
        ))
        .await;
    assert_eq!(stored, "Intro@0/true,Lesson 1@1/true");

    req.lessons[1].course_id = Uuid::new_v4().to_string();
    let err = fx.client.upsert_lessons(authed(req, &fx.token)).await;
    assert_eq!(fields(&err.unwrap_err()), ["lessons[1].course_id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn learning_paths_replace_their_courses_in_order() {
    let mut fx = Fx::start().await;
    let c = fx.courses(3).await;
    let id = Uuid::new_v4();
    let path = |courses: &[Uuid]| pb::LearningPath {
        id: id.to_string(),
        name: "Backend".into(),
        course_ids: courses.iter().map(Uuid::to_string).collect(),
        ..Default::default()
    };
    let req = pb::UpsertLearningPathsRequest {
        paths: vec![path(&[c[0], c[1]])],
    };
    let first = fx
        .client
        .upsert_learning_paths(authed(req.clone(), &fx.token))
        .await;
    assert_eq!(first.unwrap().into_inner().summary, counts(1, 0, 0));
    let again = fx
        .client
        .upsert_learning_paths(authed(req, &fx.token))
        .await;
    assert_eq!(again.unwrap().into_inner().summary, counts(0, 0, 1));

    let req = pb::UpsertLearningPathsRequest {
        paths: vec![path(&[c[2], c[0]])],
    };
    let reordered = fx
        .client
        .upsert_learning_paths(authed(req, &fx.token))
        .await;
    assert_eq!(reordered.unwrap().into_inner().summary, counts(0, 1, 0));
    let stored = fx
        .value(&format!(
            "SELECT string_agg(course_id || '@' || position, ',' ORDER BY position) \
             FROM learning_path_courses WHERE path_id = '{id}'"
        ))
        .await;
    assert_eq!(stored, format!("{}@0,{}@1", c[2], c[0]));

    let req = pb::UpsertLearningPathsRequest {
        paths: vec![path(&[c[1], Uuid::new_v4(), c[1]])],
    };
    let err = fx
        .client
        .upsert_learning_paths(authed(req, &fx.token))
        .await;
    assert_eq!(
        fields(&err.unwrap_err()),
        ["paths[0].course_ids[2]"],
        "the repeat is found first; the unknown course needs the database"
    );
    let req = pb::UpsertLearningPathsRequest {
        paths: vec![path(&[c[1], Uuid::new_v4()])],
    };
    let err = fx
        .client
        .upsert_learning_paths(authed(req, &fx.token))
        .await;
    assert_eq!(fields(&err.unwrap_err()), ["paths[0].course_ids[1]"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn skills_prerequisites_and_platform_skills() {
    let mut fx = Fx::start().await;
    let platform = fx.platform();
    let (basics, own, advanced) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());

    // A platform-wide skill needs a platform token.
    let req = pb::UpsertSkillsRequest {
        skills: vec![skill(basics, None, "Computing", &[])],
    };
    let err = fx
        .client
        .upsert_skills(authed(req.clone(), &fx.token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let ok = fx.client.upsert_skills(authed(req, &platform)).await;
    assert_eq!(ok.unwrap().into_inner().summary, counts(1, 0, 0));
    assert_eq!(
        fx.value(&format!(
            "SELECT organization_id IS NULL FROM skills WHERE id = '{basics}'"
        ))
        .await,
        "true"
    );

    // Prerequisites: platform skills, stored or in the same batch.
    let mut req = pb::UpsertSkillsRequest {
        skills: vec![
            skill(own, Some(fx.org), "Rust", &[basics]),
            skill(advanced, Some(fx.org), "Async Rust", &[own, basics]),
        ],
    };
    let first = fx
        .client
        .upsert_skills(authed(req.clone(), &fx.token))
        .await;
    assert_eq!(first.unwrap().into_inner().summary, counts(2, 0, 0));
    let again = fx
        .client
        .upsert_skills(authed(req.clone(), &fx.token))
        .await;
    assert_eq!(again.unwrap().into_inner().summary, counts(0, 0, 2));
    req.skills[1].prerequisite_ids = vec![own.to_string()];
    let fewer = fx
        .client
        .upsert_skills(authed(req.clone(), &fx.token))
        .await;
    assert_eq!(fewer.unwrap().into_inner().summary, counts(0, 1, 1));
    let stored = fx
        .value(&format!(
            "SELECT string_agg(prerequisite_skill_id::text, ',') FROM skill_prerequisites \
             WHERE skill_id = '{advanced}'"
        ))
        .await;
    assert_eq!(stored, own.to_string());

    req.skills[0].prerequisite_ids = vec![own.to_string()];
    req.skills[1].level = pb::SkillLevel::Unspecified as i32;
    let err = fx.client.upsert_skills(authed(req, &fx.token)).await;
    assert_eq!(
        fields(&err.unwrap_err()),
        ["skills[0].prerequisite_ids[0]", "skills[1].level"]
    );

    // The platform skill cannot be taken over by an organization.
    let req = pb::UpsertSkillsRequest {
        skills: vec![skill(basics, Some(fx.org), "Computing", &[])],
    };
    let err = fx
        .client
        .upsert_skills(authed(req, &fx.token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert_eq!(
        fx.value(&format!(
            "SELECT organization_id IS NULL FROM skills WHERE id = '{basics}'"
        ))
        .await,
        "true"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn course_skills_default_to_mastery_80() {
    let mut fx = Fx::start().await;
    let c = fx.courses(1).await[0];
    let s = fx.skill().await;
    let link = |mastery: u32| pb::CourseSkill {
        course_id: c.to_string(),
        skill_id: s.to_string(),
        required_mastery: mastery,
    };
    let req = pb::UpsertCourseSkillsRequest {
        links: vec![link(0)],
    };
    let first = fx
        .client
        .upsert_course_skills(authed(req.clone(), &fx.token))
        .await;
    assert_eq!(first.unwrap().into_inner().summary, counts(1, 0, 0));
    let again = fx.client.upsert_course_skills(authed(req, &fx.token)).await;
    assert_eq!(again.unwrap().into_inner().summary, counts(0, 0, 1));
    let mastery = format!("SELECT required_mastery FROM course_skills WHERE course_id = '{c}'");
    assert_eq!(fx.value(&mastery).await, "80");

    let req = pb::UpsertCourseSkillsRequest {
        links: vec![link(90)],
    };
    let changed = fx.client.upsert_course_skills(authed(req, &fx.token)).await;
    assert_eq!(changed.unwrap().into_inner().summary, counts(0, 1, 0));
    assert_eq!(fx.value(&mastery).await, "90");

    let mut unknown = link(50);
    unknown.skill_id = Uuid::new_v4().to_string();
    let req = pb::UpsertCourseSkillsRequest {
        links: vec![link(101), unknown],
    };
    let err = fx.client.upsert_course_skills(authed(req, &fx.token)).await;
    assert_eq!(fields(&err.unwrap_err()), ["links[0].required_mastery"]);
    let mut unknown = link(50);
    unknown.skill_id = Uuid::new_v4().to_string();
    let req = pb::UpsertCourseSkillsRequest {
        links: vec![unknown],
    };
    let err = fx.client.upsert_course_skills(authed(req, &fx.token)).await;
    assert_eq!(fields(&err.unwrap_err()), ["links[0].skill_id"]);
    assert_eq!(fx.value(&mastery).await, "90");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enrollment_made_by_ingestion_stays_one_row() {
    let mut fx = Fx::start().await;
    let c = fx.courses(1).await[0];
    let (learner, _) = fx.server.person(Some(fx.org), &[Role::Learner]).await;
    let (newcomer, _) = fx.server.person(Some(fx.org), &[Role::Learner]).await;
    let existing = Uuid::new_v4();
    fx.exec(&format!(
        "INSERT INTO enrollments (id, user_id, course_id, organization_id, progress_percent, enrolled_at) \
         VALUES ('{existing}', '{learner}', '{c}', '{}', 40, '2026-03-10T09:00:00Z')",
        fx.org
    ))
    .await;

    let enrollment = |id: Uuid, user: Uuid, when: &str| pb::Enrollment {
        id: id.to_string(),
        user_id: user.to_string(),
        course_id: c.to_string(),
        enrolled_at: (!when.is_empty()).then(|| at(when)).flatten(),
    };
    let req = pb::UpsertEnrollmentsRequest {
        enrollments: vec![
            enrollment(Uuid::new_v4(), learner, "2026-03-01T08:00:00Z"),
            enrollment(Uuid::new_v4(), newcomer, ""),
        ],
    };
    let first = fx
        .client
        .upsert_enrollments(authed(req.clone(), &fx.token))
        .await;
    assert_eq!(first.unwrap().into_inner().summary, counts(1, 1, 0));
    let again = fx.client.upsert_enrollments(authed(req, &fx.token)).await;
    assert_eq!(again.unwrap().into_inner().summary, counts(0, 0, 2));

    // A later date never moves the enrollment.
    let req = pb::UpsertEnrollmentsRequest {
        enrollments: vec![enrollment(existing, learner, "2026-04-01T08:00:00Z")],
    };
    let later = fx.client.upsert_enrollments(authed(req, &fx.token)).await;
    assert_eq!(later.unwrap().into_inner().summary, counts(0, 0, 1));
    let stored = fx
        .value(&format!(
            "SELECT count(*) || ' ' || min(id::text) || ' ' || min(progress_percent) || ' ' || \
             to_char(min(enrolled_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') \
             FROM enrollments WHERE user_id = '{learner}'"
        ))
        .await;
    assert_eq!(stored, format!("1 {existing} 40 2026-03-01 08:00"));

    // A person of another organization cannot enroll in this course.
    let other = fx.other_org().await;
    let (stranger, _) = fx.server.person(Some(other), &[Role::Learner]).await;
    let req = pb::UpsertEnrollmentsRequest {
        enrollments: vec![enrollment(Uuid::new_v4(), stranger, "")],
    };
    let err = fx
        .client
        .upsert_enrollments(authed(req, &fx.platform()))
        .await;
    assert_eq!(fields(&err.unwrap_err()), ["enrollments[0].user_id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn priority_skills_by_organization_and_skill() {
    let mut fx = Fx::start().await;
    let s = fx.skill().await;
    let priority = |weight: f64| pb::PrioritySkill {
        organization_id: String::new(),
        skill_id: s.to_string(),
        weight,
    };
    let req = pb::UpsertPrioritySkillsRequest {
        skills: vec![priority(0.5)],
    };
    let first = fx
        .client
        .upsert_priority_skills(authed(req.clone(), &fx.token))
        .await;
    assert_eq!(first.unwrap().into_inner().summary, counts(1, 0, 0));
    let again = fx
        .client
        .upsert_priority_skills(authed(req, &fx.token))
        .await;
    assert_eq!(again.unwrap().into_inner().summary, counts(0, 0, 1));
    let req = pb::UpsertPrioritySkillsRequest {
        skills: vec![priority(0.75)],
    };
    let changed = fx
        .client
        .upsert_priority_skills(authed(req, &fx.token))
        .await;
    assert_eq!(changed.unwrap().into_inner().summary, counts(0, 1, 0));
    let weight = format!(
        "SELECT weight FROM org_priority_skills WHERE organization_id = '{}' AND skill_id = '{s}'",
        fx.org
    );
    assert_eq!(fx.value(&weight).await, "0.75");

    let req = pb::UpsertPrioritySkillsRequest {
        skills: vec![priority(1.5)],
    };
    let err = fx
        .client
        .upsert_priority_skills(authed(req, &fx.token))
        .await;
    assert_eq!(fields(&err.unwrap_err()), ["skills[0].weight"]);
    let mut elsewhere = priority(0.1);
    elsewhere.organization_id = fx.other_org().await.to_string();
    let req = pb::UpsertPrioritySkillsRequest {
        skills: vec![elsewhere],
    };
    let err = fx
        .client
        .upsert_priority_skills(authed(req, &fx.token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert_eq!(fx.value(&weight).await, "0.75");
}
