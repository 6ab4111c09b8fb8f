//! veracruz-vfs (placeholder, being written).
