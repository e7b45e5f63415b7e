use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;

use crate::harness::TestDb;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Relations, functions and materialized views Stride owns in `public`,
/// besides diesel's own bookkeeping table.
const OBJECTS: &str = "
    SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relname <> '__diesel_schema_migrations'
               AND c.relname NOT LIKE '__diesel_schema_migrations%')
         + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public') AS n";

async fn object_count(db: &TestDb) -> i64 {
    let mut conn = db.connect().await;
    diesel::sql_query(OBJECTS)
        .get_result::<Count>(&mut conn)
        .await
        .expect("count objects")
        .n
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_go_up_down_and_up_again() {
    let db = TestDb::empty().await;
    assert_eq!(object_count(&db).await, 0, "starts empty");

    let applied = stride::db::migrate(&db.url).await.expect("first up");
    assert!(!applied.is_empty(), "migrations were applied");
    let after_up = object_count(&db).await;
    assert!(after_up > 20, "the schema exists ({after_up} objects)");

    let reverted = stride::db::revert_all(&db.url).await.expect("down");
    assert_eq!(reverted.len(), applied.len(), "every migration reverted");
    assert_eq!(object_count(&db).await, 0, "down leaves nothing behind");

    let again = stride::db::migrate(&db.url).await.expect("second up");
    assert_eq!(again, applied);
    assert_eq!(
        object_count(&db).await,
        after_up,
        "second up rebuilds the same schema"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn migrating_twice_is_a_no_op() {
    let db = TestDb::migrated().await;
    let applied = stride::db::migrate(&db.url).await.expect("migrate");
    assert!(
        applied.is_empty(),
        "template was fully migrated: {applied:?}"
    );
}

/// `assessments.passed` is generated in SQL (`score >= 70`): it must say
/// what `domain::thresholds::PASS_MARK` says, or the analytics and the
/// stored column would disagree on who passed.
#[tokio::test(flavor = "multi_thread")]
async fn the_generated_passed_column_uses_the_pass_mark() {
    #[derive(QueryableByName)]
    struct Expr {
        #[diesel(sql_type = diesel::sql_types::Text)]
        expr: String,
    }
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let found = diesel::sql_query(
        "SELECT pg_get_expr(d.adbin, d.adrelid) AS expr FROM pg_attrdef d \
         JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum \
         WHERE d.adrelid = 'assessments'::regclass AND a.attname = 'passed'",
    )
    .get_result::<Expr>(&mut conn)
    .await
    .expect("the generation expression of assessments.passed");
    // PostgreSQL prints it as "(score >= (70)::double precision)".
    let mark = found
        .expr
        .strip_prefix("(score >= (")
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("unexpected expression {:?}", found.expr));
    assert_eq!(
        mark,
        stride::domain::thresholds::PASS_MARK,
        "{}",
        found.expr
    );
}

/// The skill-demand view counts the mastered in SQL (`mastery_level >= 80`):
/// it must use `domain::thresholds::MASTERY`.
#[tokio::test(flavor = "multi_thread")]
async fn the_skill_demand_view_counts_mastery_at_the_threshold() {
    #[derive(QueryableByName)]
    struct Def {
        #[diesel(sql_type = diesel::sql_types::Text)]
        def: String,
    }
    let db = TestDb::migrated().await;
    let mut conn = db.connect().await;
    let view =
        diesel::sql_query("SELECT pg_get_viewdef('skill_demand_aggregates'::regclass) AS def")
            .get_result::<Def>(&mut conn)
            .await
            .expect("the view's definition");
    let marks: Vec<f64> = view
        .def
        .match_indices("mastery_level >= (")
        .filter_map(|(at, found)| {
            let rest = &view.def[at + found.len()..];
            rest.split(')').next()?.parse().ok()
        })
        .collect();
    assert!(!marks.is_empty(), "no mastery test in {}", view.def);
    for mark in marks {
        assert_eq!(mark, stride::domain::thresholds::MASTERY, "{}", view.def);
    }
}
