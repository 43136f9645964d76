//! The shell's commands through `tauri::test` (mock runtime, real Device):
//! names, argument keys, results and error codes as the UI sees them.

use std::sync::Arc;

use gridpatrol_app_lib::app_builder;
use gridpatrol_device::{Device, DeviceConfig, NoPosition, SystemClock};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::Manager;

fn app(
    dir: &std::path::Path,
) -> (
    tauri::App<tauri::test::MockRuntime>,
    tauri::WebviewWindow<tauri::test::MockRuntime>,
) {
    let device = Device::open(DeviceConfig {
        data_dir: dir.to_path_buf(),
        clock: Arc::new(SystemClock),
        position: Arc::new(NoPosition),
        allow_plain_http: false,
    })
    .unwrap();
    let app = app_builder(mock_builder())
        .build(mock_context(noop_assets()))
        .unwrap();
    app.manage(Arc::new(device));
    let w = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, w)
}

fn invoke(
    w: &tauri::WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    body: InvokeBody,
) -> Result<Value, Value> {
    get_ipc_response(
        w,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body,
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

#[test]
fn commands_answer_as_the_ui_expects_before_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, w) = app(dir.path());
    assert_eq!(invoke(&w, "me", json!({}).into()).unwrap(), Value::Null);
    let st = invoke(&w, "sync_status", json!({}).into()).unwrap();
    assert_eq!(st["phase"], "signed_out");
    // Every screen's command says "not signed in" with a stable code.
    for (cmd, args) in [
        ("map_view", json!({})),
        ("checklist", json!({})),
        ("search_categories", json!({"query": "jgps", "limit": 5})),
        (
            "list_cases",
            json!({"filter": {"reporter": null, "state": null, "review": null, "category": null, "from_ms": null, "to_ms": null, "mine": true, "after": null, "limit": 50}}),
        ),
        ("list_tasks", json!({})),
        ("quality_samples", json!({"month": null})),
        ("quality_kpi", json!({"month": "2026-11"})),
        (
            "mark_sample",
            json!({"mark": {"month": "2026-11", "case_id": "c1", "wrong": true, "reason": "类别错误"}}),
        ),
    ] {
        let err = invoke(&w, cmd, args.into()).unwrap_err();
        assert_eq!(err["code"], "not_signed_in", "{cmd}: {err}");
    }
    // Snake_case argument keys reach the device: a bad id is refused by it.
    let err = invoke(
        &w,
        "sign_in",
        json!({"req": {"server": "http://127.0.0.1:9", "user_id": "../x", "password": "p"}}).into(),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid_input", "{err}");
    // Nobody signed in can still reach the sign-in server: offline is a code too.
    let err = invoke(
        &w,
        "sign_in",
        json!({"req": {"server": "http://127.0.0.1:9", "user_id": "I0001", "password": "p"}})
            .into(),
    )
    .unwrap_err();
    assert_eq!(err["code"], "offline", "{err}");
}

#[test]
fn photos_travel_as_raw_bytes_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, w) = app(dir.path());
    let err = invoke(&w, "add_photo", json!({"bytes": [1, 2, 3]}).into()).unwrap_err();
    assert_eq!(err["code"], "invalid_input", "{err}");
    let err = invoke(&w, "add_photo", InvokeBody::Raw(vec![0xff, 0xd8, 0xff])).unwrap_err();
    assert_eq!(err["code"], "not_signed_in", "{err}");
}
