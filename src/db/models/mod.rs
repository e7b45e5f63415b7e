//! One module per table: `New<Name>` insert structs (and, as RPCs need them,
//! read structs and queries), checked against `schema.rs` at compile time.
//! The tables ingestion derives (daily activity, skills, assessments) are
//! written only by `db::ingest`, which keeps its row types beside the SQL.

pub mod achievement;
pub mod course;
pub mod department;
pub mod enrollment;
pub mod learning_path;
pub mod organization;
pub mod point_transaction;
pub mod preferences;
pub mod skill;
pub mod user;
pub mod user_points;

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// The catalogue upsert: inserts `rows` into `table`; on a conflict over
/// `key` it updates the listed columns, but only where `guard` holds (the
/// stored row is of the same organization) and a column really changes, so
/// a repeated call writes nothing. Loads `(returning, inserted)` for every
/// row inserted or changed; rows left alone are not returned.
macro_rules! catalog_upsert {
    ($conn:expr, $table:ident, $rows:expr, key: $key:expr, guard: $guard:expr,
     set: [$first:ident $(, $col:ident)* $(,)?], returning: $returning:expr $(,)?) => {{
        use diesel::upsert::excluded;
        let upsert = diesel::insert_into($table::table)
            .values($rows)
            .on_conflict($key)
            .do_update()
            .set((
                $table::$first.eq(excluded($table::$first)),
                $($table::$col.eq(excluded($table::$col)),)*
            ));
        // ON CONFLICT ... DO UPDATE ... WHERE (QueryDsl::filter is for SELECTs).
        diesel::query_dsl::methods::FilterDsl::filter(
            upsert,
            $guard.and(
                $table::$first.is_distinct_from(excluded($table::$first))
                    $(.or($table::$col.is_distinct_from(excluded($table::$col))))*,
            ),
        )
        .returning(($returning, $crate::db::models::was_inserted()))
        .load($conn)
        .await
    }};
}
pub(crate) use catalog_upsert;

/// In the `RETURNING` of an `INSERT ... ON CONFLICT DO UPDATE`: `true` for a
/// row the statement inserted, `false` for one it updated (an updated row
/// version carries the updating transaction in `xmax`, a fresh one 0).
pub fn was_inserted() -> diesel::expression::SqlLiteral<Bool> {
    diesel::dsl::sql::<Bool>("xmax = 0")
}

/// Catalogue tables whose rows belong to an organization (skills: or to
/// none, platform-wide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tenanted {
    Users,
    Departments,
    Courses,
    Lessons,
    LearningPaths,
    Skills,
}

/// `id -> organization_id` of the rows of `table` among `ids` that the
/// transaction may see (row-level security hides the others).
pub async fn owners(
    conn: &mut AsyncPgConnection,
    table: Tenanted,
    ids: &[Uuid],
) -> QueryResult<HashMap<Uuid, Option<Uuid>>> {
    use crate::db::schema::{courses, departments, learning_paths, lessons, skills, users};
    macro_rules! owners_in {
        ($t:ident) => {
            $t::table
                .filter($t::id.eq_any(ids))
                .select(($t::id, $t::organization_id.nullable()))
                .load::<(Uuid, Option<Uuid>)>(conn)
                .await?
        };
    }
    let rows = match table {
        Tenanted::Users => owners_in!(users),
        Tenanted::Departments => owners_in!(departments),
        Tenanted::Courses => owners_in!(courses),
        Tenanted::Lessons => owners_in!(lessons),
        Tenanted::LearningPaths => owners_in!(learning_paths),
        Tenanted::Skills => owners_in!(skills),
    };
    Ok(rows.into_iter().collect())
}
