//! ExportUserData and EraseUser on the analytics campus: everything about a
//! person comes out, then nothing about them remains readable.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use stride::auth::Role;
use stride::proto::identity::v1 as pb;
use stride::proto::identity::v1::identity_service_client::IdentityServiceClient;
use tokio_stream::StreamExt;
use tonic::Code;
use uuid::Uuid;

use crate::analytics_support::Campus;
use crate::harness::{TestServer, authed};
use crate::ingest_support::count;

async fn export(
    server: &TestServer,
    token: &str,
    user: Uuid,
) -> Result<Vec<pb::ExportUserDataResponse>, tonic::Status> {
    let mut stream = IdentityServiceClient::new(server.channel())
        .export_user_data(authed(
            pb::ExportUserDataRequest {
                user_id: user.to_string(),
            },
            token,
        ))
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.push(chunk?);
    }
    Ok(out)
}

#[tokio::test]
async fn an_export_holds_everything_about_the_person_and_only_for_who_may_ask() {
    let (server, campus) = Campus::start().await;
    let l0 = campus.learners[0];
    let own = export(&server, &campus.learner_token(&server, 0), l0)
        .await
        .expect("own export");
    assert!(own.last().unwrap().last);
    assert_eq!(own.iter().filter(|c| c.last).count(), 1);
    let rows = |section: &str| -> Vec<serde_json::Value> {
        own.iter()
            .filter(|c| c.section == section)
            .flat_map(|c| {
                serde_json::from_str::<Vec<serde_json::Value>>(&c.json).expect("a JSON array")
            })
            .collect()
    };
    let user = rows("user");
    assert_eq!(user.len(), 1);
    assert_eq!(user[0]["id"], l0.to_string());
    assert!(user[0].get("password_hash").is_none(), "no password hash");
    for (section, table) in [
        ("events", "learning_events"),
        ("assessments", "assessments"),
        ("enrollments", "enrollments"),
        ("daily_activity", "daily_activity"),
        ("ledger", "point_transactions"),
    ] {
        let stored = count(
            &server.db_url,
            &format!("SELECT count(*) AS n FROM {table} WHERE user_id = '{l0}'"),
        )
        .await;
        assert!(stored > 0, "{table} has rows for L0");
        assert_eq!(rows(section).len() as i64, stored, "{section}");
    }
    // The org admin may; another learner, L0's trainer and another
    // organization's admin may not.
    let admin = campus.token(&server, campus.admin, Role::OrgAdmin);
    assert!(export(&server, &admin, l0).await.is_ok());
    let denied = export(&server, &campus.learner_token(&server, 1), l0)
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let trainer = campus.token(&server, campus.trainer, Role::Trainer);
    assert_eq!(
        export(&server, &trainer, l0).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let (other, _) = server
        .person(Some(campus.other_org), &[Role::OrgAdmin])
        .await;
    let other = server.user_token(other, campus.other_org, Role::OrgAdmin);
    assert_eq!(
        export(&server, &other, l0).await.unwrap_err().code(),
        Code::NotFound
    );
}

#[derive(QueryableByName)]
struct Table {
    #[diesel(sql_type = Text)]
    table_name: String,
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[tokio::test]
async fn erasure_leaves_nothing_readable_and_an_audit_without_the_person() {
    let (server, campus) = Campus::start().await;
    let mut identity = IdentityServiceClient::new(server.channel());
    let admin = campus.token(&server, campus.admin, Role::OrgAdmin);
    // L4 was helped by L3 (L3's events name L4) and has events of their own.
    let l4 = campus.learners[4];
    let erase = |user: Uuid, confirm: Uuid, token: &str| {
        authed(
            pb::EraseUserRequest {
                user_id: user.to_string(),
                confirm_user_id: confirm.to_string(),
            },
            token,
        )
    };
    let mismatch = identity
        .erase_user(erase(l4, campus.learners[5], &admin))
        .await
        .unwrap_err();
    assert_eq!(mismatch.code(), Code::InvalidArgument);
    assert!(mismatch.message().contains("confirm_user_id"));
    let learner = identity
        .erase_user(erase(l4, l4, &campus.learner_token(&server, 4)))
        .await
        .unwrap_err();
    assert_eq!(learner.code(), Code::PermissionDenied);
    let (other, _) = server
        .person(Some(campus.other_org), &[Role::OrgAdmin])
        .await;
    let other = server.user_token(other, campus.other_org, Role::OrgAdmin);
    assert_eq!(
        identity
            .erase_user(erase(l4, l4, &other))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        count(
            &server.db_url,
            &format!("SELECT count(*) AS n FROM learning_events WHERE user_id = '{l4}'")
        )
        .await,
        4,
        "nothing erased by the refused calls"
    );

    let done = identity
        .erase_user(erase(l4, l4, &admin))
        .await
        .expect("erase")
        .into_inner();
    assert_eq!(done.rows_by_table.get("users"), Some(&1));
    // Enrolled, assessed, mastery, completed.
    assert_eq!(done.rows_by_table.get("learning_events"), Some(&4));
    assert!(
        done.rows_by_table
            .contains_key("learning_events (peers, anonymized)")
    );

    // Every table with a user_id column, and every text that could hold
    // the id, as the owner (no row-level security): nothing.
    let mut owner = AsyncPgConnection::establish(&server.db_url).await.unwrap();
    let tables: Vec<Table> = diesel::sql_query(
        "SELECT c.table_name::text AS table_name FROM information_schema.columns c \
           JOIN information_schema.tables t USING (table_schema, table_name) \
          WHERE c.table_schema = 'public' AND c.column_name = 'user_id' AND t.table_type = 'BASE TABLE'",
    )
    .load(&mut owner)
    .await
    .unwrap();
    assert!(tables.len() >= 14, "{} tables", tables.len());
    for t in tables {
        let n: N = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM {} WHERE user_id = '{l4}'",
            t.table_name
        ))
        .get_result(&mut owner)
        .await
        .unwrap();
        assert_eq!(
            n.n, 0,
            "{} still has rows of the erased person",
            t.table_name
        );
    }
    for sql in [
        format!("SELECT count(*) AS n FROM users WHERE id = '{l4}'"),
        format!("SELECT count(*) AS n FROM learning_events WHERE payload::text LIKE '%{l4}%'"),
        format!("SELECT count(*) AS n FROM analytics_cache WHERE result::text LIKE '%{l4}%'"),
        format!(
            "SELECT count(*) AS n FROM erasure_audit WHERE subject_digest LIKE '%{l4}%' OR counts::text LIKE '%{l4}%'"
        ),
    ] {
        assert_eq!(count(&server.db_url, &sql).await, 0, "{sql}");
    }
    // L3's help is still there, without the name.
    assert_eq!(
        count(
            &server.db_url,
            &format!(
                "SELECT count(*) AS n FROM learning_events WHERE user_id = '{}' AND kind = 'peer_helped'",
                campus.learners[3]
            )
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &server.db_url,
            &format!(
                "SELECT count(*) AS n FROM erasure_audit WHERE id = '{}' AND actor_role = 'org_admin' \
                 AND organization_id = '{}' AND (counts->>'users')::int = 1",
                done.audit_id, campus.org
            )
        )
        .await,
        1
    );
}
