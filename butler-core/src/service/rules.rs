//! The approval rules in force (SPEC §13): reading them and their past
//! versions, replacing them (Admins), a requester's dry run, and the
//! decision taken when a request is submitted.

use super::*;
use crate::rules::{Decision, Explanation, Facts, RuleBook, Rules};

/// The book in force and every version before it, oldest first: the
/// audit trail of who changed the rules when.
#[derive(Debug)]
pub(super) struct RuleBooks {
    versions: Vec<Arc<RuleBook>>,
}

impl RuleBooks {
    pub(super) fn new(at: chrono::DateTime<chrono::Utc>) -> RuleBooks {
        RuleBooks {
            versions: vec![Arc::new(RuleBook::empty(at))],
        }
    }

    fn current(&self) -> Arc<RuleBook> {
        self.versions
            .last()
            .cloned()
            .unwrap_or_else(|| Arc::new(RuleBook::empty(chrono::DateTime::UNIX_EPOCH)))
    }
}

impl RequestService {
    /// Puts the deployment's `rules` in force at start-up, as the next
    /// version by `deployment`, once they pass [`Rules::check`] against
    /// the catalog.
    pub fn with_rules(self, rules: Rules) -> Result<Self, ButlerError> {
        self.put_rules("deployment", rules)?;
        Ok(self)
    }

    /// The rules in force.
    pub fn rules(&self) -> Arc<RuleBook> {
        self.rule_books
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .current()
    }

    /// Every version of the rules since the service started, oldest first
    /// (version 0 is "no rules"): who wrote each and when.
    pub fn rule_history(&self) -> Vec<Arc<RuleBook>> {
        self.rule_books
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .versions
            .clone()
    }

    /// Replaces the rules, once they pass [`Rules::check`] against the
    /// catalog: the next version, written by `actor`. Admin only. A refused
    /// book names the rule and the problem, and the rules in force stay.
    pub fn set_rules(&self, actor: &Actor, rules: Rules) -> Result<Arc<RuleBook>, ButlerError> {
        self.policy.check(actor, Operation::EditRules)?;
        let book = self.put_rules(actor.name(), rules)?;
        tracing::info!(actor = %actor.name(), version = book.version, rules = book.rules.len(), "approval rules changed");
        Ok(book)
    }

    fn put_rules(&self, by: &str, rules: Rules) -> Result<Arc<RuleBook>, ButlerError> {
        rules
            .check(&self.catalog())
            .map_err(|e| ButlerError::Invalid(format!("approval rules: {e}")))?;
        let mut books = self.rule_books.write().unwrap_or_else(|e| e.into_inner());
        let book = Arc::new(RuleBook {
            version: books.current().version.saturating_add(1),
            rules: rules.rules,
            changed_by: by.to_string(),
            changed_at: self.clock.now(),
        });
        books.versions.push(book.clone());
        Ok(book)
    }

    /// What the rules decide for request `id` if its owner `actor`
    /// submits it now, and why, rule by rule. Only the owner asks (the
    /// decision depends on the requester's roles); the request is not
    /// changed.
    pub async fn dry_run(&self, actor: &Actor, id: RequestId) -> Result<Explanation, ButlerError> {
        let r = self.get(actor, id).await?;
        if !crate::auth::same_user(&r.owner, actor.name()) {
            return Err(ButlerError::Invalid(format!(
                "request {id} is {}'s: a dry run is its owner's, with their roles",
                r.owner
            )));
        }
        Ok(crate::rules::explain(
            &self.rules(),
            &Facts::of(&r, actor.name(), actor.roles()),
        ))
    }

    /// What the rules decide for a new VM of `spec` asked by `actor`, and
    /// why: the form's dry run before anything is saved.
    pub fn dry_run_spec(&self, actor: &Actor, spec: &VmSpec) -> Result<Explanation, ButlerError> {
        self.policy.check_request(actor, None, ActionKind::Create)?;
        let priced = self.price(spec)?;
        let facts = Facts::priced(
            request::RequestKind::NewVm.as_str(),
            &priced.spec,
            &priced.estimate,
            actor.name(),
            actor.roles(),
        );
        Ok(crate::rules::explain(&self.rules(), &facts))
    }

    /// The decision for `r`, submitted by `requester`.
    pub(super) fn decide(&self, r: &Request, requester: &Actor) -> Decision {
        crate::rules::evaluate(
            &self.rules(),
            &Facts::of(r, requester.name(), requester.roles()),
        )
    }

    /// The requests that wait for `actor`'s approval now, up to `limit`
    /// (1 to [`crate::limits::MAX_PAGE_SIZE`]), in the request list's
    /// order: submitted or reviewed, not their own (four eyes), and at a
    /// level they approve at that they have not approved at before (a
    /// request without levels waits for any approver). Empty for a user
    /// who does not approve.
    pub async fn approval_queue(
        &self,
        actor: &Actor,
        limit: usize,
    ) -> Result<Vec<Request>, ButlerError> {
        use crate::limits::MAX_PAGE_SIZE;
        crate::limits::check("limit", limit, MAX_PAGE_SIZE, "rows")?;
        if limit == 0 || !actor.has(crate::auth::Role::Approver) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut query = crate::store::RequestQuery {
            states: vec![RequestState::Requested, RequestState::Reviewed],
            limit: Some(MAX_PAGE_SIZE),
            ..Default::default()
        };
        loop {
            let page = self.list(actor, &query).await?;
            let rows = page.items.len() + page.skipped;
            for r in page.items {
                if self.waits_for(&r, actor) {
                    out.push(r);
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
            }
            if rows < MAX_PAGE_SIZE {
                return Ok(out);
            }
            query.offset += rows;
        }
    }

    /// Whether `r` waits for `actor`'s approval.
    fn waits_for(&self, r: &Request, actor: &Actor) -> bool {
        if self.policy.four_eyes() && crate::auth::same_user(&r.owner, actor.name()) {
            return false;
        }
        match &r.approval {
            None => true,
            Some(a) => {
                !a.approved_by(actor.name()) && a.next_level().is_some_and(|(_, l)| l.admits(actor))
            }
        }
    }
}
