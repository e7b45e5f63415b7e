//! Proto <-> domain conversions and request validation for the identity
//! service.

use std::collections::HashMap;

use uuid::Uuid;

use crate::api::ApiError;
use crate::api::error::FieldViolation;
use crate::auth::{AuthContext, Principal, Role};
use crate::db::models::organization::{Organization, OrganizationChanges};
use crate::db::models::preferences::Preferences;
use crate::db::models::user::{User, UserChanges};
use crate::domain::{fields, has_nul};
use crate::proto::common::v1 as common;
use crate::proto::identity::v1 as pb;

/// The verified claims of the caller, as WhoAmI reports them.
pub fn who_am_i(ctx: &AuthContext) -> pb::WhoAmIResponse {
    let (active_role, mut roles, mut scopes) = match &ctx.principal {
        Principal::User { role, roles, .. } => (
            role.as_str().to_string(),
            roles
                .iter()
                .map(|r| r.as_str().to_string())
                .collect::<Vec<_>>(),
            Vec::new(),
        ),
        Principal::Service { scopes, .. } => (
            String::new(),
            Vec::new(),
            scopes
                .iter()
                .map(|s| s.as_str().to_string())
                .collect::<Vec<_>>(),
        ),
    };
    roles.sort();
    scopes.sort();
    pb::WhoAmIResponse {
        subject: ctx.claims.sub.clone(),
        organization_id: ctx.org_id().map(|o| o.to_string()).unwrap_or_default(),
        roles,
        active_role,
        scopes,
        token_id: ctx.claims.jti.to_string(),
        expires_at: Some(prost_types::Timestamp {
            seconds: ctx.claims.exp,
            nanos: 0,
        }),
    }
}

pub use crate::api::timestamp::to_timestamp as timestamp;

pub fn role_to_proto(role: Role) -> common::Role {
    match role {
        Role::Learner => common::Role::Learner,
        Role::Trainer => common::Role::Trainer,
        Role::OrgAdmin => common::Role::OrgAdmin,
        Role::PlatformAdmin => common::Role::PlatformAdmin,
    }
}

/// A role field; unknown or unspecified values are invalid.
pub fn role_from_proto(field: &str, value: i32) -> Result<Role, ApiError> {
    match common::Role::try_from(value) {
        Ok(common::Role::Learner) => Ok(Role::Learner),
        Ok(common::Role::Trainer) => Ok(Role::Trainer),
        Ok(common::Role::OrgAdmin) => Ok(Role::OrgAdmin),
        Ok(common::Role::PlatformAdmin) => Ok(Role::PlatformAdmin),
        Ok(common::Role::Unspecified) | Err(_) => Err(ApiError::invalid(
            field,
            "must be ROLE_LEARNER, ROLE_TRAINER, ROLE_ORG_ADMIN or ROLE_PLATFORM_ADMIN",
        )),
    }
}

/// A stored user with its roles.
pub fn user(user: &User, roles: &[String]) -> pb::User {
    pb::User {
        id: user.id.to_string(),
        organization_id: user.organization_id.to_string(),
        email: user.email.clone(),
        full_name: user.full_name.clone(),
        avatar_url: user.avatar_url.clone().unwrap_or_default(),
        time_zone: user.time_zone.clone(),
        department_id: user
            .department_id
            .map(|d| d.to_string())
            .unwrap_or_default(),
        team_id: user.team_id.map(|d| d.to_string()).unwrap_or_default(),
        job_role: user.job_role.clone().unwrap_or_default(),
        roles: roles
            .iter()
            .filter_map(|r| r.parse::<Role>().ok())
            .map(|r| role_to_proto(r) as i32)
            .collect(),
        active: user.is_active,
        created_at: Some(timestamp(user.created_at)),
        deactivated_at: user.deactivated_at.map(timestamp),
    }
}

/// Users with their roles, from `User::roles_of` rows.
pub fn users(list: &[User], roles: &[(Uuid, String)]) -> Vec<pb::User> {
    let mut by_user: HashMap<Uuid, Vec<String>> = HashMap::new();
    for (id, role) in roles {
        by_user.entry(*id).or_default().push(role.clone());
    }
    list.iter()
        .map(|u| user(u, by_user.get(&u.id).map(Vec::as_slice).unwrap_or_default()))
        .collect()
}

pub fn organization(org: &Organization) -> pb::Organization {
    pb::Organization {
        id: org.id.to_string(),
        name: org.name.clone(),
        domain: org.domain.clone().unwrap_or_default(),
        time_zone: org.time_zone.clone(),
        settings_json: org.settings.to_string(),
        created_at: Some(timestamp(org.created_at)),
        updated_at: Some(timestamp(org.updated_at)),
    }
}

pub fn preferences(prefs: &Preferences) -> pb::Preferences {
    let privacy = match prefs.leaderboard_privacy.as_str() {
        "anonymous" => common::LeaderboardPrivacy::Anonymous,
        "hidden" => common::LeaderboardPrivacy::Hidden,
        _ => common::LeaderboardPrivacy::Public,
    };
    pb::Preferences {
        leaderboard_privacy: privacy as i32,
        drop_off_risk_opt_out: prefs.drop_off_risk_opt_out,
        forecasting_opt_out: prefs.forecasting_opt_out,
        recommendations_opt_out: prefs.recommendations_opt_out,
        notifications: prefs
            .notification_preferences
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_bool().map(|b| (k.clone(), b)))
                    .collect()
            })
            .unwrap_or_default(),
        updated_at: Some(timestamp(prefs.updated_at)),
    }
}

/// Applies the requested preference changes (all fields, or those named in
/// the mask) onto `stored`.
pub fn apply_preferences(
    stored: &mut Preferences,
    wanted: &pb::Preferences,
    mask: &[String],
) -> Result<(), ApiError> {
    let all = mask.is_empty();
    let wants = |name: &str| all || mask.iter().any(|m| m == name);
    for name in mask {
        if ![
            "leaderboard_privacy",
            "drop_off_risk_opt_out",
            "forecasting_opt_out",
            "recommendations_opt_out",
            "notifications",
        ]
        .contains(&name.as_str())
        {
            return Err(ApiError::invalid(
                "update_mask",
                format!("unknown field {name:?}"),
            ));
        }
    }
    if wants("leaderboard_privacy") {
        stored.leaderboard_privacy =
            match common::LeaderboardPrivacy::try_from(wanted.leaderboard_privacy) {
                Ok(common::LeaderboardPrivacy::Public) => "public",
                Ok(common::LeaderboardPrivacy::Anonymous) => "anonymous",
                Ok(common::LeaderboardPrivacy::Hidden) => "hidden",
                // Unset in a full update keeps the stored value.
                Ok(common::LeaderboardPrivacy::Unspecified) if all => {
                    stored.leaderboard_privacy.as_str()
                }
                _ => {
                    return Err(ApiError::invalid(
                        "preferences.leaderboard_privacy",
                        "must be PUBLIC, ANONYMOUS or HIDDEN",
                    ));
                }
            }
            .to_string();
    }
    if wants("drop_off_risk_opt_out") {
        stored.drop_off_risk_opt_out = wanted.drop_off_risk_opt_out;
    }
    if wants("forecasting_opt_out") {
        stored.forecasting_opt_out = wanted.forecasting_opt_out;
    }
    if wants("recommendations_opt_out") {
        stored.recommendations_opt_out = wanted.recommendations_opt_out;
    }
    if wants("notifications") {
        if wanted.notifications.len() > 64 || wanted.notifications.keys().any(|k| k.len() > 64) {
            return Err(ApiError::invalid(
                "preferences.notifications",
                "at most 64 entries with keys of at most 64 characters",
            ));
        }
        stored.notification_preferences = serde_json::to_value(&wanted.notifications)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    Ok(())
}

/// A validated new organization.
pub struct NewOrg {
    pub id: Uuid,
    pub name: String,
    pub domain: Option<String>,
    pub time_zone: String,
    pub settings: serde_json::Value,
}

fn org_name(value: &str, bad: &mut Vec<FieldViolation>) -> String {
    let name = value.trim();
    if name.is_empty() || name.chars().count() > 200 {
        bad.push(FieldViolation::new("name", "must be 1-200 characters"));
    } else if has_nul(name) {
        bad.push(FieldViolation::nul("name"));
    }
    name.to_string()
}

fn time_zone(field: &str, value: &str, bad: &mut Vec<FieldViolation>) -> String {
    let tz = if value.is_empty() { "UTC" } else { value };
    if tz.parse::<chrono_tz::Tz>().is_err() {
        bad.push(FieldViolation::new(
            field,
            "must be an IANA time zone such as Europe/Berlin",
        ));
    }
    tz.to_string()
}

fn settings(value: &str, bad: &mut Vec<FieldViolation>) -> serde_json::Value {
    if value.is_empty() {
        return serde_json::json!({});
    }
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(v) if crate::domain::violation::json_has_nul(&v) => {
            bad.push(FieldViolation::nul("settings_json"));
            serde_json::Value::Null
        }
        Ok(v @ serde_json::Value::Object(_)) if value.len() <= 16_384 => v,
        _ => {
            bad.push(FieldViolation::new(
                "settings_json",
                "must be a JSON object of at most 16 KiB",
            ));
            serde_json::Value::Null
        }
    }
}

fn domain(value: &str, bad: &mut Vec<FieldViolation>) -> Option<String> {
    if value.len() > 255 {
        bad.push(FieldViolation::new(
            "domain",
            "must be at most 255 characters",
        ));
    } else if has_nul(value) {
        bad.push(FieldViolation::nul("domain"));
    }
    (!value.is_empty()).then(|| value.to_string())
}

fn done<T>(value: T, bad: Vec<FieldViolation>) -> Result<T, ApiError> {
    if bad.is_empty() {
        Ok(value)
    } else {
        Err(ApiError::InvalidArgument(bad))
    }
}

/// The field mask's paths, checked against the fields an update may name;
/// empty means all of them.
fn mask_paths<'a>(
    mask: &'a Option<prost_types::FieldMask>,
    allowed: &[&'a str],
) -> Result<Vec<&'a str>, ApiError> {
    let paths: Vec<&str> = mask
        .as_ref()
        .map(|m| m.paths.iter().map(String::as_str).collect())
        .unwrap_or_default();
    if let Some(unknown) = paths.iter().find(|p| !allowed.contains(p)) {
        return Err(ApiError::invalid(
            "update_mask",
            format!("unknown field {unknown:?}"),
        ));
    }
    Ok(if paths.is_empty() {
        allowed.to_vec()
    } else {
        paths
    })
}

pub fn new_org(req: &pb::CreateOrganizationRequest) -> Result<NewOrg, ApiError> {
    let mut bad = Vec::new();
    let id = if req.id.is_empty() {
        Uuid::new_v4()
    } else {
        Uuid::parse_str(&req.id).unwrap_or_else(|_| {
            bad.push(FieldViolation::new("id", "must be a UUID or empty"));
            Uuid::nil()
        })
    };
    let org = NewOrg {
        id,
        name: org_name(&req.name, &mut bad),
        time_zone: time_zone("time_zone", &req.time_zone, &mut bad),
        settings: settings(&req.settings_json, &mut bad),
        domain: domain(&req.domain, &mut bad),
    };
    done(org, bad)
}

/// The organization to change and the validated changes.
pub fn org_changes(
    req: &pb::UpdateOrganizationRequest,
) -> Result<(Uuid, OrganizationChanges), ApiError> {
    let org = req
        .organization
        .as_ref()
        .ok_or_else(|| ApiError::invalid("organization", "is required"))?;
    let id = Uuid::parse_str(&org.id)
        .map_err(|_| ApiError::invalid("organization.id", "must be a UUID"))?;
    let paths = mask_paths(
        &req.update_mask,
        &["name", "domain", "time_zone", "settings_json"],
    )?;
    let mut bad = Vec::new();
    let mut changes = OrganizationChanges::default();
    for path in paths {
        match path {
            "name" => changes.name = Some(org_name(&org.name, &mut bad)),
            "domain" => changes.domain = Some(domain(&org.domain, &mut bad)),
            "time_zone" => {
                changes.time_zone = Some(time_zone("time_zone", &org.time_zone, &mut bad))
            }
            _ => changes.settings = Some(settings(&org.settings_json, &mut bad)),
        }
    }
    done((id, changes), bad)
}

/// The user to change, the validated changes and a new password, if any.
pub fn user_changes(
    req: &pb::UpdateUserRequest,
) -> Result<(Uuid, UserChanges, Option<String>), ApiError> {
    let user = req
        .user
        .as_ref()
        .ok_or_else(|| ApiError::invalid("user", "is required"))?;
    let id =
        Uuid::parse_str(&user.id).map_err(|_| ApiError::invalid("user.id", "must be a UUID"))?;
    let paths = mask_paths(
        &req.update_mask,
        &[
            "email",
            "full_name",
            "avatar_url",
            "time_zone",
            "department_id",
            "team_id",
            "job_role",
        ],
    )?;
    let mut bad = Vec::new();
    let mut changes = UserChanges::default();
    let optional_uuid = |field: &str, value: &str, bad: &mut Vec<FieldViolation>| {
        if value.is_empty() {
            return None;
        }
        Uuid::parse_str(value)
            .map_err(|_| bad.push(FieldViolation::new(field, "must be a UUID or empty")))
            .ok()
    };
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    for path in paths {
        match path {
            "email" => changes.email = Some(email(&user.email, &mut bad)),
            "full_name" => changes.full_name = Some(full_name(&user.full_name, &mut bad)),
            "avatar_url" => changes.avatar_url = Some(non_empty(&user.avatar_url)),
            "time_zone" => {
                changes.time_zone = Some(time_zone("time_zone", &user.time_zone, &mut bad))
            }
            "department_id" => {
                changes.department_id = Some(optional_uuid(
                    "department_id",
                    &user.department_id,
                    &mut bad,
                ))
            }
            "team_id" => changes.team_id = Some(optional_uuid("team_id", &user.team_id, &mut bad)),
            _ => changes.job_role = Some(non_empty(&user.job_role)),
        }
    }
    let password = req.password.as_ref().map(|p| password(p, &mut bad));
    done((id, changes, password), bad)
}

/// The address, trimmed, by the rule the catalogue's UpsertUsers shares.
fn email(value: &str, bad: &mut Vec<FieldViolation>) -> String {
    match fields::email(value) {
        Ok(email) => email.to_string(),
        Err(why) => {
            bad.push(FieldViolation::new("email", why));
            value.trim().to_string()
        }
    }
}

fn full_name(value: &str, bad: &mut Vec<FieldViolation>) -> String {
    if value.chars().count() > 200 {
        bad.push(FieldViolation::new(
            "full_name",
            "must be at most 200 characters",
        ));
    } else if has_nul(value) {
        bad.push(FieldViolation::nul("full_name"));
    }
    value.trim().to_string()
}

fn password(value: &str, bad: &mut Vec<FieldViolation>) -> String {
    if value.chars().count() < MIN_PASSWORD_CHARS || value.len() > 1024 {
        bad.push(FieldViolation::new(
            "password",
            format!("must be {MIN_PASSWORD_CHARS} characters to 1024 bytes"),
        ));
    }
    value.to_string()
}

/// A validated new user.
pub struct NewUserInput {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub password: Option<String>,
    pub avatar_url: Option<String>,
    /// `None`: the organization's time zone.
    pub time_zone: Option<String>,
    pub department_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub job_role: Option<String>,
    pub roles: Vec<Role>,
}

/// Shortest password accepted.
const MIN_PASSWORD_CHARS: usize = 12;

pub fn new_user(req: &pb::CreateUserRequest) -> Result<NewUserInput, ApiError> {
    let mut bad = Vec::new();
    let mut optional_uuid = |field: &str, value: &str| -> Option<Uuid> {
        if value.is_empty() {
            return None;
        }
        Uuid::parse_str(value)
            .map_err(|_| bad.push(FieldViolation::new(field, "must be a UUID or empty")))
            .ok()
    };
    let id = optional_uuid("id", &req.id).unwrap_or_else(Uuid::new_v4);
    let department_id = optional_uuid("department_id", &req.department_id);
    let team_id = optional_uuid("team_id", &req.team_id);
    let email = email(&req.email, &mut bad);
    let full_name = full_name(&req.full_name, &mut bad);
    if !req.password.is_empty() {
        password(&req.password, &mut bad);
    }
    if !req.time_zone.is_empty() && req.time_zone.parse::<chrono_tz::Tz>().is_err() {
        bad.push(FieldViolation::new(
            "time_zone",
            "must be an IANA time zone such as Europe/Berlin",
        ));
    }
    if req.job_role.len() > 100 {
        bad.push(FieldViolation::new(
            "job_role",
            "must be at most 100 characters",
        ));
    } else if has_nul(&req.job_role) {
        bad.push(FieldViolation::nul("job_role"));
    }
    let mut roles = Vec::new();
    for (i, value) in req.roles.iter().enumerate() {
        match role_from_proto(&format!("roles[{i}]"), *value) {
            Ok(role) if !roles.contains(&role) => roles.push(role),
            Ok(_) => {}
            Err(ApiError::InvalidArgument(mut v)) => bad.append(&mut v),
            Err(other) => return Err(other),
        }
    }
    if roles.is_empty() {
        roles.push(Role::Learner);
    }
    if !bad.is_empty() {
        return Err(ApiError::InvalidArgument(bad));
    }
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok(NewUserInput {
        id,
        email,
        full_name,
        password: non_empty(&req.password),
        avatar_url: non_empty(&req.avatar_url),
        time_zone: non_empty(&req.time_zone),
        department_id,
        team_id,
        job_role: non_empty(&req.job_role),
        roles,
    })
}
