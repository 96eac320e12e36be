//! The simulated platform behind a ``Butler()``: inspection, power, faults,
//! fleets.

use crate::errors::InvalidInput;
use butler_core::backend::{Capabilities, Capability};
use butler_sim::{fleet, FaultConfig, FaultKind, Op, ScriptedFault, SimPlatform};
use pyo3::prelude::*;

fn parse_op(name: &str) -> PyResult<Op> {
    Op::ALL
        .into_iter()
        .find(|o| o.as_str() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = Op::ALL.iter().map(|o| o.as_str()).collect();
            InvalidInput::new_err(format!(
                "unknown operation {name:?}; one of {}",
                names.join(", ")
            ))
        })
}

fn rate(name: &str, v: f64) -> PyResult<f64> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(InvalidInput::new_err(format!(
            "{name} must be between 0 and 1, not {v}"
        )))
    }
}

/// The simulated platform behind a ``Butler()``.
#[pyclass(module = "butler", frozen)]
pub(crate) struct Simulator {
    pub(crate) sim: SimPlatform,
}

#[pymethods]
impl Simulator {
    /// Number of VMs.
    #[getter]
    fn vm_count(&self) -> usize {
        self.sim.vm_count()
    }
    /// ``(cluster, power, project)`` of the VM named ``name``, or ``None``.
    fn vm(&self, py: Python<'_>, name: &str) -> PyResult<Option<PyObject>> {
        use butler_core::backend::PowerState as P;
        self.sim
            .vm(name)
            .map(|v| {
                let power = match v.power {
                    P::On => "on",
                    P::Off => "off",
                    _ => "unknown",
                };
                crate::named::named(py, "SimVm", (v.cluster, power, v.project))
            })
            .transpose()
    }
    /// VMs named ``name`` (more than 1 is a duplicate create).
    fn vms_named(&self, name: &str) -> usize {
        self.sim.vms_named(name)
    }
    /// Monitoring registrations of a VM.
    fn monitor_registrations(&self, name: &str) -> usize {
        self.sim.monitor_registrations(name)
    }
    /// Billing activations of a VM.
    fn billing_activations(&self, name: &str) -> usize {
        self.sim.billing_activations(name)
    }
    /// Powers a VM on or off; ``False`` if no such VM.
    fn set_power(&self, name: &str, on: bool) -> bool {
        self.sim.set_vm_power(
            name,
            if on {
                butler_core::backend::PowerState::On
            } else {
                butler_core::backend::PowerState::Off
            },
        )
    }
    /// Calls made to an operation (e.g. ``create_vm``).
    fn calls(&self, op: &str) -> PyResult<u64> {
        Ok(self.sim.calls(parse_op(op)?))
    }
    /// Injects random faults into an operation (rates between 0 and 1).
    #[pyo3(signature = (op, transient=0.0, permanent=0.0, timeout=0.0, lose_reply=0.0))]
    fn set_faults(
        &self,
        op: &str,
        transient: f64,
        permanent: f64,
        timeout: f64,
        lose_reply: f64,
    ) -> PyResult<()> {
        let cfg = FaultConfig {
            transient: rate("transient", transient)?,
            permanent: rate("permanent", permanent)?,
            timeout: rate("timeout", timeout)?,
            lose_reply: rate("lose_reply", lose_reply)?,
            latency: std::time::Duration::ZERO,
        };
        if cfg.transient + cfg.permanent + cfg.timeout + cfg.lose_reply > 1.0 {
            return Err(InvalidInput::new_err(
                "the fault rates add up to more than 1",
            ));
        }
        self.sim.set_faults(parse_op(op)?, cfg);
        Ok(())
    }
    /// Makes the ``nth`` call (from 1) of an operation fail with ``kind``
    /// (``"transient"``, ``"permanent"``, ``"timeout"`` or ``"lose_reply"``),
    /// once; with ``key``, only calls about that VM or protection group
    /// count. Unlike the random rates of ``set_faults``, the same script
    /// fails the same calls whatever order they arrive in.
    #[pyo3(signature = (op, kind, key=None, nth=1))]
    fn script_fault(&self, op: &str, kind: &str, key: Option<&str>, nth: u64) -> PyResult<()> {
        let kind = match kind {
            "transient" => FaultKind::Transient,
            "permanent" => FaultKind::Permanent,
            "timeout" => FaultKind::Timeout,
            "lose_reply" => FaultKind::LoseReply,
            other => {
                return Err(InvalidInput::new_err(format!(
                    "kind must be \"transient\", \"permanent\", \"timeout\" or \"lose_reply\", not {other:?}"
                )))
            }
        };
        if nth == 0 {
            return Err(InvalidInput::new_err("nth counts calls from 1"));
        }
        self.sim
            .script_fault(ScriptedFault::nth_call(parse_op(op)?, nth, key, kind));
        Ok(())
    }
    /// Makes the simulated platform offer only the optional features named
    /// (``"protection"``, ``"migration"``, ``"project_remap"``,
    /// ``"storage_containers"``, ``"categories"``, ``"task_long_poll"``,
    /// ``"power"``, ``"delete"``, ``"reconfigure"``,
    /// ``"idempotent_create"``, ``"vm_migration"``),
    /// as a platform without them would: what needs a missing one raises
    /// ``UnsupportedError``. An unknown name changes nothing.
    fn set_capabilities(&self, names: Vec<String>) -> PyResult<()> {
        let mut caps = Capabilities::none();
        for name in &names {
            let c = Capability::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = Capability::ALL.iter().map(|c| c.as_str()).collect();
                InvalidInput::new_err(format!(
                    "unknown capability {name:?}; known: {}",
                    known.join(", ")
                ))
            })?;
            caps = caps.with(c);
        }
        self.sim.set_capabilities(caps);
        Ok(())
    }
    /// Removes every fault.
    fn clear_faults(&self) {
        self.sim.clear_faults()
    }
    /// Adds ``vms`` VMs over ``groups`` protection groups on ``c1-madrid``
    /// (replicating to ``c2-santiago``) with a ``"none"`` or ``"realistic"``
    /// problem mix; returns the VM names.
    #[pyo3(signature = (vms, groups, mix="none", prefix="fleet", seed=1))]
    fn generate_fleet(
        &self,
        py: Python<'_>,
        vms: usize,
        groups: usize,
        mix: &str,
        prefix: &str,
        seed: u64,
    ) -> PyResult<Vec<String>> {
        let mix = match mix {
            "none" => fleet::ProblemMix::NONE,
            "realistic" => fleet::ProblemMix::REALISTIC,
            other => {
                return Err(InvalidInput::new_err(format!(
                    "mix must be \"none\" or \"realistic\", not {other:?}"
                )))
            }
        };
        if groups == 0 {
            return Err(InvalidInput::new_err("groups must be at least 1"));
        }
        let spec = fleet::FleetSpec {
            vms,
            groups,
            mix,
            seed,
            prefix: prefix.to_string(),
            ..fleet::FleetSpec::default()
        };
        spec.check()
            .map_err(|e| InvalidInput::new_err(e.to_string()))?;
        let sim = self.sim.clone();
        // On a blocking thread, so Ctrl-C is noticed while it runs.
        let work = async move {
            tokio::task::spawn_blocking(move || fleet::try_generate(&sim, &spec)).await
        };
        match crate::block(py, work)? {
            Ok(Ok(f)) => Ok(f.vm_names),
            Ok(Err(e)) => Err(InvalidInput::new_err(e.to_string())),
            Err(e) => Err(crate::errors::ButlerError::new_err(format!(
                "fleet generation failed: {e}"
            ))),
        }
    }
}
