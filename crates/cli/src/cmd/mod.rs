//! One module per subcommand.

pub mod attestation;
pub mod attestation_service;
pub mod client;
pub mod demo;
pub mod identity;
pub mod policy;
pub mod receipt;
pub mod run;
pub mod server;
