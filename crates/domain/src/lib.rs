//! The GridPatrol domain model, free of IO: the patrol checklist (taxonomy),
//! the district with its streets, grids, squads and inspectors, the roles
//! people play, and the case lifecycle of the six-step supervision loop and
//! its public-complaint variant, and the Beijing clock they all count in.
//! Every other crate speaks these types.
#![forbid(unsafe_code)]

pub mod district;
pub mod lifecycle;
pub mod roles;
pub mod taxonomy;
pub mod time;
