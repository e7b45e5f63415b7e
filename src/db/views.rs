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

diesel::table! {
    /// Skill demand cohorts of the caller's organization (migration 000006);
    /// raw counts: the service suppresses groups under 10.
    tenant_skill_demand (skill_id, organization_id, month) {
        skill_id -> Uuid,
        organization_id -> Uuid,
        month -> Date,
        learner_count -> Int8,
        mastered_count -> Int8,
        avg_mastery -> Nullable<Float8>,
    }
}

diesel::table! {
    /// Platform-wide skills summed over all organizations per month, cohorts
    /// under 10 learners already suppressed (migration 000006).
    platform_skill_demand (skill_id, month) {
        skill_id -> Uuid,
        month -> Date,
        suppressed -> Bool,
        learner_count -> Nullable<Int8>,
        mastered_count -> Nullable<Int8>,
        avg_mastery -> Nullable<Float8>,
    }
}
