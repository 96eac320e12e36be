//! Approval rules (SPEC §13): which requests Butler approves itself, which
//! need approval and at which levels, and which it refuses, decided from
//! what a request holds. Evaluation is pure and total: every request gets
//! exactly one [`Decision`], the same every time, naming the rules that
//! made it and the book's version; [`explain`] says, condition by
//! condition, why.
//!
//! Rules are written in a deployment file (or given by an Admin through
//! [`RequestService::set_rules`](crate::service::RequestService::set_rules)),
//! checked against the catalog before use:
//!
//! ```
//! use butler_core::rules::{Outcome, Rules};
//! let rules: Rules = toml::from_str(r#"
//!     [[rule]]
//!     name = "small test VMs"
//!     when = { environments = ["DEV"], vcpus = { max = 4 }, monthly_cost = { max = "50" } }
//!     outcome = "approve"
//!
//!     [[rule]]
//!     name = "large VMs"
//!     when = { vcpus = { min = 32 } }
//!     outcome = "require"
//!     levels = [{ role = "approver" }, { role = "admin" }]
//!
//!     [[rule]]
//!     name = "no production from requesters alone"
//!     when = { environments = ["PROD"], requester_roles = ["requester"] }
//!     outcome = "refuse"
//!     reason = "production VMs are asked by the platform team"
//! "#)?;
//! assert_eq!(rules.rules[0].then, Outcome::Approve);
//! # Ok::<(), toml::de::Error>(())
//! ```
//!
//! The precedence is [`evaluate`]'s: a refusal wins, then the levels of
//! every rule demanding levels, then an approval; no matching rule means
//! one approver, as before rules existed.

mod book;
mod evaluate;
#[cfg(test)]
mod tests;

pub use book::{
    Approvers, Bounds, Conditions, Level, LevelScope, Outcome, Rule, RuleBook, RuleError, Rules,
    DEPLOYMENT_AUTHOR, MAX_LEVELS, MAX_RULES, MAX_RULE_NAME_CHARS, MAX_VALUES, RULED_KINDS,
};
pub use evaluate::{
    default_levels, evaluate, explain, ConditionCheck, Decision, Explanation, Facts, RuleCheck,
};
