//! A principal's view of the VFS: the shared file system plus that principal's capabilities.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use veracruz_policy::{CapPath, CapabilityMap, Rights};

use crate::error::{Result, VfsError};
use crate::fs::{display_path, FileType, Fs, Ino, Metadata, ENTRY_COST, INODE_COST};
use crate::{visible, DirEntry, Vfs};

/// The shared VFS seen through one capability map. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Handle {
    vfs: Vfs,
    capabilities: Arc<CapabilityMap>,
}

/// How a [`WriteSession`] lands when committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Replace the file (create it if missing); needs `w`.
    Truncate,
    /// Add to the end of the file (create it if missing); needs `a` or `w`.
    Append,
}

fn tree_parts(components: &[String]) -> Option<(&[String], &str)> {
    components
        .split_last()
        .map(|(name, parent)| (parent, name.as_str()))
}

impl Handle {
    pub fn new(vfs: Vfs, capabilities: CapabilityMap) -> Handle {
        Handle {
            vfs,
            capabilities: Arc::new(capabilities),
        }
    }

    pub fn vfs(&self) -> &Vfs {
        &self.vfs
    }

    pub fn capabilities(&self) -> &CapabilityMap {
        &self.capabilities
    }

    /// The rights this handle has on `path` (none for an invalid path).
    pub fn rights(&self, path: &str) -> Rights {
        self.capabilities.rights_for(path)
    }

    fn parse(path: &str) -> Result<CapPath> {
        CapPath::parse(path).map_err(|source| VfsError::BadPath {
            path: path.to_string(),
            source,
        })
    }

    fn require(&self, path: &CapPath, needed: Rights, alternative: Option<Rights>) -> Result<()> {
        let granted = self.capabilities.rights_for_path(path);
        if granted.contains(needed) || alternative.is_some_and(|a| granted.contains(a)) {
            return Ok(());
        }
        Err(VfsError::Denied {
            path: path.to_string(),
            needed,
            granted,
        })
    }

    fn require_visible(&self, path: &CapPath) -> Result<()> {
        let ok = match path {
            CapPath::Stream(_) => !self.capabilities.rights_for_path(path).is_empty(),
            CapPath::Tree(c) => visible(&self.capabilities, c),
        };
        if ok {
            Ok(())
        } else {
            Err(VfsError::NotCapable {
                path: path.to_string(),
            })
        }
    }

    fn find(fs: &Fs, components: &[String]) -> Result<Ino> {
        fs.lookup_tree(components)?
            .ok_or_else(|| VfsError::NotFound {
                path: display_path(components),
            })
    }

    fn find_file(fs: &Fs, components: &[String]) -> Result<Ino> {
        let ino = Self::find(fs, components)?;
        match fs.file_type(ino)? {
            FileType::RegularFile => Ok(ino),
            FileType::Directory => Err(VfsError::IsDir {
                path: display_path(components),
            }),
            _ => Err(VfsError::Symlink {
                path: display_path(components),
            }),
        }
    }

    /// The size of the regular file at `components`, `None` if nothing is there; refuses a
    /// directory or symbolic link as the target of a write.
    fn check_target(fs: &Fs, components: &[String]) -> Result<Option<u64>> {
        match fs.lookup_tree(components)? {
            Some(ino) => match fs.file_type(ino)? {
                FileType::RegularFile => Ok(Some(fs.file_len(ino)?)),
                FileType::Directory => Err(VfsError::IsDir {
                    path: display_path(components),
                }),
                _ => Err(VfsError::Symlink {
                    path: display_path(components),
                }),
            },
            None => Ok(None),
        }
    }

    /// Checks that `components` could become a file holding `bytes` within the quota (counting
    /// what replacing an existing file would free) and is not a directory or symbolic link.
    fn check_room(fs: &Fs, components: &[String], bytes: u64, replace: bool) -> Result<()> {
        let (parent, name) = tree_parts(components).ok_or_else(|| VfsError::IsDir {
            path: "/".to_string(),
        })?;
        let needed = match Self::check_target(fs, components)? {
            Some(len) if replace => bytes.saturating_sub(len),
            Some(_) => bytes,
            None => {
                bytes + INODE_COST + ENTRY_COST + name.len() as u64 + fs.missing_dirs_cost(parent)
            }
        };
        fs.check_quota(&display_path(components), needed)
    }

    /// Writes a whole file (or stream), replacing what was there: needs `w`. Missing parent
    /// directories are created. The new contents appear atomically, as a new inode: other hard
    /// links to the old file keep the old contents.
    pub fn write_file(&self, path: &str, data: &[u8]) -> Result<()> {
        let mut session = self.begin_write(path, WriteMode::Truncate)?;
        session.write_chunk(data)?;
        session.commit().map(|_| ())
    }

    /// Appends to a file (or stream), creating it if missing: needs `a` or `w`. Returns the new
    /// size.
    pub fn append_file(&self, path: &str, data: &[u8]) -> Result<u64> {
        let p = Self::parse(path)?;
        self.require(&p, Rights::APPEND, Some(Rights::WRITE))?;
        let mut fs = self.vfs.lock();
        match &p {
            CapPath::Stream(s) => {
                fs.stream_append(*s, data)?;
                Ok(fs.stream(*s).len() as u64)
            }
            CapPath::Tree(c) => {
                Self::check_room(&fs, c, data.len() as u64, false)?;
                let ino = match fs.lookup_tree(c)? {
                    Some(ino) => ino,
                    None => {
                        let (parent, name) = tree_parts(c).ok_or_else(|| VfsError::IsDir {
                            path: "/".to_string(),
                        })?;
                        let dir = fs.create_dir_all(parent)?;
                        fs.create_file(dir, name)?
                    }
                };
                fs.append(ino, data)?;
                fs.file_len(ino)
            }
        }
    }

    /// Starts a chunked write whose chunks are staged in an unlinked file and land atomically on
    /// [`WriteSession::commit`]; dropping the session without committing discards them.
    /// Rights are checked now: `w` for [`WriteMode::Truncate`], `a` or `w` for
    /// [`WriteMode::Append`].
    pub fn begin_write(&self, path: &str, mode: WriteMode) -> Result<WriteSession> {
        let p = Self::parse(path)?;
        match mode {
            WriteMode::Truncate => self.require(&p, Rights::WRITE, None)?,
            WriteMode::Append => self.require(&p, Rights::APPEND, Some(Rights::WRITE))?,
        }
        let mut fs = self.vfs.lock();
        if let CapPath::Tree(c) = &p {
            Self::check_room(&fs, c, 0, mode == WriteMode::Truncate)?;
        }
        let staged = fs.create_unlinked_file()?;
        Ok(WriteSession {
            vfs: self.vfs.clone(),
            path: p,
            mode,
            staged,
            staged_len: 0,
            committed: false,
        })
    }

    /// Reads a whole file or stream: needs `r`. Symbolic links are not followed.
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        self.read_range(path, 0, usize::MAX)
    }

    /// Reads at most `len` bytes from `offset` of a file or stream: needs `r`. The result is
    /// shorter at the end of the file.
    pub fn read_range(&self, path: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_range_into(path, offset, len, &mut out)?;
        Ok(out)
    }

    /// [`Handle::read_range`] into `out` (its contents replaced), so a caller streaming a file
    /// can reuse one buffer.
    pub fn read_range_into(
        &self,
        path: &str,
        offset: u64,
        len: usize,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let p = Self::parse(path)?;
        self.require(&p, Rights::READ, None)?;
        let fs = self.vfs.lock();
        out.clear();
        let mut slice = |data: &[u8]| {
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(data.len());
            let end = start.saturating_add(len).min(data.len());
            out.extend_from_slice(&data[start..end]);
        };
        match &p {
            CapPath::Stream(s) => {
                slice(fs.stream(*s));
                Ok(())
            }
            CapPath::Tree(c) => {
                let ino = Self::find_file(&fs, c)?;
                fs.with_contents(ino, slice)
            }
        }
    }

    /// SHA-256 of a file or stream, computed in place: needs `r`.
    pub fn hash_file(&self, path: &str) -> Result<[u8; 32]> {
        let p = Self::parse(path)?;
        self.require(&p, Rights::READ, None)?;
        let fs = self.vfs.lock();
        let hash = |data: &[u8]| -> [u8; 32] { Sha256::digest(data).into() };
        match &p {
            CapPath::Stream(s) => Ok(hash(fs.stream(*s))),
            CapPath::Tree(c) => {
                let ino = Self::find_file(&fs, c)?;
                fs.with_contents(ino, hash)
            }
        }
    }

    /// Lists a directory: needs `r` on it. Entries the capabilities hide entirely are left out.
    pub fn list(&self, path: &str) -> Result<Vec<DirEntry>> {
        let p = Self::parse(path)?;
        self.require(&p, Rights::READ, None)?;
        let CapPath::Tree(c) = &p else {
            return Err(VfsError::NotDir {
                path: path.to_string(),
            });
        };
        let fs = self.vfs.lock();
        let ino = Self::find(&fs, c)?;
        match fs.file_type(ino)? {
            FileType::Directory => {}
            FileType::Symlink => {
                return Err(VfsError::Symlink {
                    path: display_path(c),
                })
            }
            _ => {
                return Err(VfsError::NotDir {
                    path: display_path(c),
                })
            }
        }
        let mut child = c.clone();
        Ok(fs
            .read_dir(ino)?
            .into_iter()
            .filter(|e| {
                child.push(e.name.clone());
                let ok = visible(&self.capabilities, &child);
                child.pop();
                ok
            })
            .collect())
    }

    /// Metadata of a path (a symbolic link itself, not its target): needs some right at or
    /// beneath the path.
    pub fn metadata(&self, path: &str) -> Result<Metadata> {
        let p = Self::parse(path)?;
        self.require_visible(&p)?;
        let fs = self.vfs.lock();
        match &p {
            CapPath::Stream(s) => fs.metadata(Fs::stream_ino(*s)),
            CapPath::Tree(c) => fs.metadata(Self::find(&fs, c)?),
        }
    }

    /// Does the path exist? Needs some right at or beneath it, so that existence of things the
    /// principal cannot see is not revealed.
    pub fn exists(&self, path: &str) -> Result<bool> {
        let p = Self::parse(path)?;
        self.require_visible(&p)?;
        let fs = self.vfs.lock();
        match &p {
            CapPath::Stream(_) => Ok(true),
            CapPath::Tree(c) => Ok(fs.lookup_tree(c)?.is_some()),
        }
    }

    /// Removes a file, symbolic link or empty directory (or empties a stream): needs `w`.
    pub fn remove(&self, path: &str) -> Result<()> {
        let p = Self::parse(path)?;
        self.require(&p, Rights::WRITE, None)?;
        let mut fs = self.vfs.lock();
        match &p {
            CapPath::Stream(s) => fs.stream_set(*s, &[]),
            CapPath::Tree(c) => {
                let (parent, name) = tree_parts(c).ok_or(VfsError::InvalidOperation {
                    path: "/".to_string(),
                    reason: "the root directory cannot be removed",
                })?;
                let ino = Self::find(&fs, c)?;
                let dir = Self::find(&fs, parent)?;
                match fs.file_type(ino)? {
                    FileType::Directory => fs.remove_dir(dir, name),
                    _ => fs.unlink(dir, name),
                }
            }
        }
    }

    /// Creates a directory and any missing parents: needs `w` on it.
    pub fn create_dir_all(&self, path: &str) -> Result<()> {
        let p = Self::parse(path)?;
        self.require(&p, Rights::WRITE, None)?;
        let CapPath::Tree(c) = &p else {
            return Err(VfsError::InvalidOperation {
                path: path.to_string(),
                reason: "a stream is not a directory",
            });
        };
        self.vfs.lock().create_dir_all(c).map(|_| ())
    }
}

/// A chunked write in progress; see [`Handle::begin_write`].
#[derive(Debug)]
pub struct WriteSession {
    vfs: Vfs,
    path: CapPath,
    mode: WriteMode,
    staged: Ino,
    staged_len: u64,
    committed: bool,
}

impl WriteSession {
    /// The path this session writes.
    pub fn path(&self) -> String {
        self.path.to_string()
    }

    /// Bytes staged so far.
    pub fn len(&self) -> u64 {
        self.staged_len
    }

    pub fn is_empty(&self) -> bool {
        self.staged_len == 0
    }

    /// Stages one more chunk (charged to the quota now). Returns the bytes staged so far.
    pub fn write_chunk(&mut self, data: &[u8]) -> Result<u64> {
        let mut fs = self.vfs.lock();
        fs.append(self.staged, data).map_err(|e| match e {
            VfsError::QuotaExceeded {
                quota,
                needed,
                available,
                ..
            } => VfsError::QuotaExceeded {
                path: self.path.to_string(),
                quota,
                needed,
                available,
            },
            e => e,
        })?;
        self.staged_len += data.len() as u64;
        Ok(self.staged_len)
    }

    /// Makes the staged bytes visible at the path in one step; returns the file's new size.
    pub fn commit(mut self) -> Result<u64> {
        let vfs = self.vfs.clone();
        let mut fs = vfs.lock();
        let replace = self.mode == WriteMode::Truncate;
        let size = match &self.path {
            CapPath::Stream(s) => {
                fs.move_to_stream(*s, self.staged, replace)?;
                fs.stream(*s).len() as u64
            }
            CapPath::Tree(c) => {
                let (parent, name) = tree_parts(c).ok_or_else(|| VfsError::IsDir {
                    path: "/".to_string(),
                })?;
                // The staged bytes and inode are already charged; only new names cost more.
                let entry = match Handle::check_target(&fs, c)? {
                    Some(_) => 0,
                    None => ENTRY_COST + name.len() as u64,
                };
                fs.check_quota(&self.path.to_string(), entry + fs.missing_dirs_cost(parent))?;
                let dir = fs.create_dir_all(parent)?;
                match fs.lookup(dir, name)? {
                    Some(existing) if !replace => {
                        fs.append_from(existing, self.staged)?;
                        fs.file_len(existing)?
                    }
                    _ => {
                        fs.replace_with(dir, name, self.staged)?;
                        fs.file_len(self.staged)?
                    }
                }
            }
        };
        fs.close(self.staged);
        self.committed = true;
        Ok(size)
    }
}

impl Drop for WriteSession {
    fn drop(&mut self) {
        if !self.committed {
            self.vfs.lock().close(self.staged);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VfsConfig;

    fn map(entries: &[(&str, &str)]) -> CapabilityMap {
        CapabilityMap::from_entries(
            entries
                .iter()
                .map(|(p, r)| (CapPath::parse(p).unwrap(), r.parse().unwrap())),
        )
    }

    fn setup() -> (Vfs, Handle, Handle) {
        let vfs = Vfs::default();
        let provider = vfs.handle(map(&[("/input/", "w"), ("stdin", "w")]));
        let reader = vfs.handle(map(&[
            ("/input/", "r"),
            ("/input/private/", ""),
            ("/output/", "ra"),
            ("stdout", "r"),
        ]));
        (vfs, provider, reader)
    }

    #[test]
    fn rights_are_checked_on_the_full_path() {
        let (_vfs, provider, reader) = setup();
        provider.write_file("/input/data.csv", b"1,2,3").unwrap();
        assert_eq!(reader.read_file("/input/data.csv").unwrap(), b"1,2,3");
        let err = provider.read_file("/input/data.csv").unwrap_err();
        assert!(
            err.to_string().contains("/input/data.csv") && err.to_string().contains("`r`"),
            "{err}"
        );
        let err = reader.write_file("/input/data.csv", b"x").unwrap_err();
        assert!(matches!(err, VfsError::Denied { needed, .. } if needed == Rights::WRITE));
        assert!(matches!(
            reader.write_file("/output/x", b"x"),
            Err(VfsError::Denied { .. })
        ));
        assert_eq!(reader.append_file("/output/x", b"ab").unwrap(), 2);
        assert_eq!(reader.append_file("/output/x", b"cd").unwrap(), 4);
        assert_eq!(reader.read_file("/output/x").unwrap(), b"abcd");
        provider.write_file("/input/private/p", b"s").unwrap();
        assert!(matches!(
            reader.read_file("/input/private/p"),
            Err(VfsError::Denied { .. })
        ));
        assert!(matches!(
            reader.exists("/input/private/p"),
            Err(VfsError::NotCapable { .. })
        ));
        assert!(matches!(
            reader.read_file("/input/../output/x"),
            Err(VfsError::BadPath { .. })
        ));
    }

    #[test]
    fn listing_hides_invisible_entries() {
        let (_vfs, provider, reader) = setup();
        provider.write_file("/input/a", b"").unwrap();
        provider.write_file("/input/private/p", b"").unwrap();
        let names: Vec<_> = reader
            .list("/input")
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec!["a"]);
        assert!(matches!(
            provider.list("/input"),
            Err(VfsError::Denied { .. })
        ));
    }

    #[test]
    fn streams() {
        let (_vfs, provider, reader) = setup();
        provider.write_file("stdin", b"hello").unwrap();
        assert!(matches!(
            reader.read_file("stdin"),
            Err(VfsError::Denied { .. })
        ));
        assert_eq!(reader.read_file("stdout").unwrap(), b"");
        assert!(reader.exists("stdout").unwrap());
    }

    #[test]
    fn chunked_writes_land_atomically_or_not_at_all() {
        let vfs = Vfs::new(VfsConfig {
            max_total_bytes: 10_000,
            ..VfsConfig::default()
        });
        let h = vfs.handle(map(&[("/", "rw")]));
        h.write_file("/f", b"old").unwrap();
        let mut w = h.begin_write("/f", WriteMode::Truncate).unwrap();
        w.write_chunk(b"new ").unwrap();
        w.write_chunk(b"data").unwrap();
        assert_eq!(
            h.read_file("/f").unwrap(),
            b"old",
            "not visible before commit"
        );
        assert_eq!(w.commit().unwrap(), 8);
        assert_eq!(h.read_file("/f").unwrap(), b"new data");

        let used = vfs.lock().used_bytes();
        let mut w = h.begin_write("/g", WriteMode::Truncate).unwrap();
        w.write_chunk(&[0; 1000]).unwrap();
        let err = w.write_chunk(&[0; 20_000]).unwrap_err();
        assert!(matches!(err, VfsError::QuotaExceeded { ref path, .. } if path == "/g"));
        drop(w);
        assert_eq!(
            vfs.lock().used_bytes(),
            used,
            "an abandoned write frees its chunks"
        );
        assert!(!h.exists("/g").unwrap());

        // A commit that fails (the target became a directory) changes nothing and frees the
        // staged bytes.
        let used = vfs.lock().used_bytes();
        let mut w = h.begin_write("/h", WriteMode::Truncate).unwrap();
        w.write_chunk(b"staged").unwrap();
        h.create_dir_all("/h").unwrap();
        let used_with_dir = vfs.lock().used_bytes();
        assert!(matches!(w.commit(), Err(VfsError::IsDir { .. })));
        assert_eq!(vfs.lock().used_bytes(), used_with_dir - (INODE_COST + 6));
        assert!(used_with_dir > used);
        h.remove("/h").unwrap();

        let mut w = h.begin_write("/f", WriteMode::Append).unwrap();
        w.write_chunk(b"!").unwrap();
        w.commit().unwrap();
        assert_eq!(h.read_file("/f").unwrap(), b"new data!");
    }

    #[test]
    fn ranges_hash_stat_and_remove() {
        let vfs = Vfs::default();
        let h = vfs.handle(map(&[("/", "rw")]));
        h.write_file("/d/e/f", b"0123456789").unwrap();
        assert_eq!(h.read_range("/d/e/f", 3, 4).unwrap(), b"3456");
        assert_eq!(h.read_range("/d/e/f", 8, 100).unwrap(), b"89");
        assert_eq!(h.read_range("/d/e/f", 100, 1).unwrap(), b"");
        assert_eq!(
            hex(&h.hash_file("/d/e/f").unwrap()),
            "84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882"
        );
        let m = h.metadata("/d/e/f").unwrap();
        assert_eq!(
            (m.file_type, m.size, m.nlink),
            (FileType::RegularFile, 10, 1)
        );
        assert!(matches!(h.remove("/d"), Err(VfsError::NotEmpty { .. })));
        h.remove("/d/e/f").unwrap();
        h.remove("/d/e").unwrap();
        assert!(!h.exists("/d/e").unwrap());
        assert!(matches!(h.read_file("/d"), Err(VfsError::IsDir { .. })));
        assert!(matches!(
            h.remove("/"),
            Err(VfsError::InvalidOperation { .. })
        ));
    }

    #[test]
    fn symlinks_are_not_followed_from_outside() {
        let vfs = Vfs::default();
        let h = vfs.handle(map(&[("/", "r"), ("/out/", "rw")]));
        {
            let mut fs = vfs.lock();
            let secret_dir = fs.create_dir(crate::ROOT_INO, "secret").unwrap();
            let f = fs.create_file(secret_dir, "s").unwrap();
            fs.append(f, b"secret").unwrap();
            let out = fs.create_dir(crate::ROOT_INO, "out").unwrap();
            fs.create_symlink(out, "link", "../secret/s").unwrap();
            fs.create_symlink(out, "dir", "../secret").unwrap();
        }
        assert!(matches!(
            h.read_file("/out/link"),
            Err(VfsError::Symlink { .. })
        ));
        assert!(matches!(
            h.read_file("/out/dir/s"),
            Err(VfsError::Symlink { .. })
        ));
        assert!(matches!(
            h.write_file("/out/link", b"x"),
            Err(VfsError::Symlink { .. })
        ));
        assert_eq!(
            h.metadata("/out/link").unwrap().file_type,
            FileType::Symlink
        );
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
