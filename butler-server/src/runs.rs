//! Migration runs started through this server, with every progress event
//! kept in order so a client that lost its event stream resumes from the
//! last event id it saw (`Last-Event-ID`), missing nothing.

use butler::migration::{MigrationEvent, MigrationHandle, RunId};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// One run's events so far.
pub struct RunLog {
    events: Mutex<Vec<Arc<MigrationEvent>>>,
    // (events logged, run over): wakes the streams.
    progress: watch::Sender<(usize, bool)>,
    handle: Mutex<Option<MigrationHandle>>,
}

impl RunLog {
    /// Events from index `from` (0-based) on, and whether the run is over.
    pub fn since(&self, from: usize) -> (Vec<Arc<MigrationEvent>>, bool) {
        let done = self.progress.borrow().1;
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        (
            events.get(from..).map(<[_]>::to_vec).unwrap_or_default(),
            done,
        )
    }

    /// Wakes when more events come or the run ends.
    pub fn watch(&self) -> watch::Receiver<(usize, bool)> {
        self.progress.subscribe()
    }

    /// Asks the run to stop starting new work.
    pub fn cancel(&self) -> bool {
        match self
            .handle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            Some(h) => {
                h.cancel();
                true
            }
            None => false,
        }
    }
}

/// The runs this process started (the last `keep` finished ones are kept).
pub struct Runs {
    map: Mutex<HashMap<RunId, Arc<RunLog>>>,
    finished: Mutex<VecDeque<RunId>>,
    keep: usize,
}

impl Runs {
    /// Keeps the events of the last `keep` finished runs.
    pub fn new(keep: usize) -> Arc<Runs> {
        Arc::new(Runs {
            map: Mutex::new(HashMap::new()),
            finished: Mutex::new(VecDeque::new()),
            keep: keep.max(1),
        })
    }

    /// Follows a run just started.
    pub fn follow(self: &Arc<Self>, handle: MigrationHandle) -> Arc<RunLog> {
        let run = handle.run();
        let mut stream = handle.events();
        let (progress, _) = watch::channel((0, false));
        let log = Arc::new(RunLog {
            events: Mutex::new(Vec::new()),
            progress,
            handle: Mutex::new(Some(handle)),
        });
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(run, log.clone());
        let me = self.clone();
        let l = log.clone();
        tokio::spawn(async move {
            while let Some(e) = stream.next().await {
                let n = {
                    let mut ev = l.events.lock().unwrap_or_else(|e| e.into_inner());
                    ev.push(Arc::new(e));
                    ev.len()
                };
                l.progress.send_replace((n, false));
            }
            // The stream ends after the runner stored the report.
            let n = l.events.lock().unwrap_or_else(|e| e.into_inner()).len();
            l.handle.lock().unwrap_or_else(|e| e.into_inner()).take();
            l.progress.send_replace((n, true));
            me.finish(run);
        });
        log
    }

    fn finish(&self, run: RunId) {
        let mut fin = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        fin.push_back(run);
        while fin.len() > self.keep {
            if let Some(old) = fin.pop_front() {
                self.map
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&old);
            }
        }
    }

    /// The log of a run this process follows.
    pub fn get(&self, run: RunId) -> Option<Arc<RunLog>> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&run)
            .cloned()
    }

    /// Asks every running migration to stop (graceful shutdown).
    pub fn cancel_all(&self) {
        for log in self.map.lock().unwrap_or_else(|e| e.into_inner()).values() {
            log.cancel();
        }
    }

    /// Whether any run is still going.
    pub fn any_running(&self) -> bool {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .any(|l| !l.progress.borrow().1)
    }
}
