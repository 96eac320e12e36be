//! Excel export of request lists (SPEC §6), written in memory with
//! rust_xlsxwriter and copied to the caller's writer: no temporary files.
//!
//! Every text cell is written as a string, so text that starts with `=`,
//! `+`, `-` or `@` stays text and never becomes a formula.

use crate::request::Request;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use std::io::Write;

/// The header row, in column order.
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

/// Writes `rows` as a one-sheet workbook to `out`.
pub fn write_requests_xlsx(rows: &[Request], out: &mut dyn Write) -> Result<(), ExportError> {
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet();
    sheet.set_name("Requests")?;
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("0.000000");
    for (c, title) in COLUMNS.iter().enumerate() {
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
        sheet.write_string(row, 3, &r.spec.name)?;
        sheet.write_string(row, 4, &r.owner)?;
        sheet.write_string(row, 5, r.approver.as_deref().unwrap_or(""))?;
        sheet.write_string(row, 6, &r.spec.derived().cost_center)?;
        // Excel numbers are doubles; the exact decimal is in the estimate itself.
        let total = r.estimate.total.to_string().parse::<f64>().unwrap_or(0.0);
        sheet.write_number_with_format(row, 7, total, &money)?;
        sheet.write_string(row, 8, &r.estimate.currency)?;
    }
    let bytes = wb.save_to_buffer()?;
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(())
}
