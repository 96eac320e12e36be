//! Every limit on data entering Butler, in one place.
//!
//! Input past a limit is a typed error naming the field and the limit
//! ([`LimitError`], or the domain error of the check listed below), and
//! changes nothing. Lists are measured before any per-element work, so a
//! million-element list costs one comparison; values echoed back in
//! messages are cut after [`ECHO_CHARS`] characters.
//!
//! | what | limit | checked by |
//! |---|---|---|
//! | user name | 1–[`MAX_USER_NAME_CHARS`] characters after NFC; no white space, invisible, bidirectional or mixed-script characters; `butler-engine`, `engine`, `system` reserved | [`auth::normalize_user_name`](crate::auth::normalize_user_name) |
//! | password | 12 characters to [`MAX_PASSWORD_BYTES`] bytes | `users::UserService` |
//! | VM name in a spec | 1–[`MAX_SPEC_NAME_CHARS`] ASCII letters, digits, `-_.` | [`vm_spec::validate`](crate::vm_spec::validate) |
//! | disks / NICs of a VM | 1–[`MAX_DISKS`] / 1–[`MAX_NICS`]; a longer list is one problem | [`vm_spec::validate`](crate::vm_spec::validate) |
//! | cores, sockets, vCPUs, RAM, disk size | the catalog's [`Limits`](crate::catalog::Limits) (defaults 64, 8, 128, 4,096 GiB, 65,536 GiB) | [`vm_spec::validate`](crate::vm_spec::validate) |
//! | lease | 1–[`MAX_LEASE_DAYS`] days, or the environment's `max_lease_days` | [`vm_spec::validate`](crate::vm_spec::validate) |
//! | special requirement | the catalog's `max_note_chars` (default 4,000, at most [`MAX_NOTE_CHARS`]); control characters other than line breaks and tabs removed | [`vm_spec::validate`](crate::vm_spec::validate) |
//! | reject / cancel reason | [`MAX_REASON_CHARS`]; control characters become spaces | [`service::clean_reason`](crate::service::clean_reason) |
//! | problems listed for one spec | bounded by the list limits above (at most about 40), each value echoed at most [`ECHO_CHARS`] characters | [`vm_spec::validate`](crate::vm_spec::validate) |
//! | migration group name | 1–[`MAX_GROUP_NAME_CHARS`] characters after NFC; no control, invisible or bidirectional characters; unique regardless of case | [`migration::name_key`](crate::migration::name_key) |
//! | VM name in a migration group | 1–[`MAX_VM_NAME_CHARS`] characters, no control characters | [`migration::check_vm_name`](crate::migration::check_vm_name) |
//! | VMs in a migration group | [`MAX_GROUP_VMS`] | [`migration::MigrationService`](crate::migration::MigrationService) |
//! | validation token text | [`MAX_TOKEN_CHARS`] | [`migration::MigrationService::parse_token`](crate::migration::MigrationService::parse_token) |
//! | catalog / rate-card text | [`MAX_CONFIG_BYTES`] | [`catalog::Catalog`](crate::catalog::Catalog), [`cost::RateBook`](crate::cost::RateBook) |
//! | entries of one catalog list, cost-center table, rate cards in a book, overrides in a card | [`MAX_CATALOG_ENTRIES`] | same |
//! | a code or name in a catalog or rate card | 1–[`MAX_CODE_CHARS`] characters, no control characters | same |
//! | VLANs of an environment | [`MAX_ENVIRONMENT_VLANS`] | [`catalog::Catalog`](crate::catalog::Catalog) |
//! | rate | 0 to [`MAX_RATE`] per unit and period | [`cost::RateBook::new`](crate::cost::RateBook::new) |
//! | margin | 0 to [`MAX_MARGIN`] (+10,000 %) | [`cost::RateBook::new`](crate::cost::RateBook::new) |
//! | money arithmetic | checked; an overflow is [`CostError::Overflow`](crate::cost::CostError::Overflow) | [`cost::estimate`](crate::cost::estimate) |
//! | request list page | 1–[`MAX_PAGE_SIZE`] rows; any offset (past the end is an empty page) | [`service::RequestService::list`](crate::service::RequestService::list) |
//! | Excel cell | [`MAX_CELL_CHARS`]; longer text is cut with a marker | `export::write_requests_xlsx` |
//!
//! Limits owned by other crates: the simulator's fleets
//! (`butler_sim::fleet::MAX_FLEET_VMS`, `MAX_FLEET_GROUPS`) and the Nutanix
//! adapter's answers (`max_list_entities`, `max_body_mib` in its config).

use rust_decimal::Decimal;

/// Longest user name, in characters after NFC.
pub const MAX_USER_NAME_CHARS: usize = 64;
/// Longest password, in bytes (Argon2id's work grows with it).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Longest VM name in a spec. Nutanix accepts 80 characters; Butler keeps
/// room for the `-r<request number>` suffix of the platform-wide name.
pub const MAX_SPEC_NAME_CHARS: usize = 60;
/// Longest lease a spec may ask, in days (ten years); an environment may
/// cap it lower.
pub const MAX_LEASE_DAYS: u32 = 3650;
/// Most disks a VM has.
pub const MAX_DISKS: usize = 12;
/// Most NICs a VM has.
pub const MAX_NICS: usize = 4;
/// Ceiling of a catalog's `max_note_chars` (the special-requirement text).
pub const MAX_NOTE_CHARS: usize = 65_536;
/// Longest reject or cancel reason, in characters.
pub const MAX_REASON_CHARS: usize = 2000;
/// Longest part of a value echoed back in a message, in characters.
pub const ECHO_CHARS: usize = 64;
/// Longest migration group name, in characters after NFC.
pub const MAX_GROUP_NAME_CHARS: usize = 80;
/// Longest VM name a group accepts (Prism allows 80; some platforms 255).
pub const MAX_VM_NAME_CHARS: usize = 255;
/// Most VMs in one migration group.
pub const MAX_GROUP_VMS: usize = 5_000_000;
/// Longest validation token text (its subset lists VM names).
pub const MAX_TOKEN_CHARS: usize = 16 * 1024 * 1024;
/// Largest catalog or rate-card text (TOML or JSON).
pub const MAX_CONFIG_BYTES: usize = 16 * 1024 * 1024;
/// Most entries in one list of a catalog or rate book.
pub const MAX_CATALOG_ENTRIES: usize = 100_000;
/// Longest code or name in a catalog or rate card, in characters.
pub const MAX_CODE_CHARS: usize = 256;
/// Most VLANs one environment lists (there are 4,094 VLAN ids).
pub const MAX_ENVIRONMENT_VLANS: usize = 4096;
/// Largest rate a card may give, per unit and period: a rate card is money
/// per vCPU, GiB or NIC, and nothing real costs more, so a larger one is a
/// typing mistake (or an attack) caught when the card is loaded.
pub const MAX_RATE: Decimal = Decimal::from_parts(0xD4A5_1000, 0xE8, 0, false, 0); // 1e12
/// Largest margin a card may give (100 = +10,000 %).
pub const MAX_MARGIN: Decimal = Decimal::from_parts(100, 0, 0, false, 0);
/// Most rows in one page of the request list.
pub const MAX_PAGE_SIZE: usize = 10_000;
/// Longest text in one Excel cell (Excel's own limit).
pub const MAX_CELL_CHARS: usize = 32_767;

/// A value past one of the limits above.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {found} {unit} is over the limit of {limit}")]
pub struct LimitError {
    /// The field or input, e.g. `catalog text` or `units`.
    pub field: String,
    /// The limit.
    pub limit: usize,
    /// What was given (a lower bound when counting stopped early).
    pub found: usize,
    /// What is counted: `bytes`, `characters`, `entries`, `rows`.
    pub unit: &'static str,
}

/// `Err(LimitError)` when `found > limit`.
pub fn check(
    field: impl Into<String>,
    found: usize,
    limit: usize,
    unit: &'static str,
) -> Result<(), LimitError> {
    if found > limit {
        return Err(LimitError {
            field: field.into(),
            limit,
            found,
            unit,
        });
    }
    Ok(())
}

/// A value as messages show it: quoted, cut after [`ECHO_CHARS`]
/// characters, so a 10 MiB field never becomes a 10 MiB message.
pub fn shown(value: &str) -> String {
    match value.char_indices().nth(ECHO_CHARS) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!(
            "{:?}… ({} characters)",
            &value[..cut],
            value.chars().count()
        ),
    }
}

/// A value as a message's named values carry it: cut after
/// [`ECHO_CHARS`] characters (with `…`), unquoted (a translation quotes).
pub fn cut(value: &str) -> String {
    match value.char_indices().nth(ECHO_CHARS) {
        None => value.to_string(),
        Some((i, _)) => format!("{}…", &value[..i]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_field_limit_and_size() {
        assert_eq!(check("units", 3, 3, "entries"), Ok(()));
        let e = check("units", 4, 3, "entries").unwrap_err();
        assert_eq!(e.to_string(), "units: 4 entries is over the limit of 3");
    }

    #[test]
    fn shown_cuts_long_values_on_a_char_boundary() {
        assert_eq!(shown("ab"), "\"ab\"");
        let long = "é".repeat(ECHO_CHARS + 10);
        let s = shown(&long);
        assert!(s.ends_with(&format!("({} characters)", ECHO_CHARS + 10)));
        assert!(s.chars().count() < ECHO_CHARS + 30);
    }
}
