//! The documented command-line flow, as separate processes: `attestation-service init/run`,
//! `identity new`, `policy new`, `server`, `client` for each principal, `receipt verify`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const VERACRUZ: &str = env!("CARGO_BIN_EXE_veracruz");

/// Kills a background process when the test ends, however it ends.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn runtime() -> PathBuf {
    let path = Path::new(VERACRUZ).with_file_name("veracruz-runtime");
    assert!(
        path.exists(),
        "{} is missing: build it first (`cargo build -p veracruz-runtime`; `cargo test --workspace` does)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(VERACRUZ)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "veracruz {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("nothing listens on port {port}");
}

#[test]
fn the_documented_flow_through_every_command() {
    let runtime = runtime();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let measurement = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(std::fs::read(&runtime).unwrap()))
    };

    // The attestation service, configured to accept this runtime on the insecure platform.
    run(dir, &["attestation-service", "init", "--dir", "svc"]);
    let service_port = free_port();
    let config_path = dir.join("svc/attestation-service.toml");
    let config = std::fs::read_to_string(&config_path)
        .unwrap()
        .replace(
            "listen = \"127.0.0.1:3010\"",
            &format!("listen = \"127.0.0.1:{service_port}\""),
        )
        .replace("allow_insecure = false", "allow_insecure = true")
        .replace(
            "accepted_measurements = []",
            &format!("accepted_measurements = [\"{measurement}\"]"),
        );
    std::fs::write(&config_path, config).unwrap();
    let _service = Background(
        Command::new(VERACRUZ)
            .current_dir(dir)
            .args([
                "attestation-service",
                "run",
                "--config",
                "svc/attestation-service.toml",
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(service_port);

    // Identities and the policy.
    for name in ["alice", "bob"] {
        run(dir, &["identity", "new", name, "--out", "ids"]);
    }
    let program =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/wasm/intersection-sum.wasm");
    let server_port = free_port();
    run(
        dir,
        &[
            "policy",
            "new",
            "--principal",
            "alice=ids/alice.crt",
            "--principal",
            "bob=ids/bob.crt",
            "--program",
            &format!("/program/sum.wasm={}", program.display()),
            "--cap",
            "alice:/program/sum.wasm=wx",
            "--cap",
            "alice:/output/=r",
            "--cap",
            "bob:/input/=w",
            "--program-cap",
            "/program/sum.wasm:/input/=r",
            "--program-cap",
            "/program/sum.wasm:/output/=w",
            "--input",
            "/input/purchases.csv",
            "--input",
            "/input/adverts.csv",
            "--attestation-url",
            &format!("http://127.0.0.1:{service_port}"),
            "--attestation-ca",
            "svc/ca.pem",
            "--allow-insecure",
            "--measure-runtime",
            runtime.to_str().unwrap(),
            "--server",
            &format!("127.0.0.1:{server_port}"),
            "--fuel",
            "10000000000",
            "--out",
            "policy.json",
        ],
    );

    // The delegate's server: it says when the runtime is attested and listening.
    let mut server = Background(
        Command::new(VERACRUZ)
            .current_dir(dir)
            .args([
                "server",
                "--policy",
                "policy.json",
                "--runtime",
                runtime.to_str().unwrap(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(server.0.stdout.take().unwrap());
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    // Keep draining the server's output so its later lines never meet a closed pipe.
    let drain = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut lines, &mut rest);
        rest
    });
    assert!(
        first.starts_with("ready: listening on 127.0.0.1:") && first.contains("INSECURE"),
        "{first}"
    );

    std::fs::write(
        dir.join("purchases.csv"),
        "customer_id,amount\nx,10.25\ny,1\nx,0.75\n",
    )
    .unwrap();
    std::fs::write(dir.join("adverts.csv"), "customer_id\nx\n").unwrap();
    let alice = [
        "client",
        "--policy",
        "policy.json",
        "--identity",
        "ids/alice.crt",
        "--key",
        "ids/alice.key",
    ];
    let bob = [
        "client",
        "--policy",
        "policy.json",
        "--identity",
        "ids/bob.crt",
        "--key",
        "ids/bob.key",
    ];
    let with = |base: &[&str], more: &[&str]| -> Vec<String> {
        base.iter().chain(more).map(|s| s.to_string()).collect()
    };
    fn args(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    let a = with(
        &alice,
        &[
            "--write",
            &format!("/program/sum.wasm={}", program.display()),
        ],
    );
    let out = run(dir, &args(&a));
    assert!(out.contains("linux") && out.contains(&measurement), "{out}");
    let b = with(
        &bob,
        &[
            "--write",
            "/input/purchases.csv=purchases.csv",
            "--write",
            "/input/adverts.csv=adverts.csv",
        ],
    );
    run(dir, &args(&b));
    let a = with(
        &alice,
        &[
            "--execute",
            "/program/sum.wasm",
            "--read",
            "/output/intersection-sum.json=result.json",
            "--receipt",
            "run1.receipt",
            "--json",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&run(dir, &args(&a))).unwrap();
    assert!(report.to_string().contains("exit_code"), "{report}");
    let result = std::fs::read_to_string(dir.join("result.json")).unwrap();
    assert!(result.contains("\"11.00\""), "{result}");

    let verified = run(
        dir,
        &[
            "receipt",
            "verify",
            "--policy",
            "policy.json",
            "run1.receipt",
            "--json",
        ],
    );
    let verified: serde_json::Value = serde_json::from_str(&verified).unwrap();
    assert_eq!(verified["verified"], true, "{verified}");

    // Both vote to shut down; the server then exits cleanly.
    run(dir, &args(&with(&bob, &["--shutdown"])));
    run(dir, &args(&with(&alice, &["--consent", "shutdown"])));
    let status = server.0.wait().unwrap();
    assert!(status.success(), "server ended with {status}");
    assert!(drain
        .join()
        .unwrap()
        .contains("shut down by its principals"));
}
