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
    /// Build, validate and inspect computation policies.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
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
        Command::Policy(c) => cmd::policy::run(c),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
