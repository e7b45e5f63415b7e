//! The one error type of the API layer and its one conversion into a gRPC
//! status. Internal details (SQL, pool state) are logged here, once, and
//! never sent: the caller gets a fixed message and a retryable code where
//! retrying helps.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub use crate::domain::FieldViolation;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid argument")]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    ResourceExhausted(String),
    /// The database cannot be reached or is overloaded; the caller may retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A statement ran past the database's statement_timeout (the request
    /// deadline): the detail is only logged.
    #[error("statement timeout: {0}")]
    DeadlineExceeded(String),
    /// A bug or an unexpected database error; the detail is only logged.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// One bad field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        ApiError::InvalidArgument(vec![FieldViolation::new(field, description)])
    }
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Status {
        match err {
            ApiError::InvalidArgument(violations) => {
                let summary = violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.description))
                    .collect::<Vec<_>>()
                    .join("; ");
                let details = ErrorDetails::with_bad_request(
                    violations
                        .into_iter()
                        .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                        .collect::<Vec<_>>(),
                );
                Status::with_error_details(Code::InvalidArgument, summary, details)
            }
            ApiError::NotFound(what) => Status::not_found(format!("{what} not found")),
            ApiError::AlreadyExists(msg) => Status::already_exists(msg),
            ApiError::PermissionDenied(msg) => Status::permission_denied(msg),
            ApiError::Unauthenticated(msg) => Status::unauthenticated(msg),
            ApiError::ResourceExhausted(msg) => Status::resource_exhausted(msg),
            ApiError::Unavailable(detail) => {
                tracing::warn!(error.detail = %detail, "database unavailable");
                Status::unavailable("the database is unavailable; retry with backoff")
            }
            ApiError::DeadlineExceeded(detail) => {
                tracing::warn!(error.detail = %detail, "statement timed out");
                Status::deadline_exceeded(
                    "the database work took longer than the server's limit \
                     (STRIDE_REQUEST_TIMEOUT_MS); retry later or ask for less",
                )
            }
            ApiError::Internal(detail) => {
                tracing::error!(error.detail = %detail, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

impl From<crate::auth::password::HashFailed> for ApiError {
    fn from(err: crate::auth::password::HashFailed) -> Self {
        ApiError::Internal(err.0)
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        use crate::db::pg_error::{self, PgError};
        // The token check folded into BEGIN refused; the auth layer
        // answers with the precise reason.
        if crate::db::tenant::refusal_in(&err).is_some() {
            return ApiError::Unauthenticated("the token no longer works".into());
        }
        let detail = || pg_error::detail(&err);
        match PgError::of(&err) {
            PgError::NotFound => ApiError::NotFound("record".into()),
            PgError::UniqueViolation => {
                ApiError::AlreadyExists("a record with the same key already exists".into())
            }
            PgError::ForeignKeyViolation => {
                let field = pg_error::info(&err)
                    .and_then(|info| referring_field(info.table_name(), info.constraint_name()));
                ApiError::invalid(
                    field.unwrap_or_else(|| "request".into()),
                    "refers to a record that does not exist or is not visible",
                )
            }
            PgError::RowSecurity => {
                ApiError::PermissionDenied("outside the caller's organization".into())
            }
            // Validation refuses U+0000 with its field where it can; this
            // answers the rest as the caller's mistake.
            PgError::NulInText => ApiError::invalid(
                "request",
                "a text value must not contain the NUL character (U+0000)",
            ),
            PgError::Timeout => ApiError::DeadlineExceeded(detail()),
            // The same call can succeed when retried, or elsewhere.
            PgError::Retryable | PgError::Unavailable => ApiError::Unavailable(detail()),
            PgError::OtherConstraint | PgError::Other => ApiError::Internal(err.to_string()),
        }
    }
}

/// The field a foreign key violation is about, from PostgreSQL's default
/// constraint name `<table>_<columns>_fkey`; the tenant column that every
/// composite key starts with is left out (`users_organization_id_
/// department_id_fkey` names `department_id`).
fn referring_field(table: Option<&str>, constraint: Option<&str>) -> Option<String> {
    let columns = constraint?
        .strip_prefix(table?)?
        .strip_prefix('_')?
        .strip_suffix("_fkey")?;
    let field = columns.strip_prefix("organization_id_").unwrap_or(columns);
    (!field.is_empty()).then(|| field.to_string())
}

impl From<crate::db::PoolError> for ApiError {
    fn from(err: crate::db::PoolError) -> Self {
        // Saturated: back off. Any other pool failure (refused connection,
        // closed pool) means the database cannot serve now.
        if crate::db::pool_busy(&err) {
            return ApiError::ResourceExhausted(crate::db::POOL_BUSY.into());
        }
        ApiError::Unavailable(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_field_violations() {
        let status = Status::from(ApiError::invalid("score", "must be between 0 and 100"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("score"));
        let details = status.get_error_details();
        let bad = details.bad_request().expect("bad request details");
        assert_eq!(bad.field_violations.len(), 1);
        assert_eq!(bad.field_violations[0].field, "score");
    }

    #[test]
    fn internal_errors_do_not_leak_details() {
        let status = Status::from(ApiError::Internal(
            "relation \"users\" does not exist".into(),
        ));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("users"));
    }

    #[test]
    fn unavailable_is_retryable_and_hides_details() {
        let status = Status::from(ApiError::Unavailable(
            "connection refused 127.0.0.1:5432".into(),
        ));
        assert_eq!(status.code(), Code::Unavailable);
        assert!(!status.message().contains("5432"));
    }

    #[test]
    fn diesel_not_found_maps_to_not_found() {
        let status = Status::from(ApiError::from(diesel::result::Error::NotFound));
        assert_eq!(status.code(), Code::NotFound);
    }

    #[test]
    fn a_statement_timeout_is_deadline_exceeded_and_a_conflict_is_retryable() {
        use diesel::result::{DatabaseErrorKind, Error};
        let timeout = Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("canceling statement due to statement timeout".to_string()),
        );
        let status = Status::from(ApiError::from(timeout));
        assert_eq!(status.code(), Code::DeadlineExceeded);
        assert!(status.message().contains("STRIDE_REQUEST_TIMEOUT_MS"));
        assert!(!status.message().contains("canceling"));

        let conflict = Error::DatabaseError(
            DatabaseErrorKind::SerializationFailure,
            Box::new("canceling statement due to conflict with recovery".to_string()),
        );
        assert_eq!(
            Status::from(ApiError::from(conflict)).code(),
            Code::Unavailable
        );
    }

    #[test]
    fn a_foreign_key_violation_names_the_referring_column() {
        let field = |t, c| referring_field(Some(t), Some(c));
        assert_eq!(
            field("users", "users_organization_id_department_id_fkey").as_deref(),
            Some("department_id")
        );
        assert_eq!(
            field("enrollments", "enrollments_course_id_fkey").as_deref(),
            Some("course_id")
        );
        assert_eq!(field("users", "some_custom_name"), None);
        assert_eq!(referring_field(None, Some("users_x_fkey")), None);
    }
}
