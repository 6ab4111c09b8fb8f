//! Shared by the engine's integration tests: fixtures, the standard VFS layout, and runs that
//! capture everything observable about a program's behaviour.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::path::PathBuf;

use veracruz_engine::{Engine, EngineError, Invocation, Limits, Strategy};
use veracruz_policy::{CapPath, CapabilityMap, Rights};
use veracruz_vfs::{FileType, Vfs, ROOT_INO};
use veracruz_wasi::WasiCtx;

pub fn guests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/guests")
}

/// A built C guest, `tests/guests/NAME.wasm`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = guests_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A WAT guest, `tests/guests/wat/NAME.wat`, assembled.
pub fn wat(name: &str) -> Vec<u8> {
    let path = guests_dir().join(format!("wat/{name}.wat"));
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn caps(entries: &[(&str, &str)]) -> CapabilityMap {
    CapabilityMap::from_entries(
        entries
            .iter()
            .map(|(p, r)| (CapPath::parse(p).unwrap(), r.parse::<Rights>().unwrap())),
    )
}

/// The rights the standard layout gives the program under test.
pub fn program_caps() -> CapabilityMap {
    caps(&[
        ("/in/", "r"),
        ("/out/", "rwa"),
        ("/out/ro/", "r"),
        ("/secret/", ""),
        ("stdin", "r"),
        ("stdout", "w"),
        ("stderr", "w"),
    ])
}

pub const DATA: &[u8] = b"hello, world\n";
pub const SECRET: &[u8] = b"top secret";
pub const STDIN: &[u8] = b"line one\nline two\n";

/// The standard layout (see `tests/guests/src/wasi_suite.c`).
pub fn layout() -> Vfs {
    let vfs = Vfs::default();
    let admin = vfs.handle(caps(&[("/", "rwa"), ("stdin", "rw")]));
    admin.write_file("/in/data.txt", DATA).unwrap();
    admin.write_file("/out/ro/keep.txt", b"keep").unwrap();
    admin.write_file("/secret/key.txt", SECRET).unwrap();
    admin.write_file("stdin", STDIN).unwrap();
    vfs
}

/// One entry of a VFS snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Dir,
    File(Vec<u8>),
    Symlink(String),
}

/// Every path in the VFS with its contents (timestamps excluded: they are not part of the
/// program's deterministic behaviour unless it sets them, which the suite checks itself).
pub fn snapshot(vfs: &Vfs) -> BTreeMap<String, Node> {
    let fs = vfs.lock();
    let mut out = BTreeMap::new();
    let mut stack = vec![(String::new(), ROOT_INO)];
    while let Some((path, ino)) = stack.pop() {
        for entry in fs.read_dir(ino).unwrap() {
            let p = format!("{path}/{}", entry.name);
            let node = match entry.file_type {
                FileType::Directory => {
                    stack.push((p.clone(), entry.ino));
                    Node::Dir
                }
                FileType::RegularFile => {
                    Node::File(fs.with_contents(entry.ino, |d| d.to_vec()).unwrap())
                }
                FileType::Symlink => Node::Symlink(fs.readlink(entry.ino).unwrap().to_string()),
                FileType::CharacterDevice => continue,
            };
            out.insert(p, node);
        }
    }
    out
}

/// Everything observable about one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub result: Result<i32, EngineError>,
    pub stdout: String,
    pub stderr: String,
    pub files: BTreeMap<String, Node>,
}

pub struct Setup {
    pub limits: Limits,
    pub caps: CapabilityMap,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub clock: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            limits: Limits::default(),
            caps: program_caps(),
            args: Vec::new(),
            env: vec![
                ("GREETING".into(), "hello".into()),
                ("EMPTY".into(), String::new()),
            ],
            clock: false,
        }
    }
}

pub fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Runs `wasm` in a fresh standard layout.
pub fn observe(strategy: Strategy, name: &str, wasm: &[u8], setup: &Setup) -> Observed {
    let engine = Engine::new(strategy, setup.limits.clone()).unwrap();
    observe_with(&engine, &layout(), name, wasm, setup)
}

pub fn observe_with(
    engine: &Engine,
    vfs: &Vfs,
    name: &str,
    wasm: &[u8],
    setup: &Setup,
) -> Observed {
    let invocation = Invocation {
        program_name: name.to_string(),
        args: setup.args.clone(),
        env: setup.env.clone(),
        enable_clock: setup.clock,
        trace: false,
    };
    let wasi = WasiCtx::new(
        engine.wasi_config(&invocation),
        vfs.handle(setup.caps.clone()),
    )
    .unwrap();
    let finished = engine.run(wasm, wasi);
    let observed = Observed {
        result: finished.result.map(|o| o.exit_code),
        stdout: String::from_utf8_lossy(&finished.wasi.stdout()).into_owned(),
        stderr: String::from_utf8_lossy(&finished.wasi.stderr()).into_owned(),
        files: BTreeMap::new(),
    };
    drop(finished.wasi);
    Observed {
        files: snapshot(vfs),
        ..observed
    }
}

/// Runs a group of the WASI suite and fails with its output unless every check passed.
pub fn suite(strategy: Strategy, group_args: &[&str], setup: Setup) -> Observed {
    let setup = Setup {
        args: args(group_args),
        ..setup
    };
    let o = observe(strategy, "wasi_suite.wasm", &fixture("wasi_suite"), &setup);
    assert!(
        o.result == Ok(0) && !o.stdout.contains("FAIL") && o.stdout.contains("\n0 failed\n"),
        "{strategy}: wasi_suite {group_args:?} -> {:?}\nstdout:\n{}\nstderr:\n{}",
        o.result,
        o.stdout,
        o.stderr
    );
    o
}
