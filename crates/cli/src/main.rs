//! `veracruz`: the one user-facing binary for everything outside the isolate.
//!
//! A thin layer over the library crates: each subcommand lives in `cmd/` and does
//! argument handling, file I/O and printing; the logic lives in the libraries.

use clap::{Parser, Subcommand};

mod cmd;

#[derive(Parser)]
#[command(
    name = "veracruz",
    version,
    about = "Privacy-preserving collaborative computation in an attested WebAssembly runtime",
    long_about = "Mutually distrusting parties agree on a policy, provision a WebAssembly program and \
                  their secret data into an attested runtime, and read only the results the policy \
                  allows.\n\nStart with `veracruz identity new`, then `veracruz policy new`."
)]
struct Cli {
    /// Log verbosity (error, warn, info, debug, trace); also read from RUST_LOG.
    #[arg(long, global = true, default_value = "warn")]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create and inspect principal identities (a P-256 key and a self-signed certificate).
    #[command(subcommand)]
    Identity(cmd::identity::IdentityCommand),
    /// Run the attestation service: the CA that certifies attested runtimes.
    #[command(subcommand)]
    AttestationService(cmd::attestation_service::AttestationServiceCommand),
    /// Build, validate and inspect computation policies.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
    /// Verify TEE evidence (SEV-SNP, TDX, SGX, Nitro, CCA) offline, as the attestation service does.
    #[command(subcommand)]
    Attestation(cmd::attestation::AttestationCommand),
    /// Connect to an attested runtime as a principal: provision, execute, read, consent.
    Client(Box<cmd::client::ClientArgs>),
    /// Verify runtime-signed receipts offline.
    #[command(subcommand)]
    Receipt(cmd::receipt::ReceiptCommand),
    /// Run a WebAssembly program or pipeline locally, as the runtime would.
    Run(cmd::run::RunArgs),
    /// Run one attested collaborative computation end to end on this machine (four parties,
    /// the attestation service, the isolated runtime) and show what each party did and checked.
    Demo(cmd::demo::DemoArgs),
    /// Start the delegate's server: the isolated runtime, its attestation, and the relay.
    Server(cmd::server::ServerArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cli.log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let result = match cli.command {
        Command::Identity(c) => cmd::identity::run(c),
        Command::AttestationService(c) => cmd::attestation_service::run(c),
        Command::Policy(c) => cmd::policy::run(c),
        Command::Attestation(c) => cmd::attestation::run(c),
        Command::Client(c) => cmd::client::run(*c),
        Command::Receipt(c) => cmd::receipt::run(c),
        Command::Run(c) => cmd::run::run(c),
        Command::Server(c) => cmd::server::run(c),
        Command::Demo(c) => cmd::demo::run(c),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
