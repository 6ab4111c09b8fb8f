//! One module per subcommand.

pub mod identity;
pub mod policy;
