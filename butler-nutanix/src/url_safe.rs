//! Names that reach a URL: a path segment is percent-encoded and can never
//! turn into another endpoint; a FIQL filter value is used only when it has
//! nothing FIQL would read as syntax.

use butler_core::backend::{BackendError, ErrorKind};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters is encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `name` as one path segment. Empty, `.` and `..` are refused: URL
/// parsers resolve them (even percent-encoded) as dot-segments, which would
/// send the request, with Butler's credentials, to another endpoint.
pub fn segment(name: &str, operation: &str) -> Result<String, BackendError> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(BackendError::new(
            ErrorKind::Invalid,
            operation,
            format!("{name:?} cannot be a name in a Prism URL"),
        ));
    }
    Ok(utf8_percent_encode(name, SEGMENT).to_string())
}

/// Characters FIQL reads as syntax (and the escape character itself).
const FIQL_SYNTAX: &[char] = &[
    ';', ',', '=', '!', '~', '<', '>', '(', ')', '\'', '"', '*', '%', '\\',
];

/// Whether `value` can go into a FIQL filter as it is. Names that cannot
/// are looked up by listing and comparing exactly instead: a filter that a
/// Prism version reads differently must never make an existing VM look
/// absent (the engine would create it twice).
pub fn fiql_plain(value: &str) -> bool {
    !value.is_empty()
        && !value
            .chars()
            .any(|c| FIQL_SYNTAX.contains(&c) || c.is_control() || c.is_whitespace())
}

/// Everything but RFC 3986's unreserved characters is encoded in a query
/// value too (`$filter=name eq 'a b'` becomes `name%20eq%20%27a%20b%27`).
pub fn query_value(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

/// `value` as an OData string literal: quoted, each quote doubled, so a
/// name can never close the literal and add a clause to a v4 `$filter`.
pub fn odata_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_never_escape_their_place() {
        assert_eq!(segment("PD-web01-r7", "t").unwrap(), "PD-web01-r7");
        assert_eq!(segment("a/b?c#d", "t").unwrap(), "a%2Fb%3Fc%23d");
        assert_eq!(
            segment("x/../../users/me", "t").unwrap(),
            "x%2F..%2F..%2Fusers%2Fme"
        );
        assert_eq!(segment("100%", "t").unwrap(), "100%25");
        for bad in ["", ".", ".."] {
            assert_eq!(segment(bad, "t").unwrap_err().kind, ErrorKind::Invalid);
        }
    }

    #[test]
    fn only_plain_names_go_into_filters() {
        assert!(fiql_plain("web01-r7"));
        for bad in ["a;b", "a,b", "a==b", "a b", "x'y", "", "a\\nb", "50%"] {
            assert!(!fiql_plain(bad), "{bad}");
        }
    }

    #[test]
    fn an_odata_literal_cannot_be_closed_by_the_value() {
        assert_eq!(odata_string("o'brien"), "'o''brien'");
        assert_eq!(query_value("name eq 'a b'"), "name%20eq%20%27a%20b%27");
    }
}
