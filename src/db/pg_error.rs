//! What a database error means, decided in one place for every caller (the
//! API's error mapping and ingestion's retry logic).
//!
//! diesel-async names only a few SQLSTATEs (unique, foreign key, check, not
//! null, serialization); everything else arrives as `Unknown` with the
//! server's message, and a connection that is gone as `UnableToSendCommand`
//! with no SQLSTATE at all (it never produces `ClosedConnection`). So the
//! rest is recognised by PostgreSQL's messages, in its default English.

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind as Kind, Error};

/// The meaning of a database error for the call that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgError {
    /// diesel's `NotFound`: a query for one row found none.
    NotFound,
    /// 23505.
    UniqueViolation,
    /// 23503.
    ForeignKeyViolation,
    /// 23514 / 23502 / 23P01: a value no validation foresaw.
    OtherConstraint,
    /// Row-level security refused a write: outside the caller's tenant.
    RowSecurity,
    /// 22021 / 22P05: text or JSON holding U+0000, which PostgreSQL cannot
    /// store.
    NulInText,
    /// 57014 raised by `statement_timeout`.
    Timeout,
    /// 40001 / 40P01: serialization failure, deadlock, or a replica read
    /// cancelled by WAL replay; the same work may succeed again.
    Retryable,
    /// The connection or the server is gone, shutting down or starting
    /// up: retry later, perhaps elsewhere.
    Unavailable,
    /// Anything else: a bug to log, not the caller's doing.
    Other,
}

/// Messages of a server (or connection) that cannot serve now.
const UNAVAILABLE: &[&str] = &[
    "terminating connection",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "server closed the connection",
    "connection closed",
];

impl PgError {
    pub fn of(err: &Error) -> Self {
        let info = match err {
            Error::NotFound => return PgError::NotFound,
            Error::BrokenTransactionManager => return PgError::Unavailable,
            Error::DatabaseError(kind, info) => match kind {
                Kind::UniqueViolation => return PgError::UniqueViolation,
                Kind::ForeignKeyViolation => return PgError::ForeignKeyViolation,
                Kind::SerializationFailure => return PgError::Retryable,
                Kind::UnableToSendCommand | Kind::ClosedConnection => {
                    return PgError::Unavailable;
                }
                Kind::CheckViolation | Kind::NotNullViolation | Kind::ExclusionViolation => {
                    return PgError::OtherConstraint;
                }
                _ => info,
            },
            _ => return PgError::Other,
        };
        let message = info.message();
        if message.contains("row-level security") {
            PgError::RowSecurity
        } else if message.starts_with("invalid byte sequence for encoding \"UTF8\": 0x00")
            || message.starts_with("unsupported Unicode escape sequence")
        {
            PgError::NulInText
        } else if message.contains("statement timeout") {
            PgError::Timeout
        } else if message.starts_with("deadlock detected") {
            PgError::Retryable
        } else if UNAVAILABLE.iter().any(|m| message.contains(m)) {
            PgError::Unavailable
        } else {
            PgError::Other
        }
    }
}

/// The server's report of a database error (`None` for diesel's own).
pub fn info(err: &Error) -> Option<&(dyn DatabaseErrorInformation + Send + Sync)> {
    match err {
        Error::DatabaseError(_, info) => Some(info.as_ref()),
        _ => None,
    }
}

/// What to log of an error: the server's message, else diesel's.
pub fn detail(err: &Error) -> String {
    info(err).map_or_else(|| err.to_string(), |info| info.message().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(kind: Kind, message: &str) -> Error {
        Error::DatabaseError(kind, Box::new(message.to_string()))
    }

    #[test]
    fn the_kinds_diesel_names_are_taken_as_named() {
        assert_eq!(PgError::of(&Error::NotFound), PgError::NotFound);
        assert_eq!(
            PgError::of(&db(Kind::UniqueViolation, "duplicate key")),
            PgError::UniqueViolation
        );
        assert_eq!(
            PgError::of(&db(Kind::ForeignKeyViolation, "violates foreign key")),
            PgError::ForeignKeyViolation
        );
        assert_eq!(
            PgError::of(&db(Kind::CheckViolation, "violates check")),
            PgError::OtherConstraint
        );
        assert_eq!(
            PgError::of(&db(
                Kind::SerializationFailure,
                "could not serialize access"
            )),
            PgError::Retryable
        );
    }

    #[test]
    fn a_lost_connection_is_unavailable_however_it_arrives() {
        for err in [
            // What diesel-async makes of a socket that closed (no SQLSTATE).
            db(Kind::UnableToSendCommand, "connection closed"),
            // 57P01, read from the backend before it went.
            db(
                Kind::Unknown,
                "terminating connection due to administrator command",
            ),
            db(Kind::Unknown, "the database system is shutting down"),
            db(Kind::Unknown, "the database system is starting up"),
            Error::BrokenTransactionManager,
        ] {
            assert_eq!(PgError::of(&err), PgError::Unavailable, "{err}");
        }
    }

    #[test]
    fn known_messages_are_read_and_the_rest_is_other() {
        let cases = [
            (
                "canceling statement due to statement timeout",
                PgError::Timeout,
            ),
            ("deadlock detected", PgError::Retryable),
            (
                "new row violates row-level security policy for table \"users\"",
                PgError::RowSecurity,
            ),
            (
                "invalid byte sequence for encoding \"UTF8\": 0x00",
                PgError::NulInText,
            ),
            ("division by zero", PgError::Other),
            // "connection" alone is not enough to mean the server is gone.
            ("invalid connection option", PgError::Other),
        ];
        for (message, meaning) in cases {
            assert_eq!(
                PgError::of(&db(Kind::Unknown, message)),
                meaning,
                "{message}"
            );
        }
    }
}
