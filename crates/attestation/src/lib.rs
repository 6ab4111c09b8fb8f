//! veracruz-attestation (placeholder, being written).
