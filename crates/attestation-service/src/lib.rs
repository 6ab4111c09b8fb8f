//! veracruz-attestation-service (placeholder, being written).
