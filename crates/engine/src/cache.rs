//! Compiled programs kept for reuse, keyed by the SHA-256 of their bytes, bounded in number.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Compiled modules kept; the oldest is dropped first.
pub(crate) const CACHE_ENTRIES: usize = 16;

pub(crate) struct ModuleCache<M> {
    entries: Mutex<VecDeque<([u8; 32], M)>>,
}

impl<M: Clone> ModuleCache<M> {
    pub(crate) fn new() -> ModuleCache<M> {
        ModuleCache {
            entries: Mutex::new(VecDeque::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<([u8; 32], M)>> {
        // A poisoned lock only means another run panicked mid-insert; the queue is still whole.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get(&self, hash: &[u8; 32]) -> Option<M> {
        self.lock()
            .iter()
            .find(|(h, _)| h == hash)
            .map(|(_, m)| m.clone())
    }

    /// Keeps `module` unless a concurrent run already did.
    pub(crate) fn insert(&self, hash: [u8; 32], module: M) {
        let mut entries = self.lock();
        if entries.iter().any(|(h, _)| *h == hash) {
            return;
        }
        if entries.len() >= CACHE_ENTRIES {
            entries.pop_front();
        }
        entries.push_back((hash, module));
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}
