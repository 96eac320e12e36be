//! Validation's work cut into chunks of VMs, one thread per chunk: two
//! passes with a step between them, each chunk keeping its thread for both
//! passes, so threads start once per validation, not once per pass.

use std::ops::Range;
use std::sync::{Condvar, Mutex, OnceLock};

/// VMs per chunk below which validation stays on the calling thread.
const CHUNK_MIN: usize = 131_072;

/// How many chunks a validation of `n` VMs works in: one on small groups,
/// else one per core (at most 8), each at least [`CHUNK_MIN`] long.
pub(super) fn chunks_for(n: usize) -> usize {
    // Asked once: on Linux the answer reads the cgroup files.
    static CORES: OnceLock<usize> = OnceLock::new();
    if n < 2 * CHUNK_MIN {
        return 1;
    }
    let cores =
        *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |c| c.get().min(8)));
    (n / CHUNK_MIN).clamp(1, cores)
}

/// `n` VMs cut into `parts` ranges (at least one, maybe empty).
fn chunk_ranges(n: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.max(1);
    let size = n.div_ceil(parts).max(1);
    (0..parts)
        .map(|k| (k * size).min(n)..((k + 1) * size).min(n))
        .collect()
}

/// What the threads of [`two_passes`] tell each other.
#[derive(Default)]
struct Progress {
    /// First-pass results handed in by the chunk threads.
    handed_in: usize,
    /// The step between the passes is done: the second pass may start.
    ready: bool,
    /// A thread stopped short (a panic): everyone stops.
    failed: bool,
}

/// A lock on the progress that outlives a panicking holder: it holds only
/// counters and flags, each written in one step.
fn lock(progress: &Mutex<Progress>) -> std::sync::MutexGuard<'_, Progress> {
    progress
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits on `changed` until `done` holds of the progress or the run failed;
/// the lock is held on return.
fn wait_until<'a>(
    progress: &'a Mutex<Progress>,
    changed: &Condvar,
    done: impl Fn(&Progress) -> bool,
) -> std::sync::MutexGuard<'a, Progress> {
    changed
        .wait_while(lock(progress), |p| !done(p) && !p.failed)
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Marks the run failed when dropped before [`Self::done`]: while a panic
/// unwinds, so that no thread waits for it for ever.
struct Failing<'a> {
    progress: &'a Mutex<Progress>,
    changed: &'a Condvar,
    done: bool,
}

impl Failing<'_> {
    fn done(mut self) {
        self.done = true;
    }
}

impl Drop for Failing<'_> {
    fn drop(&mut self) {
        if !self.done {
            lock(self.progress).failed = true;
            self.changed.notify_all();
        }
    }
}

/// Two passes over the chunks of `n` VMs cut `parts` ways: `first(k, range)`
/// on every chunk; then, on this thread, `between(meanwhile, firsts)`, where
/// `meanwhile()` ran here while the first pass ran on the chunks' threads;
/// then `then(k, range, &firsts[k], &step)` on every chunk. The second
/// pass's results come back in chunk order.
///
/// With several chunks each runs on a thread of its own, for both passes.
/// A chunk no thread can be had for runs on this thread. A panic in any
/// pass reaches the caller, and no thread is left waiting.
pub(super) fn two_passes<A, R, M, B>(
    n: usize,
    parts: usize,
    first: impl Fn(usize, Range<usize>) -> A + Sync,
    meanwhile: impl FnOnce() -> R,
    between: impl FnOnce(R, &[&A]) -> M,
    then: impl Fn(usize, Range<usize>, &A, &M) -> B + Sync,
) -> Vec<B>
where
    A: Send + Sync,
    M: Send + Sync,
    B: Send,
{
    let ranges = chunk_ranges(n, parts);
    if ranges.len() == 1 {
        let r = ranges[0].clone();
        let a = first(0, r.clone());
        let step = between(meanwhile(), &[&a]);
        return vec![then(0, r, &a, &step)];
    }
    let firsts: Vec<OnceLock<A>> = ranges.iter().map(|_| OnceLock::new()).collect();
    let step: OnceLock<M> = OnceLock::new();
    let progress = Mutex::new(Progress::default());
    let changed = Condvar::new();
    std::thread::scope(|scope| {
        let (first, then, firsts, step) = (&first, &then, &firsts, &step);
        let (progress, changed) = (&progress, &changed);
        let chunk_thread = |k: usize, r: Range<usize>| {
            move || {
                let failing = Failing {
                    progress,
                    changed,
                    done: false,
                };
                let a = firsts[k].get_or_init(|| first(k, r.clone()));
                lock(progress).handed_in += 1;
                changed.notify_all();
                let p = wait_until(progress, changed, |p| p.ready);
                let go = p.ready && !p.failed;
                drop(p);
                let out = step.get().filter(|_| go).map(|m| then(k, r, a, m));
                failing.done();
                out
            }
        };
        let running: Vec<_> = ranges
            .iter()
            .enumerate()
            .map(|(k, r)| {
                std::thread::Builder::new()
                    .spawn_scoped(scope, chunk_thread(k, r.clone()))
                    .map_err(|_| k)
            })
            .collect();
        // Until the second pass may start, a panic here must release the
        // chunk threads.
        let failing = Failing {
            progress,
            changed,
            done: false,
        };
        let made = meanwhile();
        for k in running.iter().filter_map(|h| h.as_ref().err()) {
            firsts[*k].get_or_init(|| first(*k, ranges[*k].clone()));
        }
        let threads = running.iter().filter(|h| h.is_ok()).count();
        let failed = wait_until(progress, changed, |p| p.handed_in >= threads).failed;
        if !failed {
            let all: Vec<&A> = firsts.iter().filter_map(OnceLock::get).collect();
            // `set` fails only if already set, which nothing else does.
            let _ = step.set(between(made, &all));
            lock(progress).ready = true;
            changed.notify_all();
        }
        failing.done();
        let mut outs = Vec::with_capacity(ranges.len());
        let mut panic = None;
        for h in running {
            let out = match h {
                Ok(h) => match h.join() {
                    Ok(out) => out,
                    Err(e) => {
                        panic.get_or_insert(e);
                        None
                    }
                },
                Err(k) => match (firsts[k].get(), step.get()) {
                    (Some(a), Some(m)) => Some(then(k, ranges[k].clone(), a, m)),
                    _ => None,
                },
            };
            outs.extend(out);
        }
        if let Some(e) = panic {
            std::panic::resume_unwind(e);
        }
        outs
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_passes_see_every_chunk_in_order() {
        for parts in [1, 2, 3, 8] {
            let out = two_passes(
                100,
                parts,
                |k, r| (k, r.len()),
                || 1000,
                |base, firsts: &[&(usize, usize)]| {
                    base + firsts.iter().map(|(_, len)| len).sum::<usize>()
                },
                |k, r, a, total| (k, a.0, r.start, *total),
            );
            assert_eq!(out.len(), parts);
            for (i, (k, from_first, _, total)) in out.iter().enumerate() {
                assert_eq!((*k, *from_first, *total), (i, i, 1100));
            }
            assert!(out.windows(2).all(|w| w[0].2 < w[1].2));
        }
    }

    /// Whether [`two_passes`] over two chunks panics when the first pass
    /// panics on chunk `first`, the step between on `between`, the second
    /// pass on chunk `then`.
    fn panics(first: Option<usize>, between: bool, then: Option<usize>) -> bool {
        std::panic::catch_unwind(|| {
            two_passes(
                100,
                2,
                |k, _| assert_ne!(Some(k), first, "first pass"),
                || (),
                |_, _: &[&()]| assert!(!between, "between"),
                |k, _, _, _| assert_ne!(Some(k), then, "second pass"),
            )
        })
        .is_err()
    }

    #[test]
    fn a_panic_in_any_pass_reaches_the_caller() {
        assert!(!panics(None, false, None));
        for bad in [0, 1] {
            assert!(panics(Some(bad), false, None));
            assert!(panics(None, false, Some(bad)));
        }
        assert!(panics(None, true, None));
    }
}
