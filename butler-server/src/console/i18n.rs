//! The console's words in Spanish and English (the original's users
//! worked in Spanish), from one Fluent catalogue per language
//! (`locales/*.ftl`). The language is the user's choice, kept in a cookie;
//! else the browser's `Accept-Language`; else Spanish.

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Español.
    Es,
    /// English.
    En,
}

impl Lang {
    /// From the cookie value.
    pub fn parse(v: &str) -> Lang {
        if v.eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Es
        }
    }

    /// The code (`es`, `en`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    /// The user's language: the console's cookie (their choice), else
    /// the browser's `Accept-Language`, else Spanish.
    pub fn of(headers: &axum::http::HeaderMap) -> Lang {
        if let Some(v) = crate::extract::cookie(headers, super::LANG_COOKIE) {
            return Lang::parse(v);
        }
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(accepted)
            .unwrap_or(Lang::Es)
    }

    /// The other language (for the switch).
    pub fn other(self) -> Lang {
        match self {
            Lang::Es => Lang::En,
            Lang::En => Lang::Es,
        }
    }
}

/// The catalogues, compiled in: `locales/es.ftl` and `locales/en.ftl`.
const SOURCES: [(Lang, &str); 2] = [
    (Lang::Es, include_str!("../../locales/es.ftl")),
    (Lang::En, include_str!("../../locales/en.ftl")),
];

type Bundle = fluent_bundle::concurrent::FluentBundle<fluent_bundle::FluentResource>;

/// Both languages' bundles, parsed once.
fn bundles() -> &'static [(Lang, Bundle); 2] {
    static BUNDLES: std::sync::OnceLock<[(Lang, Bundle); 2]> = std::sync::OnceLock::new();
    BUNDLES.get_or_init(|| SOURCES.map(|(lang, text)| (lang, bundle(lang, text))))
}

/// A bundle of `text`; a line Fluent cannot read is left out and logged
/// (the tests parse both files strictly, so none ships).
fn bundle(lang: Lang, text: &str) -> Bundle {
    let id: unic_langid::LanguageIdentifier = match lang {
        Lang::Es => unic_langid::LanguageIdentifier::from_parts(
            unic_langid::subtags::Language::from_bytes(b"es").unwrap_or_default(),
            None,
            None,
            &[],
        ),
        Lang::En => unic_langid::LanguageIdentifier::from_parts(
            unic_langid::subtags::Language::from_bytes(b"en").unwrap_or_default(),
            None,
            None,
            &[],
        ),
    };
    let resource = fluent_bundle::FluentResource::try_new(text.to_string()).unwrap_or_else(
        |(partial, errors)| {
            tracing::error!(
                ?errors,
                lang = lang.code(),
                "console catalogue has unreadable lines"
            );
            partial
        },
    );
    let mut b = Bundle::new_concurrent(vec![id]);
    // Plain text into HTML templates (which escape it): no Unicode
    // isolation marks around arguments.
    b.set_use_isolating(false);
    if let Err(errors) = b.add_resource(resource) {
        tracing::error!(
            ?errors,
            lang = lang.code(),
            "console catalogue has duplicate keys"
        );
    }
    b
}

fn lookup(lang: Lang, key: &str, args: Option<&fluent_bundle::FluentArgs>) -> Option<String> {
    let (_, b) = bundles().iter().find(|(l, _)| *l == lang)?;
    let pattern = b.get_message(key)?.value()?;
    let mut errors = Vec::new();
    let text = b.format_pattern(pattern, args, &mut errors);
    Some(text.into_owned())
}

/// A word in `lang` (`?key` when missing, so a gap shows; the tests keep
/// every key the templates use in both catalogues).
pub fn word(lang: Lang, key: &str) -> String {
    lookup(lang, key, None).unwrap_or_else(|| format!("?{key}"))
}

/// A message of `lang` with its arguments filled in.
pub fn message(lang: Lang, key: &str, args: &[(&str, String)]) -> String {
    let mut a = fluent_bundle::FluentArgs::new();
    for (k, v) in args {
        a.set(*k, v.clone());
    }
    lookup(lang, key, Some(&a)).unwrap_or_else(|| format!("?{key}"))
}

/// A VM spec's field (`ram_gib`, `disk_type`, …) as the request form
/// labels it in `lang`, else its name.
pub fn field(lang: Lang, name: &str) -> String {
    lookup(lang, name, None).unwrap_or_else(|| name.to_string())
}

/// One of the library's terms (a request state, a role, a step, an
/// action, a power state, a lifecycle) in `lang`: the catalogue's
/// `kind-value`, else the library's own name for it.
pub fn term(lang: Lang, kind: &str, value: &str) -> String {
    lookup(lang, &format!("{kind}-{value}"), None).unwrap_or_else(|| value.to_string())
}

/// A migration finding's sentence in `lang` (the catalogue's
/// `finding-<code>`, filled with what the finding names).
pub fn finding(
    lang: Lang,
    f: &butler::migration::Finding,
    group: &butler::migration::MigrationGroup,
    facts: &butler::migration::FactsSnapshot,
) -> String {
    let v = f.values(group, facts);
    let args = [
        ("vm", v.vm),
        ("pg", v.pg),
        ("src", v.src),
        ("dst", v.dst),
        ("cluster", v.cluster),
        (
            "has_project",
            if v.project.is_some() { "yes" } else { "no" }.to_string(),
        ),
        ("project", v.project.unwrap_or_default()),
        ("minutes", v.minutes.to_string()),
        ("reasons", v.reasons),
    ];
    message(lang, &format!("finding-{}", f.code.as_str()), &args)
}

/// A line the library wrote (a VM's history, a report's note) in `lang`
/// (the catalogue's `said-<code>`, filled with what the line names and
/// the lines it is made of as `parts`).
pub fn said(lang: Lang, s: &butler::said::Said) -> String {
    let parts: Vec<String> = s.parts.iter().map(|p| said(lang, p)).collect();
    // A step is named as the library names it in English, by its term in
    // the other languages.
    let mut args: Vec<(&str, String)> = s
        .values
        .iter()
        .map(|(k, v)| match (k.as_str(), lang) {
            ("step", l) if l != Lang::En => (k.as_str(), term(lang, "step", v)),
            _ => (k.as_str(), v.clone()),
        })
        .collect();
    args.push(("parts", parts.join("; ")));
    // A line whose first part says who and whose others list.
    args.push(("first", parts.first().cloned().unwrap_or_default()));
    args.push((
        "rest",
        parts
            .get(1..)
            .unwrap_or_default()
            .join(&word(lang, "then_sep")),
    ));
    message(lang, &format!("said-{}", s.code.as_str()), &args)
}

/// Why a migration group's edit was refused, in `lang` (the catalogue's
/// `group_error-<case>`, naming the value refused).
pub fn group_error(lang: Lang, e: &butler::migration::GroupError) -> String {
    use butler::migration::GroupError as G;
    let (key, value) = match e {
        G::InvalidName(n) => ("invalid_name", n.clone()),
        G::SameClusters(c) => ("same_clusters", c.clone()),
        G::DuplicateVm(v) => ("duplicate_vm", v.clone()),
        G::UnknownVm(v) => ("unknown_vm", v.clone()),
        G::InvalidVmName(v) => ("invalid_vm_name", v.clone()),
        G::TooManyVms(n) => ("too_many_vms", n.to_string()),
        // A case added to the library later reads as the library says it.
        other => return other.to_string(),
    };
    let args = [
        ("value", value),
        ("max_name", butler::limits::MAX_GROUP_NAME_CHARS.to_string()),
        (
            "max_vm_name",
            butler::migration::MAX_VM_NAME_CHARS.to_string(),
        ),
        ("max_vms", butler::limits::MAX_GROUP_VMS.to_string()),
    ];
    message(lang, &format!("group_error-{key}"), &args)
}

/// A problem of a VM spec in `lang` (the catalogue's `spec-<code>`,
/// filled with the values the problem names).
pub fn spec_problem(lang: Lang, p: &butler::vm_spec::SpecError) -> String {
    let args: Vec<(&str, String)> = p
        .values
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    message(lang, &format!("spec-{}", p.code.as_str()), &args)
}

/// Why the library refused, in `lang` (`denied-<reason>`, naming the
/// user, the roles that would do and the request's state).
pub fn denied(lang: Lang, d: &butler::auth::Denied) -> String {
    let roles = match &d.reason {
        butler::auth::DenyReason::MissingRole { needs } => needs
            .iter()
            .map(|r| term(lang, "role", r.as_str()))
            .collect::<Vec<_>>()
            .join(match lang {
                Lang::Es => " o ",
                Lang::En => " or ",
            }),
        _ => String::new(),
    };
    let state = d
        .state
        .map(|s| term(lang, "state", s.as_str()))
        .unwrap_or_default();
    let args = [
        ("actor", d.actor.clone()),
        ("roles", roles),
        ("state", state),
    ];
    message(lang, &format!("denied-{}", d.reason.code()), &args)
}

/// `d` as the page's language writes money: two decimals, `1.234,56` in
/// Spanish and `1,234.56` in English.
pub fn money(lang: Lang, d: rust_decimal::Decimal) -> String {
    use rust_decimal::RoundingStrategy;
    let d = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    grouped(lang, d, &format!("{:.2}", d.abs()))
}

/// A number as the page's language writes it, with the decimals it has
/// (`0,0125` and `1.440` in Spanish, `0.0125` and `1,440` in English).
pub fn number(lang: Lang, d: rust_decimal::Decimal) -> String {
    let d = d.normalize();
    grouped(lang, d, &d.abs().to_string())
}

/// `text` (the digits of `d` without a sign, `.` before any decimals)
/// grouped by thousands and pointed as `lang` writes numbers.
fn grouped(lang: Lang, d: rust_decimal::Decimal, text: &str) -> String {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let (group, point) = match lang {
        Lang::Es => ('.', ','),
        Lang::En => (',', '.'),
    };
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(ch);
    }
    let sign = if d.is_sign_negative() && !d.is_zero() {
        "-"
    } else {
        ""
    };
    match frac.is_empty() {
        true => format!("{sign}{grouped}"),
        false => format!("{sign}{grouped}{point}{frac}"),
    }
}

/// A line of a cost estimate in `lang`: what is priced, the rate per its
/// period, the periods in the month, the quantity and the amount, every
/// number written as `lang` writes numbers.
pub fn estimate_line(lang: Lang, l: &butler::cost::LineItem) -> String {
    use butler::cost::{CostItem, RateSource};
    let item = match &l.item {
        CostItem::DiskGib(t) => message(lang, "cost_item-disk_gib", &[("type", t.clone())]),
        other => {
            let key = serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            word(lang, &format!("cost_item-{key}"))
        }
    };
    let n = |d: rust_decimal::Decimal| number(lang, d);
    if l.source == RateSource::Unpriced {
        return message(
            lang,
            "estimate_unpriced",
            &[("item", item), ("quantity", n(l.quantity))],
        );
    }
    let per = serde_json::to_value(l.per)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    message(
        lang,
        "estimate_line",
        &[
            ("item", item),
            ("rate", n(l.rate)),
            ("per", word(lang, &format!("per-{per}"))),
            ("periods", n(l.periods)),
            ("quantity", n(l.quantity)),
            ("amount", n(l.amount)),
        ],
    )
}

/// A date and time as `lang` writes it (Spanish day first).
pub fn date_time(lang: Lang, at: chrono::DateTime<chrono::Utc>) -> String {
    match lang {
        Lang::Es => at.format("%d/%m/%Y %H:%M").to_string(),
        Lang::En => at.format("%Y-%m-%d %H:%M").to_string(),
    }
}

/// The language a browser asks for in `Accept-Language`: the supported one
/// with the highest weight (`es-ES;q=0.8, en;q=0.9` is English).
pub fn accepted(header: &str) -> Option<Lang> {
    header
        .split(',')
        .filter_map(|part| {
            let mut bits = part.split(';');
            let tag = bits.next()?.trim().to_ascii_lowercase();
            let q = bits
                .find_map(|b| b.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
            let lang = match tag.split('-').next()? {
                "es" => Lang::Es,
                "en" => Lang::En,
                _ => return None,
            };
            (q > 0.0).then_some((lang, q))
        })
        // The first of the highest weight wins.
        .fold(None, |best: Option<(Lang, f32)>, (l, q)| match best {
            Some((_, bq)) if bq >= q => best,
            _ => Some((l, q)),
        })
        .map(|(l, _)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<String> {
        let resource = match fluent_bundle::FluentResource::try_new(text.to_string()) {
            Ok(r) => r,
            Err((_, errors)) => panic!("a catalogue Fluent cannot read: {errors:?}"),
        };
        let mut keys: Vec<String> = resource
            .entries()
            .filter_map(|e| match e {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
                _ => None,
            })
            .collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n, "duplicate keys");
        keys
    }

    /// Both catalogues parse, hold the same keys, and every key a template
    /// asks for (`c.t("…")`) is in them: a missing word fails CI, not a
    /// user's page.
    #[test]
    fn both_catalogues_have_every_key_the_templates_use() {
        let es = keys(SOURCES[0].1);
        let en = keys(SOURCES[1].1);
        let only_es: Vec<_> = es.iter().filter(|k| !en.contains(k)).collect();
        let only_en: Vec<_> = en.iter().filter(|k| !es.contains(k)).collect();
        assert!(
            only_es.is_empty() && only_en.is_empty(),
            "es only: {only_es:?}; en only: {only_en:?}"
        );
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut used = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for piece in text.split("c.t(\"").skip(1) {
                used.push(piece.split('"').next().unwrap_or_default().to_string());
            }
        }
        assert!(used.len() > 100, "the templates were read");
        let missing: Vec<_> = used.iter().filter(|k| !es.contains(k)).collect();
        assert!(
            missing.is_empty(),
            "keys the templates use and the catalogues lack: {missing:?}"
        );
        assert_eq!(word(Lang::Es, "requests"), "Solicitudes");
        assert_eq!(word(Lang::En, "requests"), "Requests");
        assert_eq!(word(Lang::En, "no-such-key"), "?no-such-key");
    }

    /// Every request state, role, step and action has its word in both
    /// languages.
    #[test]
    fn every_term_of_the_library_has_its_words() {
        use butler::auth::Role;
        use butler::request::{ActionKind, ProvisioningStep, RequestState};
        let mut terms: Vec<(&str, &str)> = Vec::new();
        terms.extend(RequestState::ALL.iter().map(|s| ("state", s.as_str())));
        terms.extend(Role::ALL.iter().map(|r| ("role", r.as_str())));
        terms.extend(ProvisioningStep::ALL.iter().map(|s| ("step", s.as_str())));
        terms.extend(ActionKind::ALL.iter().map(|a| ("action", a.as_str())));
        terms.extend(
            butler::migration::FindingCode::ALL
                .iter()
                .map(|c| ("finding", c.as_str())),
        );
        terms.extend(
            super::super::groups::OUTCOMES
                .iter()
                .map(|o| ("outcome", *o)),
        );
        terms.extend(["error", "warning", "info"].map(|s| ("severity", s)));
        terms.extend(
            butler::said::SaidCode::ALL
                .iter()
                .map(|c| ("said", c.as_str())),
        );
        terms.extend(
            butler::vm_spec::SpecErrorCode::ALL
                .iter()
                .map(|c| ("spec", c.as_str())),
        );
        for (kind, value) in terms {
            for lang in [Lang::Es, Lang::En] {
                let key = format!("{kind}-{value}");
                assert!(
                    lookup(lang, &key, None).is_some(),
                    "{} lacks {key}",
                    lang.code()
                );
            }
        }
        use butler::auth::DenyReason as D;
        let reasons = [
            D::MissingRole { needs: vec![] },
            D::NotOwner,
            D::OwnRequest,
            D::NotVisible,
            D::WrongState,
            D::Final,
            D::EngineOnly,
            D::WrongStep,
            D::NotEditable,
            D::NotAtLevel,
            D::ApprovedAlready,
        ];
        for r in reasons {
            for lang in [Lang::Es, Lang::En] {
                let key = format!("denied-{}", r.code());
                assert!(
                    lookup(lang, &key, None).is_some(),
                    "{} lacks {key}",
                    lang.code()
                );
            }
        }
        assert_eq!(term(Lang::Es, "state", "approved"), "Aprobada");
        assert_eq!(term(Lang::En, "state", "approved"), "Approved");
        assert_eq!(term(Lang::Es, "state", "unknown-one"), "unknown-one");
    }

    /// The English catalogue words every line the library writes as the
    /// library does (so the console and the API say the same), and the
    /// Spanish one words it in Spanish, naming the same values.
    #[test]
    fn the_librarys_lines_are_worded_as_the_library_words_them() {
        use butler::said::{Said, SaidCode};
        let keys = [
            "text",
            "request",
            "owner",
            "cost_center",
            "kind",
            "until",
            "ended",
            "days",
            "change",
            "power",
            "secs",
            "recorded",
            "found",
            "from",
            "to",
            "run",
            "cluster",
            "reason",
            "project",
            "count",
            "vm",
            "uuid",
            "group",
            "address",
            "groups",
            "end",
            "why",
            "total",
            "currency",
            "vcpus",
            "ram",
            "disks",
            "nics",
            "was_vcpus",
            "was_ram",
            "was_disks",
            "was_nics",
            "version",
            "role",
            "users",
            "rules",
            "state",
            "lifecycle",
            "record",
            "step",
            "attempt",
            "more",
            "quoted",
        ];
        for code in SaidCode::ALL {
            for because in ["", "pg", "vm"] {
                let mut line = Said::new(*code, []).with_parts(vec![
                    Said::just(SaidCode::NoRuleMatched),
                    Said::just(SaidCode::DriftDeleted),
                    Said::new(
                        SaidCode::DriftMoved,
                        [("from", "a".into()), ("to", "b".into())],
                    ),
                ]);
                for k in keys {
                    line.values.insert(k.into(), format!("<{k}>"));
                }
                line.values.insert("kind".into(), "reconfigure".into());
                line.values.insert("change".into(), "guest_shutdown".into());
                line.values.insert("power".into(), "off".into());
                line.values.insert("role".into(), "approver".into());
                line.values.insert("because".into(), because.into());
                assert_eq!(said(Lang::En, &line), line.to_string(), "{code:?}");
                let es = said(Lang::Es, &line);
                assert!(!es.starts_with('?'), "{code:?}: {es}");
                for k in keys
                    .iter()
                    .filter(|k| line.to_string().contains(&format!("<{k}>")))
                {
                    assert!(
                        es.contains(&format!("<{k}>")),
                        "{code:?} in Spanish lacks ${k}: {es}"
                    );
                }
                if *code != SaidCode::Text {
                    assert_ne!(es, line.to_string(), "{code:?} is not translated");
                }
            }
        }
        let decision = butler::rules::Decision {
            outcome: butler::rules::Outcome::Require {
                levels: vec![
                    butler::rules::Level::role(butler::auth::Role::Approver),
                    butler::rules::Level::role(butler::auth::Role::Admin),
                ],
                restart_on_edit: false,
            },
            book_version: 3,
            rules: vec![],
        };
        assert_eq!(said(Lang::En, &decision.said()), decision.note());
        assert_eq!(
            said(Lang::Es, &decision.said()),
            "necesita la aprobación de Aprobador, luego Administrador (ninguna regla coincidió, reglas v3)"
        );
        let back = Said::new(
            SaidCode::PoweredOnAgain,
            [("cluster", "c2".into()), ("because", "pg".into())],
        );
        assert_eq!(
            said(Lang::Es, &back),
            "encendida de nuevo en c2 (su dominio de protección no se movió)"
        );
    }

    /// A migration group's refused edits, every case in both languages,
    /// naming what was refused.
    #[test]
    fn group_errors_are_worded_in_each_language() {
        use butler::migration::GroupError as G;
        for e in [
            G::InvalidName("x".into()),
            G::SameClusters("c1".into()),
            G::DuplicateVm("web01".into()),
            G::UnknownVm("web01".into()),
            G::InvalidVmName("w\u{202e}".into()),
            G::TooManyVms(9),
        ] {
            let (es, en) = (group_error(Lang::Es, &e), group_error(Lang::En, &e));
            assert!(!es.starts_with('?') && !en.starts_with('?'), "{e:?}");
            assert_ne!(es, en, "{e:?}");
        }
        assert_eq!(
            group_error(Lang::Es, &G::DuplicateVm("web01".into())),
            "La VM «web01» ya está en el grupo"
        );
    }

    /// An estimate's lines: in English as the library writes them, in
    /// Spanish with Spanish words and decimal commas; numbers grouped by
    /// thousands as each language groups them.
    #[test]
    fn estimate_lines_are_written_as_each_language_writes_numbers() {
        use butler::cost::{CostItem, LineItem, Period, RateSource};
        let line = |item: CostItem, source: RateSource| LineItem {
            item,
            rate: dec("0.0125"),
            per: Period::Hour,
            periods: dec("720"),
            quantity: dec("2"),
            amount: dec("18.0000"),
            source,
        };
        for item in [
            CostItem::Vcpu,
            CostItem::RamGib,
            CostItem::DiskGib("SSD".into()),
            CostItem::BackupLocalGib,
            CostItem::BackupRemoteGib,
            CostItem::Cdrom,
            CostItem::Nic,
            CostItem::Image,
        ] {
            for source in [RateSource::Default, RateSource::Unpriced] {
                let l = line(item.clone(), source);
                assert_eq!(estimate_line(Lang::En, &l), l.to_string());
                assert!(!estimate_line(Lang::Es, &l).contains('?'), "{item:?}");
            }
        }
        let l = line(CostItem::DiskGib("SSD".into()), RateSource::Default);
        assert_eq!(
            estimate_line(Lang::Es, &l),
            "GiB de disco SSD: 0,0125/hora × 720 × 2 = 18"
        );
        assert_eq!(number(Lang::Es, dec("1440.50")), "1.440,5");
        assert_eq!(number(Lang::En, dec("-1440.50")), "-1,440.5");
        assert_eq!(number(Lang::En, dec("12")), "12");
    }

    /// A finding's sentence is worded by each catalogue around what the
    /// finding names, a choice included.
    #[test]
    fn findings_are_worded_in_each_language_with_their_values() {
        let args = |has: &str| {
            vec![
                ("vm", "web01".to_string()),
                ("project", "prod".to_string()),
                ("has_project", has.to_string()),
                ("cluster", "c2".to_string()),
            ]
        };
        assert_eq!(
            message(Lang::Es, "finding-project_mismatch", &args("yes")),
            "La VM «web01» está en el proyecto «prod», que no puede usar el clúster «c2»"
        );
        assert_eq!(
            message(Lang::Es, "finding-project_mismatch", &args("no")),
            "La VM «web01» no tiene proyecto"
        );
        assert_eq!(
            message(Lang::En, "finding-project_mismatch", &args("yes")),
            "VM \"web01\" is in project \"prod\", which may not use cluster \"c2\""
        );
    }

    #[test]
    fn the_browsers_language_is_the_supported_one_it_weighs_most() {
        assert_eq!(accepted("en-GB,en;q=0.9"), Some(Lang::En));
        assert_eq!(accepted("fr-FR, es-ES;q=0.8, en;q=0.9"), Some(Lang::En));
        assert_eq!(accepted("es-MX;q=0.7, de"), Some(Lang::Es));
        assert_eq!(accepted("de, fr"), None);
        assert_eq!(accepted("en;q=0, es;q=0.1"), Some(Lang::Es));
        assert_eq!(accepted(""), None);
    }

    #[test]
    fn dates_are_written_as_each_language_writes_them() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-03-04T05:06:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(date_time(Lang::Es, at), "04/03/2026 05:06");
        assert_eq!(date_time(Lang::En, at), "2026-03-04 05:06");
    }

    fn dec(s: &str) -> rust_decimal::Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn money_is_written_as_each_language_writes_it() {
        assert_eq!(money(Lang::Es, dec("1234567.891")), "1.234.567,89");
        assert_eq!(money(Lang::En, dec("1234567.891")), "1,234,567.89");
        assert_eq!(money(Lang::En, dec("-0.005")), "-0.01");
        assert_eq!(money(Lang::Es, dec("999.994")), "999,99");
        assert_eq!(money(Lang::En, dec("0")), "0.00");
    }
}
