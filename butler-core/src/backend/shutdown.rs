//! Powering a VM off the way Butler does whenever it must (a retirement,
//! a migration that asks for it): a guest shutdown first, the power cut
//! once the guest has had its time.

use super::{BackendError, Clock, ClusterBackend, PowerChange, PowerState};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// How a VM came to be off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutDown {
    /// The guest shut down when asked.
    Guest,
    /// The guest did not stop by the deadline (or refused): the power was cut.
    Forced,
    /// The VM went from the platform meanwhile.
    Gone,
}

/// Powers the VM `name` (platform id `uuid`) off: asks its guest to shut
/// down, reads its power every `poll` until it is off or `until` has
/// passed, then cuts the power. A guest that refuses the request (no ACPI
/// answer: a permanent error) has its power cut at once; a passing error
/// is returned, for the caller to retry the whole.
pub async fn shut_down(
    cluster: &dyn ClusterBackend,
    clock: &dyn Clock,
    name: &str,
    uuid: &str,
    until: DateTime<Utc>,
    poll: Duration,
) -> Result<ShutDown, BackendError> {
    let mut asked = cluster.set_power(uuid, PowerChange::GuestShutdown).await;
    if let Err(e) = &asked {
        if e.is_retryable() {
            return Err(e.clone());
        }
    }
    loop {
        match cluster.find_vm(name).await?.filter(|vm| vm.uuid == uuid) {
            None => return Ok(ShutDown::Gone),
            Some(vm) if vm.power == PowerState::Off => return Ok(ShutDown::Guest),
            Some(_) => {}
        }
        if asked.is_err() || clock.now() >= until {
            break;
        }
        clock.sleep(poll).await;
        asked = Ok(());
    }
    cluster.set_power(uuid, PowerChange::HardOff).await?;
    Ok(ShutDown::Forced)
}
