//! GridPatrol photo evidence pipeline
#![forbid(unsafe_code)]
