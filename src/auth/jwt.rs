//! Access tokens: the claims Stride issues and accepts, and their signing.
//!
//! Development uses HS256 with a shared secret. Validation pins the
//! algorithm (so `alg: none` and algorithm confusion are refused), and
//! requires exp, nbf, iat, iss, aud, sub and jti.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::role::{Role, Scope};

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
    #[error("this replica has no signing key (verify-only)")]
    CannotSign,
}

/// Why keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key {0}: not an RSA or Ed25519 PEM key")]
    UnsupportedKey(String),
    #[error("two verification keys share the kid {0:?}")]
    DuplicateKid(String),
    #[error("the signing key's kid {0:?} is not among the verification keys")]
    SigningKidUnknown(String),
}

/// Key used to sign new tokens.
#[derive(Clone)]
struct Signer {
    alg: Algorithm,
    key: EncodingKey,
    kid: Option<String>,
}

/// A key that verifies tokens, pinned to one algorithm (no confusion).
#[derive(Clone)]
struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

/// Signing and verification keys with the expected issuer and audience.
///
/// Development: one HS256 secret (no `kid`). Production: an RSA or Ed25519
/// private key signs with its `kid`, and every listed public key verifies
/// tokens naming its `kid`, so keys rotate by adding the new public key
/// first, then switching the private key, then retiring the old public key.
#[derive(Clone)]
pub struct TokenKeys {
    signer: Option<Signer>,
    verifiers: HashMap<Option<String>, Verifier>,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("kids", &self.verifiers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn validation(alg: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 30;
    validation
}

impl TokenKeys {
    /// HS256 keys from a shared secret.
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str) -> Self {
        let verifier = Verifier {
            key: DecodingKey::from_secret(secret),
            validation: validation(Algorithm::HS256, issuer, audience),
        };
        Self {
            signer: Some(Signer {
                alg: Algorithm::HS256,
                key: EncodingKey::from_secret(secret),
                kid: None,
            }),
            verifiers: HashMap::from([(None, verifier)]),
            issuer: issuer.to_string(),
            audience: audience.to_string(),
        }
    }

    /// RS256/EdDSA keys: `signing` is (kid, private PEM) — `None` for a
    /// verify-only replica; `public` lists (kid, public PEM).
    pub fn asymmetric(
        signing: Option<(&str, &[u8])>,
        public: &[(String, Vec<u8>)],
        issuer: &str,
        audience: &str,
    ) -> Result<Self, KeyError> {
        let mut verifiers = HashMap::new();
        for (kid, pem) in public {
            let (key, alg) = if let Ok(key) = DecodingKey::from_ed_pem(pem) {
                (key, Algorithm::EdDSA)
            } else if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
                (key, Algorithm::RS256)
            } else {
                return Err(KeyError::UnsupportedKey(kid.clone()));
            };
            let verifier = Verifier {
                key,
                validation: validation(alg, issuer, audience),
            };
            if verifiers.insert(Some(kid.clone()), verifier).is_some() {
                return Err(KeyError::DuplicateKid(kid.clone()));
            }
        }
        let signer = match signing {
            None => None,
            Some((kid, pem)) => {
                if !verifiers.contains_key(&Some(kid.to_string())) {
                    return Err(KeyError::SigningKidUnknown(kid.to_string()));
                }
                let (key, alg) = if let Ok(key) = EncodingKey::from_ed_pem(pem) {
                    (key, Algorithm::EdDSA)
                } else if let Ok(key) = EncodingKey::from_rsa_pem(pem) {
                    (key, Algorithm::RS256)
                } else {
                    return Err(KeyError::UnsupportedKey(kid.to_string()));
                };
                Some(Signer {
                    alg,
                    key,
                    kid: Some(kid.to_string()),
                })
            }
        };
        Ok(Self {
            signer,
            verifiers,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
        })
    }

    /// Signs a token for `subject`, valid for `ttl` from now.
    pub fn issue(&self, subject: &Subject, ttl: Duration) -> Result<(String, Claims), TokenError> {
        let signer = self.signer.as_ref().ok_or(TokenError::CannotSign)?;
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
        let mut header = Header::new(signer.alg);
        header.kid = signer.kid.clone();
        let token = jsonwebtoken::encode(&header, &claims, &signer.key)
            .map_err(|_| TokenError::Malformed)?;
        Ok((token, claims))
    }

    /// Verifies signature, algorithm (pinned per key), time window, issuer
    /// and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let verifier = self
            .verifiers
            .get(&header.kid)
            .ok_or(TokenError::Rejected)?;
        if !verifier.validation.algorithms.contains(&header.alg) {
            return Err(TokenError::Rejected);
        }
        jsonwebtoken::decode::<Claims>(token, &verifier.key, &verifier.validation)
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
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"test-secret-test-secret-test-secret"),
        )
        .unwrap();
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

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/jwt/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn rotated_keys(signing: &str) -> TokenKeys {
        let public = vec![
            ("2026a".to_string(), fixture("ed25519-2026a.pub.pem")),
            ("2026b".to_string(), fixture("rsa-2026b.pub.pem")),
        ];
        let pem = fixture(match signing {
            "2026a" => "ed25519-2026a.pem",
            _ => "rsa-2026b.pem",
        });
        TokenKeys::asymmetric(Some((signing, &pem)), &public, "stride", "stride").unwrap()
    }

    #[test]
    fn eddsa_and_rs256_tokens_verify_across_a_rotation() {
        let old = rotated_keys("2026a");
        let new = rotated_keys("2026b");
        let (by_old, _) = old.issue(&learner(), Duration::from_secs(60)).unwrap();
        let (by_new, _) = new.issue(&learner(), Duration::from_secs(60)).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&by_old).unwrap().alg,
            Algorithm::EdDSA
        );
        assert_eq!(
            jsonwebtoken::decode_header(&by_new).unwrap().alg,
            Algorithm::RS256
        );
        // Both replicas accept both tokens while both public keys are listed.
        assert!(new.verify(&by_old).is_ok());
        assert!(old.verify(&by_new).is_ok());
        // Retiring the old public key retires its tokens.
        let retired = TokenKeys::asymmetric(
            None,
            &[("2026b".to_string(), fixture("rsa-2026b.pub.pem"))],
            "stride",
            "stride",
        )
        .unwrap();
        assert_eq!(retired.verify(&by_old), Err(TokenError::Rejected));
        assert!(retired.verify(&by_new).is_ok());
        assert_eq!(
            retired
                .issue(&learner(), Duration::from_secs(60))
                .unwrap_err(),
            TokenError::CannotSign
        );
    }

    #[test]
    fn hmac_signed_with_the_public_key_is_rejected() {
        // Algorithm confusion: HS256 keyed with the RSA public key, naming its kid.
        let keys = rotated_keys("2026b");
        let (_, claims) = keys.issue(&learner(), Duration::from_secs(60)).unwrap();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("2026b".into());
        let forged = jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(&fixture("rsa-2026b.pub.pem")),
        )
        .unwrap();
        assert_eq!(keys.verify(&forged), Err(TokenError::Rejected));
        // And an HS256 token without kid finds no key in asymmetric mode.
        let hs = TokenKeys::hs256(b"test-secret-test-secret-test-secret", "stride", "stride");
        let (plain, _) = hs.issue(&learner(), Duration::from_secs(60)).unwrap();
        assert_eq!(keys.verify(&plain), Err(TokenError::Rejected));
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
