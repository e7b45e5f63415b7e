//! Gamification rows and rules as protobuf messages.

use crate::db::models::achievement::Achievement;
use crate::proto::gamification::v1 as pb;

pub use crate::api::timestamp::to_timestamp as timestamp;

pub fn achievement(row: &Achievement) -> pb::Achievement {
    pb::Achievement {
        id: row.id.clone(),
        name: row.name.clone(),
        description: row.description.clone(),
        icon: row.icon.clone().unwrap_or_default(),
        tier: tier_of(&row.tier) as i32,
        criteria_json: row.criteria.to_string(),
        organization_id: row
            .organization_id
            .map(|o| o.to_string())
            .unwrap_or_default(),
    }
}

fn tier_of(name: &str) -> pb::AchievementTier {
    match name {
        "beginner" => pb::AchievementTier::Beginner,
        "intermediate" => pb::AchievementTier::Intermediate,
        "advanced" => pb::AchievementTier::Advanced,
        "elite" => pb::AchievementTier::Elite,
        _ => pb::AchievementTier::Unspecified,
    }
}

/// The stored name of a tier sent on the wire; `None` for unspecified or
/// unknown values.
pub fn tier_name(tier: i32) -> Option<&'static str> {
    match pb::AchievementTier::try_from(tier).ok()? {
        pb::AchievementTier::Beginner => Some("beginner"),
        pb::AchievementTier::Intermediate => Some("intermediate"),
        pb::AchievementTier::Advanced => Some("advanced"),
        pb::AchievementTier::Elite => Some("elite"),
        pb::AchievementTier::Unspecified => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_round_trip_and_unknown_ones_are_refused() {
        for tier in ["beginner", "intermediate", "advanced", "elite"] {
            assert_eq!(tier_name(tier_of(tier) as i32), Some(tier));
        }
        assert_eq!(tier_name(0), None);
        assert_eq!(tier_name(99), None);
    }
}
