//! The power a migration run handles when its group asks for it
//! ([`MigrationGroup::power_off`](super::MigrationGroup::power_off)): each
//! running VM of a protection group is powered off (its owner told) before
//! the group migrates, and on again once verified on the destination, or
//! where it is when the group did not move.

use super::run::{EventOutcome, MigrationStep, Runner};
use crate::backend::{PowerChange, PowerState, ShutDown};
use crate::inventory::record_migration_power;
use crate::notify::VmNoticeKind;
use crate::resilience::{retry, salt};
use crate::said::{Said, SaidCode};
use chrono::{DateTime, Utc};

impl Runner {
    /// Whether the run powers `vm` off and on again.
    pub(super) fn cycles(&self, vm: &str) -> bool {
        self.power_cycle.contains(vm)
    }

    /// Powers off the VMs of a protection group that the run cycles and
    /// that run on the source, one after the other. `Ok`: those it powered
    /// off; `Err`: why one could not be, and those powered off before it
    /// (for the caller to power on again).
    pub(super) async fn power_off_unit(
        &self,
        group: Option<&str>,
        vms: &[String],
        deadline: DateTime<Utc>,
    ) -> Result<Vec<String>, (String, Vec<String>)> {
        let mut off = Vec::new();
        for vm in vms.iter().filter(|v| self.cycles(v)) {
            self.emit(
                Some(vm),
                group,
                MigrationStep::PowerOff,
                1,
                EventOutcome::Started,
            );
            let outcome = match self.power_off(vm, deadline).await {
                Ok(Some(note)) => {
                    off.push(vm.clone());
                    self.note(vm, note);
                    EventOutcome::Succeeded
                }
                Ok(None) => EventOutcome::Skipped {
                    reason: "not running on the source".into(),
                },
                Err(reason) => {
                    let failed = EventOutcome::Failed {
                        reason: reason.clone(),
                        will_retry: false,
                    };
                    self.emit(Some(vm), group, MigrationStep::PowerOff, 1, failed);
                    return Err((reason, off));
                }
            };
            self.emit(Some(vm), group, MigrationStep::PowerOff, 1, outcome);
        }
        Ok(off)
    }

    /// Powers `vm` off if it runs on the source: its guest shuts down, or
    /// its power is cut once
    /// [`shutdown_wait`](super::MigrationConfig::shutdown_wait) has passed;
    /// then its record and its owner hear of it. `Ok(None)`: nothing to do.
    async fn power_off(&self, vm: &str, deadline: DateTime<Utc>) -> Result<Option<Said>, String> {
        let (clock, policy, key) = (self.clock.as_ref(), &self.config.verify_retry, salt(vm));
        let info = retry(clock, policy, key, "find_vm", || self.backend.find_vm(vm))
            .await
            .map_err(|e| format!("cannot look VM {vm:?} up to power it off: {e}"))?
            .ok_or_else(|| format!("VM {vm:?} is not on the platform"))?;
        if info.power == PowerState::Off || info.cluster != self.source {
            return Ok(None);
        }
        let until = crate::backend::after(clock.now(), self.config.shutdown_wait).min(deadline);
        let how = retry(clock, policy, key, "power_off", || {
            crate::backend::shut_down(
                self.backend.as_ref(),
                clock,
                vm,
                &info.uuid,
                until,
                self.config.poll,
            )
        })
        .await
        .map_err(|e| format!("cannot power VM {vm:?} off: {e}"))?;
        if how != ShutDown::Gone {
            // Recorded (and its owner told) once it is so.
            let what = Said::new(
                SaidCode::MigrationPoweredOff,
                [("run", self.id.to_string())],
            );
            self.record_power(vm, false, what).await;
        }
        Ok(Some(match how {
            ShutDown::Guest => Said::just(SaidCode::PoweredOffGuest),
            ShutDown::Forced => Said::new(
                SaidCode::PoweredOffForced,
                [("secs", self.config.shutdown_wait.as_secs().to_string())],
            ),
            ShutDown::Gone => {
                return Err(format!("VM {vm:?} left the platform while powering off"))
            }
        }))
    }

    /// Powers `vm` on where it is, if it is off. `Ok`: a note for the
    /// report.
    pub(super) async fn power_on(&self, vm: &str, group: Option<&str>) -> Result<Said, String> {
        let (clock, policy, key) = (self.clock.as_ref(), &self.config.verify_retry, salt(vm));
        self.emit(
            Some(vm),
            group,
            MigrationStep::PowerOn,
            1,
            EventOutcome::Started,
        );
        let done: Result<Said, String> = async {
            let info = retry(clock, policy, key, "find_vm", || self.backend.find_vm(vm))
                .await
                .map_err(|e| format!("cannot look VM {vm:?} up to power it on: {e}"))?
                .ok_or_else(|| format!("VM {vm:?} is not on the platform to power it on"))?;
            if info.power == PowerState::On {
                return Ok(Said::new(SaidCode::RunningOn, [("cluster", info.cluster)]));
            }
            retry(clock, policy, key, "power_on", || {
                self.backend.set_power(&info.uuid, PowerChange::On)
            })
            .await
            .map_err(|e| format!("cannot power VM {vm:?} on again on {}: {e}", info.cluster))?;
            let what = Said::new(
                SaidCode::MigrationPoweredOn,
                [
                    ("cluster", info.cluster.clone()),
                    ("run", self.id.to_string()),
                ],
            );
            self.record_power(vm, true, what).await;
            Ok(Said::new(
                SaidCode::PoweredOnAgain,
                [("cluster", info.cluster)],
            ))
        }
        .await;
        let outcome = match &done {
            Ok(_) => EventOutcome::Succeeded,
            Err(reason) => EventOutcome::Failed {
                reason: reason.clone(),
                will_retry: false,
            },
        };
        self.emit(Some(vm), group, MigrationStep::PowerOn, 1, outcome);
        done
    }

    /// Powers on again the VMs `off` of a protection group (or a VM moved
    /// on its own: `group` `None`) that did not move, each where it is; the
    /// outcome is a note on its line.
    pub(super) async fn restore_power(&self, off: &[String], group: Option<&str>) {
        let because = match group {
            Some(_) => "pg",
            None => "vm",
        };
        for vm in off {
            let note = match self.power_on(vm, group).await {
                Ok(mut note) => {
                    note.values.insert("because".into(), because.into());
                    note
                }
                Err(reason) => Said::new(SaidCode::LeftOff, [("reason", reason)]),
            };
            self.note(vm, note);
        }
    }

    /// Writes the power change into the VM's inventory record, with a
    /// notice to its owner when the VMs' notices are delivered. A store
    /// that fails is logged: the migration does not stop for it.
    async fn record_power(&self, vm: &str, on: bool, what: Said) {
        let notice = self
            .notices
            .is_some()
            .then(|| VmNoticeKind::MigrationPower {
                run: self.id.0,
                from: self.source.clone(),
                to: self.destination.clone(),
                on,
                by: self.started_by.clone(),
            });
        let power = if on { PowerState::On } else { PowerState::Off };
        let written = record_migration_power(
            self.store.as_ref(),
            vm,
            power,
            &what,
            notice,
            &self.started_by,
            self.clock.now(),
        )
        .await;
        match written {
            Ok(true) => {
                if let Some(wake) = &self.notices {
                    wake.notify_one();
                }
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(run = %self.id, vm, error = ?e, "could not record the power change in the inventory")
            }
        }
    }
}
