//! `stride demo` fills a migrated database with a realistic organization.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use stride::db::schema::{daily_activity, learning_events, user_roles, users};
use stride::demo::plan::{DEMO_ADMIN, DEMO_ORG, OTHER_ORG};

use crate::harness::TestDb;

#[tokio::test(flavor = "multi_thread")]
async fn demo_fills_an_organization_once() {
    let db = TestDb::migrated().await;
    let summary = stride::demo::fill(&db.url, 240, 7).await.expect("demo");
    assert!(
        summary.contains(&DEMO_ORG.to_string()),
        "summary names the org: {summary}"
    );

    let mut conn = db.connect().await;
    let learners = role_count(&mut conn, "learner").await;
    // 240 learners plus the org admin, who also learns.
    assert_eq!(learners, 241);
    let trainers = role_count(&mut conn, "trainer").await;
    assert!(trainers >= 6);
    let admin: i64 = users::table
        .filter(users::id.eq(DEMO_ADMIN))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(admin, 1, "the README's org admin exists");
    let events: i64 = learning_events::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert!(events > 10_000, "months of events: {events}");
    let days: i64 = daily_activity::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert!(days > 1_000, "daily activity derived: {days}");
    let other_org_users: i64 = users::table
        .filter(users::organization_id.eq(OTHER_ORG))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert!(other_org_users >= 10, "a second tenant exists");

    // Running it again writes nothing.
    let again = stride::demo::fill(&db.url, 240, 7)
        .await
        .expect("demo again");
    assert!(again.contains("already there"), "{again}");
    let events_after: i64 = learning_events::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(events_after, events);
}

async fn role_count(conn: &mut diesel_async::AsyncPgConnection, role: &str) -> i64 {
    user_roles::table
        .filter(user_roles::organization_id.eq(DEMO_ORG))
        .filter(user_roles::role.eq(role))
        .count()
        .get_result(conn)
        .await
        .expect("count roles")
}
