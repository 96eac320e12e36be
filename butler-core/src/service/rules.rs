//! The approval rules in force (SPEC §13): reading them and their past
//! versions, replacing them (Admins), a requester's dry run, and the
//! decision taken when a request is submitted.

use super::*;
use crate::rules::{Decision, Explanation, Facts, RuleBook, Rules};

/// The newest book this process has read from the store.
#[derive(Debug)]
pub(super) struct RuleBooks {
    current: Arc<RuleBook>,
}

impl RuleBooks {
    pub(super) fn new(at: chrono::DateTime<chrono::Utc>) -> RuleBooks {
        RuleBooks {
            current: Arc::new(RuleBook::empty(at)),
        }
    }
}

use crate::rules::DEPLOYMENT_AUTHOR as DEPLOYMENT;

impl RequestService {
    /// The deployment's `rules`, once they pass [`Rules::check`] against
    /// the catalog: put in force on first use as the next version by
    /// `deployment` when they differ from what the deployment last wrote
    /// (so a restart with the same file adds no version, and rules an
    /// Admin changed stay until the file changes).
    pub fn with_rules(mut self, rules: Rules) -> Result<Self, ButlerError> {
        rules.check(&self.catalog())?;
        *self.rules_pending.get_mut() = Some(rules);
        Ok(self)
    }

    fn books(&self) -> std::sync::RwLockWriteGuard<'_, RuleBooks> {
        self.rule_books.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The rules in force: the newest version in the store (shared by
    /// every process on it), read again when it changed.
    pub async fn rules(&self) -> Result<Arc<RuleBook>, ButlerError> {
        {
            let mut pending = self.rules_pending.lock().await;
            if let Some(rules) = pending.as_ref() {
                self.put_deployment_rules(rules).await?;
                *pending = None;
            }
        }
        let known = self.books().current.version;
        if let Some(newer) = self.store.newer_rule_book(known).await? {
            let mut books = self.books();
            if newer.version > books.current.version {
                books.current = Arc::new(newer);
            }
        }
        Ok(self.books().current.clone())
    }

    /// Writes the deployment's rules as the next version unless the file
    /// has not changed since the deployment last wrote them (an Admin's
    /// later change then stays in force).
    async fn put_deployment_rules(&self, rules: &Rules) -> Result<(), ButlerError> {
        let books = self.store.rule_books().await?;
        let last_from_file = books.iter().rev().find(|b| b.changed_by == DEPLOYMENT);
        let unchanged = match last_from_file {
            Some(b) => {
                b.rules == rules.rules && b.quotas == rules.quotas && b.approvers == rules.approvers
            }
            None => {
                books.is_empty()
                    && rules.rules.is_empty()
                    && rules.quotas.is_empty()
                    && rules.approvers.is_empty()
            }
        };
        if unchanged {
            return Ok(());
        }
        let book = RuleBook {
            version: books.last().map_or(0, |b| b.version) + 1,
            rules: rules.rules.clone(),
            quotas: rules.quotas.clone(),
            approvers: rules.approvers.clone(),
            changed_by: DEPLOYMENT.into(),
            changed_at: self.clock.now(),
        };
        match self.store.add_rule_book(&book).await {
            // Another process started at the same time and wrote it.
            Err(crate::store::StoreError::Conflict { .. }) => Ok(()),
            other => Ok(other?),
        }
    }

    /// Every version of the rules in the store, oldest first: who wrote
    /// each and when (none stored: no rules were ever given).
    pub async fn rule_history(&self) -> Result<Vec<RuleBook>, ButlerError> {
        self.rules().await?;
        Ok(self.store.rule_books().await?)
    }

    /// Replaces the rules, once they pass [`Rules::check`] against the
    /// catalog: the next version in the store, written by `actor`, in
    /// force for every process sharing it. Admin only. A refused book
    /// names the rule and the problem, and the rules in force stay; two
    /// Admins at once: one wins, the other gets a conflict.
    pub async fn set_rules(
        &self,
        actor: &Actor,
        rules: Rules,
    ) -> Result<Arc<RuleBook>, ButlerError> {
        self.policy.check(actor, Operation::EditRules)?;
        rules.check(&self.catalog())?;
        let current = self.rules().await?;
        let book = Arc::new(RuleBook {
            version: current.version + 1,
            rules: rules.rules,
            quotas: rules.quotas,
            approvers: rules.approvers,
            changed_by: actor.name().to_string(),
            changed_at: self.clock.now(),
        });
        self.store.add_rule_book(&book).await.map_err(|e| match e {
            c @ crate::store::StoreError::Conflict { .. } => ButlerError::Conflict(c),
            other => other.into(),
        })?;
        {
            let mut books = self.books();
            if book.version > books.current.version {
                books.current = book.clone();
            }
        }
        tracing::info!(actor = %actor.name(), version = book.version, rules = book.rules.len(), "approval rules changed");
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
            &*self.rules().await?,
            &Facts::of(&r, actor.name(), actor.roles()),
        ))
    }

    /// What the rules decide for a new VM of `spec` asked by `actor`, and
    /// why: the form's dry run before anything is saved.
    pub async fn dry_run_spec(
        &self,
        actor: &Actor,
        spec: &VmSpec,
    ) -> Result<Explanation, ButlerError> {
        self.policy.check_request(actor, None, ActionKind::Create)?;
        let priced = self.price(spec)?;
        let facts = Facts::priced(
            request::RequestKind::NewVm.as_str(),
            &priced.spec,
            &priced.estimate,
            actor.name(),
            actor.roles(),
        );
        Ok(crate::rules::explain(&*self.rules().await?, &facts))
    }

    /// The decision of `book` for `r`, submitted by `requester`.
    pub(super) fn decide(book: &RuleBook, r: &Request, requester: &Actor) -> Decision {
        crate::rules::evaluate(book, &Facts::of(r, requester.name(), requester.roles()))
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

    /// Whether `r` waits for `actor`'s approval: the state machine would
    /// take their approval now (role, four eyes, level, not twice).
    fn waits_for(&self, r: &Request, actor: &Actor) -> bool {
        request::transition(&self.policy, r, actor, Action::Approve, self.clock.now()).is_ok()
    }
}
