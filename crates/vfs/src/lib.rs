//! The in-memory virtual file system of one Veracruz computation.
//!
//! One [`Vfs`] is shared by every principal and program of a computation. It holds a tree of
//! directories, regular files, hard links and symbolic links (inode numbers, link counts,
//! access/modification/change times from a [`Clock`] the owner supplies, all zero when the
//! clock is disabled) and the three named streams `stdin`, `stdout` and `stderr` as separate
//! byte buffers. A total-bytes quota bounds file and stream contents plus a per-inode and
//! per-entry charge, so hostile writers cannot exhaust host memory.
//!
//! [`Vfs`] is a cheap clone of an `Arc<Mutex<Fs>>`: every operation takes the lock once and is
//! atomic. The WASI layer locks it ([`Vfs::lock`]) and works on inodes with [`Fs`];
//! principals acting from outside a program use a [`Handle`]: the VFS plus that principal's
//! [`CapabilityMap`]. Handle operations check rights on the full path (`w` to create, truncate
//! or write, `a` (or `w`) to append, `r` to read; listing needs `r` on the directory; `stat` and
//! `exists` need some right at or beneath the path) and never follow symbolic links, because a
//! link could otherwise lead a principal to bytes its rights on the link's own path do not cover.
//!
//! Path resolution for programs ([`Fs::resolve`]) treats its starting directory as a root:
//! `..` cannot rise above it, and absolute paths or absolute link targets fail with
//! [`VfsError::Escape`], as in capability-based WASI runtimes.
//!
//! [`Vfs::load_host_dir`] and [`Vfs::save_to_host_dir`] copy between a host directory and the
//! VFS for the freestanding runner; nothing else in this crate touches the host file system.

mod error;
mod fs;
mod handle;
mod host;

pub use host::CopyStats;

use std::sync::{Arc, Mutex, MutexGuard};

pub use error::{Result, VfsError};
pub use fs::{
    display_path, validate_name, Clock, DirEntry, FileType, Fs, Ino, Metadata, Resolved,
    ENTRY_COST, INODE_COST, MAX_NAME_LEN, MAX_PATH_LEN, MAX_SYMLINK_FOLLOWS, ROOT_INO, STDERR_INO,
    STDIN_INO, STDOUT_INO,
};
pub use handle::{Handle, WriteMode, WriteSession};
use veracruz_policy::{CapPath, CapabilityMap, Rights};

/// Settings of a new VFS.
#[derive(Clone, Debug)]
pub struct VfsConfig {
    /// Upper bound on bytes held: file and stream contents plus [`INODE_COST`] per inode and
    /// [`ENTRY_COST`] + name length per directory entry. Buffers grow geometrically, so host
    /// memory in use can approach twice this.
    pub max_total_bytes: u64,
    pub clock: Clock,
}

impl Default for VfsConfig {
    fn default() -> Self {
        VfsConfig {
            max_total_bytes: 1 << 30,
            clock: Clock::Disabled,
        }
    }
}

/// The shared file system; clones refer to the same one.
#[derive(Clone, Debug)]
pub struct Vfs {
    inner: Arc<Mutex<Fs>>,
}

impl Default for Vfs {
    fn default() -> Self {
        Vfs::new(VfsConfig::default())
    }
}

impl Vfs {
    pub fn new(config: VfsConfig) -> Vfs {
        Vfs {
            inner: Arc::new(Mutex::new(Fs::new(config.max_total_bytes, config.clock))),
        }
    }

    /// Locks the file system for a sequence of inode-level operations.
    pub fn lock(&self) -> MutexGuard<'_, Fs> {
        // Nothing in `Fs` can be left half-updated by a panic (quota is checked before any
        // mutation), so a poisoned lock still guards a consistent state.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A principal's or program's view of this file system.
    pub fn handle(&self, capabilities: CapabilityMap) -> Handle {
        Handle::new(self.clone(), capabilities)
    }

    /// Do two values refer to the same file system?
    pub fn same(&self, other: &Vfs) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// Is `path` (components from `/`) visible under `capabilities`: does the map grant something
/// at it or at some path beneath it? Directories leading to a granted path are visible so that
/// they can be traversed; everything else is neither listed nor resolvable.
pub fn visible(capabilities: &CapabilityMap, path: &[String]) -> bool {
    let path = relevant_prefix(capabilities, path);
    let here = CapPath::Tree(path.to_vec());
    !capabilities.rights_for_path(&here).is_empty()
        || capabilities
            .entries()
            .any(|(p, r)| !r.is_empty() && here.covers(p))
}

/// The rights `capabilities` grants on the tree path `path`.
pub fn rights_at(capabilities: &CapabilityMap, path: &[String]) -> Rights {
    let path = relevant_prefix(capabilities, path);
    capabilities.rights_for_path(&CapPath::Tree(path.to_vec()))
}

/// No entry is longer than the map's deepest one, so components past that depth cannot change
/// which entry applies; cutting them keeps lookups cheap however deep a program nests
/// directories.
fn relevant_prefix<'a>(capabilities: &CapabilityMap, path: &'a [String]) -> &'a [String] {
    let deepest = capabilities
        .entries()
        .map(|(p, _)| match p {
            CapPath::Tree(c) => c.len(),
            CapPath::Stream(_) => 0,
        })
        .max()
        .unwrap_or(0);
    // One component more than the deepest entry still tells "beneath an entry" from "at it".
    &path[..path.len().min(deepest + 1)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn visibility_follows_the_map() {
        let map = CapabilityMap::from_entries([
            (CapPath::parse("/data/in/").unwrap(), Rights::READ),
            (CapPath::parse("/data/in/secret").unwrap(), Rights::NONE),
        ]);
        let p = |s: &str| -> Vec<String> {
            match CapPath::parse(s).unwrap() {
                CapPath::Tree(c) => c,
                CapPath::Stream(_) => unreachable!(),
            }
        };
        assert!(visible(&map, &p("/")));
        assert!(visible(&map, &p("/data")));
        assert!(visible(&map, &p("/data/in/x")));
        assert!(!visible(&map, &p("/data/in/secret")));
        assert!(!visible(&map, &p("/data/out")));
        assert!(!visible(&map, &p("/other")));
        assert!(visible(&map, &p("/data/in/x/y/z/w")));
        assert!(!visible(&map, &p("/data/in/secret/deeper/still")));
        assert_eq!(rights_at(&map, &p("/data/in/x/y/z/w")), Rights::READ);
        assert_eq!(rights_at(&map, &p("/data/in/secret/a/b/c")), Rights::NONE);
        assert_eq!(rights_at(&map, &p("/data/out/a/b/c")), Rights::NONE);
    }

    #[test]
    fn concurrent_appends_are_atomic() {
        let vfs = Vfs::default();
        let map = CapabilityMap::from_entries([(CapPath::parse("/").unwrap(), Rights::ALL)]);
        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                let h = vfs.handle(map.clone());
                thread::spawn(move || {
                    for _ in 0..100 {
                        h.append_file("/log", &[t; 8]).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let h = vfs.handle(map);
        let data = h.read_file("/log").unwrap();
        assert_eq!(data.len(), 4 * 100 * 8);
        for chunk in data.chunks(8) {
            assert!(chunk.iter().all(|b| *b == chunk[0]), "interleaved append");
        }
    }
}
