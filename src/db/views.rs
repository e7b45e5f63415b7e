//! Views the service reads, declared by hand: `diesel print-schema` emits
//! tables only. Each mirrors a `CREATE VIEW` of migrations/ column for
//! column; the leaderboard tests read every column, so a drift fails them.

diesel::table! {
    /// Live board positions of the caller's tenant (migration 000009).
    tenant_board_points (user_id) {
        organization_id -> Uuid,
        user_id -> Uuid,
        on_board -> Bool,
        total_points -> Int8,
        total_reached_at -> Nullable<Timestamptz>,
        week_start -> Nullable<Date>,
        week_points -> Int8,
        week_reached_at -> Nullable<Timestamptz>,
        month_start -> Nullable<Date>,
        month_points -> Int8,
        month_reached_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    /// What a board may show of a person of the caller's tenant.
    tenant_board_names (user_id) {
        user_id -> Uuid,
        organization_id -> Uuid,
        leaderboard_privacy -> Text,
        display_name -> Nullable<Text>,
    }
}
