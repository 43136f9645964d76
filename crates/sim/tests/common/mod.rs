//! Shared test scaffolding of the simulator tests.
pub mod drill;
