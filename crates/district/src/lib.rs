//! GridPatrol demo district generation, grid index and coordinate systems
#![forbid(unsafe_code)]
