//! The squad leader's monthly quality screens through the `Device` facade
//! against a real server on loopback: last month's sample of the squad,
//! marked correct and wrong (错报, with a reason), counted in the KPIs; an
//! inspector is refused; offline says so with the `offline` code.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

mod common;

use common::{first_squad, inside_grid_of, server_with};
use gridpatrol_device::view::*;
use gridpatrol_device::{Clock, Device};
use gridpatrol_quality::Month;

/// A clock the test sets (reports made "last month").
struct At(AtomicI64);

impl Clock for At {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

struct App {
    device: Device,
    clock: Arc<At>,
    _dir: tempfile::TempDir,
}

async fn signed_in(url: &str, user: &str, now_ms: i64) -> App {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(At(AtomicI64::new(now_ms)));
    let (lon, lat) = inside_grid_of(user);
    let device = common::open_device(
        dir.path(),
        clock.clone(),
        Arc::new(common::fixed_at(lon, lat, now_ms)),
    );
    common::sign_in_demo(&device, url, user).await;
    App {
        device,
        clock,
        _dir: dir,
    }
}

fn mark(month: &str, case_id: &str, wrong: bool, reason: Option<&str>) -> SampleMark {
    SampleMark {
        month: month.into(),
        case_id: case_id.into(),
        wrong,
        reason: reason.map(Into::into),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_marks_last_months_sample_and_the_kpis_count_it() {
    let sdir = tempfile::tempdir().unwrap();
    let (district, inspector, leader) = first_squad();
    let mut settings = gridpatrol_server::config::Settings::default();
    settings.quality.auto_draw = false;
    settings.quality.draw_delay_hours = 0;
    let srv = server_with(sdir.path(), &district, settings).await;
    let url = srv.url();
    let now = gridpatrol_server::now_ms();
    let last = Month::of_ms(now).prev();

    // Four reports made last month (the sample takes at least three).
    let insp = signed_in(&url, &inspector, last.start_ms() + 3_600_000).await;
    for n in 0..4 {
        insp.clock
            .0
            .store(last.start_ms() + 3_600_000 * (n + 1), Ordering::SeqCst);
        let pos = insp.device.locate().unwrap().position.unwrap();
        insp.device
            .save_case(CaseDraft {
                category: "02010101".into(),
                position: pos,
                address: String::new(),
                description: format!("上月上报 {n}"),
                photos: vec![],
            })
            .unwrap();
    }
    insp.clock.0.store(now, Ordering::SeqCst);
    let st = insp.device.sync_now().await;
    assert_eq!(st.pending_docs, 0, "{st:?}");

    let lead = signed_in(&url, &leader, now).await;
    lead.device.sync_now().await;
    let page = lead.device.quality_samples(None).await.unwrap();
    assert_eq!(page.month, last.to_string());
    assert_eq!((page.percent, page.min), (5, 3));
    assert_eq!((page.total, page.marked), (3, 0));
    assert_eq!(page.inspectors.len(), 1);
    let group = &page.inspectors[0];
    assert_eq!(group.inspector, inspector);
    assert!(
        !group.name.is_empty(),
        "the inspector's name from the package"
    );
    assert!(group
        .items
        .iter()
        .all(|i| i.item.wrong.is_none() && i.on_device && !i.item.category_name.is_empty()));
    // A sampled case opens its detail on the leader's device.
    let first = group.items[0].item.case_id.clone();
    let second = group.items[1].item.case_id.clone();
    assert_eq!(lead.device.case_detail(&first).unwrap().summary.id, first);

    // Wrong needs a reason; asked for by name of the month.
    let e = lead
        .device
        .mark_sample(mark(&page.month, &first, true, Some("  ")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid_input", "{e}");
    let after = lead
        .device
        .mark_sample(mark(&page.month, &first, true, Some("类别错误")))
        .await
        .unwrap();
    assert_eq!(after.marked, 1);
    let after = lead
        .device
        .mark_sample(mark(&page.month, &second, false, Some("ignored")))
        .await
        .unwrap();
    assert_eq!((after.total, after.marked), (3, 2));
    let item = |id: &str| {
        after.inspectors[0]
            .items
            .iter()
            .find(|i| i.item.case_id == id)
            .unwrap()
            .item
            .clone()
    };
    assert_eq!(
        (item(&first).wrong, item(&first).reason.as_deref()),
        (Some(true), Some("类别错误"))
    );
    assert_eq!(item(&first).marked_by.as_deref(), Some(leader.as_str()));
    assert_eq!(
        (item(&second).wrong, item(&second).reason),
        (Some(false), None)
    );

    // The KPIs count the sample and the wrong mark.
    let kpi = lead
        .device
        .quality_kpi(Some(last.to_string()))
        .await
        .unwrap();
    assert_eq!(kpi.month, last.to_string());
    let k = kpi.inspectors.iter().find(|k| k.id == inspector).unwrap();
    assert_eq!((k.reports, k.sampled, k.wrong), (4, 3, 1));
    assert!(kpi
        .names
        .iter()
        .any(|m| m.id == inspector && !m.name.is_empty()));
    let squad = kpi.squad.expect("my squad's line");
    assert_eq!(squad.squad, district.squads[0].id);
    assert_eq!((squad.reports, squad.wrong), (4, 1));
    assert!(squad.rank >= 1 && squad.rank <= kpi.squads, "{squad:?}");

    // This month is not drawn yet: the server says so, in its own code.
    let e = lead
        .device
        .quality_samples(Some(Month::of_ms(now).to_string()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "not_yet", "{e}");
    let e = lead
        .device
        .quality_samples(Some("2026-13".into()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "invalid_input", "{e}");

    // An inspector has no quality screens.
    for e in [
        insp.device.quality_samples(None).await.unwrap_err(),
        insp.device.quality_kpi(None).await.unwrap_err(),
        insp.device
            .mark_sample(mark(&page.month, &first, false, None))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(e.code(), "not_allowed", "{e}");
    }

    // Offline: the same code as every other screen, and nothing changed.
    srv.shutdown().await.unwrap();
    for e in [
        lead.device.quality_samples(None).await.unwrap_err(),
        lead.device.quality_kpi(None).await.unwrap_err(),
        lead.device
            .mark_sample(mark(&page.month, &second, true, Some("照片不清")))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(e.code(), "offline", "{e}");
    }
}
