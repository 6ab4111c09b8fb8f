//! A complete Veracruz deployment on loopback, for the demo and the integration tests.
//!
//! [`Deployment::start`] makes identities for every principal, an attestation service CA and
//! configuration, a policy pinning the given programs and the runtime's measurement, starts
//! the attestation service (SQLite) and the delegate's server (the runtime in its isolate,
//! attested) on free ports, and hands out connected clients. Nothing is simulated: the same
//! binaries, protocols and checks run as in a real deployment, only all on one machine.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use veracruz_attestation_service::{AttestationService, Config, PlatformConfig};
use veracruz_client::{Client, ClientError, ClientOptions, Identity};
use veracruz_policy::capabilities::RawCapabilities;
use veracruz_policy::document::{
    AttestationSpec, ExecutionSpec, LifecycleSpec, PipelineSpec, PrincipalSpec, ProgramSpec,
    ServerSpec, TlsSpec,
};
use veracruz_policy::{Platform, Policy, PolicyDocument, Strategy, POLICY_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum TestbedError {
    #[error("i/o on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("identity: {0}")]
    Identity(String),
    #[error("policy: {0}")]
    Policy(#[from] veracruz_policy::PolicyError),
    #[error("attestation service: {0}")]
    Service(String),
    #[error("server: {0}")]
    Server(#[from] veracruz_host::ServerError),
    #[error("client: {0}")]
    Client(#[from] ClientError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TestbedError + '_ {
    move |source| TestbedError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// How to isolate the runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// The `linux` isolate (namespaces, seccomp, empty root).
    Linux,
    /// A plain process: only where a test needs to look inside the runtime.
    None,
}

/// One principal: a name and its capabilities (`path`, `rights`).
#[derive(Clone, Debug)]
pub struct PrincipalSetup {
    pub name: String,
    pub roles: Vec<String>,
    pub capabilities: Vec<(String, String)>,
}

impl PrincipalSetup {
    pub fn new(name: &str, roles: &[&str], capabilities: &[(&str, &str)]) -> Self {
        PrincipalSetup {
            name: name.to_string(),
            roles: roles.iter().map(|s| s.to_string()).collect(),
            capabilities: capabilities
                .iter()
                .map(|(p, r)| (p.to_string(), r.to_string()))
                .collect(),
        }
    }
}

/// A program of the computation: its VFS path, bytes (hashed into the policy) and
/// capabilities.
#[derive(Clone, Debug)]
pub struct ProgramSetup {
    pub path: String,
    pub wasm: Vec<u8>,
    pub capabilities: Vec<(String, String)>,
}

/// A pipeline of the computation.
#[derive(Clone, Debug)]
pub struct PipelineSetup {
    pub name: String,
    pub script: String,
    pub capabilities: Vec<(String, String)>,
}

/// Everything that varies between deployments.
#[derive(Clone, Debug)]
pub struct Setup {
    pub principals: Vec<PrincipalSetup>,
    pub programs: Vec<ProgramSetup>,
    pub pipelines: Vec<PipelineSetup>,
    pub inputs: Vec<String>,
    pub execution: ExecutionSpec,
    pub lifecycle: LifecycleSpec,
    pub isolation: Isolation,
    /// Lifetime of the runtime's certificate, seconds.
    pub certificate_lifetime_secs: u64,
    /// Whether the policy lists the runtime's real measurement (false: a different one).
    pub accept_runtime_measurement: bool,
    /// The server's relay read size (`veracruz_host::ServerOptions::relay_chunk_bytes`).
    pub relay_chunk_bytes: usize,
}

impl Setup {
    pub fn new(principals: Vec<PrincipalSetup>, programs: Vec<ProgramSetup>) -> Self {
        Setup {
            principals,
            programs,
            pipelines: Vec::new(),
            inputs: Vec::new(),
            execution: ExecutionSpec {
                strategy: Strategy::Jit,
                max_memory_mib: 64,
                fuel: Some(20_000_000_000),
                time_limit_ms: Some(30_000),
                max_output_bytes: 64 << 20,
                max_open_files: 64,
                enable_clock: false,
                hardware_nans: false,
                environment: BTreeMap::new(),
                arguments: Vec::new(),
            },
            lifecycle: LifecycleSpec::default(),
            isolation: Isolation::Linux,
            certificate_lifetime_secs: 3600,
            accept_runtime_measurement: true,
            relay_chunk_bytes: veracruz_host::relay::RELAY_CHUNK_BYTES,
        }
    }
}

/// A principal's identity files.
#[derive(Clone, Debug)]
pub struct Principal {
    pub certificate_pem: String,
    pub key_pem: String,
}

type ServerTask =
    tokio::task::JoinHandle<Result<veracruz_host::relay::Ended, veracruz_host::ServerError>>;

/// A running deployment. Dropping it stops the server, the runtime and the service.
pub struct Deployment {
    pub dir: PathBuf,
    pub policy_path: PathBuf,
    pub policy_bytes: Vec<u8>,
    pub policy: Policy,
    pub principals: BTreeMap<String, Principal>,
    pub attestation_url: String,
    pub server_addr: SocketAddr,
    pub runtime_pid: u32,
    pub measurement: [u8; 32],
    pub certificate_chain: String,
    server: Option<ServerTask>,
    rt: tokio::runtime::Runtime,
}

/// A fresh P-256 key and self-signed certificate for `name`, valid for 30 days.
pub fn make_identity(name: &str) -> Result<Principal, TestbedError> {
    let id = veracruz_client::generate_identity(name, 30)
        .map_err(|e| TestbedError::Identity(e.to_string()))?;
    Ok(Principal {
        certificate_pem: id.certificate_pem,
        key_pem: id.key_pem,
    })
}

fn caps(list: &[(String, String)]) -> RawCapabilities {
    RawCapabilities(list.to_vec())
}

/// SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<[u8; 32], TestbedError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    Ok(Sha256::digest(bytes).into())
}

impl Deployment {
    /// Stands everything up in `dir` (which must exist and be empty).
    pub fn start(setup: &Setup, runtime: &Path, dir: &Path) -> Result<Deployment, TestbedError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(io(dir))?;
        let measurement = sha256_file(runtime)?;

        // The attestation service: its own CA, SQLite audit database, linux accepted.
        let service_dir = dir.join("attestation-service");
        let init = veracruz_attestation_service::init(&service_dir)
            .map_err(|e| TestbedError::Service(e.to_string()))?;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .map_err(io(dir))?;
        let service_addr = listener.local_addr().map_err(io(dir))?;
        let mut platforms = BTreeMap::new();
        platforms.insert(
            Platform::Linux,
            PlatformConfig {
                accepted_measurements: vec![hex::encode(measurement)],
                allow_insecure: true,
                ..PlatformConfig::default()
            },
        );
        let config = Config {
            listen: service_addr,
            database: service_dir.join("audit.sqlite").display().to_string(),
            ca_certificate: init.ca_certificate.clone(),
            ca_key: init.ca_key.clone(),
            certificate_lifetime_secs: setup.certificate_lifetime_secs,
            challenge_lifetime_secs: 60,
            platforms,
            verifier: Default::default(),
        };
        let service = rt
            .block_on(AttestationService::new(config))
            .map_err(|e| TestbedError::Service(e.to_string()))?;
        rt.spawn(veracruz_attestation_service::serve_with_shutdown(
            Arc::new(service),
            listener,
            std::future::pending(),
        ));
        let attestation_url = format!("http://{service_addr}");

        // Identities and the policy.
        let mut principals = BTreeMap::new();
        for p in &setup.principals {
            principals.insert(p.name.clone(), make_identity(&p.name)?);
        }
        let ca_pem =
            std::fs::read_to_string(&init.ca_certificate).map_err(io(&init.ca_certificate))?;
        // The server listens on a port picked now; the policy must name it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(io(dir))?
            .port();
        let accepted = if setup.accept_runtime_measurement {
            hex::encode(measurement)
        } else {
            hex::encode(Sha256::digest(b"some other runtime"))
        };
        let document = PolicyDocument {
            version: POLICY_VERSION,
            principals: setup
                .principals
                .iter()
                .map(|p| PrincipalSpec {
                    name: p.name.clone(),
                    certificate: principals[&p.name].certificate_pem.clone(),
                    roles: p.roles.clone(),
                    capabilities: caps(&p.capabilities),
                })
                .collect(),
            programs: setup
                .programs
                .iter()
                .map(|p| ProgramSpec {
                    path: p.path.clone(),
                    sha256: hex::encode(Sha256::digest(&p.wasm)),
                    capabilities: caps(&p.capabilities),
                })
                .collect(),
            pipelines: setup
                .pipelines
                .iter()
                .map(|p| PipelineSpec {
                    name: p.name.clone(),
                    script: p.script.clone(),
                    capabilities: caps(&p.capabilities),
                })
                .collect(),
            files: Vec::new(),
            inputs: setup.inputs.clone(),
            execution: setup.execution.clone(),
            lifecycle: setup.lifecycle.clone(),
            attestation: AttestationSpec {
                service_url: attestation_url.clone(),
                ca_certificate: ca_pem,
                allow_insecure_platforms: true,
                accepted_measurements: BTreeMap::from([("linux".to_string(), vec![accepted])]),
            },
            server: ServerSpec {
                address: format!("127.0.0.1:{port}"),
            },
            tls: TlsSpec {
                certificate_lifetime_secs: setup.certificate_lifetime_secs,
                ..TlsSpec::default()
            },
        };
        let mut policy_bytes = serde_json::to_vec_pretty(&document).expect("a policy serialises");
        policy_bytes.push(b'\n');
        let policy_path = dir.join("policy.json");
        std::fs::write(&policy_path, &policy_bytes).map_err(io(&policy_path))?;
        let policy = Policy::from_bytes(&policy_bytes)?;

        // The delegate's server with the runtime in its isolate.
        let memory = u64::from(setup.execution.max_memory_mib) << 20;
        let server = rt.block_on(async {
            let spawned = match setup.isolation {
                Isolation::Linux => veracruz_host::spawn::spawn_isolated(runtime, memory)?,
                Isolation::None => veracruz_host::spawn::spawn_process(runtime)?,
            };
            veracruz_host::start(
                veracruz_host::ServerOptions {
                    policy_bytes: policy_bytes.clone(),
                    attestation_url: None,
                    listen: None,
                    runtime: runtime.to_path_buf(),
                    relay_chunk_bytes: setup.relay_chunk_bytes,
                },
                spawned,
            )
            .await
        })?;
        let server_addr = server.local_addr;
        let runtime_pid = server.pid;
        let certificate_chain = server.certificate_chain.clone();
        let handle = rt.spawn(server.serve());
        Ok(Deployment {
            dir: dir.to_path_buf(),
            policy_path,
            policy_bytes,
            policy,
            principals,
            attestation_url,
            server_addr,
            runtime_pid,
            measurement,
            certificate_chain,
            server: Some(handle),
            rt,
        })
    }

    /// The principal's identity as the client library takes it.
    pub fn identity(&self, name: &str) -> Identity {
        let p = &self.principals[name];
        Identity::from_pem(p.certificate_pem.as_bytes(), p.key_pem.as_bytes())
            .expect("generated identities parse")
    }

    /// Connects as `name` with this deployment's policy.
    pub fn client(&self, name: &str) -> Result<Client, ClientError> {
        self.client_with(name, &ClientOptions::default())
    }

    pub fn client_with(&self, name: &str, options: &ClientOptions) -> Result<Client, ClientError> {
        Client::connect(
            &self.policy,
            &self.policy_bytes,
            self.identity(name),
            options,
        )
    }

    /// Waits (at most `timeout`) for the server to stop; `None` if it is still running.
    pub fn wait_server(
        &mut self,
        timeout: std::time::Duration,
    ) -> Option<Result<veracruz_host::relay::Ended, String>> {
        let handle = self.server.take()?;
        let result = self
            .rt
            .block_on(async { tokio::time::timeout(timeout, handle).await });
        match result {
            Ok(Ok(r)) => Some(r.map_err(|e| e.to_string())),
            Ok(Err(join)) => Some(Err(join.to_string())),
            Err(_) => None,
        }
    }

    /// Runs `f` on the deployment's async runtime (for talking to the attestation service).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}
