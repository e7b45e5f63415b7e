//! Gamification through gRPC: events in, then profile, ledger, boards and
//! achievements out. Expected figures are worked out by hand from the
//! SPEC's rules in each test.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use stride::auth::{Role, Scope};
use stride::proto::common::v1::PageRequest;
use stride::proto::events::v1 as ev;
use stride::proto::events::v1::event_service_client::EventServiceClient;
use stride::proto::gamification::v1 as pb;
use stride::proto::gamification::v1::gamification_service_client::GamificationServiceClient;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::harness::{TestServer, authed};
use crate::ingest_support::{Fixture, count, derived_state, timestamp};

async fn setup(seed: u128) -> (TestServer, Fixture) {
    let server = TestServer::start().await;
    let fx = Fixture::new(seed);
    fx.create(&server.db_url).await;
    (server, fx)
}

fn events(server: &TestServer) -> EventServiceClient<Channel> {
    EventServiceClient::new(server.channel())
}

fn game(server: &TestServer) -> GamificationServiceClient<Channel> {
    GamificationServiceClient::new(server.channel())
}

fn event(id: &str, user: Uuid, at: DateTime<Utc>, payload: ev::event::Payload) -> ev::Event {
    ev::Event {
        event_id: id.into(),
        occurred_at: timestamp(at),
        user_id: user.to_string(),
        organization_id: String::new(),
        payload: Some(payload),
    }
}

fn graded(course: Uuid, score: f64) -> ev::event::Payload {
    ev::event::Payload::AssessmentGraded(ev::AssessmentGraded {
        course_id: course.to_string(),
        assessment_id: "quiz".into(),
        skill_id: String::new(),
        score,
    })
}

fn lesson(course: Uuid, lesson: Uuid) -> ev::event::Payload {
    ev::event::Payload::LessonCompleted(ev::LessonCompleted {
        course_id: course.to_string(),
        lesson_id: lesson.to_string(),
    })
}

fn completed(course: Uuid) -> ev::event::Payload {
    ev::event::Payload::CourseCompleted(ev::CourseCompleted {
        course_id: course.to_string(),
    })
}

fn day_at(day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    day.and_hms_opt(hour, minute, 0).unwrap().and_utc()
}

async fn publish(server: &TestServer, fx: &Fixture, e: ev::Event) -> ev::EventResult {
    let token = server.org_service_token("lms", fx.org, &[Scope::EventsWrite]);
    events(server)
        .publish_event(authed(ev::PublishEventRequest { event: Some(e) }, &token))
        .await
        .expect("publish")
        .into_inner()
        .result
        .expect("result")
}

async fn publish_stream(
    server: &TestServer,
    fx: &Fixture,
    list: Vec<ev::Event>,
) -> Vec<ev::EventResult> {
    crate::ingest_support::publish_stream(server, fx.org, list).await
}

async fn profile(server: &TestServer, fx: &Fixture, user: usize) -> pb::GetProfileResponse {
    let token = server.user_token(fx.users[user], fx.org, Role::Learner);
    game(server)
        .get_profile(authed(pb::GetProfileRequest::default(), &token))
        .await
        .expect("profile")
        .into_inner()
}

fn earned(p: &pb::GetProfileResponse) -> Vec<String> {
    let mut ids: Vec<String> = p
        .achievements
        .iter()
        .filter(|a| a.earned)
        .map(|a| a.achievement.as_ref().unwrap().id.clone())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn the_daily_cap_splits_in_occurred_at_order_whatever_the_arrival_order() {
    let (server, fx) = setup(61).await;
    let user = fx.users[0]; // UTC
    let day = Utc::now().date_naive() - Duration::days(1);
    // Eleven assessments of 100 points, 10:01 ... 10:11, arriving last first.
    let list: Vec<ev::Event> = (1..=11)
        .map(|i| {
            event(
                &format!("a{i}"),
                user,
                day_at(day, 10, i),
                graded(fx.courses[0], 100.0),
            )
        })
        .collect();
    let mut last = None;
    for e in list.into_iter().rev() {
        last = Some(publish(&server, &fx, e).await);
    }
    // In order: a1 100, streak day 10 (same instant, rule order), a2..a9
    // 800 (910), a10 90 + 10 capped, a11 0 + 100 capped.
    let a1 = last.unwrap();
    assert_eq!(
        (a1.points_awarded, a1.points_capped),
        (110, 0),
        "a1 pays itself and the streak day"
    );
    let db = &server.db_url;
    let split = |key: &str| {
        format!(
            "SELECT (points_awarded * 1000 + points_capped)::bigint AS n FROM point_transactions WHERE source_key = '{key}'"
        )
    };
    assert_eq!(count(db, &split("a10")).await, 90 * 1000 + 10);
    assert_eq!(count(db, &split("a11")).await, 100);
    assert_eq!(count(db, &split("a9")).await, 100 * 1000);
    assert_eq!(count(db, &split(&format!("streak:{day}"))).await, 10 * 1000);
    assert_eq!(
        count(
            db,
            "SELECT (points_awarded * 1000 + points_capped)::bigint AS n FROM daily_activity"
        )
        .await,
        1000 * 1000 + 110
    );

    let p = profile(&server, &fx, 0).await;
    assert_eq!((p.total_points, p.capped_points), (1000, 110));
    let level = p.level.unwrap();
    assert_eq!(
        (
            level.level,
            level.next_level_points,
            level.points_to_next_level
        ),
        (5, 1500, 500)
    );
    let streak = p.streak.unwrap();
    assert_eq!(
        (streak.current_days, streak.longest_days),
        (1, 1),
        "yesterday counts as current"
    );
    assert_eq!(streak.next_milestone_days, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_copies_of_one_event_pay_once() {
    let (server, fx) = setup(62).await;
    let at = Utc::now() - Duration::hours(1);
    let e = event("done-1", fx.users[1], at, completed(fx.courses[1]));
    let calls = (0..8).map(|_| {
        let (server, fx, e) = (&server, &fx, e.clone());
        async move { publish(server, fx, e).await }
    });
    let results = futures::future::join_all(calls).await;
    let accepted: Vec<_> = results
        .iter()
        .filter(|r| r.status == ev::EventStatus::Accepted as i32)
        .collect();
    assert_eq!(accepted.len(), 1, "{results:?}");
    assert_eq!(
        accepted[0].points_awarded, 110,
        "course 100 + streak day 10"
    );
    let db = &server.db_url;
    assert_eq!(
        count(
            db,
            "SELECT count(*) AS n FROM point_transactions WHERE rule_id = 'course_completed'"
        )
        .await,
        1
    );
    assert_eq!(profile(&server, &fx, 1).await.total_points, 110);
}

/// Ten extra courses (the fixture has three) for freezes.
async fn ten_courses(server: &TestServer, fx: &Fixture) -> Vec<Uuid> {
    let mut conn = AsyncPgConnection::establish(&server.db_url).await.unwrap();
    let ids: Vec<Uuid> = (0..10).map(|n| Uuid::from_u128(0xc0_0000 + n)).collect();
    let sql: String = ids
        .iter()
        .map(|id| {
            format!(
                "INSERT INTO courses (id, organization_id, name) VALUES ('{id}', '{}', 'Extra');",
                fx.org
            )
        })
        .collect();
    conn.batch_execute(&sql).await.unwrap();
    ids
}

/// Nine days ending yesterday: ten completions on day 0, a lesson on day 1,
/// day 2 missed, lessons on days 3-8.
fn streak_story(fx: &Fixture, courses: &[Uuid], user: usize) -> Vec<ev::Event> {
    let today = Utc::now().date_naive();
    let day = |n: i64| today - Duration::days(9 - n);
    let who = fx.users[user];
    let mut list: Vec<ev::Event> = courses
        .iter()
        .enumerate()
        .map(|(i, c)| {
            event(
                &format!("c{i}"),
                who,
                day_at(day(0), 12, i as u32),
                completed(*c),
            )
        })
        .collect();
    let (course, lesson_id) = fx.lessons[0];
    for n in [1, 3, 4, 5, 6, 7, 8] {
        list.push(event(
            &format!("l{n}"),
            who,
            day_at(day(n), 9, 0),
            lesson(course, lesson_id),
        ));
    }
    list
}

#[tokio::test]
async fn a_freeze_bridges_the_missed_day_and_the_seven_day_milestone_pays_once() {
    let (server, fx) = setup(63).await;
    let courses = ten_courses(&server, &fx).await;
    let mut list = streak_story(&fx, &courses, 3);
    list.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
    let results = publish_stream(&server, &fx, list).await;
    assert!(
        results
            .iter()
            .all(|r| r.status == ev::EventStatus::Accepted as i32)
    );

    // Days 0,1 (2), bridge day 2, days 3-8 (8): the 7th day is day 7.
    let p = profile(&server, &fx, 3).await;
    let streak = p.streak.clone().unwrap();
    assert_eq!(
        (
            streak.current_days,
            streak.longest_days,
            streak.freezes_held
        ),
        (8, 8, 0)
    );
    assert_eq!(streak.next_milestone_days, 30);
    let db = &server.db_url;
    assert_eq!(
        count(
            db,
            "SELECT count(*) AS n FROM streak_freeze_events WHERE kind = 'earned'"
        )
        .await,
        1
    );
    let bridged = Utc::now().date_naive() - Duration::days(7);
    assert_eq!(
        count(db, &format!("SELECT count(*) AS n FROM streak_freeze_events WHERE kind = 'spent' AND local_date = '{bridged}'")).await,
        1
    );
    let milestone_day = Utc::now().date_naive() - Duration::days(2);
    assert_eq!(
        count(db, &format!(
            "SELECT points_awarded::bigint AS n FROM point_transactions WHERE source_key = 'streak_milestone:7' AND local_date = '{milestone_day}'"
        ))
        .await,
        50
    );
    // Day 0: 10 x 100 + 10 = 1,010, capped to 1,000; 7 more streak days
    // (70) and the milestone (50).
    assert_eq!((p.total_points, p.capped_points), (1120, 10));
    assert_eq!(
        earned(&p),
        ["accelerator", "bookworm", "first_steps", "on_fire"]
    );
    let consistent = p
        .achievements
        .iter()
        .find(|a| a.achievement.as_ref().unwrap().id == "consistent_learner")
        .unwrap();
    assert_eq!(
        (consistent.earned, consistent.current, consistent.target),
        (false, 8, 30)
    );
}

#[tokio::test]
async fn recompute_finds_nothing_to_change_then_repairs_a_damaged_state() {
    let (server, fx) = setup(64).await;
    let courses = ten_courses(&server, &fx).await;
    publish_stream(&server, &fx, streak_story(&fx, &courses, 0)).await;
    let (admin, _) = server.person(Some(fx.org), &[Role::OrgAdmin]).await;
    let token = server.user_token(admin, fx.org, Role::OrgAdmin);
    let recompute = |dry_run: bool| pb::RecomputeGamificationRequest {
        target: Some(pb::recompute_gamification_request::Target::OrganizationId(
            fx.org.to_string(),
        )),
        dry_run,
    };
    let clean = game(&server)
        .recompute_gamification(authed(recompute(true), &token))
        .await
        .expect("dry run")
        .into_inner();
    assert!(clean.users_checked >= 5, "{clean:?}");
    assert!(
        clean.differences.is_empty(),
        "ingestion and recompute agree: {:?}",
        clean.differences
    );

    let good = derived_state(&server.db_url).await;
    let mut conn = AsyncPgConnection::establish(&server.db_url).await.unwrap();
    conn.batch_execute(&format!(
        "UPDATE user_points SET total_points = 5, longest_streak = 9, freezes_held = 2 WHERE user_id = '{}';
         DELETE FROM point_transactions WHERE source_key = 'streak_milestone:7';
         UPDATE point_transactions SET points_awarded = 100, points_capped = 0 WHERE rule_id = 'course_completed';",
        fx.users[0]
    ))
    .await
    .unwrap();
    let found = game(&server)
        .recompute_gamification(authed(recompute(true), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.differences.len(), 1, "{found:?}");
    let changes = &found.differences[0].changes;
    assert_eq!(changes["total_points"], "5 -> 1120");
    assert_eq!(changes["longest_streak"], "9 -> 8");
    assert!(changes.contains_key("ledger_rows"), "{changes:?}");
    assert_ne!(
        derived_state(&server.db_url).await,
        good,
        "a dry run writes nothing"
    );

    // Worse, the damaged row goes missing: the recompute creates it.
    conn.batch_execute(&format!(
        "DELETE FROM user_points WHERE user_id = '{}'",
        fx.users[0]
    ))
    .await
    .unwrap();
    game(&server)
        .recompute_gamification(authed(recompute(false), &token))
        .await
        .unwrap();
    let repaired = derived_state(&server.db_url).await;
    let differing: Vec<(&str, &str)> = good
        .lines()
        .zip(repaired.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert!(differing.is_empty() && good == repaired, "{differing:#?}");
}

#[tokio::test]
async fn boards_rank_ties_hide_and_anonymize_and_page() {
    let (server, fx) = setup(65).await;
    let now = Utc::now();
    // All-time points: u0 100 (first to reach), u1 100, u2 60 (hidden), u3 30.
    let scores = [(0, 90.0, 4), (1, 90.0, 3), (2, 50.0, 3), (3, 20.0, 3)];
    for (user, score, minutes) in scores {
        let e = event(
            &format!("g{user}"),
            fx.users[user],
            now - Duration::minutes(minutes),
            graded(fx.courses[0], score),
        );
        publish(&server, &fx, e).await;
    }
    let mut conn = AsyncPgConnection::establish(&server.db_url).await.unwrap();
    conn.batch_execute(&format!(
        "INSERT INTO user_preferences (user_id, organization_id, leaderboard_privacy) VALUES
           ('{}', '{org}', 'anonymous'), ('{}', '{org}', 'hidden');",
        fx.users[1],
        fx.users[2],
        org = fx.org
    ))
    .await
    .unwrap();

    let board = |user: usize,
                 period: pb::LeaderboardPeriod,
                 scope: pb::LeaderboardScope,
                 page: Option<PageRequest>| {
        let token = server.user_token(fx.users[user], fx.org, Role::Learner);
        let mut client = game(&server);
        let course = fx.courses[0].to_string();
        async move {
            client
                .get_leaderboard(authed(
                    pb::GetLeaderboardRequest {
                        period: period as i32,
                        scope: scope as i32,
                        course_id: course,
                        organization_id: String::new(),
                        page,
                    },
                    &token,
                ))
                .await
        }
    };
    use pb::LeaderboardPeriod::*;
    use pb::LeaderboardScope::*;
    for period in [AllTime, Week, Month] {
        let b = board(3, period, Organization, None)
            .await
            .expect("board")
            .into_inner();
        let rows: Vec<_> = b
            .entries
            .iter()
            .map(|e| (e.rank, e.points, e.display_name.as_str(), e.is_caller))
            .collect();
        let anon = rows[1].2;
        assert_eq!(
            rows,
            [
                (1, 100, "Learner 0", false),
                (1, 100, anon, false),
                (3, 30, "Learner 3", true)
            ],
            "{period:?}"
        );
        assert!(anon.starts_with("Anonymous learner #"));
        assert_eq!(b.entries[0].user_id, fx.users[0].to_string());
        assert_eq!(
            b.entries[1].user_id, "",
            "an anonymous person's id is not shown"
        );
        assert_eq!(b.ranked_users, 3);
        let own = b.own.unwrap();
        assert_eq!(
            (own.rank, own.points, own.percentile, own.hidden),
            (3, 30, 0.0, false)
        );
        assert!(b.as_of.is_some());
    }

    // The hidden person is on no board but sees their rank: two ahead,
    // one below, out of 3 ranked + themselves.
    let hidden = board(2, AllTime, Organization, None)
        .await
        .unwrap()
        .into_inner();
    assert!(hidden.entries.iter().all(|e| !e.is_caller));
    let own = hidden.own.unwrap();
    assert_eq!((own.rank, own.percentile, own.hidden), (3, 25.0, true));

    // Pages of one: the tie keeps its rank across the page boundary.
    let mut token = String::new();
    let mut seen = Vec::new();
    loop {
        let page = PageRequest {
            page_size: 1,
            page_token: token.clone(),
        };
        let b = board(3, AllTime, Organization, Some(page))
            .await
            .unwrap()
            .into_inner();
        seen.extend(b.entries.iter().map(|e| (e.rank, e.points)));
        token = b.page.unwrap().next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen, [(1, 100), (1, 100), (3, 30)]);

    // Course board: only the course's points (no streak days).
    let course = board(3, AllTime, Course, None).await.unwrap().into_inner();
    let rows: Vec<_> = course.entries.iter().map(|e| (e.rank, e.points)).collect();
    assert_eq!(rows, [(1, 90), (1, 90), (3, 20)]);

    let denied = board(3, AllTime, Platform, None).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let too_big = board(
        3,
        AllTime,
        Organization,
        Some(PageRequest {
            page_size: 51,
            page_token: String::new(),
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(too_big.code(), Code::InvalidArgument);
    let bad_token = board(
        3,
        AllTime,
        Organization,
        Some(PageRequest {
            page_size: 1,
            page_token: "zz".into(),
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(bad_token.code(), Code::InvalidArgument);
}

/// While its snapshots are fresh, a board is answered from memory: the same
/// answer the transaction that read them gave, even with the organizations
/// table locked (the transaction's first read). Someone the snapshot does
/// not hold (hidden) is still answered from the database.
#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_board_is_answered_from_memory_as_its_transaction_answered() {
    let server = TestServer::start_with(stride::config::Limits {
        board_cache_ms: 600_000,
        ..Default::default()
    })
    .await;
    let fx = Fixture::new(66);
    fx.create(&server.db_url).await;
    let now = Utc::now();
    for (user, score) in [(0, 90.0), (1, 70.0), (2, 50.0), (3, 30.0)] {
        let e = event(
            &format!("m{user}"),
            fx.users[user],
            now - Duration::seconds(5),
            graded(fx.courses[0], score),
        );
        publish(&server, &fx, e).await;
    }
    let mut owner = AsyncPgConnection::establish(&server.db_url).await.unwrap();
    owner
        .batch_execute(&format!(
            "INSERT INTO user_preferences (user_id, organization_id, leaderboard_privacy) VALUES
               ('{}', '{org}', 'anonymous'), ('{}', '{org}', 'hidden');",
            fx.users[1],
            fx.users[3],
            org = fx.org
        ))
        .await
        .unwrap();
    let ask = |user: usize| {
        let token = server.user_token(fx.users[user], fx.org, Role::Learner);
        let mut client = game(&server);
        async move {
            client
                .get_leaderboard(authed(pb::GetLeaderboardRequest::default(), &token))
                .await
                .map(|r| r.into_inner())
        }
    };
    let read = ask(2).await.expect("the board through a transaction");
    let names: Vec<_> = read
        .entries
        .iter()
        .map(|e| (e.rank, e.display_name.as_str(), e.is_caller))
        .collect();
    assert_eq!(names[0], (1, "Learner 0", false));
    assert!(names[1].1.starts_with("Anonymous learner #"), "{names:?}");
    assert_eq!(names[2], (3, "Learner 2", true));

    owner
        .batch_execute("BEGIN; LOCK TABLE organizations IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let remembered = tokio::time::timeout(std::time::Duration::from_secs(10), ask(2))
        .await
        .expect("a fresh board needs no table of the transaction")
        .expect("the board from memory");
    assert_eq!(remembered, read);
    let other = tokio::time::timeout(std::time::Duration::from_secs(10), ask(0))
        .await
        .expect("another caller on the board is answered from memory too")
        .unwrap();
    assert!(other.entries[0].is_caller);
    assert_eq!(other.own.unwrap().rank, 1);
    let hidden = tokio::time::timeout(std::time::Duration::from_millis(800), ask(3)).await;
    assert!(
        hidden.is_err(),
        "a hidden caller is not in the snapshot: their own row is read, behind the lock"
    );
    owner.batch_execute("ROLLBACK").await.unwrap();
    let hidden = ask(3)
        .await
        .expect("the hidden caller once the lock is gone");
    let own = hidden.own.unwrap();
    assert_eq!((own.rank, own.points, own.hidden), (4, 40, true));
}

#[tokio::test]
async fn admins_add_achievements_with_checked_criteria_and_people_earn_them() {
    let (server, fx) = setup(66).await;
    let (admin, _) = server.person(Some(fx.org), &[Role::OrgAdmin]).await;
    let admin_token = server.user_token(admin, fx.org, Role::OrgAdmin);
    let create = |criteria: &str, token: &str| {
        let request = pb::CreateAchievementRequest {
            id: "first_lesson".into(),
            name: "First Lesson".into(),
            description: "Complete a lesson".into(),
            icon: "1".into(),
            tier: pb::AchievementTier::Beginner as i32,
            criteria_json: criteria.into(),
        };
        let mut client = game(&server);
        let token = token.to_string();
        async move { client.create_achievement(authed(request, &token)).await }
    };
    let bad = create(r#"{"metric": "karma", "gte": 1}"#, &admin_token)
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("criteria_json"), "{}", bad.message());
    let nested = format!(
        "{}{}{}",
        r#"{"all": ["#.repeat(6),
        r#"{"metric": "level", "gte": 1}"#,
        "]}".repeat(6)
    );
    assert_eq!(
        create(&nested, &admin_token).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let learner = server.user_token(fx.users[0], fx.org, Role::Learner);
    let good = r#"{"metric": "lessons_completed", "gte": 1}"#;
    assert_eq!(
        create(good, &learner).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert_eq!(
        count(&server.db_url, "SELECT count(*) AS n FROM achievements").await,
        12,
        "nothing stored"
    );

    let made = create(good, &admin_token)
        .await
        .expect("created")
        .into_inner()
        .achievement
        .unwrap();
    assert_eq!(made.id, format!("{}:first_lesson", fx.org));
    assert_eq!(
        create(good, &admin_token).await.unwrap_err().code(),
        Code::AlreadyExists
    );
    let listed = game(&server)
        .list_achievements(authed(pb::ListAchievementsRequest {}, &learner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.achievements.len(), 13);

    let (course, lesson_id) = fx.lessons[0];
    publish(
        &server,
        &fx,
        event(
            "l1",
            fx.users[0],
            Utc::now() - Duration::minutes(5),
            lesson(course, lesson_id),
        ),
    )
    .await;
    let p = profile(&server, &fx, 0).await;
    assert!(earned(&p).contains(&made.id), "{:?}", earned(&p));
    let bookworm = p
        .achievements
        .iter()
        .find(|a| a.achievement.as_ref().unwrap().id == "bookworm")
        .unwrap();
    assert_eq!(
        (bookworm.earned, bookworm.current, bookworm.target),
        (false, 1, 5)
    );
}

#[tokio::test]
async fn the_ledger_pages_newest_first_and_only_the_person_or_admins_read_it() {
    let (server, fx) = setup(67).await;
    let now = Utc::now();
    for i in 0..5 {
        let e = event(
            &format!("q{i}"),
            fx.users[0],
            now - Duration::days(i) - Duration::minutes(1),
            graded(fx.courses[0], 10.0 + i as f64),
        );
        publish(&server, &fx, e).await;
    }
    let token = server.user_token(fx.users[0], fx.org, Role::Learner);
    let mut token_page = String::new();
    let mut keys = Vec::new();
    let mut times = Vec::new();
    loop {
        let reply = game(&server)
            .list_ledger(authed(
                pb::ListLedgerRequest {
                    user_id: String::new(),
                    page: Some(PageRequest {
                        page_size: 3,
                        page_token: token_page.clone(),
                    }),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        for e in &reply.entries {
            keys.push(e.source_key.clone());
            times.push(e.occurred_at.unwrap().seconds);
        }
        token_page = reply.page.unwrap().next_page_token;
        if token_page.is_empty() {
            break;
        }
    }
    assert_eq!(keys.len(), 10, "5 assessments + 5 streak days: {keys:?}");
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 10, "no entry twice");

    let other = server.user_token(fx.users[1], fx.org, Role::Learner);
    let denied = game(&server)
        .get_profile(authed(
            pb::GetProfileRequest {
                user_id: fx.users[0].to_string(),
            },
            &other,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let (admin, _) = server.person(Some(fx.org), &[Role::OrgAdmin]).await;
    let admin = server.user_token(admin, fx.org, Role::OrgAdmin);
    let seen = game(&server)
        .get_profile(authed(
            pb::GetProfileRequest {
                user_id: fx.users[0].to_string(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.total_points, (10 + 11 + 12 + 13 + 14) + 5 * 10);
    let (stranger, other_org) = server.person(None, &[Role::OrgAdmin]).await;
    let stranger = server.user_token(stranger, other_org, Role::OrgAdmin);
    let hidden = game(&server)
        .get_profile(authed(
            pb::GetProfileRequest {
                user_id: fx.users[0].to_string(),
            },
            &stranger,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        hidden.code(),
        Code::NotFound,
        "another organization's person is not found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_share_a_board_and_see_their_rank_move() {
    let server = TestServer::start_with(stride::config::Limits {
        board_watch_interval_ms: 100,
        max_board_watchers: 12,
        ..Default::default()
    })
    .await;
    let fx = Fixture::new(68);
    fx.create(&server.db_url).await;
    let now = Utc::now();
    for (user, score) in [(0, 90.0), (1, 50.0), (2, 20.0)] {
        let e = event(
            &format!("w{user}"),
            fx.users[user],
            now - Duration::minutes(5),
            graded(fx.courses[0], score),
        );
        publish(&server, &fx, e).await;
    }
    let watch = |user: usize| {
        let token = server.user_token(fx.users[user], fx.org, Role::Learner);
        let mut client = game(&server);
        async move {
            client
                .watch_leaderboard(authed(
                    pb::WatchLeaderboardRequest {
                        period: pb::LeaderboardPeriod::AllTime as i32,
                        top: 3,
                        ..Default::default()
                    },
                    &token,
                ))
                .await
        }
    };
    // Ten watchers of one board: users 0-2, several times each.
    let mut streams = Vec::new();
    for i in 0..10 {
        streams.push((i % 3, watch(i % 3).await.expect("watch").into_inner()));
    }
    for (user, stream) in streams.iter_mut() {
        let first = stream.next().await.unwrap().unwrap();
        let points: Vec<u64> = first.entries.iter().map(|e| e.points).collect();
        assert_eq!(points, [100, 60, 30]);
        assert_eq!(first.own.unwrap().rank, *user as u32 + 1);
        assert_eq!(first.entries.iter().filter(|e| e.is_caller).count(), 1);
    }
    // User 2 overtakes everyone: every watcher is told, with its own rank.
    let e = event(
        "w2b",
        fx.users[2],
        now - Duration::minutes(1),
        graded(fx.courses[0], 100.0),
    );
    publish(&server, &fx, e).await;
    for (user, stream) in streams.iter_mut() {
        let update = stream.next().await.unwrap().unwrap();
        let points: Vec<u64> = update.entries.iter().map(|e| e.points).collect();
        assert_eq!(points, [130, 100, 60]);
        let expected = [2, 3, 1][*user];
        assert_eq!(update.own.unwrap().rank, expected, "user {user}");
    }
    // The bound: 10 open, 2 more fit, the 13th is shed.
    let _a = watch(0).await.expect("11th");
    let _b = watch(0).await.expect("12th");
    let refused = watch(0).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    drop(streams);
    let bad = game(&server)
        .watch_leaderboard(authed(
            pb::WatchLeaderboardRequest {
                top: 51,
                ..Default::default()
            },
            &server.user_token(fx.users[0], fx.org, Role::Learner),
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("top"), "{}", bad.message());
}

#[tokio::test]
async fn a_watched_board_renews_the_snapshot_get_answers_from_memory() {
    let server = TestServer::start_with(stride::config::Limits {
        board_cache_ms: 600_000,
        board_watch_interval_ms: 100,
        ..Default::default()
    })
    .await;
    let fx = Fixture::new(69);
    fx.create(&server.db_url).await;
    let now = Utc::now();
    for (user, score) in [(0, 90.0), (1, 50.0)] {
        let e = event(
            &format!("s{user}"),
            fx.users[user],
            now - Duration::minutes(5),
            graded(fx.courses[0], score),
        );
        publish(&server, &fx, e).await;
    }
    let token = server.user_token(fx.users[0], fx.org, Role::Learner);
    let all_time = || pb::GetLeaderboardRequest {
        period: pb::LeaderboardPeriod::AllTime as i32,
        ..Default::default()
    };
    let points = |entries: &[pb::LeaderboardEntry]| -> Vec<u64> {
        entries.iter().map(|e| e.points).collect()
    };
    let get = || {
        let mut client = game(&server);
        let request = authed(all_time(), &token);
        async move {
            client
                .get_leaderboard(request)
                .await
                .map(|r| r.into_inner())
        }
    };
    let before = get().await.expect("the board through a transaction");
    assert_eq!(points(&before.entries), [100, 60]);

    // User 1 overtakes; Get keeps answering its ten-minute snapshot.
    let e = event(
        "s1b",
        fx.users[1],
        now - Duration::minutes(1),
        graded(fx.courses[0], 100.0),
    );
    publish(&server, &fx, e).await;
    let stale = get().await.unwrap();
    assert_eq!(points(&stale.entries), [100, 60], "the snapshot is kept");

    // A watcher's round reads the board afresh...
    let mut stream = game(&server)
        .watch_leaderboard(authed(
            pb::WatchLeaderboardRequest {
                period: pb::LeaderboardPeriod::AllTime as i32,
                top: 10,
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("watch")
        .into_inner();
    let seen = stream.next().await.unwrap().unwrap();
    let fresh = points(&seen.entries);
    assert_eq!(fresh[0], 160, "the watch sees user 1 ahead: {fresh:?}");

    // ...and Get answers what it read, from memory: no table of the
    // transaction is needed.
    let mut owner = AsyncPgConnection::establish(&server.db_url).await.unwrap();
    owner
        .batch_execute("BEGIN; LOCK TABLE organizations IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let after = tokio::time::timeout(std::time::Duration::from_secs(10), get())
        .await
        .expect("the renewed snapshot needs no table of the transaction")
        .unwrap();
    owner.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(points(&after.entries), fresh);
    assert_eq!(after.own.unwrap().rank, 2);
}
