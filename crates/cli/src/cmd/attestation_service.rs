//! `veracruz attestation-service`: create the service's CA and configuration, and run it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use veracruz_attestation_service::{AttestationService, Config};

#[derive(Subcommand)]
pub enum AttestationServiceCommand {
    /// Create a CA (P-256 key, mode 0600, self-signed certificate) and a commented configuration.
    Init {
        /// Directory to create them in (created if missing; existing files are never replaced).
        #[arg(long)]
        dir: PathBuf,
    },
    /// Serve the attestation API until interrupted (SIGINT or SIGTERM).
    Run {
        /// The configuration file `init` wrote (and you edited).
        #[arg(long)]
        config: PathBuf,
    },
}

pub fn run(cmd: AttestationServiceCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AttestationServiceCommand::Init { dir } => {
            let out = veracruz_attestation_service::init(&dir).with_context(|| {
                format!("initialising the attestation service in {}", dir.display())
            })?;
            println!("CA certificate: {}", out.ca_certificate.display());
            println!("CA key:         {} (mode 0600)", out.ca_key.display());
            println!("configuration:  {}", out.config.display());
            println!(
                "Edit the configuration to accept platforms and measurements, then run:\n  \
                 veracruz attestation-service run --config {}",
                out.config.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        AttestationServiceCommand::Run { config } => {
            let config =
                Config::load(&config).with_context(|| format!("loading {}", config.display()))?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(serve(config))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let service = AttestationService::new(config)
        .await
        .context("starting the attestation service")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    eprintln!(
        "attestation service listening on http://{}",
        listener.local_addr()?
    );
    veracruz_attestation_service::serve_with_shutdown(
        Arc::new(service),
        listener,
        shutdown_signal(),
    )
    .await
    .context("serving the attestation API")?;
    eprintln!("attestation service stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM so that in-flight requests finish and the database closes.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = interrupt => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; stopping on SIGINT only");
            let _ = interrupt.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_then_config_loads_and_a_second_init_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("svc");
        let code = run(AttestationServiceCommand::Init {
            dir: target.clone(),
        })
        .unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        let config =
            Config::load(&target.join(veracruz_attestation_service::config::CONFIG_FILE)).unwrap();
        assert_eq!(config.ca_key, target.join("ca.key"));
        let err = run(AttestationServiceCommand::Init { dir: target }).unwrap_err();
        assert!(
            format!("{err:#}").contains("refusing to overwrite"),
            "{err:#}"
        );
    }

    #[test]
    fn run_names_a_missing_configuration() {
        let err = run(AttestationServiceCommand::Run {
            config: PathBuf::from("/nonexistent/attestation-service.toml"),
        })
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent/attestation-service.toml"),
            "{err:#}"
        );
    }
}
