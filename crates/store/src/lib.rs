//! GridPatrol device store on SQLite
#![forbid(unsafe_code)]
