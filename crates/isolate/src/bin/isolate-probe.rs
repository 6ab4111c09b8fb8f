//! Test helper that plays the runtime inside the `linux` isolate and reports what it can and
//! cannot do, over the inherited socket, one line per answer.
//!
//! Usage (started by `veracruz_isolate::spawn`): `isolate-probe <tcp-port> <host-dir>`.
//!
//! 1. Like the runtime, it takes its socket and hashes `/proc/self/exe` before confinement,
//!    then reports what the namespaces alone allow: opening `/etc/passwd`, connecting to
//!    `127.0.0.1:<tcp-port>`, listing `<host-dir>`, the entries of `/`, creating a file in
//!    `/`, its hostname.
//! 2. On the line `confine` it calls `confine_self(&SeccompProfile::runtime())`.
//! 3. Then it runs commands, one per line: `dup`, `open PATH`, `connect PORT`, `exec PATH`,
//!    `spawn PATH`, `mount`, `thread`, `alloc BYTES`, `ping`, `sleep`, `exit CODE`.
//!    Answers are `ok ...` or `err <errno> <message>`. `spawn` and `mount` are expected to
//!    kill it (seccomp), so they have no answer.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};
use std::time::Duration;

use sha2::{Digest, Sha256};
use veracruz_isolate::{confine_self, take_inherited_socket, SeccompProfile};

fn outcome<T>(result: io::Result<T>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("err {} {e}", e.raw_os_error().unwrap_or(-1)),
    }
}

fn sha256_of(path: &str) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn connect(port: u16) -> io::Result<TcpStream> {
    TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_secs(2),
    )
}

fn alloc(bytes: usize) -> io::Result<usize> {
    let mut block: Vec<u8> = Vec::new();
    block
        .try_reserve_exact(bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::OutOfMemory, e.to_string()))?;
    // Touch every page so the memory is really committed, not just reserved.
    block.resize(bytes, 1);
    Ok(block.iter().step_by(4096).map(|b| usize::from(*b)).sum())
}

fn answer(command: &str) -> String {
    let (verb, arg) = command.split_once(' ').unwrap_or((command, ""));
    match verb {
        "ping" => "pong".to_owned(),
        // What UnixStream::try_clone does.
        "dup" => outcome(rustix::io::fcntl_dupfd_cloexec(io::stderr(), 0).map_err(io::Error::from)),
        "open" => outcome(File::open(arg)),
        "connect" => outcome(arg.parse().map_err(io::Error::other).and_then(connect)),
        // Command::exec does not fork: it is a plain execve of this process.
        "exec" => outcome::<()>(Err(Command::new(arg).exec())),
        "spawn" => outcome(Command::new(arg).spawn()),
        "mount" => outcome(
            rustix::mount::mount_change(c"/", rustix::mount::MountPropagationFlags::PRIVATE)
                .map_err(io::Error::from),
        ),
        "thread" => match std::thread::Builder::new()
            .name("probe-worker".into())
            .spawn(|| 6 * 7)
            .map(|h| h.join())
        {
            Ok(Ok(v)) => format!("ok {v}"),
            Ok(Err(_)) => "err -1 thread panicked".to_owned(),
            Err(e) => outcome::<()>(Err(e)),
        },
        "alloc" => outcome(arg.parse().map_err(io::Error::other).and_then(alloc)),
        "sleep" => loop {
            std::thread::sleep(Duration::from_secs(1));
        },
        "exit" => std::process::exit(arg.parse().unwrap_or(1)),
        _ => format!("err -1 unknown command {command:?}"),
    }
}

fn say(mut out: &UnixStream, line: &str) -> io::Result<()> {
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")
}

fn run(port: u16, host_dir: &str) -> io::Result<()> {
    // One descriptor for both directions (no dup), so the host sees exactly what it passed.
    let socket = take_inherited_socket().map_err(io::Error::other)?;
    let out = &socket;
    let mut input = BufReader::new(&socket);

    // Phase 1: after start, before confinement, like the runtime hashing itself.
    say(out, &format!("exe-sha256 {}", sha256_of("/proc/self/exe")?))?;
    say(
        out,
        &format!("pre-open-passwd {}", outcome(File::open("/etc/passwd"))),
    )?;
    say(out, &format!("pre-connect {}", outcome(connect(port))))?;
    say(
        out,
        &format!("pre-host-dir {}", outcome(std::fs::read_dir(host_dir))),
    )?;
    let mut root: Vec<String> = std::fs::read_dir("/")?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<io::Result<_>>()?;
    root.sort();
    say(out, &format!("pre-root {}", root.join(",")))?;
    say(
        out,
        &format!(
            "pre-write-root {}",
            outcome(File::create("/veracruz-probe"))
        ),
    )?;
    let uname = rustix::system::uname();
    say(
        out,
        &format!("pre-hostname {}", uname.nodename().to_string_lossy()),
    )?;

    // Phase 2: confinement, on the host's word.
    let mut line = String::new();
    input.read_line(&mut line)?;
    if line.trim() != "confine" {
        return Err(io::Error::other(format!(
            "expected `confine`, got {line:?}"
        )));
    }
    let profile = SeccompProfile::runtime();
    match confine_self(&profile) {
        Ok(()) => say(out, "confined")?,
        Err(e) => {
            say(out, &format!("err -1 {e}"))?;
            return Err(io::Error::other(e));
        }
    }

    // Phase 3: commands.
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        say(out, &answer(line.trim()))?;
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(port), Some(host_dir)) = (args.get(1).and_then(|p| p.parse().ok()), args.get(2))
    else {
        eprintln!(
            "usage: isolate-probe <tcp-port> <host-dir> (started by veracruz_isolate::spawn)"
        );
        return ExitCode::from(2);
    };
    match run(port, host_dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("isolate-probe: {e}");
            ExitCode::from(1)
        }
    }
}
