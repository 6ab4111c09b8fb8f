//! A principal's side of a Veracruz computation.
//!
//! [`Client::connect`] opens mutual TLS 1.3 to the runtime (through the delegate's untrusted
//! server, which only relays bytes) and, before sending a single application byte, checks the
//! runtime's certificate against the principal's own copy of the policy: issued by the
//! policy's attestation CA and nothing else, valid now, attested with this exact policy, on a
//! platform and with a measurement the policy accepts. The [`Client`] then provisions
//! programs and data, asks for runs, reads results, consents and votes, each answer's
//! refusal surfacing as [`ClientError::Refused`] with the runtime's own reason.
//! [`verify_receipt`] checks, offline, the receipt a runtime signs after each run.
//!
//! `docs/CLIENT.md` describes every check and error.

mod client;
mod identity;
mod receipt;
mod verify;

pub use client::{
    code_name, Client, ClientError, ClientOptions, ExecuteOutcome, Identity, Progress,
    MAX_IDENTITY_PEM_BYTES,
};
pub use identity::{generate_identity, NewIdentity};
pub use receipt::{
    decode_receipt, encode_receipt, verify_receipt, verify_receipt_with, ReceiptError,
    VerifiedReceipt, MAX_RECEIPT_BYTES, MAX_RECEIPT_CHAIN_BYTES, MAX_SIGNATURE_BYTES,
    RECEIPT_CLOCK_SKEW_SECS,
};
pub use veracruz_attestation::RuntimeIdentity;
pub use veracruz_protocol::v1;
pub use verify::{AttestationError, AttestedRuntimeVerifier, RuntimeRequirements};
