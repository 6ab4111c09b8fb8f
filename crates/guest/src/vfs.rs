//! Access to the computation's virtual file system by absolute VFS path.
//!
//! Under WASI the path is handed to std unchanged. Natively it is mapped below
//! `$VERACRUZ_ROOT`, refusing `..` so a native run cannot wander outside the tree it was
//! given — the same confinement the runtime's pre-opens give the wasm build.

use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use crate::{Error, Result};

/// The environment variable naming the host directory that stands for `/` in native runs.
pub const ROOT_ENV: &str = "VERACRUZ_ROOT";

/// Resolves a VFS path (absolute, e.g. `/input/a.csv`) to the path std should open.
pub fn resolve(vfs_path: &str) -> Result<PathBuf> {
    if !vfs_path.starts_with('/') {
        return Err(Error::new(format!(
            "VFS path `{}` is not absolute; programs name files like /input/data.csv",
            vfs_path
        )));
    }
    let relative = Path::new(&vfs_path[1..]);
    for c in relative.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            _ => {
                return Err(Error::new(format!(
                    "VFS path `{}` may not contain `..` or other special components",
                    vfs_path
                )))
            }
        }
    }
    host_path(relative, vfs_path)
}

#[cfg(target_os = "wasi")]
fn host_path(_relative: &Path, vfs_path: &str) -> Result<PathBuf> {
    Ok(PathBuf::from(vfs_path))
}

#[cfg(not(target_os = "wasi"))]
fn host_path(relative: &Path, vfs_path: &str) -> Result<PathBuf> {
    match std::env::var_os(ROOT_ENV) {
        Some(root) if !root.is_empty() => Ok(Path::new(&root).join(relative)),
        _ => Err(Error::new(format!(
            "cannot open `{}` natively: set {} to the host directory that stands for the VFS root",
            vfs_path, ROOT_ENV
        ))),
    }
}

fn io_error(action: &str, vfs_path: &str, e: io::Error) -> Error {
    Error::new(format!("cannot {} `{}`: {}", action, vfs_path, e))
}

/// Whether a file or directory exists at `vfs_path`.
pub fn exists(vfs_path: &str) -> Result<bool> {
    let p = resolve(vfs_path)?;
    match fs::metadata(&p) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error("inspect", vfs_path, e)),
    }
}

pub fn read(vfs_path: &str) -> Result<Vec<u8>> {
    fs::read(resolve(vfs_path)?).map_err(|e| io_error("read", vfs_path, e))
}

/// Reads a UTF-8 text file; the error names the file and the byte offset of bad UTF-8.
pub fn read_to_string(vfs_path: &str) -> Result<String> {
    let bytes = read(vfs_path)?;
    String::from_utf8(bytes).map_err(|e| {
        Error::new(format!(
            "`{}` is not UTF-8 text (invalid byte at offset {})",
            vfs_path,
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Reads a file if it exists; `None` if it does not. Any other failure is an error.
pub fn read_optional(vfs_path: &str) -> Result<Option<Vec<u8>>> {
    match fs::read(resolve(vfs_path)?) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error("read", vfs_path, e)),
    }
}

/// Creates or truncates `vfs_path` and writes `bytes`, creating missing parent directories.
pub fn write(vfs_path: &str, bytes: &[u8]) -> Result<()> {
    let p = resolve(vfs_path)?;
    if let Some(parent) = p.parent() {
        // Only create when missing: the pre-opened directory itself may not be re-creatable.
        if !parent.as_os_str().is_empty() && !parent.is_dir() {
            fs::create_dir_all(parent)
                .map_err(|e| io_error("create the directory of", vfs_path, e))?;
        }
    }
    let mut f = fs::File::create(&p).map_err(|e| io_error("create", vfs_path, e))?;
    f.write_all(bytes)
        .map_err(|e| io_error("write", vfs_path, e))?;
    f.flush().map_err(|e| io_error("write", vfs_path, e))
}

/// Names of the entries of a VFS directory, sorted bytewise so that every engine and the
/// native build see them in the same order whatever order the file system returns.
pub fn list_dir(vfs_path: &str) -> Result<Vec<String>> {
    let p = resolve(vfs_path)?;
    let mut names = Vec::new();
    for entry in fs::read_dir(&p).map_err(|e| io_error("list", vfs_path, e))? {
        let entry = entry.map_err(|e| io_error("list", vfs_path, e))?;
        let name = entry.file_name().into_string().map_err(|n| {
            Error::new(format!(
                "directory `{}` holds an entry whose name is not UTF-8: {:?}",
                vfs_path, n
            ))
        })?;
        names.push(name);
    }
    names.sort();
    Ok(names)
}

/// Joins a VFS directory and an entry name.
pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{}{}", dir, name)
    } else {
        format!("{}/{}", dir, name)
    }
}

#[cfg(all(test, not(target_os = "wasi")))]
mod tests {
    use super::*;

    #[test]
    fn relative_and_dotdot_paths_are_refused() {
        assert!(resolve("input/a.csv")
            .unwrap_err()
            .message()
            .contains("not absolute"));
        assert!(resolve("/input/../../etc/passwd")
            .unwrap_err()
            .message()
            .contains(".."));
    }

    #[test]
    fn join_handles_trailing_slash() {
        assert_eq!(join("/input/bids", "a.txt"), "/input/bids/a.txt");
        assert_eq!(join("/input/bids/", "a.txt"), "/input/bids/a.txt");
    }
}
