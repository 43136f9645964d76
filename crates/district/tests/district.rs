//! Behaviour of the generated demo district: counts, hierarchy, geometry,
//! contiguity, codes, people and determinism.

use std::collections::{BTreeMap, BTreeSet};

use geo::{Area, BooleanOps, BoundingRect, Contains, MapCoords};
use geo_types::{Coord, MultiPolygon, Point};
use gridpatrol_district::DemoDistrict;
use gridpatrol_domain::district::{InspectorKind, StreetKind};
use gridpatrol_domain::roles::Role;

/// Recorded fingerprint of the demo district. If generation changes on
/// purpose, update it; if it changes by accident, determinism is broken.
const FINGERPRINT: &str = "8865a8875816a76b2b7b790b15bfb91e2f9e90d0bf4157c86c4b28dce3f7d84f";

fn d() -> &'static DemoDistrict {
    DemoDistrict::get()
}

/// Local equirectangular metres about the district centre (test's own projection).
fn metric(mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    let (lon0, lat0) = (116.49f64, 39.95f64);
    let kx = 111_320.0 * lat0.to_radians().cos();
    mp.map_coords(|c| Coord {
        x: (c.x - lon0) * kx,
        y: (c.y - lat0) * 110_950.0,
    })
}

/// A stretch (lo, hi) of a lattice line on some grid's boundary.
type Span = (f64, f64, usize);

/// Edge-adjacency of technical grids from their WGS-84 geometry: grids whose
/// boundaries overlap along an axis-parallel segment of positive length.
fn adjacency(d: &DemoDistrict) -> Vec<BTreeSet<usize>> {
    // (is_vertical, fixed coordinate bits) -> (lo, hi, grid)
    let mut lines: BTreeMap<(bool, u64), Vec<Span>> = BTreeMap::new();
    for (k, g) in d.geometry.iter().enumerate() {
        for p in &g.0 {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                for l in ring.lines() {
                    let (a, b) = (l.start, l.end);
                    if a.x == b.x && a.y != b.y {
                        lines.entry((true, a.x.to_bits())).or_default().push((
                            a.y.min(b.y),
                            a.y.max(b.y),
                            k,
                        ));
                    } else if a.y == b.y && a.x != b.x {
                        lines.entry((false, a.y.to_bits())).or_default().push((
                            a.x.min(b.x),
                            a.x.max(b.x),
                            k,
                        ));
                    }
                }
            }
        }
    }
    let mut adj = vec![BTreeSet::new(); d.geometry.len()];
    for segs in lines.values_mut() {
        segs.sort_by(|a, b| a.0.total_cmp(&b.0));
        for i in 0..segs.len() {
            for j in i + 1..segs.len() {
                if segs[j].0 >= segs[i].1 {
                    break;
                }
                let (a, b) = (segs[i].2, segs[j].2);
                if a != b && segs[i].1.min(segs[j].1) > segs[j].0 {
                    adj[a].insert(b);
                    adj[b].insert(a);
                }
            }
        }
    }
    adj
}

fn connected(adj: &[BTreeSet<usize>], members: &[usize]) -> bool {
    let inside: BTreeSet<usize> = members.iter().copied().collect();
    let mut seen = BTreeSet::from([members[0]]);
    let mut stack = vec![members[0]];
    while let Some(n) = stack.pop() {
        for &m in &adj[n] {
            if inside.contains(&m) && seen.insert(m) {
                stack.push(m);
            }
        }
    }
    seen.len() == members.len()
}

#[test]
fn counts_match_the_case_study() {
    let s = d().district.stats();
    assert_eq!(
        (
            s.streets,
            s.supervision_grids,
            s.technical_grids,
            s.squads,
            s.inspectors
        ),
        (43, 237, 8070, 35, 1547)
    );
    assert_eq!(d().geometry.len(), 8070);
    let kinds = |k| d().district.streets.iter().filter(|s| s.kind == k).count();
    assert_eq!(
        (
            kinds(StreetKind::Street),
            kinds(StreetKind::Township),
            kinds(StreetKind::EthnicTownship)
        ),
        (24, 18, 1)
    );
    // The lattice met the outline in at least 8,070 cells before merging slivers.
    assert!(d().cells_before_merge() >= 8070);
    let s = d().cell_size_m();
    assert!((230.0..260.0).contains(&s), "cell size {s} m is not ~240 m");
}

#[test]
fn real_street_names_are_all_present() {
    let names: BTreeSet<&str> = d()
        .district
        .streets
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    for n in [
        "朝外街道",
        "劲松街道",
        "建外街道",
        "呼家楼街道",
        "八里庄街道",
        "三里屯街道",
        "团结湖街道",
        "双井街道",
        "垡头街道",
        "左家庄街道",
        "小关街道",
        "和平街街道",
        "酒仙桥街道",
        "首都机场街道",
        "潘家园街道",
        "六里屯街道",
        "麦子店街道",
        "香河园街道",
        "亚运村街道",
        "安贞街道",
        "望京街道",
        "大屯街道",
        "奥运村街道",
        "东湖街道",
        "南磨房乡",
        "高碑店乡",
        "将台乡",
        "太阳宫乡",
        "小红门乡",
        "十八里店乡",
        "平房乡",
        "东风乡",
        "来广营乡",
        "三间房乡",
        "管庄乡",
        "金盏乡",
        "孙河乡",
        "崔各庄乡",
        "东坝乡",
        "黑庄户乡",
        "豆各庄乡",
        "王四营乡",
        "常营回族乡",
    ] {
        assert!(names.contains(n), "missing {n}");
    }
}

#[test]
fn hierarchy_is_consistent_and_codes_follow_the_standard() {
    let dist = &d().district;
    let street_codes: BTreeSet<&str> = dist.streets.iter().map(|s| s.code.as_str()).collect();
    assert_eq!(street_codes.len(), 43);
    for (n, s) in dist.streets.iter().enumerate() {
        assert_eq!(s.code, format!("110105{:03}", n + 1));
    }
    let sgs: BTreeMap<&str, _> = dist
        .supervision_grids
        .iter()
        .map(|g| (g.code.as_str(), g))
        .collect();
    assert_eq!(sgs.len(), 237);
    for g in &dist.supervision_grids {
        assert_eq!(g.code.len(), 12);
        assert!(g.code.starts_with(&g.street) && street_codes.contains(g.street.as_str()));
        let street = dist.street(&g.street).unwrap();
        let seq: usize = g.code[9..].parse().unwrap();
        assert_eq!(g.name, format!("{}第{}监督网格", street.name, seq));
    }
    // Supervision grids are numbered 001..n within each street.
    for s in &dist.streets {
        let seqs: Vec<usize> = dist
            .supervision_grids
            .iter()
            .filter(|g| g.street == s.code)
            .map(|g| g.code[9..].parse().unwrap())
            .collect();
        assert!(!seqs.is_empty(), "{} has no supervision grid", s.name);
        assert_eq!(seqs, (1..=seqs.len()).collect::<Vec<_>>());
    }
    let mut codes = BTreeSet::new();
    for t in &dist.technical_grids {
        assert_eq!(t.code.len(), 15, "{}", t.code);
        assert!(t.code.bytes().all(|b| b.is_ascii_digit()) && t.code.starts_with("110105"));
        assert!(codes.insert(t.code.as_str()), "duplicate {}", t.code);
        let sg = sgs[t.supervision_grid.as_str()];
        assert_eq!(&t.code[..12], sg.code);
        assert_eq!(t.street, sg.street);
        assert!(d().grid_geometry(&t.code).is_some());
    }
    assert!(d().grid_geometry("110105999999999").is_none());
}

#[test]
fn technical_grids_are_numbered_north_to_south_west_to_east() {
    let dist = &d().district;
    let mut by_sg: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (k, t) in dist.technical_grids.iter().enumerate() {
        by_sg
            .entry(t.supervision_grid.as_str())
            .or_default()
            .push(k);
    }
    for (sg, ks) in by_sg {
        let seqs: Vec<usize> = ks
            .iter()
            .map(|&k| dist.technical_grids[k].code[12..].parse().unwrap())
            .collect();
        assert_eq!(seqs, (1..=ks.len()).collect::<Vec<_>>(), "{sg}");
        for w in ks.windows(2) {
            let (a, b) = (d().reading_position(w[0]), d().reading_position(w[1]));
            assert!(
                a.0 < b.0 || (a.0 == b.0 && a.1 <= b.1),
                "{sg}: {a:?} before {b:?}"
            );
        }
        // Reading order in geometry too: a later grid is never a whole row north.
        for w in ks.windows(2) {
            let north = |k: usize| d().geometry[k].bounding_rect().unwrap().max().y;
            assert!(north(w[1]) <= north(w[0]) + 0.0025, "{sg}");
        }
    }
}

#[test]
fn grids_tile_the_outline_without_gap_or_overlap() {
    let outline = metric(&DemoDistrict::outline());
    let outline_area = outline.unsigned_area();
    // The brief's figure is 470.8 km²; the simplified outline is close to it.
    assert!(
        (outline_area / 1e6 - 470.8).abs() < 470.8 * 0.02,
        "{}",
        outline_area / 1e6
    );
    let grids: Vec<MultiPolygon<f64>> = d().geometry.iter().map(metric).collect();
    let sum: f64 = grids.iter().map(|g| g.unsigned_area()).sum();
    let union = geo::unary_union(grids.iter().flat_map(|g| g.0.iter()));
    let union_area = union.unsigned_area();
    assert!(
        (sum - outline_area).abs() / outline_area < 1e-4,
        "sum {sum} vs outline {outline_area}"
    );
    assert!(
        (union_area - outline_area).abs() / outline_area < 1e-4,
        "union {union_area} vs {outline_area}"
    );
    // Sum equal to union means no two grids overlap.
    assert!((sum - union_area).abs() / outline_area < 1e-6);
    // And the union is the outline: their symmetric difference is negligible.
    let xor = union.xor(&outline).unsigned_area();
    assert!(xor / outline_area < 1e-6, "xor {xor} m²");
    // About 0.058 km² each on average, as in the case study.
    let mean = sum / 8070.0 / 1e6;
    assert!((0.055..0.062).contains(&mean), "{mean}");
}

#[test]
fn streets_grids_and_squads_are_contiguous() {
    let dist = &d().district;
    let adj = adjacency(d());
    assert!(
        adj.iter().all(|a| !a.is_empty()),
        "every grid has an edge neighbour"
    );
    let group = |key: &dyn Fn(usize) -> String| {
        let mut m: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for k in 0..dist.technical_grids.len() {
            m.entry(key(k)).or_default().push(k);
        }
        m
    };
    let streets = group(&|k| dist.technical_grids[k].street.clone());
    assert_eq!(streets.len(), 43);
    for (code, ks) in &streets {
        assert!(connected(&adj, ks), "street {code} is not connected");
    }
    let sgs = group(&|k| dist.technical_grids[k].supervision_grid.clone());
    assert_eq!(sgs.len(), 237);
    for (code, ks) in &sgs {
        assert!(
            connected(&adj, ks),
            "supervision grid {code} is not connected"
        );
    }
    let squads = group(&|k| {
        dist.supervision_grid(&dist.technical_grids[k].supervision_grid)
            .unwrap()
            .squad
            .clone()
    });
    assert_eq!(squads.len(), 35);
    for (id, ks) in &squads {
        assert!(connected(&adj, ks), "squad {id} is not connected");
    }
    // The whole district is the main body plus the airport exclave.
    let all: Vec<usize> = (0..dist.technical_grids.len()).collect();
    assert!(!connected(&adj, &all));
    let airport = dist
        .streets
        .iter()
        .find(|s| s.name == "首都机场街道")
        .unwrap();
    let rest: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&k| dist.technical_grids[k].street != airport.code)
        .collect();
    assert!(connected(&adj, &rest), "the main body is one piece");
    for &k in &streets[&airport.code] {
        let b = d().geometry[k].bounding_rect().unwrap();
        assert!(
            b.min().x > 116.56 && b.min().y > 40.03,
            "airport street stays in the exclave"
        );
    }
}

#[test]
fn squads_leaders_and_inspectors_are_well_formed() {
    let dist = &d().district;
    for (n, q) in dist.squads.iter().enumerate() {
        assert_eq!(q.id, format!("S{:02}", n + 1));
        assert_eq!(q.name, format!("第{:02}分队", n + 1));
        let leaders: Vec<_> = dist
            .inspectors
            .iter()
            .filter(|i| i.squad == q.id && i.role == Role::SquadLeader)
            .collect();
        assert_eq!(leaders.len(), 1, "{} must have exactly one leader", q.id);
        assert_eq!(leaders[0].id, q.leader);
        let own: BTreeSet<&str> = dist
            .supervision_grids
            .iter()
            .filter(|g| g.squad == q.id)
            .map(|g| g.code.as_str())
            .collect();
        assert_eq!(
            own,
            q.supervision_grids.iter().map(String::as_str).collect()
        );
    }
    let mut names = BTreeSet::new();
    for (n, i) in dist.inspectors.iter().enumerate() {
        assert_eq!(i.id, format!("I{:04}", n + 1));
        assert!(names.insert(i.name.as_str()), "duplicate name {}", i.name);
        assert!((2..=3).contains(&i.name.chars().count()));
        assert!(matches!(i.role, Role::Inspector | Role::SquadLeader));
        assert_eq!(
            dist.supervision_grid(&i.supervision_grid).unwrap().squad,
            i.squad
        );
    }
    assert_eq!(
        dist.inspectors
            .iter()
            .filter(|i| i.role == Role::SquadLeader)
            .count(),
        35
    );
    let grid = dist
        .inspectors
        .iter()
        .filter(|i| i.kind == InspectorKind::Grid)
        .count();
    let share = grid as f64 / dist.inspectors.len() as f64;
    assert!(
        (0.75..0.85).contains(&share),
        "grid inspector share {share}"
    );
    for g in &dist.supervision_grids {
        assert!(
            dist.inspectors.iter().any(|i| i.supervision_grid == g.code
                && i.kind == InspectorKind::Grid
                && i.role == Role::Inspector),
            "{} has no grid inspector",
            g.code
        );
    }
    assert_eq!(dist.inspector("I1547").unwrap().id, "I1547");
    assert!(dist.inspector("I1548").is_none());
}

#[test]
fn area_classes_run_from_core_to_outskirts() {
    use gridpatrol_domain::district::AreaClass;
    let dist = &d().district;
    let class_of = |name: &str| {
        let code = &dist.streets.iter().find(|s| s.name == name).unwrap().code;
        let classes: BTreeSet<AreaClass> = dist
            .technical_grids
            .iter()
            .filter(|t| &t.street == code)
            .map(|t| t.area_class)
            .collect();
        classes
    };
    assert_eq!(class_of("朝外街道"), BTreeSet::from([AreaClass::A]));
    assert_eq!(class_of("黑庄户乡"), BTreeSet::from([AreaClass::C]));
    assert_eq!(class_of("首都机场街道"), BTreeSet::from([AreaClass::B]));
    for c in [AreaClass::A, AreaClass::B, AreaClass::C] {
        let n = dist
            .technical_grids
            .iter()
            .filter(|t| t.area_class == c)
            .count();
        assert!(n > 500, "{c:?} has only {n} grids");
    }
}

#[test]
fn generation_is_deterministic_and_matches_the_recorded_fingerprint() {
    let again = DemoDistrict::generate();
    assert_eq!(again.district, d().district);
    assert_eq!(again.fingerprint(), d().fingerprint());
    assert_eq!(d().fingerprint(), FINGERPRINT);
}

#[test]
fn every_grid_lies_inside_the_outline() {
    use geo::InteriorPoint;
    let outline = DemoDistrict::outline();
    for (k, g) in d().geometry.iter().enumerate() {
        let p: Point<f64> = g.interior_point().unwrap();
        assert!(outline.contains(&p), "grid {k} pokes outside the outline");
    }
}
