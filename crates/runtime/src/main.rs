//! `veracruz-runtime`: the isolate's program. The host starts it with the host channel as its
//! standard input (a Unix stream socket) and its log on standard error.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use veracruz_runtime::LinuxEvidence;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VERACRUZ_RUNTIME_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    // The measurement is taken before anything else, from the file the kernel executed.
    let measurement = match veracruz_attestation::linux::measure_file("/proc/self/exe".as_ref()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("veracruz-runtime: cannot measure its own executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    // In the `linux` isolate the channel is the inherited socket the isolate names; started as
    // a plain process (`--isolate none`, for debugging) it is standard input.
    let isolated = std::env::var_os(veracruz_isolate::SOCKET_FD_ENV).is_some();
    let socket = if isolated {
        match veracruz_isolate::take_inherited_socket() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("veracruz-runtime: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        match std::io::stdin().as_fd().try_clone_to_owned() {
            Ok(fd) => UnixStream::from(fd),
            Err(e) => {
                eprintln!("veracruz-runtime: standard input is not the host channel: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    // A hardware TEE's evidence interface is looked for first (before confinement, which
    // forbids opening devices); without one, the platform is the insecure `linux` isolate.
    let evidence: Box<dyn veracruz_runtime::EvidenceSource> =
        match veracruz_evidence::provider::probe("/".as_ref()) {
            Ok(provider) => {
                tracing::info!("evidence from {}", provider.name());
                Box::new(veracruz_runtime::TeeEvidence(provider))
            }
            Err(e) => {
                tracing::info!("no hardware evidence interface ({e}); platform `linux`");
                Box::new(LinuxEvidence { measurement })
            }
        };
    let confine = || {
        if isolated {
            veracruz_isolate::confine_self(&veracruz_isolate::SeccompProfile::runtime())
                .map_err(|e| e.to_string())
        } else {
            tracing::warn!("running unconfined: no seccomp filter is installed");
            Ok(())
        }
    };
    match veracruz_runtime::serve(socket, evidence.as_ref(), confine) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("veracruz-runtime: {e}");
            ExitCode::FAILURE
        }
    }
}
