//! The layer rule (docs/architecture.md, "Layers"), checked on the parsed
//! source rather than by grep: the pure modules (the SPEC's rules: VM specs,
//! cost, request transitions, authorization, catalog, migration facts,
//! validation, plans, reports and tokens) reach no runtime, no store, no
//! backend I/O and no engine, however the path is written (`crate::`,
//! `super::`, grouped, renamed, an alias of an imported module, a full path
//! in code, a macro); the store port names domain types only. A second
//! test plants each kind of forbidden path in a scratch copy of the source
//! and sees the check catch it, so the check cannot quietly stop working.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// Pure modules, as paths under `src/`.
const PURE: &[&str] = &[
    "vm_spec/mod.rs",
    "vm_spec/validate.rs",
    "cost/mod.rs",
    "cost/card.rs",
    "cost/estimate.rs",
    "request/mod.rs",
    "request/action_kind.rs",
    "request/history.rs",
    "request/transition.rs",
    "request/flow.rs",
    "inventory/record.rs",
    "inventory/notice.rs",
    "catalog.rs",
    "auth/policy.rs",
    "auth/names.rs",
    "auth/users.rs",
    "migration/group.rs",
    "migration/facts.rs",
    "migration/inventory.rs",
    "migration/validate.rs",
    "migration/token.rs",
    "migration/report.rs",
    "migration/plan.rs",
    "said.rs",
];

/// What a pure module may not name (a path equal to one, or under it).
const RUNTIME: &[&str] = &[
    "tokio",
    "async_trait",
    "futures",
    "rusqlite",
    "reqwest",
    "std::net",
    "crate::store",
    "crate::engine",
    "crate::service",
    "crate::ledger",
    "crate::resilience",
    "crate::notify",
    "crate::users",
    "crate::catalog_sync",
    "crate::export",
    "crate::migration::run",
    "crate::migration::service",
    "crate::migration::facts_cache",
    "crate::migration::inventory_read",
    "crate::backend::ClusterBackend",
    "crate::backend::Monitor",
    "crate::backend::Billing",
    "crate::backend::Clock",
    "crate::backend::SystemClock",
    "crate::backend::clock",
    "crate::backend::outside",
];

/// The store port: domain types only (no runtime, engine or services).
const PORT: &[&str] = &["store/mod.rs", "store/outbox.rs"];
const PORT_FORBIDS: &[&str] = &[
    "tokio::spawn",
    "tokio::time",
    "reqwest",
    "crate::engine",
    "crate::service",
    "crate::ledger",
    "crate::resilience",
    "crate::users",
    "crate::notify::hub",
    "crate::notify::NotifyHub",
    "crate::notify::Notifier",
    "crate::migration::run",
    "crate::migration::service",
    "crate::migration::inventory_read",
];

/// The module path of a file under `src/` (`migration/facts.rs` →
/// `crate::migration::facts`; `request/mod.rs` → `crate::request`).
fn module_of(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = std::iter::once("crate".to_string())
        .chain(file.trim_end_matches(".rs").split('/').map(str::to_string))
        .collect();
    if parts.last().map(String::as_str) == Some("mod") {
        parts.pop();
    }
    parts
}

/// Collects every path a file names, resolved to an absolute one.
struct Paths {
    module: Vec<String>,
    /// Names brought in by `use` (the last segment or its rename) → path.
    aliases: HashMap<String, Vec<String>>,
    found: Vec<(Vec<String>, usize)>,
    async_fns: Vec<usize>,
}

impl Paths {
    fn resolve(&self, segments: &[String]) -> Vec<String> {
        let Some(first) = segments.first() else {
            return Vec::new();
        };
        let (mut out, rest) = match first.as_str() {
            "crate" => (vec!["crate".to_string()], &segments[1..]),
            "self" | "super" => (self.module.clone(), segments),
            name => match self.aliases.get(name) {
                Some(full) => (full.clone(), &segments[1..]),
                None => (vec![name.to_string()], &segments[1..]),
            },
        };
        let mut rest = rest.iter().peekable();
        // `self` and `super` only lead a path (`self::super::super::x`).
        while let Some(s) = rest.peek() {
            match s.as_str() {
                "self" => {}
                "super" => {
                    out.pop();
                }
                _ => break,
            }
            rest.next();
        }
        out.extend(rest.cloned());
        out
    }

    fn use_tree(&mut self, prefix: Vec<String>, tree: &syn::UseTree, line: usize) {
        match tree {
            syn::UseTree::Path(p) => {
                let mut next = prefix;
                next.push(p.ident.to_string());
                self.use_tree(next, &p.tree, line);
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix;
                if n.ident != "self" {
                    full.push(n.ident.to_string());
                }
                let full = self.resolve(&full);
                if let Some(last) = full.last() {
                    self.aliases.insert(last.clone(), full.clone());
                }
                self.found.push((full, line));
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix;
                full.push(r.ident.to_string());
                let full = self.resolve(&full);
                self.aliases.insert(r.rename.to_string(), full.clone());
                self.found.push((full, line));
            }
            syn::UseTree::Glob(_) => {
                let full = self.resolve(&prefix);
                self.found.push((full, line));
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix.clone(), t, line);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        // Tests may use the runtime: `#[cfg(test)]` modules are not the rule.
        let test_only = m.attrs.iter().any(|a| {
            a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test")
        });
        if !test_only {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let line = u.use_token.span.start().line;
        self.use_tree(Vec::new(), &u.tree, line);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        let line = p
            .segments
            .first()
            .map_or(0, |s| s.ident.span().start().line);
        let full = self.resolve(&segments);
        self.found.push((full, line));
        syn::visit::visit_path(self, p);
    }

    fn visit_signature(&mut self, s: &'ast syn::Signature) {
        if let Some(a) = &s.asyncness {
            self.async_fns.push(a.span.start().line);
        }
        syn::visit::visit_signature(self, s);
    }
}

/// Whether `path` is `rule` or under it.
fn under(path: &[String], rule: &str) -> bool {
    let rule: Vec<&str> = rule.split("::").collect();
    path.len() >= rule.len() && path.iter().zip(&rule).all(|(a, b)| a == b)
}

/// The paths a file names (resolved) and its `async fn` lines.
fn scan(src: &Path, file: &str) -> Result<Paths, String> {
    let text = std::fs::read_to_string(src.join(file)).map_err(|e| format!("{file}: {e}"))?;
    let ast = syn::parse_file(&text).map_err(|e| format!("{file}: {e}"))?;
    let mut paths = Paths {
        module: module_of(file),
        aliases: HashMap::new(),
        found: Vec::new(),
        async_fns: Vec::new(),
    };
    // Uses first, so an alias is known wherever it is used.
    for item in &ast.items {
        if let syn::Item::Use(u) = item {
            paths.visit_item_use(u);
        }
    }
    paths.found.clear();
    paths.visit_file(&ast);
    // Intra-doc links name paths too (rustdoc resolves them): a pure
    // module's docs pointing into the engine tie it to the engine.
    for (i, line) in text.lines().enumerate() {
        let doc = line.trim_start();
        if !(doc.starts_with("///") || doc.starts_with("//!")) {
            continue;
        }
        for start in doc.match_indices("crate::").map(|(at, _)| at) {
            let path: Vec<String> = doc[start..]
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            paths.found.push((path, i + 1));
        }
    }
    Ok(paths)
}

/// Every breach of the layer rule under `src`, one line each.
fn violations(src: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |file: &str, forbidden: &[&str], no_async: bool| match scan(src, file) {
        Err(e) => out.push(e),
        Ok(p) => {
            for (path, line) in &p.found {
                if let Some(rule) = forbidden.iter().find(|r| under(path, r)) {
                    out.push(format!("{file}:{line}: names {} ({rule})", path.join("::")));
                }
            }
            if no_async {
                for line in &p.async_fns {
                    out.push(format!("{file}:{line}: an async fn in a pure module"));
                }
            }
        }
    };
    for file in PURE {
        check(file, RUNTIME, true);
    }
    for file in PORT {
        check(file, PORT_FORBIDS, false);
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn pure_modules_reach_no_runtime_and_the_store_port_names_domain_types_only() {
    let found = violations(&src());
    assert!(found.is_empty(), "layer rule broken:\n{}", found.join("\n"));
}

/// Copies `src` to a scratch folder.
fn scratch_copy(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            scratch_copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn the_check_catches_every_way_of_writing_a_forbidden_path() {
    let plants: &[(&str, &str, &str)] = &[
        (
            "migration/facts.rs",
            "use super::inventory_read::read;",
            "crate::migration::inventory_read::read",
        ),
        (
            "cost/estimate.rs",
            "use crate::{store::Store};",
            "crate::store::Store",
        ),
        (
            "catalog.rs",
            "use crate::migration::run as r;",
            "crate::migration::run",
        ),
        (
            "vm_spec/mod.rs",
            "use crate::backend; fn planted(_: &dyn backend::ClusterBackend) {}",
            "crate::backend::ClusterBackend",
        ),
        (
            "auth/policy.rs",
            "fn planted() { tokio::spawn(async {}); }",
            "tokio::spawn",
        ),
        (
            "request/transition.rs",
            "pub(crate) async fn planted() {}",
            "async fn",
        ),
        (
            "migration/validate.rs",
            "use self::super::super::engine::Engine;",
            "crate::engine::Engine",
        ),
        (
            "migration/token.rs",
            "fn planted() -> std::net::TcpStream { todo!() }",
            "std::net::TcpStream",
        ),
        (
            "store/mod.rs",
            "use crate::engine::Engine;",
            "crate::engine::Engine",
        ),
        (
            "inventory/record.rs",
            "/// See [`Engine`](crate::engine::Engine).\nfn planted() {}",
            "crate::engine::Engine",
        ),
        (
            "store/outbox.rs",
            "use crate::notify::NotifyHub;",
            "crate::notify::NotifyHub",
        ),
    ];
    let clean = tempfile::tempdir().unwrap();
    scratch_copy(&src(), clean.path());
    assert_eq!(
        violations(clean.path()),
        Vec::<String>::new(),
        "the copy is clean"
    );
    for (file, line, named) in plants {
        let dir = tempfile::tempdir().unwrap();
        scratch_copy(&src(), dir.path());
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}\n{line}\n")).unwrap();
        let found = violations(dir.path());
        assert!(
            found
                .iter()
                .any(|v| v.starts_with(file) && v.contains(named)),
            "planting {line:?} in {file} went unseen: {found:?}"
        );
    }
}
