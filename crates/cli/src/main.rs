//! The `gridpatrol` operations CLI.
#![forbid(unsafe_code)]
fn main() {}
