//! Excel export of request lists (SPEC §6), written in memory with
//! rust_xlsxwriter and copied to the caller's writer. A cell longer than
//! Excel allows is cut with a marker instead of failing the export.
//!
//! Every text cell is written as a string, so text that starts with `=`,
//! `+`, `-` or `@` stays text and never becomes a formula.

use crate::request::Request;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use std::io::Write;

/// The header row, in column order (English).
pub const COLUMNS: [&str; 9] = [
    "Request",
    "State",
    "Last change (UTC)",
    "VM name",
    "Requester",
    "Approver",
    "Cost center",
    "Monthly estimate",
    "Currency",
];

/// The header row in Spanish, in column order.
pub const COLUMNS_ES: [&str; 9] = [
    "Solicitud",
    "Estado",
    "Último cambio (UTC)",
    "Nombre de la VM",
    "Solicitante",
    "Aprobador",
    "Centro de costo",
    "Estimación mensual",
    "Moneda",
];

/// The language of a workbook's sheet name and header row: the
/// exporter's (the data keeps its stored codes, so a sheet reads the same
/// to a program whoever exported it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Language {
    /// English.
    #[default]
    English,
    /// Spanish.
    Spanish,
}

impl Language {
    /// From a language tag (`es`, `es-CL`, `en-GB`, …): Spanish for any
    /// `es`, else English.
    ///
    /// ```
    /// use butler_core::export::Language;
    /// assert_eq!(Language::from_tag("es-CL"), Language::Spanish);
    /// assert_eq!(Language::from_tag("en"), Language::English);
    /// assert_eq!(Language::from_tag("fr"), Language::English);
    /// ```
    pub fn from_tag(tag: &str) -> Language {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("es") {
            Language::Spanish
        } else {
            Language::English
        }
    }

    /// The header row.
    pub fn columns(self) -> &'static [&'static str; 9] {
        match self {
            Language::English => &COLUMNS,
            Language::Spanish => &COLUMNS_ES,
        }
    }

    fn sheet(self) -> &'static str {
        match self {
            Language::English => "Requests",
            Language::Spanish => "Solicitudes",
        }
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The workbook could not be built.
    #[error("cannot build the workbook: {0}")]
    Xlsx(#[from] XlsxError),
    /// The writer failed.
    #[error("cannot write the workbook: {0}")]
    Io(#[from] std::io::Error),
}

/// Excel's limit on one cell's text.
pub use crate::limits::MAX_CELL_CHARS;
const TRUNCATED: &str = "…[truncated]";

/// `text` as one cell holds it: cut, with a marker, past Excel's limit, so
/// one oversized value never fails a whole export.
fn cell(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_CELL_CHARS) {
        None => text.into(),
        Some(_) => {
            let keep = MAX_CELL_CHARS - TRUNCATED.chars().count();
            let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
            format!("{}{TRUNCATED}", &text[..end]).into()
        }
    }
}

/// Writes `rows` as a one-sheet workbook to `out`, headed in English.
pub fn write_requests_xlsx(rows: &[Request], out: &mut dyn Write) -> Result<(), ExportError> {
    write_requests_xlsx_in(rows, Language::English, out)
}

/// Writes `rows` as a one-sheet workbook to `out`, its sheet and header
/// row in `lang`.
pub fn write_requests_xlsx_in(
    rows: &[Request],
    lang: Language,
    out: &mut dyn Write,
) -> Result<(), ExportError> {
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet();
    sheet.set_name(lang.sheet())?;
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("0.000000");
    for (c, title) in lang.columns().iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *title, &bold)?;
    }
    let widths = [10.0, 14.0, 20.0, 28.0, 16.0, 16.0, 14.0, 18.0, 10.0];
    for (c, w) in widths.iter().enumerate() {
        sheet.set_column_width(c as u16, *w)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    for (i, r) in rows.iter().enumerate() {
        let row = (i + 1) as u32;
        sheet.write_number(row, 0, r.id.0 as f64)?;
        sheet.write_string(row, 1, r.state.as_str())?;
        sheet.write_string(row, 2, r.updated_at.format("%Y-%m-%d %H:%M:%S").to_string())?;
        sheet.write_string(row, 3, cell(&r.spec.name))?;
        sheet.write_string(row, 4, cell(&r.owner))?;
        sheet.write_string(row, 5, cell(r.approver.as_deref().unwrap_or("")))?;
        sheet.write_string(row, 6, cell(&r.spec.derived().cost_center))?;
        // Excel numbers are doubles; the exact decimal is in the estimate itself.
        let total = r.estimate.total.to_string().parse::<f64>().unwrap_or(0.0);
        sheet.write_number_with_format(row, 7, total, &money)?;
        sheet.write_string(row, 8, cell(&r.estimate.currency))?;
    }
    let bytes = wb.save_to_buffer()?;
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_row_and_sheet_are_in_the_exporters_language() {
        use calamine::{Reader, Xlsx};
        for (lang, sheet, first) in [
            (Language::English, "Requests", "Request"),
            (Language::Spanish, "Solicitudes", "Solicitud"),
        ] {
            let mut buf = Vec::new();
            write_requests_xlsx_in(&[], lang, &mut buf).unwrap();
            let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(buf)).unwrap();
            assert_eq!(wb.sheet_names(), vec![sheet.to_string()]);
            let range = wb.worksheet_range(sheet).unwrap();
            let header: Vec<String> = range
                .rows()
                .next()
                .unwrap()
                .iter()
                .map(|c| c.to_string())
                .collect();
            assert_eq!(header[0], first);
            assert_eq!(header, lang.columns().map(str::to_string).to_vec());
        }
    }

    #[test]
    fn oversized_cells_are_cut_with_a_marker_at_excels_limit() {
        assert_eq!(cell("short"), "short");
        let exact = "é".repeat(MAX_CELL_CHARS);
        assert_eq!(cell(&exact).chars().count(), MAX_CELL_CHARS);
        let long = "é".repeat(MAX_CELL_CHARS + 10);
        let cut = cell(&long);
        assert_eq!(cut.chars().count(), MAX_CELL_CHARS);
        assert!(cut.ends_with(TRUNCATED));
        // A workbook with such a cell still builds.
        let mut wb = Workbook::new();
        wb.add_worksheet().write_string(0, 0, cut.as_ref()).unwrap();
        assert!(wb.save_to_buffer().is_ok());
    }
}
