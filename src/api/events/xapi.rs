//! ImportXapiStatements: statements from an LRS mapped onto Stride events
//! (`domain::xapi`), people resolved by account UUID or email, then the same
//! ingestion as PublishEvents (the statement id is the event id).

use std::collections::HashMap;

use chrono::Utc;
use uuid::Uuid;

use super::convert::struct_to_json;
use super::ingest::{self, Checked};
use crate::api::{ApiError, AppState};
use crate::auth::AuthContext;
use crate::db::ingest::Outcome;
use crate::db::models::user::User;
use crate::domain::FieldViolation;
use crate::domain::events::validate;
use crate::domain::xapi::{Actor, MappedStatement, XapiError, map_statement};
use crate::proto::events::v1 as pb;

/// Most statements per call (one ingestion batch).
pub const MAX_STATEMENTS: usize = 1000;

/// What became of one statement before ingestion.
enum Mapped {
    Event(Box<MappedStatement>),
    Refused(pb::XapiResult),
}

pub async fn import(
    state: &AppState,
    ctx: &AuthContext,
    request: pb::ImportXapiStatementsRequest,
) -> Result<pb::ImportXapiStatementsResponse, ApiError> {
    let count = request.statements.len();
    if count == 0 || count > MAX_STATEMENTS {
        return Err(ApiError::invalid(
            "statements",
            format!("send 1-{MAX_STATEMENTS} statements per call"),
        ));
    }
    let org = organization(ctx, &request.organization_id)?;
    let mapped: Vec<Mapped> = request
        .statements
        .iter()
        .enumerate()
        .map(|(index, s)| match map_statement(&struct_to_json(s)) {
            Ok(m) => Mapped::Event(Box::new(m)),
            Err(err) => Mapped::Refused(refused(index, err)),
        })
        .collect();
    let emails = resolve_emails(state, ctx, org, &mapped).await?;

    // Statements that mapped, as events of resolved people, in order.
    let now = Utc::now();
    let mut slots = Vec::with_capacity(count);
    let mut checked: Vec<Checked> = Vec::new();
    for (index, m) in mapped.into_iter().enumerate() {
        match m {
            Mapped::Refused(result) => slots.push(Err(result)),
            Mapped::Event(m) => {
                let user = match &m.actor {
                    Actor::UserId(id) => Some(*id),
                    Actor::Email(email) => emails.get(email).copied(),
                };
                let mut event = m.event.clone();
                event.organization_id = org.to_string();
                let result = match user {
                    Some(user) => {
                        event.user_id = user.to_string();
                        validate(&event, now)
                    }
                    None => Err(vec![FieldViolation::new(
                        "actor.mbox",
                        "no person with this email in the organization",
                    )]),
                };
                slots.push(Ok((index, m.statement_id.clone(), m.kind)));
                checked.push(result);
            }
        }
    }
    let mut outcomes = if checked.is_empty() {
        Vec::new()
    } else {
        ingest::apply(state, ctx, checked).await?
    }
    .into_iter();
    let results = slots
        .into_iter()
        .map(|slot| match slot {
            Err(result) => result,
            Ok((index, statement_id, kind)) => {
                let outcome = outcomes.next().unwrap_or(Outcome::Invalid(Vec::new()));
                accepted_or_not(index, statement_id, kind, outcome)
            }
        })
        .collect();
    Ok(pb::ImportXapiStatementsResponse { results })
}

/// The organization the statements belong to: the token's, or the one a
/// platform-scoped token names.
fn organization(ctx: &AuthContext, named: &str) -> Result<Uuid, ApiError> {
    let named = if named.is_empty() {
        None
    } else {
        Some(
            Uuid::parse_str(named)
                .map_err(|_| ApiError::invalid("organization_id", "must be a UUID"))?,
        )
    };
    match (ctx.org_id(), named) {
        (Some(own), Some(other)) if own != other => Err(ApiError::PermissionDenied(
            "the token is limited to another organization".into(),
        )),
        (Some(own), _) => Ok(own),
        (None, Some(named)) => Ok(named),
        (None, None) => Err(ApiError::invalid(
            "organization_id",
            "is required with a platform-scoped token",
        )),
    }
}

/// Ids of the people the statements name by email (case-insensitive).
async fn resolve_emails(
    state: &AppState,
    ctx: &AuthContext,
    org: Uuid,
    mapped: &[Mapped],
) -> Result<HashMap<String, Uuid>, ApiError> {
    let mut emails: Vec<String> = mapped
        .iter()
        .filter_map(|m| match m {
            Mapped::Event(m) => match &m.actor {
                Actor::Email(email) => Some(email.clone()),
                Actor::UserId(_) => None,
            },
            Mapped::Refused(_) => None,
        })
        .collect();
    emails.sort();
    emails.dedup();
    if emails.is_empty() {
        return Ok(HashMap::new());
    }
    let found: Vec<(String, Uuid)> = state
        .tx(ctx, move |conn| {
            Box::pin(async move { Ok(User::ids_by_email(conn, org, &emails).await?) })
        })
        .await?;
    Ok(found.into_iter().collect())
}

fn refused(index: usize, err: XapiError) -> pb::XapiResult {
    let (statement_id, outcome, violations) = match err {
        XapiError::UnmappedVerb { statement_id, verb } => (
            statement_id,
            pb::XapiOutcome::UnmappedVerb,
            vec![FieldViolation::new(
                "verb.id",
                format!("{verb:?} has no Stride mapping"),
            )],
        ),
        XapiError::Invalid {
            statement_id,
            violations,
        } => (statement_id, pb::XapiOutcome::Invalid, violations),
    };
    pb::XapiResult {
        index: index as u64,
        statement_id: statement_id.unwrap_or_default(),
        outcome: outcome as i32,
        mapped_kind: String::new(),
        violations: wire(violations),
    }
}

fn accepted_or_not(
    index: usize,
    statement_id: String,
    kind: &str,
    outcome: Outcome,
) -> pb::XapiResult {
    let (outcome, violations) = match outcome {
        Outcome::Accepted(_) => (pb::XapiOutcome::Accepted, Vec::new()),
        Outcome::Duplicate => (pb::XapiOutcome::Duplicate, Vec::new()),
        Outcome::Conflict => (pb::XapiOutcome::Conflict, Vec::new()),
        Outcome::Invalid(v) => (pb::XapiOutcome::Invalid, v),
    };
    pb::XapiResult {
        index: index as u64,
        statement_id,
        outcome: outcome as i32,
        mapped_kind: kind.to_string(),
        violations: wire(violations),
    }
}

fn wire(violations: Vec<FieldViolation>) -> Vec<pb::FieldViolation> {
    violations
        .into_iter()
        .map(|v| pb::FieldViolation {
            field: v.field,
            description: v.description,
        })
        .collect()
}
