//! Copying between a host directory and the VFS, for the freestanding runner only.
//!
//! Host symbolic links are refused rather than followed, so a mapped directory can never pull
//! in files from elsewhere on the host; VFS symbolic links are not written back to the host
//! (a link created by a program could otherwise point anywhere on the host), only reported.

use std::fs;
use std::path::Path;

use veracruz_policy::CapPath;

use crate::error::{Result, VfsError};
use crate::fs::{display_path, FileType, Ino};
use crate::Vfs;

fn host_err(path: &Path) -> impl FnOnce(std::io::Error) -> VfsError + '_ {
    move |source| VfsError::Host {
        path: path.to_path_buf(),
        source,
    }
}

fn tree(path: &str) -> Result<Vec<String>> {
    match CapPath::parse(path).map_err(|source| VfsError::BadPath {
        path: path.to_string(),
        source,
    })? {
        CapPath::Tree(c) => Ok(c),
        CapPath::Stream(_) => Err(VfsError::InvalidOperation {
            path: path.to_string(),
            reason: "a stream is not a directory",
        }),
    }
}

/// What a copy did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyStats {
    pub files: u64,
    pub directories: u64,
    pub bytes: u64,
    /// Symbolic links left out of a copy to the host.
    pub skipped_symlinks: u64,
}

impl Vfs {
    /// Copies the host directory `host_dir` (recursively) into the VFS directory `vfs_dir`,
    /// creating it. Files already in the VFS at the same paths are replaced. Refuses host
    /// symbolic links and anything that is neither a file nor a directory.
    pub fn load_host_dir(&self, host_dir: &Path, vfs_dir: &str) -> Result<CopyStats> {
        let target = tree(vfs_dir)?;
        let mut stats = CopyStats::default();
        let dir = self.lock().create_dir_all(&target)?;
        stats.directories += 1;
        self.load_into(host_dir, dir, &target, &mut stats)?;
        tracing::debug!(host = %host_dir.display(), vfs = vfs_dir, ?stats, "loaded host directory");
        Ok(stats)
    }

    fn load_into(
        &self,
        host_dir: &Path,
        dir: Ino,
        vfs_path: &[String],
        stats: &mut CopyStats,
    ) -> Result<()> {
        let mut entries = fs::read_dir(host_dir)
            .map_err(host_err(host_dir))?
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(host_err(host_dir))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let host_path = entry.path();
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| VfsError::HostRefused {
                    path: host_path.clone(),
                    reason: "file name is not valid UTF-8",
                })?;
            let meta = fs::symlink_metadata(&host_path).map_err(host_err(&host_path))?;
            let mut child_path = vfs_path.to_vec();
            child_path.push(name.clone());
            if meta.is_dir() {
                let child = {
                    let mut vfs = self.lock();
                    match vfs.lookup(dir, &name)? {
                        Some(ino) if vfs.file_type(ino)? == FileType::Directory => ino,
                        Some(_) => {
                            return Err(VfsError::Exists {
                                path: display_path(&child_path),
                            })
                        }
                        None => vfs.create_dir(dir, &name)?,
                    }
                };
                stats.directories += 1;
                self.load_into(&host_path, child, &child_path, stats)?;
            } else if meta.is_file() {
                // Check the quota before reading so a huge host file is never read into memory.
                self.lock()
                    .check_quota(&display_path(&child_path), meta.len())?;
                let data = fs::read(&host_path).map_err(host_err(&host_path))?;
                let mut vfs = self.lock();
                let staged = vfs.create_unlinked_file()?;
                let result = vfs
                    .write_at(staged, 0, &data)
                    .and_then(|_| vfs.replace_with(dir, &name, staged));
                vfs.close(staged);
                result?;
                stats.files += 1;
                stats.bytes += data.len() as u64;
            } else {
                return Err(VfsError::HostRefused {
                    path: host_path,
                    reason: "only regular files and directories can be loaded (symbolic links and special files are refused)",
                });
            }
        }
        Ok(())
    }

    /// Copies the VFS directory `vfs_dir` (recursively) to the host directory `host_dir`,
    /// creating it. Symbolic links are skipped and counted; hard links become separate copies.
    pub fn save_to_host_dir(&self, vfs_dir: &str, host_dir: &Path) -> Result<CopyStats> {
        let source = tree(vfs_dir)?;
        let dir = self
            .lock()
            .lookup_tree(&source)?
            .ok_or_else(|| VfsError::NotFound {
                path: display_path(&source),
            })?;
        let mut stats = CopyStats::default();
        self.save_from(dir, &source, host_dir, &mut stats)?;
        tracing::debug!(vfs = vfs_dir, host = %host_dir.display(), ?stats, "saved VFS directory");
        Ok(stats)
    }

    /// Iterative, because a program can nest directories arbitrarily deep.
    fn save_from(
        &self,
        dir: Ino,
        vfs_path: &[String],
        host_dir: &Path,
        stats: &mut CopyStats,
    ) -> Result<()> {
        let mut pending = vec![(dir, vfs_path.to_vec(), host_dir.to_path_buf())];
        while let Some((dir, vfs_path, host_dir)) = pending.pop() {
            fs::create_dir_all(&host_dir).map_err(host_err(&host_dir))?;
            stats.directories += 1;
            let entries = {
                let vfs = self.lock();
                if vfs.file_type(dir)? != FileType::Directory {
                    return Err(VfsError::NotDir {
                        path: display_path(&vfs_path),
                    });
                }
                vfs.read_dir(dir)?
            };
            for entry in entries {
                let host_path = host_dir.join(&entry.name);
                let mut child_path = vfs_path.clone();
                child_path.push(entry.name.clone());
                match entry.file_type {
                    FileType::Directory => pending.push((entry.ino, child_path, host_path)),
                    FileType::RegularFile => {
                        // Written under the lock straight from the VFS buffer: no copy between.
                        let vfs = self.lock();
                        let written = vfs.with_contents(entry.ino, |data| {
                            fs::write(&host_path, data).map(|_| data.len() as u64)
                        })?;
                        stats.bytes += written.map_err(host_err(&host_path))?;
                        stats.files += 1;
                    }
                    _ => {
                        tracing::warn!(path = %display_path(&child_path), "symbolic link not copied to the host");
                        stats.skipped_symlinks += 1;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VfsConfig;
    use veracruz_policy::{CapabilityMap, Rights};

    #[test]
    fn round_trip_through_a_host_directory() {
        let src = tempfile::tempdir().unwrap();
        fs::create_dir_all(src.path().join("sub/deeper")).unwrap();
        fs::write(src.path().join("a.txt"), b"alpha").unwrap();
        fs::write(src.path().join("sub/deeper/b.bin"), [0u8, 1, 2]).unwrap();
        let vfs = Vfs::default();
        let stats = vfs.load_host_dir(src.path(), "/input").unwrap();
        assert_eq!((stats.files, stats.bytes), (2, 8));
        let h = vfs.handle(CapabilityMap::from_entries([(
            CapPath::parse("/").unwrap(),
            Rights::ALL,
        )]));
        assert_eq!(h.read_file("/input/sub/deeper/b.bin").unwrap(), [0, 1, 2]);
        {
            let mut fs = vfs.lock();
            let input = fs.lookup_tree(&["input".to_string()]).unwrap().unwrap();
            fs.create_symlink(input, "link", "a.txt").unwrap();
        }
        let dst = tempfile::tempdir().unwrap();
        let stats = vfs.save_to_host_dir("/input", dst.path()).unwrap();
        assert_eq!((stats.files, stats.skipped_symlinks), (2, 1));
        assert_eq!(fs::read(dst.path().join("a.txt")).unwrap(), b"alpha");
        assert!(!dst.path().join("link").exists());
    }

    #[test]
    fn refuses_host_symlinks_and_oversized_files() {
        let src = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.path().join("escape")).unwrap();
        let err = Vfs::default().load_host_dir(src.path(), "/in").unwrap_err();
        assert!(matches!(err, VfsError::HostRefused { .. }), "{err}");

        let src = tempfile::tempdir().unwrap();
        fs::write(src.path().join("big"), vec![0u8; 5000]).unwrap();
        let vfs = Vfs::new(VfsConfig {
            max_total_bytes: 4096,
            ..VfsConfig::default()
        });
        let err = vfs.load_host_dir(src.path(), "/in").unwrap_err();
        assert!(matches!(err, VfsError::QuotaExceeded { .. }), "{err}");
    }
}
