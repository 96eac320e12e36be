use super::ActionKind;
use super::RequestState;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One changed field: path, old and new displayed value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Field path, e.g. `disks_gib[1]`.
    pub field: String,
    /// Value before (`None`: the field did not exist, e.g. a new disk).
    pub old: Option<String>,
    /// Value after (`None`: the field was removed).
    pub new: Option<String>,
}

/// Monthly cost before and after a spec change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostChange {
    /// Total before.
    pub before: Decimal,
    /// Total after.
    pub after: Decimal,
    /// Currency of both (of the card used after).
    pub currency: String,
}

/// One entry of a request's history. Entries are only ever appended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Position in the history, from 1.
    pub seq: u32,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (user name).
    pub actor: String,
    /// What was done.
    pub action: ActionKind,
    /// State before (`None` on creation).
    pub from: Option<RequestState>,
    /// State after.
    pub to: RequestState,
    /// Fields changed, if the spec changed.
    pub changes: Vec<FieldChange>,
    /// Cost before/after, if the spec changed.
    pub cost: Option<CostChange>,
    /// Free text: a reason, a step outcome.
    pub note: Option<String>,
    /// The note as a code with its values where Butler wrote it (a rule
    /// book's decision), for a user interface to word in its language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub said: Option<crate::said::Said>,
}

impl std::fmt::Display for HistoryEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = self.from.map(|s| s.as_str()).unwrap_or("new");
        write!(
            f,
            "{} {} {} {} → {}",
            self.at.format("%Y-%m-%d %H:%M:%S"),
            self.actor,
            self.action,
            from,
            self.to
        )?;
        for c in &self.changes {
            write!(
                f,
                "; {}: {} → {}",
                c.field,
                c.old.as_deref().unwrap_or("∅"),
                c.new.as_deref().unwrap_or("∅")
            )?;
        }
        if let Some(c) = &self.cost {
            write!(
                f,
                "; cost {} → {} {}",
                c.before.normalize(),
                c.after.normalize(),
                c.currency
            )?;
        }
        if let Some(n) = &self.note {
            write!(f, "; {n}")?;
        }
        Ok(())
    }
}

/// The field changes from `old` to `new` spec.
pub(crate) fn field_changes(
    old: &crate::vm_spec::VmSpec,
    new: &crate::vm_spec::VmSpec,
) -> Vec<FieldChange> {
    let (a, b) = (old.fields(), new.fields());
    let mut out = Vec::new();
    for (k, v) in &a {
        match b.get(k) {
            Some(nv) if nv == v => {}
            nv => out.push(FieldChange {
                field: k.clone(),
                old: Some(v.clone()),
                new: nv.cloned(),
            }),
        }
    }
    for (k, v) in &b {
        if !a.contains_key(k) {
            out.push(FieldChange {
                field: k.clone(),
                old: None,
                new: Some(v.clone()),
            });
        }
    }
    out
}
