//! Whole-process benchmark of the end-to-end path: the attestation service, the server and the
//! runtime in its `linux` isolate on loopback, and principals using the client library.
//!
//! Measures attested start, session setup, provisioning and retrieval throughput, concurrent
//! sessions and the runtime's peak RSS after a large write. Prints a table, or JSON with
//! `--json`.
//!
//! ```text
//! cargo build --release -p veracruz-runtime
//! cargo bench -p veracruz-testbed --bench e2e [-- --json]
//! ```
//!
//! Environment: `VERACRUZ_RUNTIME` (path of the runtime binary; default: `veracruz-runtime` in
//! the target directory of this executable), `VERACRUZ_BENCH_BIG_MIB` (size of the large file,
//! default 1024), `VERACRUZ_VFS_QUOTA_BYTES` (default here: large file + 1 GiB), and for
//! choosing buffer sizes `VERACRUZ_BENCH_CHUNK_KIB` (the client's chunk, default 256) and
//! `VERACRUZ_BENCH_RELAY_KIB` (the relay's read size, default 64).

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use veracruz_client::{Client, ClientOptions, Identity};
use veracruz_testbed::{Deployment, PrincipalSetup, ProgramSetup, Setup};

const STARTS: usize = 5;
const SESSIONS: usize = 50;
const SMALL_MIB: u64 = 64;
const SMALL_REPS: usize = 3;
const THREADS: usize = 8;
const SESSIONS_PER_THREAD: usize = 25;
const MIB: u64 = 1 << 20;

/// Generates `len` bytes of a fixed pseudo-random pattern without holding them in memory.
struct Pattern {
    block: Vec<u8>,
    pos: usize,
    left: u64,
}

impl Pattern {
    fn new(len: u64) -> Self {
        let mut block = vec![0u8; 1 << 20];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for b in block.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        Pattern {
            block,
            pos: 0,
            left: len,
        }
    }
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() && self.left > 0 {
            let n = (buf.len() - done)
                .min(self.block.len() - self.pos)
                .min(usize::try_from(self.left).unwrap_or(usize::MAX));
            buf[done..done + n].copy_from_slice(&self.block[self.pos..self.pos + n]);
            self.pos = (self.pos + n) % self.block.len();
            self.left -= n as u64;
            done += n;
        }
        Ok(done)
    }
}

/// Counts what is written and drops it.
#[derive(Default)]
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn runtime_path() -> PathBuf {
    if let Some(p) = std::env::var_os("VERACRUZ_RUNTIME") {
        return PathBuf::from(p);
    }
    // target/release/deps/e2e-<hash> -> target/release/veracruz-runtime
    let exe = std::env::current_exe().expect("the bench knows its own path");
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    dir.join("veracruz-runtime")
}

fn example(name: &str) -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/wasm/{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn setup() -> Setup {
    let mut s = Setup::new(
        vec![
            PrincipalSetup::new(
                "provider",
                &["program-provider"],
                &[("/program/intersection-sum.wasm", "wx")],
            ),
            PrincipalSetup::new("owner", &["data-provider"], &[("/input/", "rw")]),
        ],
        vec![ProgramSetup {
            path: "/program/intersection-sum.wasm".into(),
            wasm: example("intersection-sum"),
            capabilities: vec![
                ("/input/".into(), "r".into()),
                ("/output/".into(), "w".into()),
            ],
        }],
    );
    s.execution.max_memory_mib = 2048;
    s.relay_chunk_bytes = relay_chunk_bytes();
    s
}

/// The relay's read size: the default, or `VERACRUZ_BENCH_RELAY_KIB` when measuring.
fn relay_chunk_bytes() -> usize {
    env_kib("VERACRUZ_BENCH_RELAY_KIB").unwrap_or(veracruz_host::relay::RELAY_CHUNK_BYTES)
}

fn env_kib(name: &str) -> Option<usize> {
    std::env::var(name).ok().map(|v| {
        v.parse::<usize>()
            .unwrap_or_else(|_| panic!("{name}=`{v}` is not a number of KiB"))
            * 1024
    })
}

/// The client options of every transfer: the chunk size can be set for measuring.
fn transfer_options() -> ClientOptions {
    let mut o = ClientOptions::default();
    if let Some(chunk) = env_kib("VERACRUZ_BENCH_CHUNK_KIB") {
        o.chunk_bytes = chunk;
    }
    o
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// `VmHWM` and `VmRSS` of a process, in bytes.
fn memory_of(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

fn write_file(d: &Deployment, path: &str, len: u64) -> f64 {
    let mut c = d
        .client_with("owner", &transfer_options())
        .expect("owner connects");
    let t = Instant::now();
    c.write_file(path, Pattern::new(len), len, &mut |_, _| {})
        .unwrap_or_else(|e| panic!("writing {len} bytes to {path}: {e}"));
    let s = secs(t.elapsed());
    let _ = c.close();
    s
}

fn read_file(d: &Deployment, path: &str, len: u64) -> f64 {
    let mut c = d.client("owner").expect("owner connects");
    let mut sink = Counter::default();
    let t = Instant::now();
    let n = c
        .read_file(path, &mut sink, &mut |_, _| {})
        .unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let s = secs(t.elapsed());
    assert_eq!(n, len, "read size of {path}");
    assert_eq!(sink.0, len, "bytes received from {path}");
    let _ = c.close();
    s
}

fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let runtime = runtime_path();
    if !runtime.is_file() {
        eprintln!(
            "no runtime at {}: run `cargo build --release -p veracruz-runtime` first \
             (with the same CARGO_TARGET_DIR), or set VERACRUZ_RUNTIME",
            runtime.display()
        );
        std::process::exit(2);
    }
    let big_mib: u64 = std::env::var("VERACRUZ_BENCH_BIG_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let big = big_mib * MIB;
    if std::env::var_os("VERACRUZ_VFS_QUOTA_BYTES").is_none() {
        // Before any thread is started; the isolate passes it on to the runtime.
        std::env::set_var("VERACRUZ_VFS_QUOTA_BYTES", (big + 1024 * MIB).to_string());
    }
    let setup = setup();
    let note = |s: &str| {
        if !json {
            eprintln!("{s}");
        }
    };
    note(&format!("runtime: {}", runtime.display()));

    // 1. Attested start: a fresh deployment each time; the last one is kept.
    let mut dirs = Vec::new();
    let mut starts = Vec::new();
    let mut deployment = None;
    for i in 0..STARTS {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let t = Instant::now();
        let d = Deployment::start(&setup, &runtime, dir.path()).expect("the deployment starts");
        starts.push(secs(t.elapsed()));
        note(&format!("start {}: {:.3} s", i + 1, starts[i]));
        deployment = Some(d);
        dirs.push(dir);
    }
    let d = deployment.expect("at least one start");
    let start_median = median(starts.clone());

    // 2. Session setup.
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        let t = Instant::now();
        let c = d.client("owner").expect("owner connects");
        sessions.push(secs(t.elapsed()));
        let _ = c.close();
    }
    let session_median = median(sessions.clone());
    note(&format!(
        "session setup median: {:.3} ms",
        session_median * 1e3
    ));

    // 3. Provisioning: the large file first, on a runtime that holds no file yet.
    let before = memory_of(d.runtime_pid);
    let big_write = write_file(&d, "/input/big.bin", big);
    let after = memory_of(d.runtime_pid);
    note(&format!(
        "write {big_mib} MiB: {:.1} MB/s",
        mb_per_s(big, big_write)
    ));

    // The small file after the large one, so that the large write's peak RSS is not
    // raised by an earlier file.
    let small = SMALL_MIB * MIB;
    let mut small_writes = Vec::new();
    for _ in 0..SMALL_REPS {
        small_writes.push(write_file(&d, "/input/small.bin", small));
    }
    let small_write = median(small_writes.clone());
    note(&format!(
        "write {SMALL_MIB} MiB: {:.1} MB/s",
        mb_per_s(small, small_write)
    ));

    // 4. Retrieval.
    let big_read = read_file(&d, "/input/big.bin", big);
    note(&format!(
        "read {big_mib} MiB: {:.1} MB/s",
        mb_per_s(big, big_read)
    ));

    // 5. Concurrent sessions.
    let owner = d.principals["owner"].clone();
    let policy = &d.policy;
    let policy_bytes = &d.policy_bytes;
    let t = Instant::now();
    let failures: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let owner = owner.clone();
                scope.spawn(move || {
                    let mut failed = 0;
                    for _ in 0..SESSIONS_PER_THREAD {
                        let identity = Identity::from_pem(
                            owner.certificate_pem.as_bytes(),
                            owner.key_pem.as_bytes(),
                        )
                        .expect("generated identities parse");
                        let ok = Client::connect(
                            policy,
                            policy_bytes,
                            identity,
                            &ClientOptions::default(),
                        )
                        .and_then(|mut c| {
                            c.status()?;
                            c.close()
                        });
                        if ok.is_err() {
                            failed += 1;
                        }
                    }
                    failed
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a session thread"))
            .sum()
    });
    let concurrent = secs(t.elapsed());
    let total = THREADS * SESSIONS_PER_THREAD;
    let sessions_per_s = (total - failures) as f64 / concurrent;
    note(&format!(
        "{total} sessions from {THREADS} threads: {sessions_per_s:.1}/s, {failures} failed"
    ));

    let (hwm, rss) = after.unwrap_or((0, 0));
    let (hwm_before, _) = before.unwrap_or((0, 0));
    let report = serde_json::json!({
        "runtime": runtime.display().to_string(),
        "chunk_bytes": transfer_options().chunk_bytes,
        "relay_chunk_bytes": relay_chunk_bytes(),
        "attested_start_s": { "median": start_median, "runs": starts },
        "session_setup_ms": {
            "median": session_median * 1e3,
            "min": sessions.iter().cloned().fold(f64::INFINITY, f64::min) * 1e3,
            "max": sessions.iter().cloned().fold(0.0, f64::max) * 1e3,
            "runs": SESSIONS,
        },
        "provision_small": {
            "bytes": small, "median_s": small_write, "mb_per_s": mb_per_s(small, small_write),
            "runs_s": small_writes,
        },
        "provision_big": { "bytes": big, "s": big_write, "mb_per_s": mb_per_s(big, big_write) },
        "retrieve_big": { "bytes": big, "s": big_read, "mb_per_s": mb_per_s(big, big_read) },
        "concurrent": {
            "threads": THREADS, "sessions": total, "failed": failures, "s": concurrent,
            "sessions_per_s": sessions_per_s,
        },
        "runtime_memory": {
            "pid": d.runtime_pid,
            "vm_hwm_before_big_write": hwm_before,
            "vm_hwm_after_big_write": hwm,
            "vm_rss_after_big_write": rss,
            "hwm_over_file_size": hwm as f64 / big as f64,
        },
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        let mib = |b: u64| b as f64 / MIB as f64;
        println!("| measure | figure |");
        println!("|---|---:|");
        println!(
            "| attested start (median of {STARTS}) | {:.3} s |",
            start_median
        );
        println!(
            "| session setup (median of {SESSIONS}) | {:.2} ms |",
            session_median * 1e3
        );
        println!(
            "| provisioning {SMALL_MIB} MiB (median of {SMALL_REPS}) | {:.0} MB/s |",
            mb_per_s(small, small_write)
        );
        println!(
            "| provisioning {big_mib} MiB | {:.0} MB/s |",
            mb_per_s(big, big_write)
        );
        println!(
            "| retrieval {big_mib} MiB | {:.0} MB/s |",
            mb_per_s(big, big_read)
        );
        println!(
            "| concurrent sessions ({THREADS} threads × {SESSIONS_PER_THREAD}, {failures} failed) | {:.0} /s |",
            sessions_per_s
        );
        println!(
            "| runtime VmHWM after {big_mib} MiB write | {:.0} MiB ({:.2} × file; before: {:.0} MiB) |",
            mib(hwm),
            hwm as f64 / big as f64,
            mib(hwm_before)
        );
    }
    drop(d);
    drop(dirs);
}
