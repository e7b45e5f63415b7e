//! A bad field of an input: which one and why. Pure rules report these; the
//! API turns them into INVALID_ARGUMENT with BadRequest details, or into a
//! per-event INVALID result.

/// Why a text holding U+0000 is refused.
pub const NUL_REFUSED: &str = "must not contain the NUL character (U+0000)";

pub fn has_nul(value: &str) -> bool {
    value.contains('\0')
}

/// Whether any string or key of `value` holds U+0000 (jsonb refuses it).
/// Parsed JSON is at most 128 levels deep, which bounds the recursion.
pub fn json_has_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    match value {
        V::String(s) => has_nul(s),
        V::Array(items) => items.iter().any(json_has_nul),
        V::Object(map) => map.iter().any(|(k, v)| has_nul(k) || json_has_nul(v)),
        V::Null | V::Bool(_) | V::Number(_) => false,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field, e.g. `assessment_graded.score` or `users[2].email`.
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }

    /// `field` holds U+0000, which PostgreSQL cannot store in text or
    /// jsonb: refused with its field before any write.
    pub fn nul(field: impl Into<String>) -> Self {
        Self::new(field, NUL_REFUSED)
    }

    /// The same violation under a parent path: `prefix.field`.
    pub fn within(self, prefix: &str) -> Self {
        Self {
            field: format!("{prefix}.{}", self.field),
            description: self.description,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nul_is_found_in_text_and_anywhere_in_json() {
        assert!(has_nul("a\0b"));
        assert!(!has_nul("a0b"));
        assert!(json_has_nul(&json!({"a": [1, {"b": "x\u{0}"}]})));
        assert!(json_has_nul(&json!({"k\u{0}": 1})));
        assert!(!json_has_nul(
            &json!({"a": [1, {"b": "\\u0000"}], "c": null})
        ));
    }
}
