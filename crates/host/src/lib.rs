//! The delegate's server: untrusted by everyone, and built so that it need not be trusted.
//!
//! It starts the runtime in an isolate, hands it the policy, drives attestation between the
//! runtime and the attestation service (relaying a nonce one way and evidence plus a CSR the
//! other, then the issued chain back), and relays each principal's TCP bytes to the runtime
//! and back. It never holds a key that matters and never sees plaintext: principals' TLS
//! terminates inside the isolate.

pub mod framing;
pub mod relay;
pub mod spawn;

pub use relay::{start, Ended, Server, ServerError, ServerOptions, Spawned};
