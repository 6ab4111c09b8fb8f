//! Running an example natively and collecting its outputs.
//!
//! A run works on a root directory laid out like the VFS: `root/input/...` holds the
//! inputs, `root/output/...` receives the outputs (and may hold a previous round's outputs,
//! which the number-stream example reads back). The native build sees `root` through
//! `VERACRUZ_ROOT`; the wasm runs map the same directories into the engine's VFS.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One example and the programs it runs, in order (two for the pipeline).
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub name: &'static str,
    pub programs: &'static [&'static str],
}

pub const SPECS: [Spec; 10] = [
    Spec {
        name: "linear-regression",
        programs: &["linear-regression"],
    },
    Spec {
        name: "intersection-sum",
        programs: &["intersection-sum"],
    },
    Spec {
        name: "private-set-intersection",
        programs: &["private-set-intersection"],
    },
    Spec {
        name: "string-edit-distance",
        programs: &["string-edit-distance"],
    },
    Spec {
        name: "shamir-secret-sharing",
        programs: &["shamir-secret-sharing"],
    },
    Spec {
        name: "macd",
        programs: &["macd"],
    },
    Spec {
        name: "logistic-regression",
        programs: &["logistic-regression"],
    },
    Spec {
        name: "number-stream-accumulation",
        programs: &["number-stream-accumulation"],
    },
    Spec {
        name: "random-pipeline",
        programs: &["generate-random", "sort-numbers"],
    },
    Spec {
        name: "private-auction",
        programs: &["private-auction"],
    },
];

pub fn spec(name: &str) -> Spec {
    *SPECS
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no example `{}`", name))
}

/// The path of a program's native build, e.g. `native_exe!("macd")`. A macro because Cargo
/// tells only integration tests and benchmarks, at compile time, where the binaries are.
#[macro_export]
macro_rules! native_exe {
    ($program:expr) => {
        match $program {
            "linear-regression" => env!("CARGO_BIN_EXE_linear-regression"),
            "intersection-sum" => env!("CARGO_BIN_EXE_intersection-sum"),
            "private-set-intersection" => env!("CARGO_BIN_EXE_private-set-intersection"),
            "string-edit-distance" => env!("CARGO_BIN_EXE_string-edit-distance"),
            "shamir-secret-sharing" => env!("CARGO_BIN_EXE_shamir-secret-sharing"),
            "macd" => env!("CARGO_BIN_EXE_macd"),
            "logistic-regression" => env!("CARGO_BIN_EXE_logistic-regression"),
            "number-stream-accumulation" => env!("CARGO_BIN_EXE_number-stream-accumulation"),
            "generate-random" => env!("CARGO_BIN_EXE_generate-random"),
            "sort-numbers" => env!("CARGO_BIN_EXE_sort-numbers"),
            "private-auction" => env!("CARGO_BIN_EXE_private-auction"),
            other => panic!("no program `{}`", other),
        }
    };
}

/// The repository's `examples/` directory.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// The committed wasm build of a program.
pub fn wasm_path(program: &str) -> PathBuf {
    examples_dir()
        .join("wasm")
        .join(format!("{}.wasm", program))
}

/// A directory removed when dropped, unique per process and call.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> io::Result<TempDir> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "veracruz-examples-{}-{}-{}",
            std::process::id(),
            n,
            label
        ));
        if path.exists() {
            fs::remove_dir_all(&path)?;
        }
        fs::create_dir_all(&path)?;
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// The result of running one program.
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs a native build with `VERACRUZ_ROOT=root` and `env` added.
pub fn run_native(exe: &Path, root: &Path, env: &[(&str, &str)]) -> io::Result<Exit> {
    let mut cmd = Command::new(exe);
    cmd.env("VERACRUZ_ROOT", root);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {}: {}", exe.display(), e)))?;
    Ok(Exit {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Every regular file below `dir`, by path relative to it (with `/` separators).
pub fn read_tree(dir: &Path) -> io::Result<BTreeMap<String, Vec<u8>>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                walk(base, &path, out)?;
            } else {
                let rel = path
                    .strip_prefix(base)
                    .expect("walked path is below its base")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, fs::read(&path)?);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out)?;
    }
    Ok(out)
}

/// Copies a directory tree (used to give each run its own copy of the same inputs).
pub fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
