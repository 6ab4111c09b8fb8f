//! Errors of VFS operations. Every variant names the path (or object) it is about.

use std::path::PathBuf;

use veracruz_policy::Rights;

/// Why a VFS operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VfsError {
    #[error("`{path}`: no such file or directory")]
    NotFound { path: String },
    #[error("`{path}` already exists")]
    Exists { path: String },
    #[error("`{path}` is not a directory")]
    NotDir { path: String },
    #[error("`{path}` is a directory")]
    IsDir { path: String },
    #[error("directory `{path}` is not empty")]
    NotEmpty { path: String },
    #[error("too many levels of symbolic links resolving `{path}`")]
    Loop { path: String },
    /// `..` above the directory the resolution started from, or an absolute path or symbolic
    /// link target: resolution never leaves its starting directory.
    #[error("`{path}` leads outside the directory it is resolved in")]
    Escape { path: String },
    /// The path lies where the capability map grants nothing at or beneath it.
    #[error("`{path}` is outside the capabilities")]
    NotCapable { path: String },
    #[error(
        "`{path}`: access denied, needs right `{needed}` but the capabilities grant `{granted}`"
    )]
    Denied {
        path: String,
        needed: Rights,
        granted: Rights,
    },
    #[error("`{path}` is not a valid VFS path: {source}")]
    BadPath {
        path: String,
        source: veracruz_policy::capabilities::PathError,
    },
    #[error("`{path}` is not a valid path: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("`{path}`: file name or path too long")]
    NameTooLong { path: String },
    #[error("`{path}` is a symbolic link, which is not followed here")]
    Symlink { path: String },
    #[error("`{path}`: {reason}")]
    InvalidOperation { path: String, reason: &'static str },
    #[error("`{path}`: hard links to directories are not allowed")]
    LinkToDirectory { path: String },
    #[error("file system quota of {quota} bytes exceeded: `{path}` needs {needed} more bytes, {available} available")]
    QuotaExceeded {
        path: String,
        quota: u64,
        needed: u64,
        available: u64,
    },
    #[error("`{path}`: offset or size {value} is too large")]
    TooLarge { path: String, value: u64 },
    #[error("host path `{}`: {source}", path.display())]
    Host {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("host path `{}`: {reason}", path.display())]
    HostRefused { path: PathBuf, reason: &'static str },
}

pub type Result<T, E = VfsError> = std::result::Result<T, E>;
