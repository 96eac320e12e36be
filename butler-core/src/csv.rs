//! CSV as spreadsheets read it safely: every text cell quoted, and never
//! a formula.

/// One text cell: quoted, quotes doubled, and a leading `=`, `+`, `-`,
/// `@`, tab or carriage return (a formula to a spreadsheet) made text
/// with a `'`.
///
/// ```
/// assert_eq!(butler_core::csv::cell("=cmd()"), "\"'=cmd()\"");
/// assert_eq!(butler_core::csv::cell("say \"hi\""), "\"say \"\"hi\"\"\"");
/// ```
pub fn cell(text: &str) -> String {
    let safe = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    format!("\"{}\"", safe.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cells_are_quoted_and_never_formulas() {
        assert_eq!(super::cell("web01"), "\"web01\"");
        assert_eq!(super::cell("say \"hi\", then"), "\"say \"\"hi\"\", then\"");
        assert_eq!(super::cell("=cmd()"), "\"'=cmd()\"");
        assert_eq!(super::cell("-1+2"), "\"'-1+2\"");
    }
}
