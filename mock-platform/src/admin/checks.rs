//! Bounds on admin input that no real value comes near: ids, key formats, string lengths, list sizes.

use super::ApiError;
use super::orders::check_text;

/// `app_key`: what TOP issues is 8 digits; any 1–64 printable ASCII without whitespace is taken, because it is
/// used verbatim as a form value, a log field and a URL path segment.
pub fn app_key(field: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() || value.len() > 64 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::field(field, "must be 1 to 64 printable ASCII characters without whitespace"));
    }
    Ok(())
}

/// An id the platform would give out: a positive integer.
pub fn id(field: &str, value: Option<i64>) -> Result<(), ApiError> {
    match value {
        Some(v) if v < 1 => Err(ApiError::field(field, "must be a positive integer")),
        _ => Ok(()),
    }
}

/// Text the platform sends in notifications ([`check_text`]) and at most `max` characters long.
pub fn text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    check_text(field, value)?;
    length(field, value, max)
}

/// Optional [`text`].
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<(), ApiError> {
    value.map_or(Ok(()), |v| text(field, v, max))
}

/// At most `max` characters.
pub fn length(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().count() > max {
        return Err(ApiError::field(field, format!("must be at most {max} characters")));
    }
    Ok(())
}

/// A secret or session: 1 to 256 characters, no control characters.
pub fn secret(field: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::field(field, "must not be empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::field(field, "must not contain control characters"));
    }
    length(field, value, 256)
}

/// A list of at most `max` entries, each checked by `entry` under the name `field[i]`.
pub fn list(
    field: &str,
    values: &[String],
    max: usize,
    entry: impl Fn(&str, &str) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    if values.len() > max {
        return Err(ApiError::field(field, format!("must have at most {max} entries")));
    }
    values.iter().enumerate().try_for_each(|(i, v)| entry(&format!("{field}[{i}]"), v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_keys_are_short_printable_ascii() {
        for good in ["12345678", "t1", "a-b_c.d", &"k".repeat(64)] {
            assert!(app_key("app_key", good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a\tb", "键", &"k".repeat(65)] {
            assert!(app_key("app_key", bad).is_err(), "{bad}");
        }
    }
}
