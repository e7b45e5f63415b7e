//! Raw SQL that stays prepared. diesel keeps a statement in the
//! connection's cache only when its SQL cannot vary: the query builder's
//! statements mostly qualify, but `sql_query` never does (diesel cannot
//! know its text is fixed), nor does a multi-row `VALUES` (its text grows
//! with the rows). Ingestion's set-wise statements are fixed texts over
//! arrays (`unnest($1::uuid[], ...)`, in `db/sql/`): wrapped in
//! [`Prepared`], each is parsed once per connection and cached by its
//! text, and PostgreSQL may move it to a generic plan instead of planning
//! it on every call (most of a small batch's database time, measured in
//! docs/benchmarks.md).

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;

/// A query whose SQL text never changes (an `include_str!` file with
/// binds), kept prepared per connection.
#[derive(Debug, Clone)]
pub struct Prepared<Q>(Q);

/// Keeps `query` prepared. Only for a fixed text: a text built at run time
/// would fill the cache with one statement per variant.
pub fn prepared<Q>(query: Q) -> Prepared<Q> {
    Prepared(query)
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        // The text is fixed: the cache keys it by that text and the binds'
        // types.
        Ok(true)
    }
}

impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

/// One field of every row, as the array a fixed-text statement binds.
pub fn column<'a, R, T>(rows: &'a [R], field: impl Fn(&'a R) -> T) -> Vec<T> {
    rows.iter().map(field).collect()
}
