//! A bad field of an input: which one and why. Pure rules report these; the
//! API turns them into INVALID_ARGUMENT with BadRequest details, or into a
//! per-event INVALID result.

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

    /// The same violation under a parent path: `prefix.field`.
    pub fn within(self, prefix: &str) -> Self {
        Self {
            field: format!("{prefix}.{}", self.field),
            description: self.description,
        }
    }
}
