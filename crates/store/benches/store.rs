//! Device store latency, printed as percentiles.
//!
//! Run: `cargo bench -p gridpatrol-store --bench store`
//!
//! 1. One user action = `save_case` (projection + ~1 KB Automerge document +
//!    outbox row, one transaction) on a file-backed store, with
//!    `synchronous=NORMAL` (the store's default; see `Durability`) and with
//!    `synchronous=FULL` for comparison. Goal: p95 <= 5 ms.
//! 2. First page (50 rows) of a 100,000-case list via `list_cases`, and a
//!    keyset page 90,000 rows deep. Goal: p95 <= 10 ms. Compared with the
//!    same query forced off the index (`NOT INDEXED`: scan + sort) and with
//!    OFFSET pagination at the same depth.

use std::path::Path;
use std::time::{Duration, Instant};

use gridpatrol_store::{CaseCursor, CaseWrite, Durability, Page, Store};
use rusqlite::{params, Connection};

const SAVE_WARMUP: usize = 50;
const LIST_ROWS: i64 = 100_000;
const DEEP: i64 = 90_000;

fn case(i: usize) -> CaseWrite {
    let id = format!("case-{i:08}");
    CaseWrite {
        category_code: "01010101".to_owned(),
        status: "reported".to_owned(),
        title: format!("上水井盖破损 #{i}"),
        summary: "人行道上水井盖破损，存在安全隐患".to_owned(),
        technical_grid: "110105001001001".to_owned(),
        supervision_grid: "SG-001".to_owned(),
        lon: 116.4866,
        lat: 39.9219,
        created_at_ms: 1_700_000_000_000 + i as i64,
        updated_at_ms: 1_700_000_000_000 + i as i64,
        // ~1 KB of incompressible-ish document bytes.
        doc_bytes: (0..1024u32)
            .map(|b| (b.wrapping_mul(2_654_435_761).wrapping_add(i as u32) >> 13) as u8)
            .collect(),
        doc_heads: vec![[i as u8; 32]],
        reporter: "I0001".to_owned(),
        review: None,
        resubmitted: false,
        photo_count: 1,
        id,
    }
}

struct Stats(Vec<Duration>);

impl Stats {
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort();
        let idx = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[idx.saturating_sub(1).min(v.len() - 1)].as_secs_f64() * 1e3
    }

    fn line(&self, label: &str) -> String {
        format!(
            "{label:<52} n={:<5} p50 {:>8.3} ms  p95 {:>8.3} ms  p99 {:>8.3} ms",
            self.0.len(),
            self.pct(50.0),
            self.pct(95.0),
            self.pct(99.0)
        )
    }
}

fn time<F: FnMut()>(n: usize, mut f: F) -> Stats {
    Stats(
        (0..n)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn bench_save(dir: &Path, durability: Durability, n: usize) -> Stats {
    let path = dir.join(format!("save-{durability:?}.db"));
    let mut store = Store::open_with(&path, durability).unwrap();
    for i in 0..SAVE_WARMUP {
        store.save_case(&case(i)).unwrap();
    }
    let mut i = SAVE_WARMUP;
    time(n, || {
        store.save_case(&case(i)).unwrap();
        i += 1;
    })
}

/// Fills a store with `LIST_ROWS` case rows. Setup only: rows go straight in
/// through SQL in one transaction (the list reads only the projection).
fn fill_list(path: &Path) {
    drop(Store::open(path).unwrap());
    let mut conn = Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut stmt = tx
            .prepare(
                "INSERT INTO cases (id, category_code, status, title, summary, technical_grid,
                                    supervision_grid, lon, lat, created_at_ms, updated_at_ms)
                 VALUES (?1, '01010101', 'reported', ?2, '井盖破损', '110105001001001',
                         'SG-001', 116.48, 39.92, ?3, ?3)",
            )
            .unwrap();
        for i in 0..LIST_ROWS {
            // Several cases per millisecond so the id tie-break matters.
            stmt.execute(params![
                format!("case-{i:08}"),
                format!("上水井盖破损 #{i}"),
                1_700_000_000_000 + i / 3
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
    conn.execute_batch("ANALYZE").unwrap();
}

const COLS: &str = "id, category_code, status, title, summary, technical_grid, \
                    supervision_grid, lon, lat, created_at_ms, updated_at_ms";

/// Runs `sql` and reads every column of every row, as the store does.
fn raw_page(conn: &Connection, sql: &str) -> usize {
    let mut stmt = conn.prepare_cached(sql).unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut n = 0;
    while let Some(r) = rows.next().unwrap() {
        let _: (
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            f64,
            f64,
            i64,
            i64,
        ) = (
            r.get(0).unwrap(),
            r.get(1).unwrap(),
            r.get(2).unwrap(),
            r.get(3).unwrap(),
            r.get(4).unwrap(),
            r.get(5).unwrap(),
            r.get(6).unwrap(),
            r.get(7).unwrap(),
            r.get(8).unwrap(),
            r.get(9).unwrap(),
            r.get(10).unwrap(),
        );
        n += 1;
    }
    n
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    println!(
        "GridPatrol device store benchmark (file-backed, WAL, {})",
        dir.path().display()
    );

    println!("\n== save_case: projection + 1 KB document + outbox row, one transaction ==");
    let normal = bench_save(dir.path(), Durability::Normal, 2000);
    println!("{}", normal.line("synchronous=NORMAL (default)"));
    let full = bench_save(dir.path(), Durability::Full, 500);
    println!("{}", full.line("synchronous=FULL (fsync per commit)"));
    println!(
        "FULL/NORMAL p50 ratio {:.1}x; goal p95 <= 5 ms with NORMAL: {}",
        full.pct(50.0) / normal.pct(50.0),
        if normal.pct(95.0) <= 5.0 {
            "met"
        } else {
            "MISSED"
        }
    );

    println!("\n== case list, {LIST_ROWS} cases, pages of 50 ==");
    let path = dir.path().join("list.db");
    fill_list(&path);
    let store = Store::open(&path).unwrap();
    let first = Page {
        limit: 50,
        after: None,
    };
    assert_eq!(store.list_cases(&first).unwrap().items.len(), 50);
    let keyset_first = time(500, || {
        std::hint::black_box(store.list_cases(&first).unwrap());
    });
    println!("{}", keyset_first.line("first page, list_cases (index)"));

    let conn = Connection::open(&path).unwrap();
    let (deep_ms, deep_id): (i64, String) = conn
        .query_row(
            "SELECT updated_at_ms, id FROM cases ORDER BY updated_at_ms DESC, id DESC
             LIMIT 1 OFFSET ?1",
            [DEEP - 1],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let deep = Page {
        limit: 50,
        after: Some(CaseCursor {
            updated_at_ms: deep_ms,
            id: deep_id,
        }),
    };
    let keyset_deep = time(500, || {
        std::hint::black_box(store.list_cases(&deep).unwrap());
    });
    println!(
        "{}",
        keyset_deep.line("page at row 90,000, list_cases keyset")
    );

    let no_index = format!(
        "SELECT {COLS} FROM cases NOT INDEXED ORDER BY updated_at_ms DESC, id DESC LIMIT 50"
    );
    assert_eq!(raw_page(&conn, &no_index), 50);
    let scan = time(30, || {
        std::hint::black_box(raw_page(&conn, &no_index));
    });
    println!("{}", scan.line("first page, NOT INDEXED (scan + sort)"));

    let offset = format!(
        "SELECT {COLS} FROM cases ORDER BY updated_at_ms DESC, id DESC LIMIT 50 OFFSET {DEEP}"
    );
    assert_eq!(raw_page(&conn, &offset), 50);
    let off = time(100, || {
        std::hint::black_box(raw_page(&conn, &offset));
    });
    println!("{}", off.line("page at row 90,000, OFFSET pagination"));

    println!(
        "index vs scan (first page p50): {:.0}x faster; keyset vs OFFSET at row 90,000 (p50): {:.0}x faster",
        scan.pct(50.0) / keyset_first.pct(50.0),
        off.pct(50.0) / keyset_deep.pct(50.0)
    );
    println!(
        "goal first page p95 <= 10 ms: {}",
        if keyset_first.pct(95.0) <= 10.0 {
            "met"
        } else {
            "MISSED"
        }
    );
}
