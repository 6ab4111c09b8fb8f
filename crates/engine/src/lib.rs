//! veracruz-engine (placeholder, being written).
