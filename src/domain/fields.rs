//! Rules for fields that more than one service takes: an account's email
//! comes through IdentityService (CreateUser, UpdateUser) and through the
//! catalogue (UpsertUsers), and must be held to one rule; bounded text is
//! checked alike by the catalogue and CreateAchievement.

/// Text of `min..=max` characters (as PostgreSQL's length() counts them),
/// without NUL; the reason otherwise.
pub fn text(value: &str, min: usize, max: usize) -> Result<(), String> {
    let length = value.chars().count();
    if length < min || length > max {
        Err(format!("must be {min} to {max} characters"))
    } else if super::has_nul(value) {
        Err(super::violation::NUL_REFUSED.into())
    } else {
        Ok(())
    }
}

/// Longest email accepted, in bytes: the longest address SMTP carries.
pub const MAX_EMAIL: usize = 254;

/// Why an email is refused.
pub const EMAIL_RULE: &str = "must be an email address (at most 254 characters)";

/// An email address as an account holds it: surrounding spaces trimmed, at
/// most [`MAX_EMAIL`] bytes, a non-empty local part and, after the `@`, a
/// domain with a dot not at its start; no whitespace or NUL inside. (This
/// implies the `users.email` CHECK: an `@` after the first character, at
/// most 320 characters.)
pub fn email(value: &str) -> Result<&str, &'static str> {
    let email = value.trim();
    let valid = email.len() <= MAX_EMAIL
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c == '\0');
    if valid { Ok(email) } else { Err(EMAIL_RULE) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_bounded_in_characters_and_refuses_nul() {
        assert_eq!(text("", 0, 3), Ok(()));
        assert_eq!(text("né!", 1, 3), Ok(()), "characters, not bytes");
        assert_eq!(
            text("four", 1, 3),
            Err("must be 1 to 3 characters".to_string())
        );
        assert_eq!(text("", 1, 3), Err("must be 1 to 3 characters".to_string()));
        assert_eq!(
            text("a\0b", 1, 3),
            Err(crate::domain::violation::NUL_REFUSED.to_string())
        );
    }

    #[test]
    fn an_email_needs_a_local_part_and_a_dotted_domain() {
        for good in ["ada@example.org", "a.b+tag@mail.example.co.uk", "x@y.z"] {
            assert_eq!(email(good), Ok(good));
        }
        for bad in [
            "",
            "a@b",
            "nobody",
            "@example.org",
            "ada@.example.org",
            "ada@",
            "ada lovelace@example.org",
            "ada@exa\tmple.org",
            "ada@example.org\0",
        ] {
            assert_eq!(email(bad), Err(EMAIL_RULE), "{bad:?}");
        }
    }

    #[test]
    fn an_email_is_trimmed_and_at_most_254_bytes() {
        assert_eq!(email("  ada@example.org\n"), Ok("ada@example.org"));
        let at_most = format!("{}@example.org", "a".repeat(MAX_EMAIL - 12));
        assert_eq!(at_most.len(), MAX_EMAIL);
        assert!(email(&at_most).is_ok());
        assert_eq!(email(&format!("a{at_most}")), Err(EMAIL_RULE));
        // Bytes, not characters: 121 two-byte letters and @example.org.
        let wide = format!("{}@example.org", "é".repeat(121));
        assert_eq!(wide.len(), 254);
        assert!(email(&wide).is_ok());
        assert_eq!(email(&format!("é{wide}")), Err(EMAIL_RULE));
    }
}
