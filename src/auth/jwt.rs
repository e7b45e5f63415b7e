//! Access tokens: the claims Stride issues and accepts, and their signing.
//!
//! Development uses HS256 with a shared secret. Validation pins the
//! algorithm (so `alg: none` and algorithm confusion are refused), and
//! requires exp, nbf, iat, iss, aud, sub and jti.

use std::collections::HashSet;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::role::{Role, Scope};

/// The claims of a Stride access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id (UUID) for people; `service:<name>` for service tokens.
    pub sub: String,
    /// The tenant; absent only on platform-scoped service tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<Uuid>,
    /// Roles held when the token was issued (people only).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Active role chosen at login; `x-stride-role` may pick another held one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Space-separated scopes (service tokens only), e.g. `events:write`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    /// Token id, for revocation.
    pub jti: Uuid,
    pub iss: String,
    pub aud: String,
}

/// Who a token is for, as the CLI and the login RPC describe it.
#[derive(Debug, Clone)]
pub enum Subject {
    User {
        user_id: Uuid,
        org_id: Uuid,
        roles: Vec<Role>,
        active: Option<Role>,
    },
    Service {
        name: String,
        org_id: Option<Uuid>,
        scopes: Vec<Scope>,
    },
}

/// Why a token was refused. The message goes to the caller, so it names the
/// problem without echoing the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token expired")]
    Expired,
    #[error("token not valid yet")]
    NotYetValid,
    #[error("token signature, algorithm, issuer or audience is not accepted")]
    Rejected,
    #[error("token is malformed or lacks a required claim")]
    Malformed,
}

/// Signing and verification keys with the expected issuer and audience.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// HS256 keys from a shared secret.
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
        }
    }

    /// Signs a token for `subject`, valid for `ttl` from now.
    pub fn issue(&self, subject: &Subject, ttl: Duration) -> Result<(String, Claims), TokenError> {
        let now = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(ttl.as_secs()).map_err(|_| TokenError::Malformed)?;
        let (sub, org_id, roles, role, scope) = match subject {
            Subject::User {
                user_id,
                org_id,
                roles,
                active,
            } => (
                user_id.to_string(),
                Some(*org_id),
                roles.iter().map(|r| r.as_str().to_string()).collect(),
                active.map(|r| r.as_str().to_string()),
                None,
            ),
            Subject::Service {
                name,
                org_id,
                scopes,
            } => (
                format!("service:{name}"),
                *org_id,
                Vec::new(),
                None,
                Some(
                    scopes
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
            ),
        };
        let claims = Claims {
            sub,
            org_id,
            roles,
            role,
            scope,
            exp: now + ttl,
            nbf: now,
            iat: now,
            jti: Uuid::new_v4(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| TokenError::Malformed)?;
        Ok((token, claims))
    }

    /// Verifies signature, algorithm, time window, issuer and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidSignature
                | ErrorKind::InvalidAlgorithm
                | ErrorKind::InvalidAlgorithmName
                | ErrorKind::InvalidIssuer
                | ErrorKind::InvalidAudience
                | ErrorKind::InvalidKeyFormat => TokenError::Rejected,
                _ => TokenError::Malformed,
            })
    }
}

impl Claims {
    /// Roles held, ignoring names Stride does not know.
    pub fn held_roles(&self) -> HashSet<Role> {
        self.roles.iter().filter_map(|r| r.parse().ok()).collect()
    }

    /// Scopes granted, ignoring names Stride does not know.
    pub fn scopes(&self) -> HashSet<Scope> {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect()
    }

    /// True for service tokens (upstream microservices).
    pub fn is_service(&self) -> bool {
        self.sub.starts_with("service:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::hs256(b"test-secret-test-secret-test-secret", "stride", "stride")
    }

    fn learner() -> Subject {
        Subject::User {
            user_id: Uuid::new_v4(),
            org_id: Uuid::new_v4(),
            roles: vec![Role::Learner],
            active: Some(Role::Learner),
        }
    }

    #[test]
    fn issued_token_verifies_with_same_claims() {
        let keys = keys();
        let (token, claims) = keys.issue(&learner(), Duration::from_secs(60)).unwrap();
        assert_eq!(keys.verify(&token).unwrap(), claims);
        assert_eq!(claims.held_roles(), HashSet::from([Role::Learner]));
        assert!(!claims.is_service());
    }

    #[test]
    fn other_secret_issuer_or_audience_is_rejected() {
        let (token, _) = keys().issue(&learner(), Duration::from_secs(60)).unwrap();
        let other_secret =
            TokenKeys::hs256(b"another-secret-another-secret-xx", "stride", "stride");
        assert_eq!(other_secret.verify(&token), Err(TokenError::Rejected));
        let other_iss = TokenKeys::hs256(b"test-secret-test-secret-test-secret", "evil", "stride");
        assert_eq!(other_iss.verify(&token), Err(TokenError::Rejected));
        let other_aud = TokenKeys::hs256(b"test-secret-test-secret-test-secret", "stride", "evil");
        assert_eq!(other_aud.verify(&token), Err(TokenError::Rejected));
    }

    #[test]
    fn expired_token_is_rejected_as_expired() {
        let keys = keys();
        let (_, mut claims) = keys.issue(&learner(), Duration::from_secs(60)).unwrap();
        claims.exp = chrono::Utc::now().timestamp() - 3_600;
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).unwrap();
        assert_eq!(keys.verify(&token), Err(TokenError::Expired));
    }

    #[test]
    fn alg_none_is_rejected() {
        let keys = keys();
        let (token, _) = keys.issue(&learner(), Duration::from_secs(60)).unwrap();
        // Same payload, header rewritten to {"alg":"none"}, signature dropped.
        let payload = token.split('.').nth(1).unwrap();
        let forged = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert!(keys.verify(&forged).is_err());
    }

    #[test]
    fn service_token_carries_scopes() {
        let keys = keys();
        let subject = Subject::Service {
            name: "enrollment".into(),
            org_id: None,
            scopes: vec![Scope::EventsWrite],
        };
        let (token, _) = keys.issue(&subject, Duration::from_secs(60)).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert!(claims.is_service());
        assert_eq!(claims.sub, "service:enrollment");
        assert_eq!(claims.scopes(), HashSet::from([Scope::EventsWrite]));
        assert!(claims.held_roles().is_empty());
    }
}
