//! `veracruz demo`: one attested collaborative computation, end to end, on this machine.
//!
//! Four principals compute an intersection sum: a program provider supplies the program, a
//! retailer its customers' purchases, an advertiser the customers who saw an advert, and an
//! analyst receives the one number: how much those customers spent. Every party's step goes
//! through the real attestation service, server, isolate, TLS and runtime.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use veracruz_testbed::{Deployment, Isolation, PrincipalSetup, ProgramSetup, Setup};

#[derive(Args)]
pub struct DemoArgs {
    /// Keep the demo's files (identities, CA, policy, audit database) in this directory
    /// instead of a temporary one that is removed afterwards.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// The intersection-sum program; default: examples/wasm/intersection-sum.wasm of this
    /// source tree.
    #[arg(long)]
    program: Option<PathBuf>,
    /// The runtime executable; default: `veracruz-runtime` next to this program.
    #[arg(long)]
    runtime: Option<PathBuf>,
    /// Purchases the retailer provides (the advertiser's list is derived from it).
    #[arg(long, default_value_t = 10_000)]
    purchases: u32,
}

const PROGRAM: &str = "/program/intersection-sum.wasm";

fn default_program() -> Result<PathBuf> {
    let candidates = [
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/wasm/intersection-sum.wasm"),
        PathBuf::from("examples/wasm/intersection-sum.wasm"),
    ];
    candidates
        .into_iter()
        .find(|p| p.exists())
        .context("examples/wasm/intersection-sum.wasm not found; pass --program")
}

/// Deterministic demo data: purchases by customer, and the customers who saw the advert.
/// Returns the two CSV files and the expected answer in cents, computed independently here.
fn demo_data(purchases: u32) -> (String, String, u64) {
    let mut spent_by_viewers = 0u64;
    let mut purchase_csv = String::from("customer_id,amount\n");
    let mut advert_csv = String::from("customer_id\n");
    let customers = (purchases / 4).max(1);
    let saw_advert = |c: u32| c % 3 == 0;
    for c in 0..customers {
        if saw_advert(c) {
            let _ = writeln!(advert_csv, "customer-{c:06}");
        }
    }
    // A few viewers who never bought anything.
    for extra in 0..5 {
        let _ = writeln!(advert_csv, "viewer-only-{extra}");
    }
    for i in 0..purchases {
        let c = (i.wrapping_mul(2_654_435_761)) % customers;
        let cents = 100 + u64::from(i.wrapping_mul(40_503) % 20_000);
        let _ = writeln!(
            purchase_csv,
            "customer-{c:06},{}.{:02}",
            cents / 100,
            cents % 100
        );
        if saw_advert(c) {
            spent_by_viewers += cents;
        }
    }
    (purchase_csv, advert_csv, spent_by_viewers)
}

fn step(who: &str, what: impl std::fmt::Display) {
    println!("  [{who:>16}] {what}");
}

pub fn run(args: DemoArgs) -> Result<ExitCode> {
    let runtime = match &args.runtime {
        Some(r) => r.clone(),
        None => super::server::default_runtime()?,
    };
    let program_path = match &args.program {
        Some(p) => p.clone(),
        None => default_program()?,
    };
    let program = std::fs::read(&program_path)
        .with_context(|| format!("reading {}", program_path.display()))?;
    let temp;
    let dir: &Path = match &args.keep {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            d
        }
        None => {
            temp = tempfile::tempdir().context("creating a temporary directory")?;
            temp.path()
        }
    };

    println!("Veracruz demo: an intersection sum among four mutually distrusting parties\n");
    let setup = Setup {
        inputs: vec!["/input/purchases.csv".into(), "/input/adverts.csv".into()],
        isolation: Isolation::Linux,
        ..Setup::new(
            vec![
                PrincipalSetup::new("program-provider", &["program-provider"], &[(PROGRAM, "w")]),
                PrincipalSetup::new(
                    "retailer",
                    &["data-provider"],
                    &[("/input/purchases.csv", "w"), (PROGRAM, "x")],
                ),
                PrincipalSetup::new(
                    "advertiser",
                    &["data-provider"],
                    &[("/input/adverts.csv", "w")],
                ),
                PrincipalSetup::new("analyst", &["result-receiver"], &[("/output/", "r")]),
            ],
            vec![ProgramSetup {
                path: PROGRAM.into(),
                wasm: program.clone(),
                capabilities: vec![
                    ("/input/".into(), "r".into()),
                    ("/output/".into(), "w".into()),
                ],
            }],
        )
    };
    println!("1. Setting up: identities, the attestation service's CA, the policy, the server");
    let d = Deployment::start(&setup, &runtime, dir).context("starting the deployment")?;
    for name in d.principals.keys() {
        step(name, "has a fresh P-256 key and self-signed certificate");
    }
    step(
        "attestation",
        format!(
            "service listening at {} (audit database: SQLite)",
            d.attestation_url
        ),
    );
    step(
        "policy",
        format!("{} (hash {})", d.policy_path.display(), d.policy.hash_hex()),
    );
    for (who, path, rights) in d.policy.rights_table() {
        step("policy", format!("{who} may `{rights}` {path}"));
    }
    step(
        "server",
        format!(
            "runtime pid {} in the linux isolate, measurement {}, attested and listening on {}",
            d.runtime_pid,
            hex::encode(d.measurement),
            d.server_addr
        ),
    );
    step(
        "server",
        "NOTE: the linux platform's evidence is self-asserted (insecure; for development)",
    );

    println!("\n2. Each party connects, checks the runtime's certificate against its own policy, then acts");
    let connect = |who: &str| -> Result<veracruz_client::Client> {
        let c = d.client(who).with_context(|| format!("{who} connecting"))?;
        let id = c.runtime();
        step(
            who,
            format!(
                "verified: chain to the policy's CA, platform {}, measurement accepted, policy hash {}…, valid until Unix {}",
                id.platform,
                &hex::encode(id.policy_hash)[..16],
                id.not_after
            ),
        );
        Ok(c)
    };
    let (purchases, adverts, expected_cents) = demo_data(args.purchases);

    let mut c = connect("program-provider")?;
    let msg = c.write_file(
        PROGRAM,
        program.as_slice(),
        program.len() as u64,
        &mut |_, _| {},
    )?;
    step("program-provider", msg);
    let mut c = connect("retailer")?;
    let msg = c.write_file(
        "/input/purchases.csv",
        purchases.as_bytes(),
        purchases.len() as u64,
        &mut |_, _| {},
    )?;
    step("retailer", msg);
    let mut c = connect("advertiser")?;
    let msg = c.write_file(
        "/input/adverts.csv",
        adverts.as_bytes(),
        adverts.len() as u64,
        &mut |_, _| {},
    )?;
    step("advertiser", msg);
    let mut c = connect("retailer")?;
    let outcome = c.execute_program(PROGRAM)?;
    step("retailer", &outcome.reason);
    if outcome.exit_code != 0 {
        bail!("the program exited with code {}", outcome.exit_code);
    }

    println!("\n3. The analyst reads the result; nobody else may");
    let mut c = connect("analyst")?;
    let mut result = Vec::new();
    c.read_file("/output/intersection-sum.json", &mut result, &mut |_, _| {})?;
    let text = String::from_utf8_lossy(&result);
    let compact = text.split_whitespace().collect::<Vec<_>>().join(" ");
    step("analyst", format!("result: {compact}"));
    let expected = format!("\"{}.{:02}\"", expected_cents / 100, expected_cents % 100);
    if !text.contains(&expected) {
        bail!("the result does not match the independently computed total {expected}");
    }
    step(
        "analyst",
        format!("matches the total computed outside the isolate ({expected})"),
    );
    let mut r = connect("retailer")?;
    match r.read_file(
        "/output/intersection-sum.json",
        &mut Vec::new(),
        &mut |_, _| {},
    ) {
        Err(e) => step("retailer", format!("reading the result is refused: {e}")),
        Ok(_) => bail!("the retailer could read the result, which the policy forbids"),
    }
    let receipt = c.receipt(0)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let body = veracruz_client::verify_receipt(&receipt, &d.policy, now)?;
    step(
        "analyst",
        format!(
            "receipt verified: run {} of program {}… on {} inputs, exit code {}",
            body.round,
            &hex::encode(&body.programs[0].sha256)[..16],
            body.inputs.len(),
            body.exit_code
        ),
    );

    println!("\n4. Everyone votes to shut down; the isolate exits and its secrets are gone");
    for who in ["program-provider", "retailer", "advertiser", "analyst"] {
        let mut c = connect(who)?;
        step(who, c.vote_shutdown()?);
    }
    let mut d = d;
    match d.wait_server(std::time::Duration::from_secs(10)) {
        Some(Ok(_)) => step("server", "the runtime shut down and exited"),
        other => bail!("the server did not stop cleanly: {other:?}"),
    }
    if args.keep.is_some() {
        println!("\nFiles kept in {}", dir.display());
    }
    println!("\nDemo complete.");
    Ok(ExitCode::SUCCESS)
}
