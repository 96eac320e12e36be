//! Migration groups, facts, validation, runs and their progress stream:
//! one file per concern, wire types beside their routes.

mod facts;
mod groups;
mod runs;
mod validation;
mod vms;

pub use facts::*;
pub use groups::*;
pub use runs::*;
pub use validation::*;
pub use vms::*;
