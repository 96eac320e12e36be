use super::outbox::{Delivery, DeliveryOutcome, DeliveryResult};
use super::{
    FlowStore, GroupStore, KeyStore, OutboxStore, Page, ReportStore, RequestQuery, RequestStore,
    SecretKey, StepLogEntry, Store, StoreError, UserStore, VmStore,
};
use crate::auth::{User, UserAudit};
use crate::inventory::{VmId, VmQuery, VmRecord};
use crate::migration::{
    GroupError, GroupId, GroupVmsEdit, GroupVmsEdited, MigrationGroup, MigrationReport, RunId,
    VmReport,
};
use crate::request::{Request, RequestId, RequestState};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Mutex;

/// An in-memory [`Store`] for tests, demos and embedding without persistence.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    last_id: u64,
    requests: BTreeMap<RequestId, Request>,
    step_logs: BTreeMap<RequestId, Vec<StepLogEntry>>,
    /// Owner, expiry, generation.
    leases: BTreeMap<RequestId, (String, DateTime<Utc>, u64)>,
    last_group: u64,
    groups: BTreeMap<GroupId, MigrationGroup>,
    last_run: u64,
    reports: BTreeMap<RunId, MigrationReport>,
    report_lines: BTreeMap<RunId, Vec<VmReport>>,
    /// Runs someone asked to stop.
    cancels: std::collections::BTreeSet<RunId>,
    users: BTreeMap<String, User>,
    user_audit: Vec<UserAudit>,
    secrets: BTreeMap<String, SecretKey>,
    /// The approval rules' versions, oldest first.
    rule_books: Vec<crate::rules::RuleBook>,
    /// Quota holds by holder, the usage they add up to, and whether
    /// they were counted.
    holds: BTreeMap<crate::quota::Holder, crate::quota::Hold>,
    usage: BTreeMap<crate::quota::Scope, crate::quota::Share>,
    holds_counted: bool,
    /// Closed showback months and their lines, by VM.
    closed_months: BTreeMap<crate::showback::Month, crate::showback::ClosedMonth>,
    closed_lines: BTreeMap<(crate::showback::Month, VmId), crate::showback::VmShowback>,
    /// Registered notifiers and who holds each one's delivery, until when.
    notifiers: BTreeMap<String, Option<(String, DateTime<Utc>)>>,
    /// Pending deliveries by (notifier, request, history entry).
    deliveries: BTreeMap<(String, RequestId, u32), Pending>,
    last_vm: u64,
    vms: BTreeMap<VmId, VmRecord>,
    /// Platform name → record.
    vm_names: BTreeMap<String, VmId>,
}

/// A delivery waiting in the outbox.
#[derive(Debug, Clone, Default)]
struct Pending {
    attempts: u32,
    next_at: DateTime<Utc>,
    last_error: Option<String>,
    gave_up: bool,
}

impl Inner {
    /// Queues a delivery to every notifier for each of `request`'s history
    /// entries after `after_seq` (in the same lock as the write).
    fn queue_events(&mut self, request: &Request, after_seq: u32) {
        for h in request.history.iter().filter(|h| h.seq > after_seq) {
            for name in self.notifiers.keys() {
                self.deliveries
                    .insert((name.clone(), request.id, h.seq), Pending::default());
            }
        }
    }

    fn delivery(&self, key: &(String, RequestId, u32), p: &Pending) -> Option<Delivery> {
        let r = self.requests.get(&key.1)?;
        let entry = r.history.iter().find(|h| h.seq == key.2)?;
        Some(Delivery {
            notifier: key.0.clone(),
            request: key.1,
            seq: key.2,
            attempts: p.attempts,
            next_at: p.next_at,
            last_error: p.last_error.clone(),
            gave_up: p.gave_up,
            event: crate::notify::event_for(r, entry),
        })
    }
}

fn last_seq(r: &Request) -> u32 {
    r.history.iter().map(|h| h.seq).max().unwrap_or(0)
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-written:
        // every method mutates it in one statement.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Replaces a stored request if its version is `expected_version`.
fn replace(g: &mut Inner, request: &Request, expected_version: u64) -> Result<(), StoreError> {
    let stored = g
        .requests
        .get_mut(&request.id)
        .ok_or_else(|| StoreError::NotFound(format!("request {}", request.id)))?;
    super::expect_version(
        || format!("request {}", request.id),
        expected_version,
        stored.version,
    )?;
    let before = last_seq(stored);
    *stored = request.clone();
    g.queue_events(request, before);
    Ok(())
}

/// A running report shows the lines appended so far.
fn with_lines(mut r: MigrationReport, lines: &BTreeMap<RunId, Vec<VmReport>>) -> MigrationReport {
    if r.ended.is_none() && r.vms.is_empty() {
        r.vms = lines.get(&r.id).cloned().unwrap_or_default();
    }
    r
}

#[async_trait]
impl RequestStore for MemoryStore {
    async fn next_request_id(&self) -> Result<RequestId, StoreError> {
        let mut g = self.lock();
        g.last_id += 1;
        Ok(RequestId(g.last_id))
    }

    async fn insert_request(&self, request: &Request) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.requests.contains_key(&request.id) {
            return Err(StoreError::AlreadyExists(format!("request {}", request.id)));
        }
        g.last_id = g.last_id.max(request.id.0);
        g.requests.insert(request.id, request.clone());
        g.queue_events(request, 0);
        Ok(())
    }

    async fn get_request(&self, id: RequestId) -> Result<Request, StoreError> {
        self.lock()
            .requests
            .get(&id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("request {id}")))
    }

    async fn update_request(
        &self,
        request: &Request,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        replace(&mut self.lock(), request, expected_version)
    }

    async fn list_requests(&self, query: &RequestQuery) -> Result<Page<Request>, StoreError> {
        let g = self.lock();
        let mut rows: Vec<&Request> = g.requests.values().filter(|r| query.matches(r)).collect();
        rows.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
        let total = rows.len();
        let items = rows
            .into_iter()
            .skip(query.offset)
            .take(query.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect();
        Ok(Page {
            items,
            total,
            skipped: 0,
        })
    }

    async fn request_ids_in_states(
        &self,
        states: &[RequestState],
    ) -> Result<Vec<RequestId>, StoreError> {
        Ok(self
            .lock()
            .requests
            .values()
            .filter(|r| states.contains(&r.state))
            .map(|r| r.id)
            .collect())
    }
}

#[async_trait]
impl FlowStore for MemoryStore {
    async fn update_request_with_log(
        &self,
        request: &Request,
        expected_version: u64,
        log: &[StepLogEntry],
    ) -> Result<(), StoreError> {
        // Under one lock: a refused update leaves no line behind.
        let mut g = self.lock();
        replace(&mut g, request, expected_version)?;
        g.step_logs
            .entry(request.id)
            .or_default()
            .extend_from_slice(log);
        Ok(())
    }

    async fn append_step_log(&self, id: RequestId, entry: &StepLogEntry) -> Result<(), StoreError> {
        let mut g = self.lock();
        if !g.requests.contains_key(&id) {
            return Err(StoreError::NotFound(format!("request {id}")));
        }
        g.step_logs.entry(id).or_default().push(entry.clone());
        Ok(())
    }

    async fn step_log(&self, id: RequestId) -> Result<Vec<StepLogEntry>, StoreError> {
        Ok(self.lock().step_logs.get(&id).cloned().unwrap_or_default())
    }

    async fn acquire_lease(
        &self,
        id: RequestId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let mut g = self.lock();
        let generation = match g.leases.get(&id) {
            Some((holder, expires, _)) if holder != owner && *expires > now => return Ok(None),
            Some((holder, _, generation)) if holder == owner => *generation,
            Some((_, _, generation)) => generation + 1,
            None => 1,
        };
        g.leases.insert(id, (owner.to_string(), until, generation));
        Ok(Some(generation))
    }

    async fn release_lease(&self, id: RequestId, owner: &str) -> Result<(), StoreError> {
        let mut g = self.lock();
        if let Some(lease) = g.leases.get_mut(&id).filter(|(holder, ..)| holder == owner) {
            // Expired at once; the generation stays for the next owner.
            lease.1 = DateTime::<Utc>::MIN_UTC;
        }
        Ok(())
    }
}

#[async_trait]
impl VmStore for MemoryStore {
    async fn next_vm_id(&self) -> Result<VmId, StoreError> {
        let mut g = self.lock();
        g.last_vm += 1;
        Ok(VmId(g.last_vm))
    }

    async fn insert_vm(&self, vm: &VmRecord) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.vms.contains_key(&vm.id) {
            return Err(StoreError::AlreadyExists(format!("VM record {}", vm.id)));
        }
        if g.vm_names.contains_key(&vm.name) {
            return Err(StoreError::AlreadyExists(format!("VM named {:?}", vm.name)));
        }
        g.last_vm = g.last_vm.max(vm.id.0);
        g.vm_names.insert(vm.name.clone(), vm.id);
        g.vms.insert(vm.id, vm.clone());
        Ok(())
    }

    async fn get_vm(&self, id: VmId) -> Result<VmRecord, StoreError> {
        self.lock()
            .vms
            .get(&id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("VM record {id}")))
    }

    async fn find_vm_named(&self, name: &str) -> Result<Option<VmRecord>, StoreError> {
        let g = self.lock();
        Ok(g.vm_names.get(name).and_then(|id| g.vms.get(id)).cloned())
    }

    async fn update_vm(&self, vm: &VmRecord, expected_version: u64) -> Result<(), StoreError> {
        let mut g = self.lock();
        check_vm(&g, vm, expected_version)?;
        put_vm(&mut g, vm);
        Ok(())
    }

    async fn list_vms(&self, query: &VmQuery) -> Result<Page<VmRecord>, StoreError> {
        let g = self.lock();
        // Within the keyset bounds only: a reconcile's pages do not walk
        // every record above each.
        let above = query.after.map_or(Bound::Unbounded, Bound::Excluded);
        let below = query.before.map_or(Bound::Unbounded, Bound::Excluded);
        // An empty range (BTreeMap::range panics on one that is reversed).
        let empty = matches!((query.after, query.before), (Some(a), Some(b)) if a.0.saturating_add(1) >= b.0);
        let (above, below) = if empty {
            (Bound::Unbounded, Bound::Excluded(VmId(0)))
        } else {
            (above, below)
        };
        let matching = g
            .vms
            .range((above, below))
            .rev()
            .map(|(_, r)| r)
            .filter(|r| query.matches(r));
        let items: Vec<VmRecord> = matching
            .clone()
            .skip(query.offset)
            .take(query.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect();
        // A keyset page does not count the rest (as the SQL stores).
        let total = match query.before {
            Some(_) => items.len(),
            None => matching.count(),
        };
        Ok(Page {
            items,
            total,
            skipped: 0,
        })
    }
}

#[async_trait]
impl GroupStore for MemoryStore {
    async fn next_group_id(&self) -> Result<GroupId, StoreError> {
        let mut g = self.lock();
        g.last_group += 1;
        Ok(GroupId(g.last_group))
    }

    async fn insert_group(&self, group: &MigrationGroup) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.groups.contains_key(&group.id) {
            return Err(StoreError::AlreadyExists(format!(
                "migration group {}",
                group.id
            )));
        }
        let key = crate::migration::name_key(&group.name);
        if g.groups
            .values()
            .any(|x| crate::migration::name_key(&x.name) == key)
        {
            return Err(StoreError::AlreadyExists(format!(
                "migration group named {:?}",
                group.name
            )));
        }
        g.last_group = g.last_group.max(group.id.0);
        g.groups.insert(group.id, group.clone());
        Ok(())
    }

    async fn get_group(&self, id: GroupId) -> Result<MigrationGroup, StoreError> {
        self.lock()
            .groups
            .get(&id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("migration group {id}")))
    }

    async fn group_version(&self, id: GroupId) -> Result<u64, StoreError> {
        self.lock()
            .groups
            .get(&id)
            .map(|g| g.version)
            .ok_or_else(|| StoreError::NotFound(format!("migration group {id}")))
    }

    async fn update_group(
        &self,
        group: &MigrationGroup,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let mut g = self.lock();
        let found = g
            .groups
            .get(&group.id)
            .map(|x| x.version)
            .ok_or_else(|| StoreError::NotFound(format!("migration group {}", group.id)))?;
        super::expect_version(
            || format!("migration group {}", group.id),
            expected_version,
            found,
        )?;
        let key = crate::migration::name_key(&group.name);
        if g.groups
            .values()
            .any(|x| x.id != group.id && crate::migration::name_key(&x.name) == key)
        {
            return Err(StoreError::AlreadyExists(format!(
                "migration group named {:?}",
                group.name
            )));
        }
        g.groups.insert(group.id, group.clone());
        Ok(())
    }

    async fn change_group_vms(
        &self,
        id: GroupId,
        expected_version: u64,
        edit: &GroupVmsEdit,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Result<GroupVmsEdited, GroupError>, StoreError> {
        let mut state = self.lock();
        let g = state
            .groups
            .get_mut(&id)
            .ok_or_else(|| StoreError::NotFound(format!("migration group {id}")))?;
        super::edit_group(g, expected_version, edit, by, at)
    }

    async fn delete_group(&self, id: GroupId, expected_version: u64) -> Result<(), StoreError> {
        let mut g = self.lock();
        let found = g
            .groups
            .get(&id)
            .map(|x| x.version)
            .ok_or_else(|| StoreError::NotFound(format!("migration group {id}")))?;
        super::expect_version(|| format!("migration group {id}"), expected_version, found)?;
        g.groups.remove(&id);
        Ok(())
    }

    async fn find_groups(&self, name_part: &str) -> Result<Vec<MigrationGroup>, StoreError> {
        let needle = name_part.to_lowercase();
        let mut out: Vec<MigrationGroup> = self
            .lock()
            .groups
            .values()
            .filter(|g| g.name.to_lowercase().contains(&needle))
            .cloned()
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

#[async_trait]
impl ReportStore for MemoryStore {
    async fn next_run_id(&self) -> Result<RunId, StoreError> {
        let mut g = self.lock();
        g.last_run += 1;
        Ok(RunId(g.last_run))
    }

    async fn save_report(&self, report: &MigrationReport) -> Result<(), StoreError> {
        let mut g = self.lock();
        if report.ended.is_some() {
            // The final report holds every line; the appended ones go.
            g.report_lines.remove(&report.id);
        }
        g.reports.insert(report.id, report.clone());
        Ok(())
    }

    async fn get_report(&self, id: RunId) -> Result<MigrationReport, StoreError> {
        let g = self.lock();
        g.reports
            .get(&id)
            .cloned()
            .map(|r| with_lines(r, &g.report_lines))
            .ok_or_else(|| StoreError::NotFound(format!("migration report {id}")))
    }

    async fn list_reports(&self, group: GroupId) -> Result<Vec<MigrationReport>, StoreError> {
        let g = self.lock();
        let mut out: Vec<MigrationReport> = g
            .reports
            .values()
            .filter(|r| r.group == group)
            .cloned()
            .map(|r| with_lines(r, &g.report_lines))
            .collect();
        out.sort_by_key(|r| std::cmp::Reverse(r.id));
        Ok(out)
    }

    async fn append_report_lines(&self, run: RunId, lines: &[VmReport]) -> Result<(), StoreError> {
        self.lock()
            .report_lines
            .entry(run)
            .or_default()
            .extend_from_slice(lines);
        Ok(())
    }

    async fn unfinished_reports(&self) -> Result<Vec<MigrationReport>, StoreError> {
        let g = self.lock();
        Ok(g.reports
            .values()
            .filter(|r| r.ended.is_none())
            .map(|r| with_lines(r.clone(), &g.report_lines))
            .collect())
    }

    async fn request_cancel(&self, run: RunId) -> Result<(), StoreError> {
        let mut g = self.lock();
        if !g.reports.contains_key(&run) {
            return Err(StoreError::NotFound(format!("migration run {run}")));
        }
        g.cancels.insert(run);
        Ok(())
    }

    async fn cancel_requested(&self, run: RunId) -> Result<bool, StoreError> {
        Ok(self.lock().cancels.contains(&run))
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn insert_user(&self, user: &User, audit: &UserAudit) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.users.contains_key(&user.name) {
            return Err(StoreError::AlreadyExists(format!("user {:?}", user.name)));
        }
        g.users.insert(user.name.clone(), user.clone());
        g.user_audit.push(audit.clone());
        Ok(())
    }

    async fn get_user(&self, name: &str) -> Result<User, StoreError> {
        self.lock()
            .users
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("user {name:?}")))
    }

    async fn update_user(
        &self,
        user: &User,
        expected_version: u64,
        audit: &UserAudit,
    ) -> Result<(), StoreError> {
        let mut g = self.lock();
        let stored = g
            .users
            .get_mut(&user.name)
            .ok_or_else(|| StoreError::NotFound(format!("user {:?}", user.name)))?;
        super::expect_version(
            || format!("user {:?}", user.name),
            expected_version,
            stored.version,
        )?;
        *stored = user.clone();
        g.user_audit.push(audit.clone());
        Ok(())
    }

    async fn delete_user(
        &self,
        name: &str,
        expected_version: u64,
        audit: &UserAudit,
    ) -> Result<(), StoreError> {
        let mut g = self.lock();
        let found = g
            .users
            .get(name)
            .map(|u| u.version)
            .ok_or_else(|| StoreError::NotFound(format!("user {name:?}")))?;
        super::expect_version(|| format!("user {name:?}"), expected_version, found)?;
        g.users.remove(name);
        g.user_audit.push(audit.clone());
        Ok(())
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        Ok(self.lock().users.values().cloned().collect())
    }

    async fn user_audit(&self) -> Result<Vec<UserAudit>, StoreError> {
        Ok(self.lock().user_audit.clone())
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn secret_key(&self, purpose: &str) -> Result<SecretKey, StoreError> {
        let mut g = self.lock();
        if let Some(k) = g.secrets.get(purpose) {
            return Ok(k.clone());
        }
        let k = SecretKey::random()?;
        g.secrets.insert(purpose.to_string(), k.clone());
        Ok(k)
    }
}

#[async_trait]
impl super::QuotaStore for MemoryStore {
    async fn hold(
        &self,
        changes: &[crate::quota::HoldChange],
        limits: &[(crate::quota::Scope, crate::quota::Limits)],
    ) -> Result<Result<Vec<crate::quota::Usage>, crate::quota::QuotaExceeded>, StoreError> {
        Ok(hold_in(&mut self.lock(), changes, limits))
    }

    async fn usage(
        &self,
        scopes: &[crate::quota::Scope],
    ) -> Result<Vec<crate::quota::Usage>, StoreError> {
        let g = self.lock();
        Ok(scopes
            .iter()
            .map(|s| crate::quota::Usage {
                scope: s.clone(),
                used: g.usage.get(s).cloned().unwrap_or_default(),
            })
            .collect())
    }

    async fn all_usage(&self) -> Result<Vec<crate::quota::Usage>, StoreError> {
        Ok(self
            .lock()
            .usage
            .iter()
            .map(|(scope, used)| crate::quota::Usage {
                scope: scope.clone(),
                used: used.clone(),
            })
            .collect())
    }

    async fn held(
        &self,
        holder: crate::quota::Holder,
    ) -> Result<Option<crate::quota::Hold>, StoreError> {
        Ok(self.lock().holds.get(&holder).cloned())
    }

    async fn replace_holds(
        &self,
        holds: &[crate::quota::Hold],
        first: bool,
    ) -> Result<bool, StoreError> {
        let mut g = self.lock();
        if first && g.holds_counted {
            return Ok(false);
        }
        g.holds = holds.iter().map(|h| (h.holder, h.clone())).collect();
        g.usage = crate::quota::usage_of(holds);
        g.holds_counted = true;
        Ok(true)
    }

    async fn holds_counted(&self) -> Result<bool, StoreError> {
        Ok(self.lock().holds_counted)
    }
}

#[async_trait]
impl super::RuleStore for MemoryStore {
    async fn add_rule_book(&self, book: &crate::rules::RuleBook) -> Result<(), StoreError> {
        let mut g = self.lock();
        let newest = g.rule_books.last().map_or(0, |b| b.version);
        if book.version != newest + 1 {
            return Err(super::rule_book_conflict(book.version, newest));
        }
        g.rule_books.push(book.clone());
        Ok(())
    }

    async fn rule_books(&self) -> Result<Vec<crate::rules::RuleBook>, StoreError> {
        Ok(self.lock().rule_books.clone())
    }

    async fn newer_rule_book(
        &self,
        than: u32,
    ) -> Result<Option<crate::rules::RuleBook>, StoreError> {
        Ok(self
            .lock()
            .rule_books
            .last()
            .filter(|b| b.version > than)
            .cloned())
    }
}

#[async_trait]
impl super::ShowbackStore for MemoryStore {
    async fn close_month(
        &self,
        month: &crate::showback::ClosedMonth,
        lines: &[crate::showback::VmShowback],
    ) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.closed_months.contains_key(&month.month) {
            return Err(super::sql::showback::closed_already(month.month));
        }
        g.closed_months.insert(month.month, month.clone());
        for l in lines {
            g.closed_lines.insert((month.month, l.vm), l.clone());
        }
        Ok(())
    }

    async fn closed_months(&self) -> Result<Vec<crate::showback::ClosedMonth>, StoreError> {
        Ok(self.lock().closed_months.values().cloned().collect())
    }

    async fn closed_lines(
        &self,
        month: crate::showback::Month,
        owner: Option<&str>,
        after: Option<VmId>,
        limit: usize,
    ) -> Result<Vec<crate::showback::VmShowback>, StoreError> {
        use std::ops::Bound::{Excluded, Included};
        let g = self.lock();
        let from = after.map_or(Included((month, VmId(0))), |a| Excluded((month, a)));
        Ok(g.closed_lines
            .range((from, Included((month, VmId(u64::MAX)))))
            .map(|(_, l)| l)
            .filter(|l| owner.is_none_or(|o| l.owner == o))
            .take(limit)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn register_notifier(&self, name: &str) -> Result<(), StoreError> {
        self.lock()
            .notifiers
            .entry(name.to_string())
            .or_insert(None);
        Ok(())
    }

    async fn claim_notifier(
        &self,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut g = self.lock();
        let Some(holder) = g.notifiers.get_mut(name) else {
            return Err(StoreError::NotFound(format!("notifier {name:?}")));
        };
        match holder {
            Some((other, expires)) if other != owner && *expires > now => Ok(false),
            _ => {
                *holder = Some((owner.to_string(), until));
                Ok(true)
            }
        }
    }

    async fn due_deliveries(
        &self,
        name: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let g = self.lock();
        let mut due: Vec<(&(String, RequestId, u32), &Pending)> = g
            .deliveries
            .iter()
            .filter(|(k, p)| k.0 == name && !p.gave_up && p.next_at <= now)
            .collect();
        due.sort_by_key(|(k, p)| (p.next_at, k.1, k.2));
        Ok(due
            .into_iter()
            .take(limit)
            .filter_map(|(k, p)| g.delivery(k, p))
            .collect())
    }

    async fn record_deliveries(
        &self,
        name: &str,
        outcomes: &[DeliveryOutcome],
    ) -> Result<(), StoreError> {
        let mut g = self.lock();
        for o in outcomes {
            let key = (name.to_string(), o.request, o.seq);
            match &o.result {
                DeliveryResult::Delivered => {
                    g.deliveries.remove(&key);
                }
                DeliveryResult::Retry {
                    attempts,
                    next_at,
                    error,
                } => {
                    let p = g.deliveries.entry(key).or_default();
                    p.attempts = *attempts;
                    p.next_at = *next_at;
                    p.last_error = Some(error.clone());
                }
                DeliveryResult::GaveUp { attempts, error } => {
                    let p = g.deliveries.entry(key).or_default();
                    p.attempts = *attempts;
                    p.last_error = Some(error.clone());
                    p.gave_up = true;
                }
            }
        }
        Ok(())
    }

    async fn failed_deliveries(&self, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let g = self.lock();
        let mut failed: Vec<Delivery> = g
            .deliveries
            .iter()
            .filter(|(_, p)| p.attempts > 0)
            .filter_map(|(k, p)| g.delivery(k, p))
            .collect();
        failed.sort_by_key(|d| std::cmp::Reverse((d.gave_up, d.next_at, d.request, d.seq)));
        failed.truncate(limit);
        Ok(failed)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn update_request_with_vm(
        &self,
        request: &Request,
        expected_version: u64,
        log: &[StepLogEntry],
        vm: &VmRecord,
        before: &VmRecord,
    ) -> Result<(), StoreError> {
        // Under one lock, every check before any change.
        let mut g = self.lock();
        check_vm(&g, vm, before.version)?;
        replace(&mut g, request, expected_version)?;
        put_vm(&mut g, vm);
        g.step_logs
            .entry(request.id)
            .or_default()
            .extend_from_slice(log);
        if let Some(freed) = crate::quota::freed_by(vm, before) {
            // A release is never refused.
            let _ = hold_in(&mut g, &[freed], &[]);
        }
        Ok(())
    }
}

/// [`QuotaStore::hold`](super::QuotaStore::hold) under the store's lock.
fn hold_in(
    g: &mut Inner,
    changes: &[crate::quota::HoldChange],
    limits: &[(crate::quota::Scope, crate::quota::Limits)],
) -> Result<Vec<crate::quota::Usage>, crate::quota::QuotaExceeded> {
    use crate::quota::{HoldChange, Usage};
    let held: BTreeMap<_, _> = changes
        .iter()
        .filter_map(|c| g.holds.get(&c.holder()).map(|h| (c.holder(), h.clone())))
        .collect();
    let mut touched: std::collections::BTreeSet<crate::quota::Scope> =
        held.values().flat_map(|h| h.scopes()).collect();
    for c in changes {
        if let HoldChange::Set(h) = c {
            touched.extend(h.scopes());
        }
    }
    touched.extend(limits.iter().map(|(s, _)| s.clone()));
    let mut usage: BTreeMap<_, _> = touched
        .iter()
        .map(|s| (s.clone(), g.usage.get(s).cloned().unwrap_or_default()))
        .collect();
    let holds = crate::quota::apply(changes, &held, &mut usage, limits)?;
    for (holder, hold) in holds {
        match hold {
            Some(h) => g.holds.insert(holder, h),
            None => g.holds.remove(&holder),
        };
    }
    for (s, u) in &usage {
        g.usage.insert(s.clone(), u.clone());
    }
    Ok(usage
        .into_iter()
        .map(|(scope, used)| Usage { scope, used })
        .collect())
}

/// Whether `vm` may replace the stored record: it is there at
/// `expected_version`, and a new name is free.
fn check_vm(g: &Inner, vm: &VmRecord, expected_version: u64) -> Result<(), StoreError> {
    let Some(stored) = g.vms.get(&vm.id) else {
        return Err(StoreError::NotFound(format!("VM record {}", vm.id)));
    };
    if stored.version != expected_version {
        return Err(StoreError::vm_conflict(
            vm.id,
            expected_version,
            stored.version,
        ));
    }
    if stored.name != vm.name && g.vm_names.contains_key(&vm.name) {
        return Err(StoreError::AlreadyExists(format!("VM named {:?}", vm.name)));
    }
    Ok(())
}

/// Replaces the record [`check_vm`] accepted.
fn put_vm(g: &mut Inner, vm: &VmRecord) {
    if let Some(old) = g.vms.insert(vm.id, vm.clone()) {
        if old.name != vm.name {
            g.vm_names.remove(&old.name);
            g.vm_names.insert(vm.name.clone(), vm.id);
        }
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn memory_store_passes_the_store_suite() {
        crate::testing::store::run_all(&super::MemoryStore::new()).await;
    }
}
