//! The UI's TypeScript bindings (`ui/src/lib/bindings/`) are generated from
//! the device's view types; this fails when a committed file is stale.
//! Regenerate with `UPDATE_BINDINGS=1 cargo test -p gridpatrol-device --test bindings`.

use std::path::Path;

#[test]
fn ui_bindings_match_the_rust_view_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings");
    let update = std::env::var("UPDATE_BINDINGS").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    let files = gridpatrol_device::view::typescript_bindings();
    if update {
        std::fs::create_dir_all(&dir).unwrap();
    }
    for (name, text) in &files {
        let path = dir.join(name);
        if update {
            std::fs::write(&path, text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name.clone());
        }
    }
    // A binding whose Rust type is gone is stale too.
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.ends_with(".ts") && !files.iter().any(|(f, _)| *f == n) {
                stale.push(format!("{n} (no such type)"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale UI bindings: {stale:?}; run UPDATE_BINDINGS=1 cargo test -p gridpatrol-device --test bindings"
    );
}
