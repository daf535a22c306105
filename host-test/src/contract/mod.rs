//! The contract as the host speaks it: the types generated from `wit/` (and the version
//! this host loads), and members in the owned forms a host builds each call's page from.
//! Everything else stands on these.

pub mod bindings;
pub mod records;
pub mod text;
