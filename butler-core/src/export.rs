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
    /// The file could not be saved.
    #[error("{path}: {reason}")]
    Save {
        /// Where.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Saves `bytes` at `path` through a new temporary file with a random
/// name in the same folder (created exclusively, so a planted file or
/// symlink is never followed), synced, then renamed over `path`: a reader
/// never sees half a file and nothing is left behind on failure.
pub fn save(path: &std::path::Path, bytes: &[u8]) -> Result<(), ExportError> {
    let fail = |e: &dyn std::fmt::Display| ExportError::Save {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".butler-export-")
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(|e| fail(&e))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| fail(&e))?;
    tmp.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
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

/// The showback sheet's header row (English), in column order.
pub const SHOWBACK_COLUMNS: [&str; 18] = [
    "Month",
    "VM",
    "Name",
    "Owner",
    "Cost center",
    "Division",
    "Unit",
    "Request",
    "Days",
    "Days off",
    "Actual",
    "Estimate",
    "Days active",
    "Resizes",
    "Rate cards",
    "Powered off",
    "Other",
    "Currency",
];

/// The showback sheet's header row in Spanish.
pub const SHOWBACK_COLUMNS_ES: [&str; 18] = [
    "Mes",
    "VM",
    "Nombre",
    "Dueño",
    "Centro de costo",
    "División",
    "Unidad",
    "Solicitud",
    "Días",
    "Días apagada",
    "Real",
    "Estimado",
    "Días activa",
    "Cambios de tamaño",
    "Tarifas",
    "Apagada",
    "Otros",
    "Moneda",
];

impl Language {
    /// The showback sheet's header row.
    pub fn showback_columns(self) -> &'static [&'static str; 18] {
        match self {
            Language::English => &SHOWBACK_COLUMNS,
            Language::Spanish => &SHOWBACK_COLUMNS_ES,
        }
    }

    fn showback_sheets(self) -> [&'static str; 2] {
        match self {
            Language::English => ["Showback", "By cost center"],
            Language::Spanish => ["Costo real", "Por centro de costo"],
        }
    }

    fn cost_center_columns(self) -> [&'static str; 5] {
        match self {
            Language::English => ["Month", "Cost center", "VMs", "Actual", "Estimate"],
            Language::Spanish => ["Mes", "Centro de costo", "VMs", "Real", "Estimado"],
        }
    }
}

/// An exact decimal as the double an Excel number is (the exact figure
/// stays in the report, its JSON and CSV).
fn number(d: rust_decimal::Decimal) -> f64 {
    d.to_string().parse().unwrap_or(0.0)
}

/// Writes a showback report as a workbook to `out`, in `lang`: one sheet
/// with a row per VM and month (the month a date cell, days and amounts
/// number cells), one with the sums per month and cost center.
pub fn write_showback_xlsx_in(
    report: &crate::showback::Showback,
    lang: Language,
    out: &mut dyn Write,
) -> Result<(), ExportError> {
    use rust_xlsxwriter::ExcelDateTime;
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.0000");
    let month_cell = Format::new().set_num_format("yyyy-mm");
    let date = |m: crate::showback::Month| -> Result<ExcelDateTime, XlsxError> {
        use chrono::Datelike;
        let d = m.first();
        ExcelDateTime::from_ymd(
            u16::try_from(d.year()).unwrap_or(1900),
            u8::try_from(d.month()).unwrap_or(1),
            1,
        )
    };
    let [lines_name, cc_name] = lang.showback_sheets();
    let currency = report.currency.clone().unwrap_or_default();
    let sheet = wb.add_worksheet();
    sheet.set_name(lines_name)?;
    for (c, title) in lang.showback_columns().iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *title, &bold)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    let mut row = 0u32;
    for v in &report.vms {
        for m in &v.months {
            row += 1;
            sheet.write_date_with_format(row, 0, &date(m.month)?, &month_cell)?;
            sheet.write_number(row, 1, v.vm.0 as f64)?;
            sheet.write_string(row, 2, cell(&v.name))?;
            sheet.write_string(row, 3, cell(&v.owner))?;
            sheet.write_string(row, 4, cell(&v.cost_center))?;
            sheet.write_string(row, 5, cell(&v.division))?;
            sheet.write_string(row, 6, cell(&v.unit))?;
            if let Some(r) = v.request {
                sheet.write_number(row, 7, r.0 as f64)?;
            }
            sheet.write_number(row, 8, f64::from(m.days))?;
            sheet.write_number(row, 9, f64::from(m.days_off))?;
            sheet.write_number_with_format(row, 10, number(m.actual), &money)?;
            let c = m.causes.as_ref();
            let amounts = [
                m.estimate,
                c.map(|c| c.days),
                c.map(|c| c.resizes),
                c.map(|c| c.rate_cards),
                c.map(|c| c.powered_off),
                c.map(|c| c.other),
            ];
            for (i, a) in amounts.into_iter().enumerate() {
                if let Some(a) = a {
                    sheet.write_number_with_format(row, 11 + i as u16, number(a), &money)?;
                }
            }
            sheet.write_string(row, 17, cell(&currency))?;
        }
    }
    let sheet = wb.add_worksheet();
    sheet.set_name(cc_name)?;
    for (c, title) in lang.cost_center_columns().iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *title, &bold)?;
    }
    for (i, s) in report.by_cost_center.iter().enumerate() {
        let row = (i + 1) as u32;
        sheet.write_date_with_format(row, 0, &date(s.month)?, &month_cell)?;
        sheet.write_string(row, 1, cell(&s.key))?;
        sheet.write_number(row, 2, s.vms as f64)?;
        sheet.write_number_with_format(row, 3, number(s.actual), &money)?;
        sheet.write_number_with_format(row, 4, number(s.estimate), &money)?;
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

    /// A showback workbook read back: months as dates, days and amounts
    /// as numbers, the sheets and headers in the exporter's language.
    #[test]
    fn a_showback_workbook_holds_dates_and_numbers() {
        use crate::showback::{compute, VmLife};
        use calamine::{Data, DataType, Reader, Xlsx};
        use std::sync::Arc;
        let sizing = Arc::new(crate::cost::Sizing::of(
            &crate::vm_spec::validate(&crate::demo::spec("x1"), &crate::demo::catalog()).unwrap(),
        ));
        let feb20 = chrono::NaiveDate::from_ymd_opt(2026, 2, 20).unwrap();
        let life = VmLife::steady(3, "=x1-r3", sizing, feb20);
        let book = crate::demo::rate_book();
        let (feb, mar) = ("2026-02".parse().unwrap(), "2026-03".parse().unwrap());
        let report = compute(&[life], &book, feb, mar).unwrap();
        let mut buf = Vec::new();
        write_showback_xlsx_in(&report, Language::Spanish, &mut buf).unwrap();
        let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(buf)).unwrap();
        assert_eq!(wb.sheet_names(), vec!["Costo real", "Por centro de costo"]);
        let range = wb.worksheet_range("Costo real").unwrap();
        let rows: Vec<&[Data]> = range.rows().collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0][0].to_string(), "Mes");
        assert_eq!(rows[0][9].to_string(), "Días apagada");
        let first = rows[1];
        // Excel counts days from 1899-12-30.
        let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap();
        let feb1 = chrono::NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
        let Data::DateTime(when) = &first[0] else {
            panic!("{:?}", first[0])
        };
        assert_eq!(when.as_f64(), (feb1 - epoch).num_days() as f64);
        assert_eq!(
            first[2],
            Data::String("=x1-r3".into()),
            "text, not a formula"
        );
        assert_eq!(first[8], Data::Float(9.0));
        let actual: f64 = rows[1..].iter().map(|r| r[10].as_f64().unwrap()).sum();
        let exact: f64 = report.actual.to_string().parse().unwrap();
        assert!((actual - exact).abs() < 1e-9, "{actual} {exact}");
        let cc = wb.worksheet_range("Por centro de costo").unwrap();
        assert_eq!(cc.rows().count(), 3);
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
