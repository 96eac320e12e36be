# The console's words in English. Every key is in both files (checked by
# butler-server's i18n tests, which also check that every key the
# templates use exists). Keys are the template's `c.t("key")` names;
# terms of the library (states, roles, steps...) are `kind-value`.

app = Butler
login = Log in
logout = Log out
user = User
password = Password
bad_login = Wrong user name or password
too_many = Too many attempts; wait and try again
requests = Requests
new_request = New request
groups = Migration groups
users = Users
my_account = My account
state = State
all = All
requester = Requester
approver = Approver
from = From
to = To
filter = Filter
export = Export to Excel
total = Total
previous = Previous
next = Next
created = Created
vm_name = VM name
sockets = Sockets
cores_per_socket = Cores per socket
ram_gib = RAM (GiB)
division = Division
unit = Management unit
environment = Environment
disk_type = Disk type
cluster = Cluster
disks_gib = Disks (GiB, comma separated)
nics = Networks (VLAN)
image = Image
none = None
backup_local = Local backup
backup_remote = Remote backup
cdrom = CD-ROM
special_requirement = Special requirement
lease_days = Lease (days)
lease_end = Lease ends
no_lease = No end
extend_lease = Extend the lease
extend_until = New end
ask_extend = Ask for the extension
lease_hint = Empty: no end, or the environment's maximum. At its end the VM is retired.
save_draft = Save draft
save = Save
submit = Submit for approval
estimate = Monthly estimate
cost_center = Cost center
project = Project
history = History
steps = Provisioning steps
actions = Actions
edit = Edit
review = Review
approve = Approve
reject = Reject
cancel = Cancel
cancel_request = Cancel the request
confirm_cancel = Yes, cancel it for good
retry = Retry
reason = Reason
stale = Someone else changed this first; this is the current version.
problems = Please fix what is marked
not_found = Not found
denied = Not allowed
name = Name
create = Create
find = Find
source = Source
destination = Destination
set_clusters = Set clusters
switch = Switch
clone = Clone
rename = Rename
delete = Delete
add_vm = Add VM
search_vms = Search the source cluster's VMs
remove = Remove
selected = Selected
select = Select
deselect = Deselect
refresh = Refresh facts
facts = Platform facts
age = Age
catalog_from_platform = Catalog read from the platform
validate = Validate
migrate = Migrate
group_power_off = Butler powers running VMs off before migrating them and on again at the destination
save_power = Save
group_live = Running VMs move while they run (live migration, vMotion)
confirm_power_off = Power off the running VMs (their owners are told) and on again at the destination:
errors = Errors
warnings = Warnings
infos = Information
progress = Progress
reports = Reports
report = Report
retry_failed = Retry the failed ones
done = Done
roles = Roles
disabled = Disabled
add_user = Add user
change_password = Change password
current_password = Current password
new_password = New password
catalog = Catalog and rates
language = Español
powered_on = Powered on
protection_domain = Protection domain
last_replica = Last replica
outcome = Outcome
apply = Apply
enable = Enable
disable = Disable
saved = Saved
rules = Approval rules
rules_version = Version
rules_none = No rules: every request needs one approver
rules_changed = Changed by
rules_edit = Rules (TOML)
rules_history = Earlier versions
rules_count = Rules
queue = To approve
quotas = Quotas
quotas_none = No quotas and nothing held
quota_scope = Scope
quota_use = Used / limit
quota_vms = VMs
quota_request = Quota with this request
quota_after = with this request
storage_gib = Disk (GiB)
monthly_cost = Monthly cost
queue_empty = Nothing waits for your approval
showback = Showback
showback_period = Period
showback_show = Show
showback_none = No VM existed in the period
showback_actual = Actual
showback_estimate = Estimate
showback_difference = Difference
showback_days = Days
showback_days_off = Days off
showback_month = Month
showback_by_cc = By cost center
showback_lines = By VM
showback_chart = Actual and estimated cost per month
showback_total = Period total
showback_unpriced = Not priced
showback_more = The first lines are shown; download the rest
showback_closed = Closed months
showback_closed_by = closed by
showback_close = Close month
showback_close_help = A closed month never changes again, whatever the rate cards do
download_csv = Download CSV
download_xlsx = Download Excel
level = Level
vms = My VMs
owner = Owner
power = Power
drift = Changed outside Butler
power_on = Power on
power_off = Shut down
restart = Restart
power_on_state = On
power_off_state = Off
power_unknown_state = Unknown
power_done = Done
power_already = It already was
vm = Virtual machine
lifecycle = Lifecycle
vcpus = vCPUs
when = When
who = Who
what = What
reconfigure = Change resources
reconfigure_help = Separate disks and VLANs with commas; disks only grow.
accept_downtime = I accept it being powered off if the change needs it
ask_change = Ask for the change
retire = Retire
retire_help = Once approved it is powered off, taken out of protection, monitoring and billing, and deleted.
ask_retire = Ask to retire it
not_changeable = This VM can no longer be changed.
kept_until = Kept powered off until
not_refreshed = Not refreshed yet
stale_form = The form expired or is not this site's: try again.
restore = Restore
restore_help = It is powered on and goes back into protection, monitoring and billing, with no approval needed.

# state: the library's names
state-created = Created
state-requested = Requested
state-reviewed = Reviewed
state-approved = Approved
state-provisioning = Provisioning
state-completed = Completed
state-error = Error
state-rejected = Rejected
state-cancelled = Cancelled

# role: the library's names
role-requester = Requester
role-approver = Approver
role-viewer = Viewer
role-operator = Operator
role-admin = Admin

# step: the library's names
step-create_vm = Create the VM
step-protect = Protect
step-monitor = Monitor
step-bill = Bill
step-inventory = Record in the inventory
step-power_off = Power off
step-unprotect = Unprotect
step-deregister = Deregister from monitoring
step-stop_billing = Stop billing
step-delete_vm = Delete the VM
step-retire = Retire
step-check_change = Check the change
step-power_off_for_change = Power off for the change
step-apply_change = Apply the change
step-verify_change = Verify the change
step-power_on_after_change = Power on after the change
step-update_billing = Update billing
step-record_change = Record the change
step-extend_lease = Extend the lease
step-restore_power = Power on again
step-reprotect = Protect again
step-reregister = Register with monitoring again
step-resume_billing = Resume billing
step-reactivate = Reactivate

# action: the library's names
action-create = Created
action-save = Saved
action-submit = Submitted
action-cancel = Cancelled
action-review = Reviewed
action-reject = Rejected
action-approve = Approved
action-start_provisioning = Provisioning started
action-step_retry = Step retried
action-step_done = Step done
action-fail = Failed
action-retry = Retried

# phase: the library's names
phase-started = started
phase-succeeded = succeeded
phase-failed = failed

# lifecycle: the library's names
lifecycle-active = Active
lifecycle-retiring = Retiring
lifecycle-retired = Retired

# finding: a migration finding's sentence ($vm, $pg, $src, $dst, $cluster,
# $project, $has_project, $minutes)
finding-missing_source = The group has no source cluster
finding-missing_destination = The group has no destination cluster
finding-same_clusters = Source and destination are both "{ $src }"
finding-empty_group = The group has no VMs
finding-no_selected_vm = No VM is selected for migration
finding-vm_not_found = VM "{ $vm }" was not found on the platform (refresh the facts if it was just added)
finding-not_on_source = VM "{ $vm }" is on "{ $cluster }", not on the source "{ $src }"
finding-project_mismatch = { $has_project ->
    [yes] VM "{ $vm }" is in project "{ $project }", which may not use cluster "{ $cluster }"
   *[no] VM "{ $vm }" has no project
}
finding-powered_on = VM "{ $vm }" is not powered off (on, paused, suspended or unknown); power it off first
finding-no_protection_group = VM "{ $vm }" is in no protection domain
finding-group_not_active_on_source = Protection domain "{ $pg }" of VM "{ $vm }" is not active on "{ $src }"
finding-no_schedule = Protection domain "{ $pg }" of VM "{ $vm }" has no replication schedule
finding-not_replicating_to_destination = Protection domain "{ $pg }" of VM "{ $vm }" does not replicate to "{ $dst }"
finding-group_has_unselected_vms = Protection domain "{ $pg }" of VM "{ $vm }" holds VMs not selected in this group; they would move too
finding-no_replica = Protection domain "{ $pg }" of VM "{ $vm }" has no replica yet; migration will take longer
finding-stale_replica = The last replica of protection domain "{ $pg }" (VM "{ $vm }") is { $minutes } minutes old; migration may take longer
finding-shared_group = Several selected VMs share protection domain "{ $pg }"; one migrate call moves them all
finding-not_selected = VM "{ $vm }" is not selected for migration
finding-power_off_planned = VM "{ $vm }" is not powered off: Butler powers it off before migrating it (its owner is told) and on again at "{ $dst }"
finding-platform_refuses = The platform refuses to move VM "{ $vm }" to "{ $dst }": { $reasons }
finding-moves_not_checked = The platform has not yet judged the moves to "{ $dst }" as the group asks them; refresh the facts
finding-live_moves_unavailable = The group asks for live moves, which the platform does not make; move the VMs cold

# spec: a problem of a VM spec, with the values it names
spec-name_empty = The VM name is required
spec-name_too_long = At most { $max } characters
spec-name_invalid = Use ASCII letters, digits, "-", "_" and ".", starting with a letter or digit
spec-cores_per_socket_out_of_range = Must be 1 to { $max }
spec-sockets_out_of_range = Must be 1 to { $max }
spec-vcpus_out_of_range = { $cores } cores per socket × { $sockets } sockets = { $vcpus } vCPUs, more than { $max }
spec-ram_out_of_range = Must be 1 to { $max } GiB
spec-unknown_division = Unknown division "{ $value }"
spec-unknown_unit = Unknown unit "{ $value }"
spec-unit_not_in_division = Unit "{ $value }" belongs to division "{ $division }", not "{ $asked }"
spec-unknown_environment = Unknown environment "{ $value }"
spec-unknown_disk_type = Unknown disk type "{ $value }"
spec-no_cost_center = No cost center is mapped for division "{ $division }", unit "{ $unit }", environment "{ $environment }" and disk type "{ $disk_type }"
spec-unknown_cluster = Unknown cluster "{ $value }"
spec-disk_count_out_of_range = { $count } disks; a VM has 1 to { $max }
spec-disk_size_out_of_range = { $value } GiB; a disk is 1 to { $max } GiB
spec-nic_count_out_of_range = { $count } NICs; a VM has 1 to { $max }
spec-nic_vlan_not_allowed = VLAN "{ $value }" is not available to project "{ $project }" of environment "{ $environment }"
spec-nic_duplicate = VLAN "{ $value }" is used by another NIC
spec-unknown_image = Unknown image "{ $value }"
spec-note_too_long = { $count } characters; at most { $max }
spec-cluster_not_allowed = Project "{ $project }" of environment "{ $environment }" may not use cluster "{ $value }"
spec-nic_vlan_not_on_cluster = VLAN "{ $value }" does not exist on cluster "{ $cluster }"
spec-disk_type_not_on_cluster = Disk type "{ $disk_type }" goes to storage container "{ $container }", which cluster "{ $cluster }" does not have
spec-environment_category_missing = The category "{ $category }" of environment "{ $value }" does not exist on the platform
spec-fixed_on_reconfigure = "{ $field }" cannot change on an existing VM
spec-disk_shrinks = { $case ->
    [removed] Disk { $disk } ({ $was } GiB) cannot be removed
   *[shrinks] Disk { $disk } cannot shrink ({ $was } → { $now } GiB)
}
spec-nothing_changed = The change leaves CPU, RAM, disks and NICs as they are
spec-lease_out_of_range = { $case ->
    [not_after_end] { $until } is not after the lease's current end, { $end }
    [too_far] { $until } is more than { $max } days from today, the longest lease of environment "{ $environment }"
   *[range] { $days } days; leases of 1 to { $max } days are allowed
}

# denied: why the library refused ($actor, $roles, $state)
denied-missing_role = { $actor } may not do this: it needs the role { $roles }
denied-not_owner = Only the request's owner may do this
denied-own_request = Four eyes: nobody reviews, approves or rejects their own request
denied-not_visible = { $actor } may not see this request
denied-wrong_state = Not possible in state "{ $state }"
denied-final = The request is in a final state ("{ $state }")
denied-engine_only = Only Butler's provisioning engine does this, never a user
denied-wrong_step = That is not the step provisioning is at
denied-not_editable = This kind of request cannot be edited
denied-not_at_level = { $actor } is not an approver at the level this request waits for
denied-approved_already = Four eyes at every level: { $actor } approved this request at an earlier level

# outcome: a VM's line in a migration report
outcome-migrated = Migrated
outcome-failed = Failed
outcome-skipped = Skipped
outcome-post_move_pending = Pending after the move
outcome-still_running = Still running

# severity: of a migration finding
severity-error = Error
severity-warning = Warning
severity-info = Information

# said: a line the library writes (a VM's history, a report's note), as
# butler::said words it in English; values as SaidCode names them,
# $parts the lines it is made of.
said-text = { $text }
said-provisioned = provisioned by request { $request }
said-adopted = adopted for { $owner }, cost center { $cost_center }
said-asked = { $kind } asked: request { $request }
said-lease_extension_asked = lease extension to { $until } asked by request { $request }
said-lease_extended = lease extended to { $until } by request { $request }
said-restored = restored by request { $request }
said-retiring = retiring by request { $request }
said-retired = retired by request { $request }
said-kept_off = kept powered off until { $until } (grace period): restore it until then, deleted after
said-lease_over = lease ended on { $ended }: retired by request { $request }
said-grace_over = grace period over: deleted by request { $request }
said-reconfigured = changed by request { $request }
said-lease_notice = lease notice: { $days } day(s) left
said-lease_ended = lease notice: ended
said-power_done = power { $change }: done
said-power_already = power { $change }: already { $power }
said-power_forced_off = power { $change }: the guest did not stop within { $secs } s; powered off hard
said-power_still_on = power { $change }: the guest did not stop within { $secs } s; still on
said-reconcile_power = reconcile: power { $power }
said-reconcile_matches = reconcile: matches the platform again
said-reconcile_drift = reconcile: { $parts }
said-drift_deleted = deleted outside Butler
said-drift_resized = resized outside Butler: { $recorded } recorded, { $found } found
said-drift_moved = moved outside Butler from { $from } to { $to }
said-migrated = migrated from { $from } to { $to } by run { $run }
said-migration_powered_off = powered off by migration run { $run }
said-migration_powered_on = powered on again on { $cluster } by migration run { $run }
said-left_off_while_moved = left powered off while the platform moves it
said-left_off_while_migrated = left powered off while the platform migrates it
said-powered_off_guest = powered off before migrating (guest shut down)
said-powered_off_forced = powered off before migrating (the guest did not shut down within { $secs } s: power cut)
said-running_on = running on { $cluster }{ $because ->
        [pg] { " " }(its protection domain did not move)
        [vm] { " " }(it did not move)
       *[other] { "" }
    }
said-powered_on_again = powered on again on { $cluster }{ $because ->
        [pg] { " " }(its protection domain did not move)
        [vm] { " " }(it did not move)
       *[other] { "" }
    }
said-left_off = left powered off: { $reason }
said-project_remapped = project { $from } → { $to }
said-project_kept = project { $project } kept
said-no_project = no project
said-schedules_recreated = { $count } schedule(s) recreated
said-accounted_when_closed = accounted for when the interrupted run was closed
said-found_when_closed = found on the destination when the interrupted run was closed
said-on_destination = on { $cluster }
said-post_move_only = on the destination before this run: post-move steps only
said-on_destination_although = on the destination although: { $reason }
said-vm_found = found VM { $vm } ({ $uuid }) made earlier
said-vm_created = created VM { $vm } ({ $uuid })
said-skipped_by_configuration = skipped by configuration
said-no_protection_groups = skipped: the platform has no protection groups
said-no_backups = no backups requested
said-protected_by_policy = protected by policy ({ $group })
said-protected_in = protected in { $group } with { $count } schedule(s)
said-already_registered = already registered
said-registered = registered with address { $address }
said-already_billed = already active
said-billed = billing active for cost center { $cost_center }
said-recorded = recorded in the inventory as { $vm }
said-already_recorded = already in the inventory as { $vm }
said-already_gone = already gone from the platform
said-already_off = already off
said-cannot_power = skipped: the platform cannot power VMs (the delete powers it off)
said-gone_from_platform = gone from the platform
said-guest_shut_down = guest shut down
said-powered_off_after = powered off (the guest did not shut down within { $secs } s)
said-in_no_protection_group = in no protection group
said-unprotected = removed from protection group(s) { $groups }
said-not_registered = not registered
said-registration_of_other = the registration of { $vm } is another VM's ({ $uuid }): kept
said-deregistered = deregistered from monitoring
said-not_billed = not billed
said-billing_stopped = billing stopped for cost center { $cost_center } after { $end }
said-vm_deleted = deleted VM { $vm } ({ $uuid })
said-gone = gone
said-recorded_retired = { $parts }; recorded retired in the inventory
said-already_recorded_retired = { $parts }; already recorded retired
said-kept_until = kept powered off until { $until }: deleted then unless restored
said-retiring_kept = retiring: kept until { $until }, then deleted
said-already_on = already on
said-powered_on = powered on
said-already_protected = already protected in { $group }
said-registered_again = registered again with address { $address }
said-billed_again = billing active again for cost center { $cost_center }
said-recorded_active = recorded active in the inventory
said-already_recorded_active = already recorded active
said-lease_now_ends = the lease now ends on { $until }
said-lease_already_ends = the lease already ends on { $until }, or the VM is retired
said-needs_off = needs the VM off: { $why }
said-applies_as_is = can be applied as the VM is
said-not_needed = not needed
said-already_applied = already applied
said-applied = { $vcpus } vCPU, { $ram } GiB RAM, disks { $disks } GiB, NICs { $nics } (was { $was_vcpus } vCPU, { $was_ram } GiB, { $was_disks }, { $was_nics })
said-change_shown = the platform shows the change
said-not_powered_off = not needed: the flow did not power it off
said-powered_back_on = powered on again
said-billing_changed = billing at { $total } { $currency } a month from { $from }
said-recorded_change = recorded in the inventory
said-already_recorded_change = already recorded

# estimate lines: what is priced, per what, and the line's arithmetic
cost_item-vcpu = vCPU
cost_item-ram_gib = RAM GiB
cost_item-disk_gib = { $type } disk GiB
cost_item-backup_local_gib = local backup GiB
cost_item-backup_remote_gib = remote backup GiB
cost_item-cdrom = CD-ROM
cost_item-nic = NIC
cost_item-image = boot image
per-hour = hour
per-day = day
per-month = month
estimate_line = { $item }: { $rate }/{ $per } × { $periods } × { $quantity } = { $amount }
estimate_unpriced = { $item }: unpriced × { $quantity } = 0

# the rule book's decision, in a request's history ($first: who
# decided, $rest: the levels, each a said line)
said-step_succeeded = { $step } done: { $parts }
said-step_attempt_failed = { $step } attempt { $attempt } failed: { $reason }
said-rules_approve = approved automatically by { $first } (rules v{ $version })
said-rules_refuse = refused by { $first } (rules v{ $version }): { $reason }
said-rules_require = needs approval by { $rest } ({ $first }, rules v{ $version })
said-no_rule_matched = no rule matched
said-by_rule = rule { $rules }
said-by_rules = rules { $rules }
said-level_role = { $role }
said-level_users = { $role } ({ $users })
said-level_unit = { $role } (the unit's)
said-level_division = { $role } (the division's)

then_sep = {", then "}

# refusals of a change by the VM's state
said-just_asked = VM { $vm } was just asked for by another request: reload it
said-change_open = VM { $vm } has request { $request } ({ $kind }, { $state }) open: wait for it to end, or ask an approver to reject it
said-no_lease_end = VM { $vm } has no lease end to extend
said-retiring_at_lease_end = VM { $vm } is being retired at its lease end (request { $request })
said-not_restorable = VM { $vm } is { $lifecycle }: only a VM kept powered off in its retirement's grace period can be restored
said-deletion_asked = Butler has asked the deletion of VM { $vm } (request { $request }): it can no longer be restored
said-grace_ended = the grace period of VM { $vm } ended at { $until }: it can no longer be restored
said-being_restored = VM { $vm } is being restored by request { $request }
said-changed_meanwhile = VM { $vm } changed meanwhile: look again
said-not_active = VM { $vm } is { $lifecycle }: it cannot be { $change ->
        [retire] retired
        [extend] extended
        [reconfigure] changed
       *[other] { $change }
    }
said-nothing_to_power = VM { $vm } is retired: there is nothing to power

# why Butler asks and approves a request itself
said-retire_at_lease_end = retire { $vm } ({ $record }): its lease ended on { $ended }
said-deployment_retires = the deployment retires VMs at the end of their lease
said-delete_after_grace = delete { $vm } ({ $record }): its retirement kept it powered off until { $until }
said-grace_period_over = the retirement's grace period is over
said-restore_in_grace = restore { $vm } ({ $record }) within its grace period
said-undo_needs_no_approval = an undo within the grace period needs no approval

# why a migration group's edit was refused ($value: what was refused)
group_error-invalid_name = Group name "{ $value }" is invalid: use 1 to { $max_name } visible characters, not only spaces
group_error-same_clusters = Source and destination must differ (both "{ $value }")
group_error-duplicate_vm = VM "{ $value }" is already in the group
group_error-unknown_vm = VM "{ $value }" is not in the group
group_error-invalid_vm_name = VM name "{ $value }" is invalid: use 1 to { $max_vm_name } characters without control, invisible or bidirectional characters
group_error-too_many_vms = A group holds at most { $max_vms } VMs ({ $value } given)

# bad input a migration names ($quoted: the name as the library quotes it)
said-vm_not_on_platform = VM { $quoted } is not on the platform
said-vms_not_on_platform = VM { $quoted } and { $more } more are not on the platform
said-cluster_not_on_platform = cluster { $quoted } is not on the platform
said-run_no_failed = run { $run } has no failed VMs
said-run_ended = run { $run } has ended
