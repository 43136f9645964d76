//! Helpers shared by the device's integration tests: the first squad of
//! the demo district on a loopback server, and generated camera photos.
// Each test binary uses its own part of these helpers.
#![allow(dead_code)]

use std::path::Path;

use geo::Centroid;
use gridpatrol_district::DemoDistrict;
use gridpatrol_domain::district::District;
use gridpatrol_domain::roles::Role as DRole;
use gridpatrol_server::accounts::{self, HashCost};
use gridpatrol_server::{spawn_test_server_with, RunningServer};

/// The demo district cut to its first squad (cheap to load): the district,
/// an inspector and the squad's leader.
pub fn first_squad() -> (District, String, String) {
    let d = &DemoDistrict::get().district;
    let squad = d.squads[0].clone();
    let inspectors: Vec<_> = d
        .inspectors
        .iter()
        .filter(|i| i.squad == squad.id)
        .cloned()
        .collect();
    let inspector = inspectors
        .iter()
        .find(|i| i.role == DRole::Inspector)
        .expect("the squad has inspectors")
        .id
        .clone();
    let cut = District {
        streets: d.streets.clone(),
        supervision_grids: d.supervision_grids.clone(),
        technical_grids: d.technical_grids.clone(),
        squads: vec![squad.clone()],
        inspectors,
    };
    (cut, inspector, squad.leader)
}

pub async fn server(dir: &Path, district: &District) -> RunningServer {
    server_with(
        dir,
        district,
        gridpatrol_server::config::Settings::default(),
    )
    .await
}

/// [`server`] with explicit settings.
pub async fn server_with(
    dir: &Path,
    district: &District,
    settings: gridpatrol_server::config::Settings,
) -> RunningServer {
    let s = spawn_test_server_with(dir, settings).await.unwrap();
    accounts::load_district(
        s.state.store.as_ref(),
        district,
        &["C0001"],
        HashCost { m_kib: 64, t: 1 },
        1,
    )
    .unwrap();
    s
}

/// A point well inside the first technical grid of `user`'s grid.
pub fn inside_grid_of(user: &str) -> (f64, f64) {
    let dd = DemoDistrict::get();
    let d = &dd.district;
    let grid = &d
        .inspectors
        .iter()
        .find(|i| i.id == user)
        .unwrap()
        .supervision_grid;
    let (k, _) = d
        .technical_grids
        .iter()
        .enumerate()
        .find(|(_, t)| &t.supervision_grid == grid)
        .unwrap();
    let c = dd.geometry[k].centroid().unwrap();
    (c.x(), c.y())
}

/// A `w`×`h` camera photo of a street scene drawn from `seed`.
pub fn camera_jpeg(w: u32, h: u32, seed: u64) -> Vec<u8> {
    let rgb = gridpatrol_media::synth::street_scene(w, h, seed);
    gridpatrol_media::synth::jpeg(&rgb, w, h, 85, None).unwrap()
}

/// A fix 5 m accurate at (`lon`, `lat`), taken at `at_ms`, every time.
pub fn fixed_at(lon: f64, lat: f64, at_ms: i64) -> gridpatrol_device::FixedPosition {
    gridpatrol_device::FixedPosition(gridpatrol_device::view::Position {
        lon,
        lat,
        accuracy_m: 5.0,
        mock: false,
        manual: false,
        at_ms,
    })
}

/// A device keeping its data under `dir`/data, with this clock and fix.
pub fn open_device(
    dir: &Path,
    clock: std::sync::Arc<dyn gridpatrol_device::Clock>,
    position: std::sync::Arc<dyn gridpatrol_device::PositionSource>,
) -> gridpatrol_device::Device {
    gridpatrol_device::Device::open(gridpatrol_device::DeviceConfig {
        data_dir: dir.join("data"),
        clock,
        position,
        allow_plain_http: false,
    })
    .unwrap()
}

/// Signs `device` in to `url` as `user` with the demo password.
pub async fn sign_in_demo(device: &gridpatrol_device::Device, url: &str, user: &str) {
    device
        .sign_in(gridpatrol_device::view::SignIn {
            server: url.into(),
            user_id: user.into(),
            password: accounts::demo_password(user),
        })
        .await
        .unwrap();
}
