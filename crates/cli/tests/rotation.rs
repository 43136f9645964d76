//! `gridpatrol rotation …` on a real demo data directory: plan, check,
//! apply, plan the next period, and a tampered plan named and refused.

mod common;

use std::path::Path;
use std::process::Output;

use common::{gridpatrol, init_demo};
use serde_json::Value;

fn run(args: &[&str], data: &Path) -> Output {
    gridpatrol()
        .arg("rotation")
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

/// `rotation plan --period P --json`, written to `file`.
fn plan_to(period: &str, data: &Path, file: &Path) -> Value {
    let text = ok(run(&["plan", "--period", period, "--json"], data));
    std::fs::write(file, &text).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn postings(plan: &Value) -> &Vec<Value> {
    plan["postings"].as_array().unwrap()
}

#[test]
fn plan_check_apply_plan_again_and_a_tampered_plan_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init_demo(&data);
    let f = |name: &str| tmp.path().join(name);

    // Not a data directory: refused before anything is written.
    let out = run(&["plan", "--period", "2027-03"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(!tmp.path().join("rotation").exists());

    // March: every person posted, every grid inspector on a new grid.
    let march = plan_to("2027-03", &data, &f("march.json"));
    assert!(data.join("rotation").is_dir(), "history folder created");
    assert_eq!(postings(&march).len(), 1547);
    assert_eq!(march["period"], "2027-03");
    assert_eq!(march["yearly"], false);
    let summary = ok(run(&["plan", "--period", "2027-03"], &data));
    assert!(summary.contains("new grid          1512"), "{summary}");
    let march_file = f("march.json");
    let march_path = march_file.to_str().unwrap();
    assert_eq!(
        ok(run(&["check", march_path], &data)).trim(),
        "plan 2027-03: no violations"
    );
    let v: Value = serde_json::from_str(&ok(run(&["check", march_path, "--json"], &data))).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"period": "2027-03", "violations": []})
    );

    // Apply it: stored as the history; applying again is refused.
    let out = ok(run(&["apply", march_path], &data));
    assert!(out.contains("applied plan 2027-03"), "{out}");
    let stored: Value =
        serde_json::from_slice(&std::fs::read(data.join("rotation/2027-03.json")).unwrap())
            .unwrap();
    assert_eq!(stored, march);
    assert_eq!(run(&["apply", march_path], &data).status.code(), Some(2));
    assert_eq!(
        run(&["plan", "--period", "2027-03"], &data).status.code(),
        Some(2)
    );

    // May, planned on the stored March: the same twice, and clean.
    let may = plan_to("2027-05", &data, &f("may.json"));
    assert_eq!(plan_to("2027-05", &data, &f("may-again.json")), may);
    let may_path = f("may.json");
    assert_eq!(
        ok(run(&["check", may_path.to_str().unwrap()], &data)).trim(),
        "plan 2027-05: no violations"
    );

    // Tamper: a grid inspector back on their March grid, and someone dropped.
    let mut bad = may.clone();
    let march_grid = |person: &str| {
        postings(&march)
            .iter()
            .find(|p| p["person"] == person)
            .unwrap()["grid"]
            .clone()
    };
    let list = bad["postings"].as_array_mut().unwrap();
    let k = list.iter().position(|p| p["duty"] == "grid").unwrap();
    let back = list[k]["person"].as_str().unwrap().to_string();
    let grid = march_grid(&back);
    list[k]["grid"] = grid.clone();
    let dropped = list.pop().unwrap()["person"].as_str().unwrap().to_string();
    let bad_path = f("bad.json");
    std::fs::write(&bad_path, serde_json::to_string(&bad).unwrap()).unwrap();
    let bad_arg = bad_path.to_str().unwrap();

    let out = run(&["check", bad_arg], &data);
    assert_eq!(out.status.code(), Some(2));
    let lines = stdout(&out);
    let grid = grid.as_str().unwrap();
    assert!(
        lines.contains(&format!(
            "{back} returns to grid {grid}, held in period 2027-03"
        )),
        "{lines}"
    );
    assert!(
        lines.contains(&format!("{dropped} has no posting")),
        "{lines}"
    );
    let v: Value =
        serde_json::from_str(&stdout(&run(&["check", bad_arg, "--json"], &data))).unwrap();
    let rules: Vec<(&str, &str)> = v["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["rule"].as_str().unwrap(),
                x["person"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        rules.contains(&("returned_to_grid", back.as_str())),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("missing_person", dropped.as_str())),
        "{rules:?}"
    );
    assert_eq!(lines.lines().count(), rules.len(), "one line per violation");

    // Apply refuses it and stores nothing.
    let out = run(&["apply", bad_arg], &data);
    assert_eq!(out.status.code(), Some(2));
    assert!(!data.join("rotation/2027-05.json").exists());

    // A history file that is not a plan stops planning with exit 2.
    std::fs::write(data.join("rotation/2027-05.json"), "{}").unwrap();
    let out = run(&["plan", "--period", "2027-07"], &data);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a rotation plan"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
