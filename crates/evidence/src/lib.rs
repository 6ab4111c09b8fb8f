//! veracruz-evidence (placeholder, being written).
