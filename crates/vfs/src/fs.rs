//! The file system state behind the lock: inodes, directories, links, streams and the quota.
//!
//! Every method here is one atomic step: it either fully applies or changes nothing, because
//! quota is checked before anything is mutated.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use veracruz_policy::Stream;

use crate::error::{Result, VfsError};

/// An inode number, unique for the life of one file system.
pub type Ino = u64;

/// Inode numbers of the named streams; the tree's inodes start after them.
pub const STDIN_INO: Ino = 1;
pub const STDOUT_INO: Ino = 2;
pub const STDERR_INO: Ino = 3;
/// The inode of the root directory `/`.
pub const ROOT_INO: Ino = 4;

/// Longest single file name, as on common POSIX systems.
pub const MAX_NAME_LEN: usize = 255;
/// Longest path accepted for resolution or as a symbolic link target.
pub const MAX_PATH_LEN: usize = 4096;
/// Symbolic links followed in one resolution before it fails with a loop error.
pub const MAX_SYMLINK_FOLLOWS: u32 = 40;

/// Bytes charged against the quota for every inode and every directory entry (plus the name),
/// so that a writer creating millions of empty files or long names also runs into the quota.
pub const INODE_COST: u64 = 128;
pub const ENTRY_COST: u64 = 32;

/// Where timestamps come from.
#[derive(Clone, Default)]
pub enum Clock {
    /// Every timestamp is zero: runs are deterministic.
    #[default]
    Disabled,
    /// Nanoseconds since the Unix epoch from the host's real-time clock.
    System,
    /// Nanoseconds from a source the owner supplies (e.g. a test clock).
    Custom(Arc<dyn Fn() -> u64 + Send + Sync>),
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Clock::Disabled => f.write_str("Clock::Disabled"),
            Clock::System => f.write_str("Clock::System"),
            Clock::Custom(_) => f.write_str("Clock::Custom"),
        }
    }
}

impl Clock {
    pub fn now(&self) -> u64 {
        match self {
            Clock::Disabled => 0,
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
                .unwrap_or(0),
            Clock::Custom(f) => f(),
        }
    }
}

/// The kind of an inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileType {
    RegularFile,
    Directory,
    Symlink,
    /// A named stream (stdin, stdout, stderr).
    CharacterDevice,
}

/// What `stat` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub ino: Ino,
    pub file_type: FileType,
    pub nlink: u64,
    /// Bytes of a file or stream, bytes of a symbolic link's target, entries of a directory.
    pub size: u64,
    pub atim: u64,
    pub mtim: u64,
    pub ctim: u64,
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub ino: Ino,
    pub file_type: FileType,
}

#[derive(Debug)]
enum Node {
    File(Vec<u8>),
    /// `parent` is the directory holding this one's only entry (directories cannot be
    /// hard-linked), so a directory's path can always be recomputed; the root is its own parent.
    Dir {
        entries: BTreeMap<String, Ino>,
        parent: Ino,
    },
    Symlink(String),
}

#[derive(Debug)]
struct Inode {
    node: Node,
    /// Directory entries naming this inode; for a directory 1 while linked, 0 once removed.
    nlink: u64,
    /// Open descriptors and staged writes; an unlinked inode lives until this reaches zero.
    open: u64,
    atim: u64,
    mtim: u64,
    ctim: u64,
}

impl Inode {
    fn file_type(&self) -> FileType {
        match self.node {
            Node::File(_) => FileType::RegularFile,
            Node::Dir { .. } => FileType::Directory,
            Node::Symlink(_) => FileType::Symlink,
        }
    }

    fn cost(&self) -> u64 {
        INODE_COST
            + match &self.node {
                Node::File(d) => d.len() as u64,
                Node::Symlink(t) => t.len() as u64,
                Node::Dir { .. } => 0,
            }
    }
}

fn entry_cost(name: &str) -> u64 {
    ENTRY_COST + name.len() as u64
}

/// Checks a name that is about to become a directory entry.
pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "empty file name"
    } else if name == "." || name == ".." {
        "`.` and `..` cannot be created"
    } else if name.contains('/') {
        "file name contains `/`"
    } else if name.contains('\0') {
        "file name contains a NUL byte"
    } else if name.len() > MAX_NAME_LEN {
        return Err(VfsError::NameTooLong {
            path: name.to_string(),
        });
    } else {
        return Ok(());
    };
    Err(VfsError::InvalidPath {
        path: name.to_string(),
        reason,
    })
}

/// Renders path components as an absolute path.
pub fn display_path(components: &[String]) -> String {
    if components.is_empty() {
        "/".to_string()
    } else {
        components.iter().map(|c| format!("/{c}")).collect()
    }
}

/// The result of resolving a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Canonical absolute path (components from `/`) of what the path names.
    pub path: Vec<String>,
    /// The directory holding the final entry (the directory itself if `name` is `None`).
    pub parent: Ino,
    /// The final entry's name; `None` when the path names its directory (`.`, `..`, `a/..`).
    pub name: Option<String>,
    /// The final entry, or `None` if it does not exist (it could then be created as `name`).
    pub ino: Option<Ino>,
    /// The path ended with `/`: it must name a directory.
    pub trailing_slash: bool,
}

/// The whole file system. Obtain it through [`crate::Vfs::lock`].
pub struct Fs {
    inodes: HashMap<Ino, Inode>,
    next_ino: Ino,
    used: u64,
    quota: u64,
    clock: Clock,
    streams: [Vec<u8>; 3],
}

impl fmt::Debug for Fs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fs")
            .field("inodes", &self.inodes.len())
            .field("used", &self.used)
            .field("quota", &self.quota)
            .finish()
    }
}

fn stream_index(s: Stream) -> usize {
    match s {
        Stream::Stdin => 0,
        Stream::Stdout => 1,
        Stream::Stderr => 2,
    }
}

impl Fs {
    pub(crate) fn new(quota: u64, clock: Clock) -> Fs {
        let now = clock.now();
        let mut inodes = HashMap::new();
        inodes.insert(
            ROOT_INO,
            Inode {
                node: Node::Dir {
                    entries: BTreeMap::new(),
                    parent: ROOT_INO,
                },
                nlink: 1,
                open: 0,
                atim: now,
                mtim: now,
                ctim: now,
            },
        );
        Fs {
            inodes,
            next_ino: ROOT_INO + 1,
            used: INODE_COST,
            quota,
            clock,
            streams: [Vec::new(), Vec::new(), Vec::new()],
        }
    }

    /// The current time of the file system's clock (zero when disabled).
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Bytes charged against the quota so far.
    pub fn used_bytes(&self) -> u64 {
        self.used
    }

    pub fn quota(&self) -> u64 {
        self.quota
    }

    /// Bytes still available under the quota.
    pub fn available(&self) -> u64 {
        self.quota.saturating_sub(self.used)
    }

    /// Fails unless `bytes` more would fit under the quota; changes nothing.
    pub fn check_quota(&self, path: &str, bytes: u64) -> Result<()> {
        if bytes > self.available() {
            return Err(VfsError::QuotaExceeded {
                path: path.to_string(),
                quota: self.quota,
                needed: bytes,
                available: self.available(),
            });
        }
        Ok(())
    }

    fn charge(&mut self, path: &str, bytes: u64) -> Result<()> {
        self.check_quota(path, bytes)?;
        self.used += bytes;
        Ok(())
    }

    /// As `charge`, naming inode `ino` only if the quota is exceeded.
    fn charge_for(&mut self, ino: Ino, bytes: u64) -> Result<()> {
        if bytes > self.available() {
            return self.check_quota(&self.describe(ino), bytes);
        }
        self.used += bytes;
        Ok(())
    }

    fn release(&mut self, bytes: u64) {
        self.used = self.used.saturating_sub(bytes);
    }

    fn inode(&self, ino: Ino) -> Result<&Inode> {
        self.inodes.get(&ino).ok_or_else(|| VfsError::NotFound {
            path: format!("<inode {ino}>"),
        })
    }

    fn inode_mut(&mut self, ino: Ino) -> Result<&mut Inode> {
        self.inodes.get_mut(&ino).ok_or_else(|| VfsError::NotFound {
            path: format!("<inode {ino}>"),
        })
    }

    fn dir_entries_ref(&self, dir: Ino) -> Result<&BTreeMap<String, Ino>> {
        let inode = self.inode(dir)?;
        match &inode.node {
            Node::Dir { entries, .. } if inode.nlink > 0 => Ok(entries),
            Node::Dir { .. } => Err(VfsError::NotFound {
                path: self.describe(dir),
            }),
            _ => Err(VfsError::NotDir {
                path: self.describe(dir),
            }),
        }
    }

    fn dir_entries_mut(&mut self, dir: Ino) -> Result<&mut BTreeMap<String, Ino>> {
        // Checked through a shared borrow first so the error path (which needs the whole tree to
        // name the directory) costs nothing on success.
        self.dir_entries_ref(dir)?;
        match &mut self.inode_mut(dir)?.node {
            Node::Dir { entries, .. } => Ok(entries),
            _ => Err(VfsError::NotDir {
                path: format!("<inode {dir}>"),
            }),
        }
    }

    /// A human-readable name for an inode in error messages.
    fn describe(&self, ino: Ino) -> String {
        self.path_of(ino)
            .map(|p| display_path(&p))
            .unwrap_or_else(|| format!("<inode {ino}>"))
    }

    fn entry_path(&self, dir: Ino, name: &str) -> String {
        match self.path_of(dir) {
            Some(mut p) => {
                p.push(name.to_string());
                display_path(&p)
            }
            None => name.to_string(),
        }
    }

    /// Does this inode exist (linked, or still open after being unlinked)?
    pub fn exists(&self, ino: Ino) -> bool {
        self.inodes.contains_key(&ino)
    }

    pub fn file_type(&self, ino: Ino) -> Result<FileType> {
        match ino {
            STDIN_INO | STDOUT_INO | STDERR_INO => Ok(FileType::CharacterDevice),
            _ => Ok(self.inode(ino)?.file_type()),
        }
    }

    pub fn metadata(&self, ino: Ino) -> Result<Metadata> {
        if let Some(s) = Self::stream_of(ino) {
            return Ok(Metadata {
                ino,
                file_type: FileType::CharacterDevice,
                nlink: 1,
                size: self.streams[stream_index(s)].len() as u64,
                atim: 0,
                mtim: 0,
                ctim: 0,
            });
        }
        let inode = self.inode(ino)?;
        let (size, nlink) = match &inode.node {
            Node::File(d) => (d.len() as u64, inode.nlink),
            Node::Symlink(t) => (t.len() as u64, inode.nlink),
            // POSIX convention: `.` and the entry in the parent, plus each subdirectory's `..`.
            Node::Dir { entries, .. } => {
                let subdirs = entries
                    .values()
                    .filter(|i| {
                        self.inodes
                            .get(i)
                            .is_some_and(|n| matches!(n.node, Node::Dir { .. }))
                    })
                    .count() as u64;
                let nlink = if inode.nlink == 0 { 0 } else { 2 + subdirs };
                (entries.len() as u64, nlink)
            }
        };
        Ok(Metadata {
            ino,
            file_type: inode.file_type(),
            nlink,
            size,
            atim: inode.atim,
            mtim: inode.mtim,
            ctim: inode.ctim,
        })
    }

    fn stream_of(ino: Ino) -> Option<Stream> {
        match ino {
            STDIN_INO => Some(Stream::Stdin),
            STDOUT_INO => Some(Stream::Stdout),
            STDERR_INO => Some(Stream::Stderr),
            _ => None,
        }
    }

    /// The inode number reported for a named stream.
    pub fn stream_ino(s: Stream) -> Ino {
        match s {
            Stream::Stdin => STDIN_INO,
            Stream::Stdout => STDOUT_INO,
            Stream::Stderr => STDERR_INO,
        }
    }

    /// The entry `name` of directory `dir`, if any.
    pub fn lookup(&self, dir: Ino, name: &str) -> Result<Option<Ino>> {
        Ok(self.dir_entries_ref(dir)?.get(name).copied())
    }

    /// The parent of a directory (the root is its own parent).
    pub fn parent_of(&self, dir: Ino) -> Result<Ino> {
        match &self.inode(dir)?.node {
            Node::Dir { parent, .. } => Ok(*parent),
            _ => Err(VfsError::NotDir {
                path: self.describe(dir),
            }),
        }
    }

    /// The current absolute path of a linked directory, as components; `None` for anything else
    /// (files may have several names, removed directories have none).
    pub fn path_of(&self, ino: Ino) -> Option<Vec<String>> {
        let mut components = Vec::new();
        let mut cur = ino;
        // A directory chain is at most as long as the number of inodes; the bound guards
        // against looping forever should the structure ever be inconsistent.
        for _ in 0..=self.inodes.len() {
            if cur == ROOT_INO {
                components.reverse();
                return Some(components);
            }
            let inode = self.inodes.get(&cur)?;
            let Node::Dir { parent, .. } = &inode.node else {
                return None;
            };
            if inode.nlink == 0 {
                return None;
            }
            let Node::Dir { entries, .. } = &self.inodes.get(parent)?.node else {
                return None;
            };
            let name = entries.iter().find(|(_, i)| **i == cur).map(|(n, _)| n)?;
            components.push(name.clone());
            cur = *parent;
        }
        None
    }

    /// Entries of a directory, sorted by name (without `.` and `..`).
    pub fn read_dir(&self, dir: Ino) -> Result<Vec<DirEntry>> {
        let entries = self.dir_entries_ref(dir)?;
        entries
            .iter()
            .map(|(name, ino)| {
                Ok(DirEntry {
                    name: name.clone(),
                    ino: *ino,
                    file_type: self.inode(*ino)?.file_type(),
                })
            })
            .collect()
    }

    /// Walks an absolute path given as components from `/`, without following symbolic links:
    /// a symbolic link anywhere but the last component is an error. Used for operations made
    /// from outside the sandbox, where following a link could bypass path-based rights.
    pub fn lookup_tree(&self, components: &[String]) -> Result<Option<Ino>> {
        let mut cur = ROOT_INO;
        for (i, name) in components.iter().enumerate() {
            let here = || display_path(&components[..=i]);
            let Some(next) = self.lookup(cur, name).map_err(|e| match e {
                VfsError::NotDir { .. } => VfsError::NotDir {
                    path: display_path(&components[..i]),
                },
                e => e,
            })?
            else {
                return Ok(None);
            };
            if i + 1 < components.len() {
                match self.inode(next)?.node {
                    Node::Dir { .. } => {}
                    Node::Symlink(_) => return Err(VfsError::Symlink { path: here() }),
                    Node::File(_) => return Err(VfsError::NotDir { path: here() }),
                }
            }
            cur = next;
        }
        Ok(Some(cur))
    }

    /// Resolves `path` relative to directory `start`, which acts as the root of the resolution:
    /// `..` never rises above it, absolute paths and absolute symbolic link targets are refused
    /// with [`VfsError::Escape`] (as capability-based WASI runtimes do), and at most
    /// [`MAX_SYMLINK_FOLLOWS`] links are followed. Before any entry is looked up, `may_visit` is
    /// asked with its canonical absolute path; if it says no, resolution fails with
    /// [`VfsError::NotCapable`] without revealing whether the entry exists.
    ///
    /// Symbolic links in the middle of the path are always followed; the last component is
    /// followed if `follow_last` is set or the path ends with `/`.
    pub fn resolve(
        &self,
        start: Ino,
        path: &str,
        follow_last: bool,
        may_visit: &dyn Fn(&[String]) -> bool,
    ) -> Result<Resolved> {
        let invalid = |reason| VfsError::InvalidPath {
            path: path.to_string(),
            reason,
        };
        if path.is_empty() {
            return Err(VfsError::NotFound {
                path: String::new(),
            });
        }
        if path.len() > MAX_PATH_LEN {
            return Err(VfsError::NameTooLong {
                path: path.chars().take(64).collect::<String>() + "…",
            });
        }
        if path.contains('\0') {
            return Err(invalid("path contains a NUL byte"));
        }
        if path.starts_with('/') {
            return Err(VfsError::Escape {
                path: path.to_string(),
            });
        }
        let base = self.path_of(start).ok_or_else(|| VfsError::NotFound {
            path: format!("<directory inode {start}>"),
        })?;
        self.dir_entries_ref(start)?;

        let trailing_slash = path.ends_with('/');
        // Components still to walk, last first, so that a link's target can be pushed in front.
        let mut pending: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(str::to_string)
            .collect();
        // Directories entered below `start`: (name, inode).
        let mut stack: Vec<(String, Ino)> = Vec::new();
        let mut follows = 0u32;
        let mut must_be_dir = trailing_slash;
        let full = |stack: &[(String, Ino)]| -> Vec<String> {
            base.iter()
                .cloned()
                .chain(stack.iter().map(|(n, _)| n.clone()))
                .collect()
        };
        let dir_itself = |stack: &[(String, Ino)]| Resolved {
            path: full(stack),
            parent: stack.last().map(|(_, i)| *i).unwrap_or(start),
            name: None,
            ino: Some(stack.last().map(|(_, i)| *i).unwrap_or(start)),
            trailing_slash,
        };

        while let Some(component) = pending.pop() {
            let is_last = pending.is_empty();
            let cur = stack.last().map(|(_, i)| *i).unwrap_or(start);
            match component.as_str() {
                "." => {
                    if is_last {
                        return Ok(dir_itself(&stack));
                    }
                    continue;
                }
                ".." => {
                    if stack.pop().is_none() {
                        return Err(VfsError::Escape {
                            path: path.to_string(),
                        });
                    }
                    if is_last {
                        return Ok(dir_itself(&stack));
                    }
                    continue;
                }
                _ => {}
            }
            if component.len() > MAX_NAME_LEN {
                return Err(VfsError::NameTooLong { path: component });
            }
            let mut here = full(&stack);
            here.push(component.clone());
            if !may_visit(&here) {
                return Err(VfsError::NotCapable {
                    path: display_path(&here),
                });
            }
            let Some(ino) = self.lookup(cur, &component)? else {
                if is_last {
                    return Ok(Resolved {
                        path: here,
                        parent: cur,
                        name: Some(component),
                        ino: None,
                        trailing_slash: must_be_dir,
                    });
                }
                return Err(VfsError::NotFound {
                    path: display_path(&here),
                });
            };
            match &self.inode(ino)?.node {
                Node::Dir { .. } => {
                    if is_last {
                        return Ok(Resolved {
                            path: here,
                            parent: cur,
                            name: Some(component),
                            ino: Some(ino),
                            trailing_slash: must_be_dir,
                        });
                    }
                    stack.push((component, ino));
                }
                Node::Symlink(target) => {
                    if is_last && !follow_last && !must_be_dir {
                        return Ok(Resolved {
                            path: here,
                            parent: cur,
                            name: Some(component),
                            ino: Some(ino),
                            trailing_slash: false,
                        });
                    }
                    follows += 1;
                    if follows > MAX_SYMLINK_FOLLOWS {
                        return Err(VfsError::Loop {
                            path: path.to_string(),
                        });
                    }
                    if target.starts_with('/') {
                        return Err(VfsError::Escape {
                            path: display_path(&here),
                        });
                    }
                    if target.is_empty() {
                        return Err(VfsError::NotFound {
                            path: display_path(&here),
                        });
                    }
                    if is_last && target.ends_with('/') {
                        must_be_dir = true;
                    }
                    pending.extend(
                        target
                            .split('/')
                            .filter(|c| !c.is_empty())
                            .rev()
                            .map(str::to_string),
                    );
                    if pending.is_empty() {
                        // Cannot happen (a non-empty relative target has a component), but a
                        // link with no components would name the directory holding it.
                        return Ok(dir_itself(&stack));
                    }
                }
                Node::File(_) => {
                    if !is_last {
                        return Err(VfsError::NotDir {
                            path: display_path(&here),
                        });
                    }
                    if must_be_dir {
                        return Err(VfsError::NotDir {
                            path: display_path(&here),
                        });
                    }
                    return Ok(Resolved {
                        path: here,
                        parent: cur,
                        name: Some(component),
                        ino: Some(ino),
                        trailing_slash: false,
                    });
                }
            }
        }
        // Every path reaching the loop has a last component, which returns above; this only
        // keeps the function total.
        Ok(dir_itself(&stack))
    }

    fn alloc(&mut self, node: Node, nlink: u64, open: u64) -> Ino {
        let now = self.now();
        let ino = self.next_ino;
        self.next_ino += 1;
        self.inodes.insert(
            ino,
            Inode {
                node,
                nlink,
                open,
                atim: now,
                mtim: now,
                ctim: now,
            },
        );
        ino
    }

    fn insert_entry(&mut self, dir: Ino, name: &str, node: Node) -> Result<Ino> {
        validate_name(name)?;
        let path = self.entry_path(dir, name);
        if self.dir_entries_ref(dir)?.contains_key(name) {
            return Err(VfsError::Exists { path });
        }
        let payload = match &node {
            Node::Symlink(t) => t.len() as u64,
            _ => 0,
        };
        self.charge(&path, INODE_COST + entry_cost(name) + payload)?;
        let ino = self.alloc(node, 1, 0);
        self.dir_entries_mut(dir)?.insert(name.to_string(), ino);
        self.touch_dir(dir);
        Ok(ino)
    }

    fn touch_dir(&mut self, dir: Ino) {
        let now = self.now();
        if let Some(d) = self.inodes.get_mut(&dir) {
            d.mtim = now;
            d.ctim = now;
        }
    }

    /// Creates an empty regular file `name` in `dir`.
    pub fn create_file(&mut self, dir: Ino, name: &str) -> Result<Ino> {
        self.insert_entry(dir, name, Node::File(Vec::new()))
    }

    /// Creates an empty directory `name` in `dir`.
    pub fn create_dir(&mut self, dir: Ino, name: &str) -> Result<Ino> {
        self.insert_entry(
            dir,
            name,
            Node::Dir {
                entries: BTreeMap::new(),
                parent: dir,
            },
        )
    }

    /// Creates a symbolic link `name` in `dir` whose target is `target` (stored as given; it is
    /// only interpreted, and confined, when a path is resolved through it).
    pub fn create_symlink(&mut self, dir: Ino, name: &str, target: &str) -> Result<Ino> {
        if target.is_empty() || target.len() > MAX_PATH_LEN || target.contains('\0') {
            return Err(VfsError::InvalidPath {
                path: target.to_string(),
                reason: "a symbolic link target must be 1 to 4096 bytes without NUL",
            });
        }
        self.insert_entry(dir, name, Node::Symlink(target.to_string()))
    }

    /// Creates a file that no directory names yet, held open once; see [`Fs::link`] and
    /// [`Fs::close`].
    pub fn create_unlinked_file(&mut self) -> Result<Ino> {
        self.charge("<staged file>", INODE_COST)?;
        Ok(self.alloc(Node::File(Vec::new()), 0, 1))
    }

    /// Adds the entry `name` in `dir` for the existing non-directory `ino` (a hard link).
    pub fn link(&mut self, ino: Ino, dir: Ino, name: &str) -> Result<()> {
        validate_name(name)?;
        let path = self.entry_path(dir, name);
        if matches!(self.inode(ino)?.node, Node::Dir { .. }) {
            return Err(VfsError::LinkToDirectory {
                path: self.describe(ino),
            });
        }
        if self.dir_entries_ref(dir)?.contains_key(name) {
            return Err(VfsError::Exists { path });
        }
        self.charge(&path, entry_cost(name))?;
        self.dir_entries_mut(dir)?.insert(name.to_string(), ino);
        let now = self.now();
        let inode = self.inode_mut(ino)?;
        inode.nlink += 1;
        inode.ctim = now;
        self.touch_dir(dir);
        Ok(())
    }

    /// Marks an inode as held open, so that it outlives its last directory entry.
    pub fn open(&mut self, ino: Ino) -> Result<()> {
        if Self::stream_of(ino).is_some() {
            return Ok(());
        }
        self.inode_mut(ino)?.open += 1;
        Ok(())
    }

    /// Releases a hold taken by [`Fs::open`] or [`Fs::create_unlinked_file`]; frees the inode if
    /// nothing names or holds it any more.
    pub fn close(&mut self, ino: Ino) {
        if let Some(inode) = self.inodes.get_mut(&ino) {
            inode.open = inode.open.saturating_sub(1);
            self.maybe_free(ino);
        }
    }

    fn maybe_free(&mut self, ino: Ino) {
        let free = self
            .inodes
            .get(&ino)
            .is_some_and(|i| i.nlink == 0 && i.open == 0 && ino != ROOT_INO);
        if free {
            if let Some(inode) = self.inodes.remove(&ino) {
                self.release(inode.cost());
            }
        }
    }

    /// Removes the non-directory entry `name` from `dir`.
    pub fn unlink(&mut self, dir: Ino, name: &str) -> Result<()> {
        let path = self.entry_path(dir, name);
        let ino = self
            .lookup(dir, name)?
            .ok_or(VfsError::NotFound { path: path.clone() })?;
        if matches!(self.inode(ino)?.node, Node::Dir { .. }) {
            return Err(VfsError::IsDir { path });
        }
        self.dir_entries_mut(dir)?.remove(name);
        self.release(entry_cost(name));
        self.touch_dir(dir);
        let now = self.now();
        let inode = self.inode_mut(ino)?;
        inode.nlink = inode.nlink.saturating_sub(1);
        inode.ctim = now;
        self.maybe_free(ino);
        Ok(())
    }

    /// Removes the empty directory `name` from `dir`.
    pub fn remove_dir(&mut self, dir: Ino, name: &str) -> Result<()> {
        let path = self.entry_path(dir, name);
        let ino = self
            .lookup(dir, name)?
            .ok_or(VfsError::NotFound { path: path.clone() })?;
        match &self.inode(ino)?.node {
            Node::Dir { entries, .. } if entries.is_empty() => {}
            Node::Dir { .. } => return Err(VfsError::NotEmpty { path }),
            _ => return Err(VfsError::NotDir { path }),
        }
        self.dir_entries_mut(dir)?.remove(name);
        self.release(entry_cost(name));
        self.touch_dir(dir);
        let inode = self.inode_mut(ino)?;
        inode.nlink = 0;
        self.maybe_free(ino);
        Ok(())
    }

    /// Is `ino` the directory `ancestor` or beneath it?
    pub fn is_within(&self, ino: Ino, ancestor: Ino) -> bool {
        let mut cur = ino;
        for _ in 0..=self.inodes.len() {
            if cur == ancestor {
                return true;
            }
            if cur == ROOT_INO {
                return false;
            }
            match self.inodes.get(&cur).map(|i| &i.node) {
                Some(Node::Dir { parent, .. }) => cur = *parent,
                _ => return false,
            }
        }
        false
    }

    /// Renames `src_dir/src_name` to `dst_dir/dst_name` with POSIX semantics: an existing
    /// destination is replaced if compatible (file over file, directory over empty directory).
    pub fn rename(
        &mut self,
        src_dir: Ino,
        src_name: &str,
        dst_dir: Ino,
        dst_name: &str,
    ) -> Result<()> {
        validate_name(dst_name)?;
        let src_path = self.entry_path(src_dir, src_name);
        let dst_path = self.entry_path(dst_dir, dst_name);
        let src = self
            .lookup(src_dir, src_name)?
            .ok_or(VfsError::NotFound { path: src_path })?;
        let dst = self.lookup(dst_dir, dst_name)?;
        if dst == Some(src) {
            return Ok(());
        }
        let src_is_dir = matches!(self.inode(src)?.node, Node::Dir { .. });
        if let Some(d) = dst {
            match (&self.inode(d)?.node, src_is_dir) {
                (Node::Dir { entries, .. }, true) if !entries.is_empty() => {
                    return Err(VfsError::NotEmpty { path: dst_path })
                }
                (Node::Dir { .. }, true) => {}
                (Node::Dir { .. }, false) => return Err(VfsError::IsDir { path: dst_path }),
                (_, true) => return Err(VfsError::NotDir { path: dst_path }),
                (_, false) => {}
            }
        }
        if src_is_dir && self.is_within(dst_dir, src) {
            return Err(VfsError::InvalidOperation {
                path: dst_path,
                reason: "cannot move a directory beneath itself",
            });
        }
        let added = entry_cost(dst_name);
        let freed = entry_cost(src_name) + if dst.is_some() { added } else { 0 };
        if added > freed {
            self.check_quota(&dst_path, added - freed)?;
        }
        self.dir_entries_mut(src_dir)?.remove(src_name);
        if let Some(d) = dst {
            let inode = self.inode_mut(d)?;
            inode.nlink = if matches!(inode.node, Node::Dir { .. }) {
                0
            } else {
                inode.nlink.saturating_sub(1)
            };
            self.maybe_free(d);
        }
        self.dir_entries_mut(dst_dir)?
            .insert(dst_name.to_string(), src);
        self.used = (self.used + added).saturating_sub(freed);
        let now = self.now();
        let inode = self.inode_mut(src)?;
        inode.ctim = now;
        if let Node::Dir { parent, .. } = &mut inode.node {
            *parent = dst_dir;
        }
        self.touch_dir(src_dir);
        self.touch_dir(dst_dir);
        Ok(())
    }

    /// The target of a symbolic link.
    pub fn readlink(&self, ino: Ino) -> Result<&str> {
        match &self.inode(ino)?.node {
            Node::Symlink(t) => Ok(t),
            _ => Err(VfsError::InvalidOperation {
                path: self.describe(ino),
                reason: "not a symbolic link",
            }),
        }
    }

    fn file_data(&self, ino: Ino) -> Result<&Vec<u8>> {
        match &self.inode(ino)?.node {
            Node::File(d) => Ok(d),
            Node::Dir { .. } => Err(VfsError::IsDir {
                path: self.describe(ino),
            }),
            Node::Symlink(_) => Err(VfsError::Symlink {
                path: self.describe(ino),
            }),
        }
    }

    fn file_data_mut(&mut self, ino: Ino) -> Result<&mut Vec<u8>> {
        self.file_data(ino)?;
        match &mut self.inode_mut(ino)?.node {
            Node::File(d) => Ok(d),
            _ => Err(VfsError::InvalidOperation {
                path: format!("<inode {ino}>"),
                reason: "not a regular file",
            }),
        }
    }

    /// Size of a regular file.
    pub fn file_len(&self, ino: Ino) -> Result<u64> {
        Ok(self.file_data(ino)?.len() as u64)
    }

    /// Runs `f` over a file's bytes without copying them (e.g. to hash them).
    pub fn with_contents<R>(&self, ino: Ino, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        Ok(f(self.file_data(ino)?))
    }

    /// Copies bytes from `offset` into `buf`; returns how many (0 at or past the end).
    /// Updates the access time.
    pub fn read_at(&mut self, ino: Ino, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let data = self.file_data(ino)?;
        let n = match usize::try_from(offset) {
            Ok(off) if off < data.len() => {
                let n = buf.len().min(data.len() - off);
                buf[..n].copy_from_slice(&data[off..off + n]);
                n
            }
            _ => 0,
        };
        let now = self.now();
        self.inode_mut(ino)?.atim = now;
        Ok(n)
    }

    fn end_of(&self, ino: Ino, offset: u64, len: usize) -> Result<usize> {
        offset
            .checked_add(len as u64)
            .and_then(|e| usize::try_from(e).ok())
            .ok_or_else(|| VfsError::TooLarge {
                path: self.describe(ino),
                value: offset,
            })
    }

    /// Writes `data` at `offset`, filling any gap past the end with zeros.
    pub fn write_at(&mut self, ino: Ino, offset: u64, data: &[u8]) -> Result<()> {
        let end = self.end_of(ino, offset, data.len())?;
        let len = self.file_data(ino)?.len();
        if end > len {
            self.charge_for(ino, (end - len) as u64)?;
        }
        let now = self.now();
        let file = self.file_data_mut(ino)?;
        if end > file.len() {
            file.resize(end, 0);
        }
        // `offset <= end` fits in usize because `end` does.
        let off = end - data.len();
        file[off..end].copy_from_slice(data);
        let inode = self.inode_mut(ino)?;
        inode.mtim = now;
        inode.ctim = now;
        Ok(())
    }

    /// Appends `data` at the end of a file; returns the offset it was written at.
    pub fn append(&mut self, ino: Ino, data: &[u8]) -> Result<u64> {
        let len = self.file_len(ino)?;
        self.write_at(ino, len, data)?;
        Ok(len)
    }

    /// Truncates or extends (with zeros) a file to `size` bytes.
    pub fn set_len(&mut self, ino: Ino, size: u64) -> Result<()> {
        let len = self.file_len(ino)?;
        let new_len = usize::try_from(size).map_err(|_| VfsError::TooLarge {
            path: self.describe(ino),
            value: size,
        })?;
        if size > len {
            self.charge_for(ino, size - len)?;
        } else {
            self.release(len - size);
        }
        let now = self.now();
        let file = self.file_data_mut(ino)?;
        file.resize(new_len, 0);
        if size < len {
            file.shrink_to(new_len.max(file.capacity() / 2));
        }
        let inode = self.inode_mut(ino)?;
        inode.mtim = now;
        inode.ctim = now;
        Ok(())
    }

    /// Moves the contents of file `from` (typically a staged, unlinked file) to the end of file
    /// `to`, leaving `from` empty. Costs no extra quota.
    pub fn append_from(&mut self, to: Ino, from: Ino) -> Result<()> {
        let data = std::mem::take(self.file_data_mut(from)?);
        let now = self.now();
        match self.file_data_mut(to) {
            Ok(file) => {
                if file.is_empty() {
                    *file = data;
                } else {
                    file.extend_from_slice(&data);
                }
            }
            Err(e) => {
                *self.file_data_mut(from)? = data;
                return Err(e);
            }
        }
        let inode = self.inode_mut(to)?;
        inode.mtim = now;
        inode.ctim = now;
        Ok(())
    }

    /// Moves the contents of file `from` into a named stream (replacing or appending to it),
    /// leaving `from` empty. Costs no extra quota.
    pub fn move_to_stream(&mut self, s: Stream, from: Ino, replace: bool) -> Result<()> {
        let data = std::mem::take(self.file_data_mut(from)?);
        let stream = &mut self.streams[stream_index(s)];
        if replace {
            let old = stream.len() as u64;
            *stream = data;
            self.release(old);
        } else {
            stream.extend_from_slice(&data);
        }
        Ok(())
    }

    /// Sets access and/or modification times; the change time becomes now.
    pub fn set_times(&mut self, ino: Ino, atim: Option<u64>, mtim: Option<u64>) -> Result<()> {
        if Self::stream_of(ino).is_some() {
            return Ok(());
        }
        let now = self.now();
        let inode = self.inode_mut(ino)?;
        if let Some(a) = atim {
            inode.atim = a;
        }
        if let Some(m) = mtim {
            inode.mtim = m;
        }
        inode.ctim = now;
        Ok(())
    }

    /// The bytes of a named stream so far.
    pub fn stream(&self, s: Stream) -> &[u8] {
        &self.streams[stream_index(s)]
    }

    /// Appends to a named stream.
    pub fn stream_append(&mut self, s: Stream, data: &[u8]) -> Result<()> {
        self.charge(s.as_str(), data.len() as u64)?;
        self.streams[stream_index(s)].extend_from_slice(data);
        Ok(())
    }

    /// Replaces a named stream's contents.
    pub fn stream_set(&mut self, s: Stream, data: &[u8]) -> Result<()> {
        let old = self.streams[stream_index(s)].len() as u64;
        let new = data.len() as u64;
        if new > old {
            self.check_quota(s.as_str(), new - old)?;
        }
        self.used = self.used - old + new;
        let buf = &mut self.streams[stream_index(s)];
        buf.clear();
        buf.extend_from_slice(data);
        Ok(())
    }

    /// Copies stream bytes from `offset` into `buf`; returns how many.
    pub fn stream_read_at(&self, s: Stream, offset: u64, buf: &mut [u8]) -> usize {
        let data = &self.streams[stream_index(s)];
        match usize::try_from(offset) {
            Ok(off) if off < data.len() => {
                let n = buf.len().min(data.len() - off);
                buf[..n].copy_from_slice(&data[off..off + n]);
                n
            }
            _ => 0,
        }
    }

    /// Makes sure directory `components` exists, creating missing directories; returns it.
    pub fn create_dir_all(&mut self, components: &[String]) -> Result<Ino> {
        let mut cur = ROOT_INO;
        for (i, name) in components.iter().enumerate() {
            cur = match self.lookup(cur, name)? {
                Some(next) => match self.inode(next)?.node {
                    Node::Dir { .. } => next,
                    Node::Symlink(_) => {
                        return Err(VfsError::Symlink {
                            path: display_path(&components[..=i]),
                        })
                    }
                    Node::File(_) => {
                        return Err(VfsError::NotDir {
                            path: display_path(&components[..=i]),
                        })
                    }
                },
                None => self.create_dir(cur, name)?,
            };
        }
        Ok(cur)
    }

    /// Quota bytes that creating the missing directories of `components` would cost.
    pub fn missing_dirs_cost(&self, components: &[String]) -> u64 {
        let mut cur = Some(ROOT_INO);
        let mut cost = 0;
        for name in components {
            cur = cur.and_then(|c| self.lookup(c, name).ok().flatten());
            if cur.is_none() {
                cost += INODE_COST + entry_cost(name);
            }
        }
        cost
    }

    /// Puts the (unlinked) file `ino` at `dir/name`, replacing an existing non-directory entry.
    pub fn replace_with(&mut self, dir: Ino, name: &str, ino: Ino) -> Result<()> {
        validate_name(name)?;
        if let Some(old) = self.lookup(dir, name)? {
            if matches!(self.inode(old)?.node, Node::Dir { .. }) {
                return Err(VfsError::IsDir {
                    path: self.entry_path(dir, name),
                });
            }
            self.unlink(dir, name)?;
        }
        self.link(ino, dir, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs() -> Fs {
        Fs::new(1 << 20, Clock::Disabled)
    }

    fn yes(_: &[String]) -> bool {
        true
    }

    #[test]
    fn create_read_write_and_quota() {
        let mut fs = fs();
        let f = fs.create_file(ROOT_INO, "a").unwrap();
        fs.write_at(f, 3, b"xyz").unwrap();
        let mut buf = [9u8; 10];
        assert_eq!(fs.read_at(f, 0, &mut buf).unwrap(), 6);
        assert_eq!(&buf[..6], b"\0\0\0xyz");
        assert_eq!(fs.read_at(f, 100, &mut buf).unwrap(), 0);
        let before = fs.used_bytes();
        let err = fs.write_at(f, 0, &vec![0; 2 << 20]).unwrap_err();
        assert!(matches!(err, VfsError::QuotaExceeded { .. }), "{err}");
        assert_eq!(fs.used_bytes(), before, "a refused write changes nothing");
        assert_eq!(fs.file_len(f).unwrap(), 6);
        fs.unlink(ROOT_INO, "a").unwrap();
        assert_eq!(
            fs.used_bytes(),
            INODE_COST,
            "unlinking frees data, inode and entry"
        );
    }

    #[test]
    fn unlinked_open_file_lives_until_closed() {
        let mut fs = fs();
        let f = fs.create_file(ROOT_INO, "a").unwrap();
        fs.open(f).unwrap();
        fs.unlink(ROOT_INO, "a").unwrap();
        fs.append(f, b"still here").unwrap();
        assert_eq!(fs.metadata(f).unwrap().nlink, 0);
        fs.close(f);
        assert!(!fs.exists(f));
    }

    #[test]
    fn hard_links_count_and_refuse_directories() {
        let mut fs = fs();
        let f = fs.create_file(ROOT_INO, "a").unwrap();
        fs.link(f, ROOT_INO, "b").unwrap();
        assert_eq!(fs.metadata(f).unwrap().nlink, 2);
        fs.unlink(ROOT_INO, "a").unwrap();
        assert_eq!(fs.metadata(f).unwrap().nlink, 1);
        let d = fs.create_dir(ROOT_INO, "d").unwrap();
        assert!(matches!(
            fs.link(d, ROOT_INO, "e"),
            Err(VfsError::LinkToDirectory { .. })
        ));
        assert!(matches!(
            fs.link(f, ROOT_INO, "d"),
            Err(VfsError::Exists { .. })
        ));
    }

    #[test]
    fn rename_semantics() {
        let mut fs = fs();
        let d = fs.create_dir(ROOT_INO, "d").unwrap();
        let sub = fs.create_dir(d, "sub").unwrap();
        let f = fs.create_file(ROOT_INO, "f").unwrap();
        let g = fs.create_file(ROOT_INO, "g").unwrap();
        assert!(matches!(
            fs.rename(ROOT_INO, "d", sub, "x"),
            Err(VfsError::InvalidOperation { .. })
        ));
        assert!(matches!(
            fs.rename(ROOT_INO, "f", ROOT_INO, "d"),
            Err(VfsError::IsDir { .. })
        ));
        assert!(matches!(
            fs.rename(ROOT_INO, "d", ROOT_INO, "f"),
            Err(VfsError::NotDir { .. })
        ));
        fs.rename(ROOT_INO, "f", ROOT_INO, "g").unwrap();
        assert!(!fs.exists(g), "the replaced file is freed");
        assert_eq!(fs.lookup(ROOT_INO, "g").unwrap(), Some(f));
        fs.rename(ROOT_INO, "g", sub, "moved").unwrap();
        assert_eq!(fs.path_of(sub).unwrap(), vec!["d", "sub"]);
        fs.rename(ROOT_INO, "d", ROOT_INO, "e").unwrap();
        assert_eq!(fs.path_of(sub).unwrap(), vec!["e", "sub"]);
        let empty = fs.create_dir(ROOT_INO, "empty").unwrap();
        assert!(matches!(
            fs.rename(ROOT_INO, "empty", ROOT_INO, "e"),
            Err(VfsError::NotEmpty { .. })
        ));
        fs.rename(ROOT_INO, "e", ROOT_INO, "empty").unwrap();
        assert!(!fs.exists(empty));
        assert_eq!(fs.path_of(sub).unwrap(), vec!["empty", "sub"]);
    }

    #[test]
    fn rename_accounts_quota_exactly() {
        let mut fs = fs();
        fs.create_file(ROOT_INO, "a").unwrap();
        fs.create_file(ROOT_INO, "bb").unwrap();
        let used = fs.used_bytes();
        fs.rename(ROOT_INO, "a", ROOT_INO, "ccc").unwrap();
        assert_eq!(fs.used_bytes(), used + 2);
        fs.rename(ROOT_INO, "ccc", ROOT_INO, "bb").unwrap();
        assert_eq!(
            fs.used_bytes(),
            used + 2 - entry_cost("ccc") - INODE_COST,
            "replacing frees the old inode and one entry"
        );
    }

    #[test]
    fn resolve_dotdot_and_symlinks_stay_inside_start() {
        let mut fs = fs();
        let top = fs.create_dir(ROOT_INO, "top").unwrap();
        let a = fs.create_dir(top, "a").unwrap();
        fs.create_file(a, "f").unwrap();
        fs.create_symlink(a, "up", "../a/f").unwrap();
        fs.create_symlink(a, "out", "../../secret").unwrap();
        fs.create_symlink(a, "abs", "/top/a/f").unwrap();
        fs.create_symlink(a, "l1", "l2").unwrap();
        fs.create_symlink(a, "l2", "l1").unwrap();
        let r = fs.resolve(top, "a/up", true, &yes).unwrap();
        assert_eq!(r.path, vec!["top", "a", "f"]);
        assert!(matches!(
            fs.resolve(top, "a/out", true, &yes),
            Err(VfsError::Escape { .. })
        ));
        assert!(matches!(
            fs.resolve(top, "a/abs", true, &yes),
            Err(VfsError::Escape { .. })
        ));
        assert!(matches!(
            fs.resolve(top, "..", true, &yes),
            Err(VfsError::Escape { .. })
        ));
        assert!(matches!(
            fs.resolve(top, "/top", true, &yes),
            Err(VfsError::Escape { .. })
        ));
        assert!(matches!(
            fs.resolve(top, "a/l1", true, &yes),
            Err(VfsError::Loop { .. })
        ));
        let r = fs.resolve(top, "a/l1", false, &yes).unwrap();
        assert_eq!(fs.file_type(r.ino.unwrap()).unwrap(), FileType::Symlink);
        let r = fs.resolve(top, "a/../a/./", true, &yes).unwrap();
        assert_eq!(r.ino, Some(a));
        assert!(matches!(
            fs.resolve(top, "a/f/", true, &yes),
            Err(VfsError::NotDir { .. })
        ));
        assert!(matches!(
            fs.resolve(top, "a/f/x", true, &yes),
            Err(VfsError::NotDir { .. })
        ));
        let r = fs.resolve(top, "a/new", true, &yes).unwrap();
        assert_eq!((r.parent, r.name.as_deref(), r.ino), (a, Some("new"), None));
        assert!(matches!(
            fs.resolve(top, "a/missing/x", true, &yes),
            Err(VfsError::NotFound { .. })
        ));
    }

    #[test]
    fn resolve_asks_before_every_lookup() {
        let mut fs = fs();
        let a = fs.create_dir(ROOT_INO, "a").unwrap();
        fs.create_dir(ROOT_INO, "hidden").unwrap();
        fs.create_symlink(a, "peek", "../hidden/x").unwrap();
        let no_hidden = |p: &[String]| p.first().map(String::as_str) != Some("hidden");
        for path in ["hidden", "hidden/x", "a/peek", "a/../hidden/nonexistent"] {
            let err = fs.resolve(ROOT_INO, path, true, &no_hidden).unwrap_err();
            assert!(matches!(err, VfsError::NotCapable { .. }), "{path}: {err}");
        }
    }

    #[test]
    fn streams_are_separate_buffers_under_the_quota() {
        let mut fs = Fs::new(INODE_COST + 10, Clock::Disabled);
        fs.stream_append(Stream::Stdout, b"hello").unwrap();
        fs.stream_set(Stream::Stdin, b"in").unwrap();
        assert_eq!(fs.stream(Stream::Stdout), b"hello");
        assert_eq!(fs.stream(Stream::Stderr), b"");
        assert!(fs.stream_append(Stream::Stderr, b"toolong").is_err());
        let mut b = [0u8; 4];
        assert_eq!(fs.stream_read_at(Stream::Stdin, 1, &mut b), 1);
    }

    #[test]
    fn timestamps_follow_the_clock() {
        let t = Arc::new(std::sync::atomic::AtomicU64::new(5));
        let t2 = t.clone();
        let mut fs = Fs::new(
            1 << 20,
            Clock::Custom(Arc::new(move || {
                t2.load(std::sync::atomic::Ordering::SeqCst)
            })),
        );
        let f = fs.create_file(ROOT_INO, "f").unwrap();
        t.store(9, std::sync::atomic::Ordering::SeqCst);
        fs.write_at(f, 0, b"x").unwrap();
        let m = fs.metadata(f).unwrap();
        assert_eq!((m.atim, m.mtim, m.ctim), (5, 9, 9));
        let mut fs = Fs::new(1 << 20, Clock::Disabled);
        let f = fs.create_file(ROOT_INO, "f").unwrap();
        let m = fs.metadata(f).unwrap();
        assert_eq!((m.atim, m.mtim, m.ctim), (0, 0, 0));
    }

    mod resolution_properties {
        use super::*;
        use proptest::prelude::*;

        const NAMES: [&str; 12] = [
            "..", ".", "a", "b", "f", "l1", "l2", "l3", "missing", "", "outside", "pre",
        ];
        const TARGETS: [&str; 14] = [
            "..",
            "../..",
            "../../outside/secret",
            "/pre/f",
            "/outside",
            "a/../..",
            "../a",
            "b",
            "l1",
            "f",
            ".",
            "../l2",
            "a/b/..",
            "l3/",
        ];

        /// `/outside/secret` and the start directory `/pre` holding `a/b/`, a file `f`, and
        /// links `l1`..`l3` in `/pre`, `/pre/a` and `/pre/a/b` with the given targets.
        fn tree(targets: &[usize]) -> (Fs, Ino) {
            let mut fs = Fs::new(1 << 20, Clock::Disabled);
            let outside = fs.create_dir(ROOT_INO, "outside").unwrap();
            fs.create_file(outside, "secret").unwrap();
            let pre = fs.create_dir(ROOT_INO, "pre").unwrap();
            let a = fs.create_dir(pre, "a").unwrap();
            let b = fs.create_dir(a, "b").unwrap();
            fs.create_file(pre, "f").unwrap();
            let mut t = targets.iter();
            for dir in [pre, a, b] {
                for name in ["l1", "l2", "l3"] {
                    let target = TARGETS[*t.next().unwrap() % TARGETS.len()];
                    fs.create_symlink(dir, name, target).unwrap();
                }
            }
            (fs, pre)
        }

        fn path() -> impl Strategy<Value = String> {
            proptest::collection::vec(0..NAMES.len(), 1..10)
                .prop_map(|c| c.iter().map(|i| NAMES[*i]).collect::<Vec<_>>().join("/"))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

            #[test]
            fn never_leaves_the_start_directory(
                targets in proptest::collection::vec(0usize..100, 9),
                path in path(),
                follow in any::<bool>(),
            ) {
                let (fs, pre) = tree(&targets);
                let hidden = |p: &[String]| !p.starts_with(&["pre".into(), "a".into(), "b".into()]);
                for (check, may_visit) in [(false, &(|_: &[String]| true) as &dyn Fn(&[String]) -> bool), (true, &hidden)] {
                    match fs.resolve(pre, &path, follow, may_visit) {
                        Ok(r) => {
                            prop_assert_eq!(r.path.first().map(String::as_str), Some("pre"), "{} -> {:?}", path, r);
                            prop_assert!(!check || hidden(&r.path), "{} reached hidden {:?}", path, r.path);
                            // The canonical path really names what was resolved.
                            prop_assert_eq!(fs.lookup_tree(&r.path).unwrap(), r.ino, "{}", path);
                        }
                        Err(e) => prop_assert!(matches!(
                            e,
                            VfsError::Escape { .. }
                                | VfsError::NotFound { .. }
                                | VfsError::NotDir { .. }
                                | VfsError::Loop { .. }
                                | VfsError::NotCapable { .. }
                        ), "{}: {}", path, e),
                    }
                }
            }
        }
    }

    mod accounting_properties {
        use super::*;
        use proptest::prelude::*;

        /// What the quota should be charged, recomputed from scratch.
        fn recomputed(fs: &Fs) -> u64 {
            let entries: u64 = fs
                .inodes
                .values()
                .map(|i| match &i.node {
                    Node::Dir { entries, .. } => entries.keys().map(|n| entry_cost(n)).sum(),
                    _ => 0,
                })
                .sum();
            let inodes: u64 = fs.inodes.values().map(Inode::cost).sum();
            let streams: u64 = fs.streams.iter().map(|s| s.len() as u64).sum();
            entries + inodes + streams
        }

        #[derive(Debug, Clone)]
        enum Op {
            File(usize, usize),
            Dir(usize, usize),
            Symlink(usize, usize),
            Link(usize, usize, usize, usize),
            Unlink(usize, usize),
            Rmdir(usize, usize),
            Rename(usize, usize, usize, usize),
            Write(usize, usize, u16, u16),
            SetLen(usize, usize, u16),
            Open(usize, usize),
            Close(usize),
            Stream(u8, u16),
        }

        fn op() -> impl Strategy<Value = Op> {
            let d = 0..3usize;
            let n = 0..4usize;
            prop_oneof![
                (d.clone(), n.clone()).prop_map(|(a, b)| Op::File(a, b)),
                (d.clone(), n.clone()).prop_map(|(a, b)| Op::Dir(a, b)),
                (d.clone(), n.clone()).prop_map(|(a, b)| Op::Symlink(a, b)),
                (d.clone(), n.clone(), d.clone(), n.clone())
                    .prop_map(|(a, b, c, e)| Op::Link(a, b, c, e)),
                (d.clone(), n.clone()).prop_map(|(a, b)| Op::Unlink(a, b)),
                (d.clone(), n.clone()).prop_map(|(a, b)| Op::Rmdir(a, b)),
                (d.clone(), n.clone(), d.clone(), n.clone())
                    .prop_map(|(a, b, c, e)| Op::Rename(a, b, c, e)),
                (d.clone(), n.clone(), any::<u16>(), any::<u16>())
                    .prop_map(|(a, b, o, l)| Op::Write(a, b, o, l)),
                (d.clone(), n.clone(), any::<u16>()).prop_map(|(a, b, l)| Op::SetLen(a, b, l)),
                (d.clone(), n.clone()).prop_map(|(a, b)| Op::Open(a, b)),
                (0..8usize).prop_map(Op::Close),
                (0..3u8, any::<u16>()).prop_map(|(s, l)| Op::Stream(s, l)),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

            /// Whatever sequence of operations runs (and whichever of them fail), the quota
            /// charge matches what is actually held, and releasing everything frees it all.
            #[test]
            fn quota_accounting_is_exact(ops in proptest::collection::vec(op(), 1..60)) {
                let names = ["a", "b", "long-name-c", "d"];
                let mut fs = Fs::new(200_000, Clock::Disabled);
                let baseline = fs.used_bytes();
                let d1 = fs.create_dir(ROOT_INO, "d1").unwrap();
                let d2 = fs.create_dir(d1, "d2").unwrap();
                let dirs = [ROOT_INO, d1, d2];
                let mut open: Vec<Ino> = Vec::new();
                for op in ops {
                    let lookup = |fs: &Fs, d: usize, n: usize| fs.lookup(dirs[d], names[n]).ok().flatten();
                    let _ = match op {
                        Op::File(d, n) => fs.create_file(dirs[d], names[n]).map(drop),
                        Op::Dir(d, n) => fs.create_dir(dirs[d], names[n]).map(drop),
                        Op::Symlink(d, n) => fs.create_symlink(dirs[d], names[n], "a/../b").map(drop),
                        Op::Link(d, n, d2, n2) => match lookup(&fs, d, n) {
                            Some(i) => fs.link(i, dirs[d2], names[n2]),
                            None => Ok(()),
                        },
                        Op::Unlink(d, n) => fs.unlink(dirs[d], names[n]),
                        Op::Rmdir(d, n) => fs.remove_dir(dirs[d], names[n]),
                        Op::Rename(d, n, d2, n2) => fs.rename(dirs[d], names[n], dirs[d2], names[n2]),
                        Op::Write(d, n, o, l) => match lookup(&fs, d, n) {
                            Some(i) => fs.write_at(i, u64::from(o), &vec![1; usize::from(l)]),
                            None => Ok(()),
                        },
                        Op::SetLen(d, n, l) => match lookup(&fs, d, n) {
                            Some(i) => fs.set_len(i, u64::from(l)),
                            None => Ok(()),
                        },
                        Op::Open(d, n) => match lookup(&fs, d, n) {
                            Some(i) => fs.open(i).map(|_| open.push(i)),
                            None => Ok(()),
                        },
                        Op::Close(k) => {
                            if !open.is_empty() {
                                let i = open.remove(k % open.len());
                                fs.close(i);
                            }
                            Ok(())
                        }
                        Op::Stream(s, l) => {
                            let s = [Stream::Stdin, Stream::Stdout, Stream::Stderr][usize::from(s)];
                            fs.stream_append(s, &vec![0; usize::from(l) % 1000])
                        }
                    };
                    prop_assert_eq!(fs.used_bytes(), recomputed(&fs));
                    prop_assert!(fs.used_bytes() <= fs.quota());
                }
                for i in open.drain(..) {
                    fs.close(i);
                }
                for s in Stream::ALL {
                    fs.stream_set(s, &[]).unwrap();
                }
                // Remove everything, deepest first.
                for d in [d2, d1, ROOT_INO] {
                    for e in fs.read_dir(d).unwrap() {
                        if e.file_type == FileType::Directory {
                            let mut stack = vec![(d, e.name.clone())];
                            while let Some((parent, name)) = stack.pop() {
                                let ino = fs.lookup(parent, &name).unwrap().unwrap();
                                let children = fs.read_dir(ino).unwrap();
                                if children.is_empty() {
                                    fs.remove_dir(parent, &name).unwrap();
                                } else {
                                    stack.push((parent, name));
                                    for c in children {
                                        if c.file_type == FileType::Directory {
                                            stack.push((ino, c.name));
                                        } else {
                                            fs.unlink(ino, &c.name).unwrap();
                                        }
                                    }
                                }
                            }
                        } else {
                            fs.unlink(d, &e.name).unwrap();
                        }
                    }
                }
                prop_assert_eq!(fs.used_bytes(), baseline);
                prop_assert_eq!(fs.inodes.len(), 1);
            }
        }
    }
}
