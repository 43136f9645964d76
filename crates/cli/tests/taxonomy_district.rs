//! The CLI's exact interface for taxonomy and district commands, as the
//! checks and the ops team use it.

use std::process::{Command, Output};

fn gridpatrol(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridpatrol"))
        .args(args)
        .output()
        .expect("run gridpatrol")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

#[test]
fn taxonomy_stats_json_is_exact() {
    let v = json(&gridpatrol(&["taxonomy", "stats", "--json"]));
    assert_eq!(
        v,
        serde_json::json!({"modules":11,"major_classes":121,"subclasses":590,"fine_classes":3537})
    );
}

#[test]
fn taxonomy_search_json_lists_code_name_path_best_first() {
    let v = json(&gridpatrol(&[
        "taxonomy", "search", "xgg", "--limit", "5", "--json",
    ]));
    let rows = v.as_array().expect("array");
    assert!(!rows.is_empty() && rows.len() <= 5);
    for row in rows {
        let obj = row.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(|k| k.as_str()).collect();
        keys.sort();
        assert_eq!(keys, ["code", "name", "path"]);
    }
    assert!(rows
        .iter()
        .any(|r| r["name"].as_str().unwrap().contains("非法小广告")));

    let v = json(&gridpatrol(&["taxonomy", "search", "0201", "--json"]));
    let rows = v.as_array().unwrap();
    assert_eq!(rows[0]["code"], "0201");
    assert!(rows
        .iter()
        .all(|r| r["code"].as_str().unwrap().starts_with("0201")));
}

#[test]
fn taxonomy_validate_refuses_a_broken_file_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.tsv");
    std::fs::write(&path, "code\tname\n01\t应急管理\n").unwrap();
    let out = gridpatrol(&["taxonomy", "validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).trim().is_empty());

    let missing = dir.path().join("missing.tsv");
    let out = gridpatrol(&["taxonomy", "validate", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn district_stats_json_is_exact() {
    let v = json(&gridpatrol(&["district", "stats", "--json"]));
    assert_eq!(
        v,
        serde_json::json!({"streets":43,"supervision_grids":237,"technical_grids":8070,"squads":35,"inspectors":1547})
    );
}

#[test]
fn district_locate_inside_and_outside() {
    // Near Chaoyangmen outer street (朝外), inside the district.
    let v = json(&gridpatrol(&[
        "district", "locate", "--lon", "116.445", "--lat", "39.922", "--json",
    ]));
    let tg = v["technical_grid"].as_str().unwrap();
    let sg = v["supervision_grid"].as_str().unwrap();
    let st = v["street"].as_str().unwrap();
    assert_eq!(tg.len(), 15);
    assert!(tg.starts_with("110105"));
    assert!(tg.starts_with(sg), "{tg} in {sg}");
    assert!(sg.starts_with(st), "{sg} in {st}");

    // Tiananmen is in Dongcheng, not Chaoyang.
    let out = gridpatrol(&[
        "district", "locate", "--lon", "116.3975", "--lat", "39.9087", "--json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside the district"));
    assert!(out.stdout.is_empty());
}
