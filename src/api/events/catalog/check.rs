//! The checks of a catalogue batch: an item's fields without the database
//! ([`Check`]), then what the database tells ([`Findings`]).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;

use uuid::Uuid;

use super::MAX_ITEMS;
use crate::api::error::FieldViolation;
use crate::api::{ApiError, uuid_or};

/// The checks of one item, without the database: its bad fields are
/// recorded under `list[index]`. A bad value comes back as a placeholder
/// (nil UUID, as given): the call fails before anything uses it.
pub(super) struct Check<'a> {
    pub(super) at: String,
    /// The token's organization (`None`: platform-scoped).
    pub(super) scope: Option<Uuid>,
    pub(super) bad: &'a mut Vec<FieldViolation>,
}

impl Check<'_> {
    pub(super) fn path(&self, field: &str) -> String {
        format!("{}.{field}", self.at)
    }

    pub(super) fn fail(&mut self, field: &str, why: impl Into<String>) {
        let path = self.path(field);
        self.bad.push(FieldViolation::new(path, why));
    }

    /// A required UUID.
    pub(super) fn id(&mut self, field: &str, value: &str) -> Uuid {
        match uuid_or(&self.path(field), value, None) {
            Ok(id) => id,
            Err(err) => {
                if let ApiError::InvalidArgument(violations) = err {
                    self.bad.extend(violations);
                }
                Uuid::nil()
            }
        }
    }

    /// An optional UUID: empty is `None`.
    pub(super) fn optional_id(&mut self, field: &str, value: &str) -> Option<Uuid> {
        (!value.is_empty()).then(|| self.id(field, value))
    }

    /// A list of UUIDs without repeats.
    pub(super) fn ids(&mut self, field: &str, values: &[String]) -> Vec<Uuid> {
        if values.len() > MAX_ITEMS {
            self.fail(field, format!("must hold at most {MAX_ITEMS} ids"));
        }
        let ids: Vec<Uuid> = values
            .iter()
            .enumerate()
            .map(|(j, value)| self.id(&format!("{field}[{j}]"), value))
            .collect();
        for (j, first) in repeats(ids.iter()) {
            if !ids[j].is_nil() {
                self.fail(
                    &format!("{field}[{j}]"),
                    format!("repeats {field}[{first}]"),
                );
            }
        }
        ids
    }

    /// Text of `min..=max` characters (as PostgreSQL's length() counts).
    pub(super) fn text(&mut self, field: &str, value: &str, min: usize, max: usize) -> String {
        if let Err(why) = crate::domain::fields::text(value, min, max) {
            self.fail(field, why);
        }
        value.to_string()
    }

    /// Optional text: empty is `None`, else 1..=`max` characters.
    pub(super) fn optional_text(&mut self, field: &str, value: &str, max: usize) -> Option<String> {
        (!value.is_empty()).then(|| self.text(field, value, 1, max))
    }

    /// A count stored as `integer`; 0 means unknown (`None`).
    pub(super) fn count(&mut self, field: &str, value: u32) -> Option<i32> {
        match i32::try_from(value) {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(_) => {
                self.fail(field, format!("must be at most {}", i32::MAX));
                None
            }
        }
    }

    /// A number in 0..=1.
    pub(super) fn fraction(&mut self, field: &str, value: f64) -> f64 {
        if !(0.0..=1.0).contains(&value) {
            self.fail(field, "must be between 0 and 1");
        }
        value
    }

    /// The item's organization: empty is the token's; a platform-scoped
    /// token must name one; a token of one organization naming another is
    /// PERMISSION_DENIED for the whole call.
    pub(super) fn org(&mut self, field: &str, value: &str) -> Result<Uuid, ApiError> {
        if value.is_empty() {
            return Ok(self.scope.unwrap_or_else(|| {
                self.fail(field, "is required with a platform-scoped token");
                Uuid::nil()
            }));
        }
        let named = self.id(field, value);
        match self.scope {
            Some(own) if !named.is_nil() && named != own => {
                Err(ApiError::PermissionDenied(format!(
                    "{}: the token may only write its own organization",
                    self.path(field)
                )))
            }
            _ => Ok(named),
        }
    }

    /// A skill's organization: empty is platform-wide (`None`), which only
    /// platform-scoped tokens may write.
    pub(super) fn skill_org(&mut self, field: &str, value: &str) -> Result<Option<Uuid>, ApiError> {
        match (value.is_empty(), self.scope) {
            (true, None) => Ok(None),
            (true, Some(_)) => Err(ApiError::PermissionDenied(format!(
                "{}: platform-wide skills (empty organization_id) need a platform-scoped token",
                self.path(field)
            ))),
            (false, _) => self.org(field, value).map(Some),
        }
    }
}

/// `(index, index of its first occurrence)` of every key seen before.
pub(super) fn repeats<K: Eq + Hash>(keys: impl IntoIterator<Item = K>) -> Vec<(usize, usize)> {
    let mut first = HashMap::new();
    keys.into_iter()
        .enumerate()
        .filter_map(|(index, key)| match first.entry(key) {
            Entry::Occupied(seen) => Some((index, *seen.get())),
            Entry::Vacant(slot) => {
                slot.insert(index);
                None
            }
        })
        .collect()
}

/// What the checks against the database found, by item: bad fields
/// (INVALID_ARGUMENT) and keys taken by other rows (ALREADY_EXISTS).
pub(super) struct Findings {
    list: &'static str,
    bad: Vec<FieldViolation>,
    taken: Vec<String>,
}

impl Findings {
    pub(super) fn new(list: &'static str) -> Self {
        Self {
            list,
            bad: Vec::new(),
            taken: Vec::new(),
        }
    }

    pub(super) fn add(&mut self, index: usize, field: &str, why: impl Into<String>) {
        self.bad.push(FieldViolation::new(
            format!("{}[{index}].{field}", self.list),
            why,
        ));
    }

    pub(super) fn conflict(&mut self, index: usize, field: &str, why: &str) {
        self.taken
            .push(format!("{}[{index}].{field}: {why}", self.list));
    }

    /// Keys must not repeat within the batch (one command cannot write a
    /// row twice).
    pub(super) fn unique<K: Eq + Hash>(&mut self, field: &str, keys: impl IntoIterator<Item = K>) {
        for (index, first) in repeats(keys) {
            let why = format!("repeats {}[{first}]", self.list);
            self.add(index, field, why);
        }
    }

    /// A referenced row (its owner as [`owners`] found it, `None`: not
    /// found) must belong to `org` or be platform-wide.
    pub(super) fn belongs(
        &mut self,
        index: usize,
        field: &str,
        owner: Option<&Option<Uuid>>,
        org: Option<Uuid>,
        what: &str,
    ) {
        match owner {
            Some(owner) if *owner == org || owner.is_none() => {}
            Some(_) => self.add(
                index,
                field,
                format!("the {what} belongs to another organization"),
            ),
            None => self.add(
                index,
                field,
                format!("no such {what} (or not visible to this token)"),
            ),
        }
    }

    pub(super) fn done(self) -> Result<(), ApiError> {
        if !self.bad.is_empty() {
            return Err(ApiError::InvalidArgument(self.bad));
        }
        if !self.taken.is_empty() {
            return Err(ApiError::AlreadyExists(format!(
                "{}; nothing was applied",
                self.taken.join("; ")
            )));
        }
        Ok(())
    }
}
