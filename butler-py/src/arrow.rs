//! Facts as an Arrow table (pyarrow), built from buffers Rust fills in one
//! pass: no Python object per VM. Clusters, projects and protection domains
//! are interned in the snapshot, so they become dictionary columns (pandas
//! reads them as categoricals).

use butler_core::migration::{FactsSnapshot, NONE16, NONE32};
use pyo3::exceptions::PyImportError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

/// A validity (or boolean) bitmap, least significant bit first.
struct Bits {
    bytes: Vec<u8>,
    unset: usize,
}

impl Bits {
    fn from_iter(n: usize, values: impl Iterator<Item = bool>) -> Bits {
        let mut bytes = vec![0u8; n.div_ceil(8)];
        let mut unset = 0;
        for (i, v) in values.enumerate() {
            if v {
                if let Some(b) = bytes.get_mut(i / 8) {
                    *b |= 1 << (i % 8);
                }
            } else {
                unset += 1;
            }
        }
        Bits { bytes, unset }
    }
}

fn le_bytes<T: Copy, const N: usize>(values: &[T], to: fn(T) -> [u8; N]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * N);
    for v in values {
        out.extend_from_slice(&to(*v));
    }
    out
}

/// The `pyarrow.Table` of a snapshot's per-VM facts: `vm` (large string),
/// `found`, `cluster`, `project` (dictionaries), `powered_on`,
/// `protection_domain` (dictionary), `schedules` (uint16), `last_replica`
/// (timestamp, µs, UTC); nulls where a VM has no such fact.
pub(crate) fn facts_table<'py>(py: Python<'py>, s: &FactsSnapshot) -> PyResult<PyObject> {
    let pa = py.import("pyarrow").map_err(|e| {
        PyImportError::new_err(format!(
            "Facts.to_arrow needs pyarrow (pip install pyarrow): {e}"
        ))
    })?;
    let n = s.vms.len();
    let buf = |bytes: &[u8]| -> PyResult<Bound<'py, PyAny>> {
        pa.call_method1("py_buffer", (PyBytes::new(py, bytes),))
    };
    let validity = |bits: &Bits| -> PyResult<PyObject> {
        Ok(if bits.unset == 0 {
            py.None()
        } else {
            buf(&bits.bytes)?.unbind()
        })
    };
    let array = |ty: Bound<'py, PyAny>,
                 buffers: Vec<PyObject>,
                 nulls: usize|
     -> PyResult<Bound<'py, PyAny>> {
        pa.getattr("Array")?
            .call_method1("from_buffers", (ty, n, PyList::new(py, buffers)?, nulls))
    };

    // vm: large_string (64-bit offsets: no 2 GiB limit on names).
    let mut offsets: Vec<i64> = Vec::with_capacity(n + 1);
    let mut data: Vec<u8> = Vec::new();
    offsets.push(0);
    for i in 0..n {
        if let Some(name) = s.names.get(i) {
            data.extend_from_slice(name.as_bytes());
        }
        offsets.push(i64::try_from(data.len()).unwrap_or(i64::MAX));
    }
    let vm = array(
        pa.call_method0("large_string")?,
        vec![
            py.None(),
            buf(&le_bytes(&offsets, i64::to_le_bytes))?.unbind(),
            buf(&data)?.unbind(),
        ],
        0,
    )?;

    let bools = |values: Bits| -> PyResult<Bound<'py, PyAny>> {
        array(
            pa.call_method0("bool_")?,
            vec![py.None(), buf(&values.bytes)?.unbind()],
            0,
        )
    };
    let found = bools(Bits::from_iter(
        n,
        s.vms.iter().map(|f| f.cluster != NONE16),
    ))?;
    let powered_on = bools(Bits::from_iter(n, s.vms.iter().map(|f| f.powered_on)))?;

    // A dictionary column: int32 indices (null where absent) into `names`.
    let dictionary =
        |index: &dyn Fn(usize) -> Option<u32>, names: Vec<&str>| -> PyResult<Bound<'py, PyAny>> {
            let idx: Vec<Option<u32>> = (0..n).map(index).collect();
            let valid = Bits::from_iter(n, idx.iter().map(Option::is_some));
            let raw: Vec<i32> = idx
                .iter()
                .map(|i| i.and_then(|i| i32::try_from(i).ok()).unwrap_or(0))
                .collect();
            let nulls = valid.unset;
            let indices = array(
                pa.call_method0("int32")?,
                vec![
                    validity(&valid)?,
                    buf(&le_bytes(&raw, i32::to_le_bytes))?.unbind(),
                ],
                nulls,
            )?;
            let values = pa.call_method1("array", (names, pa.call_method0("string")?))?;
            pa.getattr("DictionaryArray")?
                .call_method1("from_arrays", (indices, values))
        };
    let vm_at = |i: usize| s.vms.get(i).copied();
    let cluster = dictionary(
        &|i| {
            vm_at(i)
                .filter(|f| f.cluster != NONE16)
                .map(|f| u32::from(f.cluster))
        },
        s.clusters.iter().map(String::as_str).collect(),
    )?;
    let project = dictionary(
        &|i| {
            vm_at(i)
                .filter(|f| f.project != NONE16)
                .map(|f| u32::from(f.project))
        },
        s.projects.iter().map(|p| p.name.as_str()).collect(),
    )?;
    let group_of = |i: usize| {
        vm_at(i)
            .filter(|f| f.group != NONE32)
            .and_then(|f| s.groups.get(f.group as usize).map(|g| (f.group, g)))
    };
    let protection_domain = dictionary(
        &|i| group_of(i).map(|(g, _)| g),
        s.groups.iter().map(|g| g.name.as_str()).collect(),
    )?;

    let schedules: Vec<Option<u16>> = (0..n)
        .map(|i| group_of(i).map(|(_, g)| g.schedules))
        .collect();
    let valid = Bits::from_iter(n, schedules.iter().map(Option::is_some));
    let raw: Vec<u16> = schedules.iter().map(|v| v.unwrap_or(0)).collect();
    let schedules = array(
        pa.call_method0("uint16")?,
        vec![
            validity(&valid)?,
            buf(&le_bytes(&raw, u16::to_le_bytes))?.unbind(),
        ],
        valid.unset,
    )?;

    let replicas: Vec<Option<i64>> = (0..n)
        .map(|i| {
            group_of(i)
                .and_then(|(_, g)| g.last_replica)
                .map(|t| t.timestamp_micros())
        })
        .collect();
    let valid = Bits::from_iter(n, replicas.iter().map(Option::is_some));
    let raw: Vec<i64> = replicas.iter().map(|v| v.unwrap_or(0)).collect();
    let last_replica = array(
        pa.call_method1("timestamp", ("us", "UTC"))?,
        vec![
            validity(&valid)?,
            buf(&le_bytes(&raw, i64::to_le_bytes))?.unbind(),
        ],
        valid.unset,
    )?;

    let columns = vec![
        vm,
        found,
        cluster,
        project,
        powered_on,
        protection_domain,
        schedules,
        last_replica,
    ];
    let names = vec![
        "vm",
        "found",
        "cluster",
        "project",
        "powered_on",
        "protection_domain",
        "schedules",
        "last_replica",
    ];
    let table = pa
        .getattr("Table")?
        .call_method1("from_arrays", (PyList::new(py, columns)?, names))?;
    Ok(table.unbind())
}
