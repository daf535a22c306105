//! Time on the host side: instants over the contract's whole range, the zone answers the
//! component imports, and the one clock every part keeps time with.

pub mod clock;
pub mod instant;
pub mod zones;
