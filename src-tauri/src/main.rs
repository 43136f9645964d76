//! The desktop entry point: runs the GridPatrol app.
// Prevents an extra console window on Windows in release.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]
#![forbid(unsafe_code)]

fn main() {
    gridpatrol_app_lib::run()
}
