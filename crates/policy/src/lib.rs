//! The global policy of a Veracruz computation.
//!
//! Every party holds the same policy file; its hash (SHA-256 of the exact bytes) names the
//! computation. This crate parses it into typed Rust (unknown fields refused), validates it
//! so that it cannot mean something other than it says, resolves capabilities, and parses the
//! pipeline language. It is used on both sides of the trust boundary.

pub mod capabilities;
pub mod pipeline;
pub mod platform;
pub mod rights;

pub use capabilities::{CapPath, CapabilityMap, Stream};
pub use platform::Platform;
pub use rights::Rights;
pub mod document;
pub mod validate;

pub use document::{PolicyDocument, Strategy, POLICY_VERSION};
pub use validate::{policy_hash, Invalid, Pipeline, Policy, PolicyError, Principal, Program};
