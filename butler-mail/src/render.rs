//! The message of one event: subject, plain text and HTML with the
//! request's one-page summary.

use butler_core::notify::{Event, VmNotice, VmNoticeKind};
use butler_core::request::Request;
use std::fmt::Write;

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject (without the configured prefix).
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body (every value escaped).
    pub html: String,
}

/// HTML-escapes text from users (names, reasons, special requirements).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The summary rows: (label, value).
fn rows(r: &Request) -> Vec<(&'static str, String)> {
    let s = r.spec.spec();
    let d = r.spec.derived();
    vec![
        ("Request", r.id.to_string()),
        ("State", r.state.to_string()),
        ("Requester", r.owner.clone()),
        ("Approver", r.approver.clone().unwrap_or_else(|| "-".into())),
        ("VM name", s.name.clone()),
        ("Cluster", s.cluster.clone()),
        ("Environment", s.environment.clone()),
        ("Division / unit", format!("{} / {}", s.division, s.unit)),
        (
            "vCPUs",
            format!(
                "{} ({} socket(s) × {} cores)",
                s.vcpus(),
                s.sockets,
                s.cores_per_socket
            ),
        ),
        ("RAM", format!("{} GiB", s.ram_gib)),
        (
            "Disks",
            format!(
                "{} ({}), {} GiB in all",
                s.disks_gib
                    .iter()
                    .map(|g| format!("{g} GiB"))
                    .collect::<Vec<_>>()
                    .join(", "),
                s.disk_type,
                s.storage_gib()
            ),
        ),
        ("NICs", s.nics.join(", ")),
        ("Image", s.image.clone().unwrap_or_else(|| "-".into())),
        ("Project", d.project.clone()),
        ("Cost center", d.cost_center.clone()),
        (
            "Monthly estimate",
            format!(
                "{} {} (card {})",
                r.estimate.total, r.estimate.currency, r.estimate.card_version
            ),
        ),
    ]
}

/// The HTML message's start: the summary line and the table of `rows`,
/// left open for more rows.
fn html_head<K: AsRef<str>>(summary: &str, rows: &[(K, String)]) -> String {
    let mut html = String::from("<!doctype html><html><body style=\"font-family:sans-serif\">");
    let _ = write!(html, "<p>{}</p><table>", esc(summary));
    for (k, v) in rows {
        let _ = write!(
            html,
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            esc(k.as_ref()),
            esc(v)
        );
    }
    html
}

/// Renders `event` about `request` (as it is now).
pub fn render(request: &Request, event: &Event) -> Rendered {
    let subject = format!(
        "request {} ({}) is {}",
        request.id,
        request.spec.spec().name,
        event.to
    );
    let rows = rows(request);
    let last = request.history.iter().rev().take(5).collect::<Vec<_>>();
    let mut text = String::new();
    let _ = writeln!(text, "{}\n", event.summary);
    for (k, v) in &rows {
        let _ = writeln!(text, "{k:<17} {v}");
    }
    if let Some(f) = &request.failure {
        let _ = writeln!(
            text,
            "{:<17} {} after {} attempt(s): {}",
            "Failed step", f.step, f.attempts, f.reason
        );
    }
    if !request.spec.spec().special_requirement.is_empty() {
        let _ = writeln!(
            text,
            "\nSpecial requirement:\n{}",
            request.spec.spec().special_requirement
        );
    }
    let _ = writeln!(text, "\nLast changes:");
    for h in last.iter().rev() {
        let _ = write!(
            text,
            "  {}  {:<9} {} → {}",
            h.at.format("%Y-%m-%d %H:%M"),
            h.actor,
            h.from.map(|s| s.as_str()).unwrap_or("new"),
            h.to
        );
        if let Some(n) = &h.note {
            let _ = write!(text, "  ({n})");
        }
        text.push('\n');
    }

    let mut html = html_head(&event.summary, &rows);
    if let Some(f) = &request.failure {
        let _ = write!(
            html,
            "<tr><th align=\"left\">Failed step</th><td>{} after {} attempt(s): {}</td></tr>",
            esc(&f.step.to_string()),
            f.attempts,
            esc(&f.reason)
        );
    }
    html.push_str("</table>");
    if !request.spec.spec().special_requirement.is_empty() {
        let _ = write!(
            html,
            "<h4>Special requirement</h4><pre>{}</pre>",
            esc(&request.spec.spec().special_requirement)
        );
    }
    html.push_str("<h4>Last changes</h4><ul>");
    for h in last.iter().rev() {
        let _ = write!(
            html,
            "<li>{} {}: {} → {}{}</li>",
            esc(&h.at.format("%Y-%m-%d %H:%M").to_string()),
            esc(&h.actor),
            h.from.map(|s| s.as_str()).unwrap_or("new"),
            h.to,
            h.note
                .as_deref()
                .map(|n| format!(" ({})", esc(n)))
                .unwrap_or_default()
        );
    }
    html.push_str("</ul></body></html>");
    Rendered {
        subject,
        text,
        html,
    }
}

/// Renders a notice about an inventory VM (its lease ending) for its owner.
pub fn render_notice(n: &VmNotice) -> Rendered {
    let subject = match &n.kind {
        VmNoticeKind::LeaseEnding { ends, .. } => {
            format!("the lease of VM {} ends on {ends}", n.display_name)
        }
        VmNoticeKind::LeaseEnded { ended } => {
            format!("the lease of VM {} ended on {ended}", n.display_name)
        }
        VmNoticeKind::Power { change, by, .. } => {
            format!("VM {}: power {change} by {by}", n.display_name)
        }
        VmNoticeKind::MigrationPower { to, on: false, .. } => {
            format!("VM {} is powered off to migrate it to {to}", n.display_name)
        }
        VmNoticeKind::MigrationPower { to, .. } => {
            format!("VM {} is on {to} and powered on again", n.display_name)
        }
        _ => format!("about VM {}", n.display_name),
    };
    let summary = n.summary();
    let rows = [
        ("VM", format!("{} ({})", n.display_name, n.name)),
        ("Inventory record", n.vm.to_string()),
        ("Owner", n.owner.clone()),
    ];
    let mut text = format!("{summary}\n\n");
    for (k, v) in &rows {
        let _ = writeln!(text, "{k:<17} {v}");
    }
    let mut html = html_head(&summary, &rows);
    html.push_str("</table></body></html>");
    Rendered {
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_is_escaped_in_html() {
        assert_eq!(
            esc("<b onclick='x'>&\""),
            "&lt;b onclick=&#39;x&#39;&gt;&amp;&quot;"
        );
    }
}
