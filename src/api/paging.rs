//! Page sizes and opaque page tokens for list RPCs (keyset paging: the
//! token carries the last id of the previous page).

use uuid::Uuid;

use super::ApiError;
use crate::proto::common::v1::PageRequest;

/// The page size asked for, `default` when 0; more than `max` is refused
/// rather than silently trimmed, so callers learn the limit.
pub fn page_size(page: Option<&PageRequest>, default: u32, max: u32) -> Result<i64, ApiError> {
    let asked = page.map_or(0, |p| p.page_size);
    match asked {
        0 => Ok(i64::from(default)),
        n if n <= max => Ok(i64::from(n)),
        n => Err(ApiError::invalid(
            "page.page_size",
            format!("{n} is above the maximum of {max}"),
        )),
    }
}

/// The id after which the page starts (`None` for the first page).
pub fn after(page: Option<&PageRequest>) -> Result<Option<Uuid>, ApiError> {
    let token = page.map_or("", |p| p.page_token.as_str());
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || ApiError::invalid("page.page_token", "not a token from a previous page");
    let bytes = hex::decode(token).map_err(|_| bad())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| bad())?;
    let id = text.strip_prefix("after:").ok_or_else(bad)?;
    Uuid::parse_str(id).map(Some).map_err(|_| bad())
}

/// The token of the page after the one ending with `last` (empty when the
/// page was not full, i.e. there is no next page).
pub fn next_token(last: Option<Uuid>, returned: usize, size: i64) -> String {
    match last {
        Some(id) if returned as i64 == size => hex::encode(format!("after:{id}")),
        _ => String::new(),
    }
}

/// The cursor a `kind` token carries (`None` for the first page), for
/// pages keyed by more than an id.
pub fn after_cursor(page: Option<&PageRequest>, kind: &str) -> Result<Option<String>, ApiError> {
    let token = page.map_or("", |p| p.page_token.as_str());
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || ApiError::invalid("page.page_token", "not a token from a previous page");
    let bytes = hex::decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let cursor = text.strip_prefix(kind).and_then(|t| t.strip_prefix(':'));
    cursor.map(|c| Some(c.to_string())).ok_or_else(bad)
}

/// The token of the next page after `cursor` (empty when the page was not
/// full).
pub fn cursor_token(kind: &str, cursor: Option<String>, returned: usize, size: i64) -> String {
    match cursor {
        Some(c) if returned as i64 == size => hex::encode(format!("{kind}:{c}")),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(size: u32, token: &str) -> PageRequest {
        PageRequest {
            page_size: size,
            page_token: token.into(),
        }
    }

    #[test]
    fn sizes_default_and_refuse_above_max() {
        assert_eq!(page_size(None, 50, 200).unwrap(), 50);
        assert_eq!(page_size(Some(&page(10, "")), 50, 200).unwrap(), 10);
        assert!(page_size(Some(&page(201, "")), 50, 200).is_err());
    }

    #[test]
    fn tokens_round_trip_and_garbage_is_invalid() {
        let id = Uuid::new_v4();
        let token = next_token(Some(id), 10, 10);
        assert_eq!(after(Some(&page(10, &token))).unwrap(), Some(id));
        assert_eq!(next_token(Some(id), 3, 10), "", "short page: no next page");
        assert!(after(Some(&page(10, "zz"))).is_err());
        assert!(after(Some(&page(10, &hex::encode("after:nope")))).is_err());
    }

    #[test]
    fn cursor_tokens_round_trip_per_kind() {
        let token = cursor_token("ledger", Some("x|y".into()), 5, 5);
        assert_eq!(
            after_cursor(Some(&page(5, &token)), "ledger")
                .unwrap()
                .as_deref(),
            Some("x|y")
        );
        assert!(
            after_cursor(Some(&page(5, &token)), "board").is_err(),
            "another kind's token"
        );
        assert_eq!(cursor_token("ledger", Some("x".into()), 4, 5), "");
        assert_eq!(after_cursor(None, "ledger").unwrap(), None);
    }
}
