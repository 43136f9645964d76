//! Point location and coordinate conversion.

use geo::{BoundingRect, Contains, Distance, Haversine, Intersects};
use geo_types::{Coord, Point};
use gridpatrol_district::coords::{gcj02_to_wgs84, wgs84_to_gcj02};
use gridpatrol_district::{DemoDistrict, GridIndex, Location};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn index() -> GridIndex {
    GridIndex::new(DemoDistrict::get())
}

fn street_name(code: &str) -> &'static str {
    &DemoDistrict::get().district.street(code).unwrap().name
}

#[test]
fn known_places_resolve_to_their_street() {
    let idx = index();
    // Approximate real centres (WGS-84) of every street and township.
    let places = [
        ("朝外街道", 116.437, 39.922),
        ("劲松街道", 116.462, 39.884),
        ("建外街道", 116.452, 39.906),
        ("呼家楼街道", 116.462, 39.921),
        ("八里庄街道", 116.497, 39.920),
        ("三里屯街道", 116.452, 39.935),
        ("团结湖街道", 116.468, 39.930),
        ("双井街道", 116.463, 39.895),
        ("垡头街道", 116.507, 39.860),
        ("左家庄街道", 116.445, 39.952),
        ("小关街道", 116.418, 39.980),
        ("和平街街道", 116.424, 39.965),
        ("酒仙桥街道", 116.493, 39.972),
        ("首都机场街道", 116.585, 40.075),
        ("潘家园街道", 116.458, 39.872),
        ("六里屯街道", 116.487, 39.932),
        ("麦子店街道", 116.470, 39.945),
        ("香河园街道", 116.434, 39.960),
        ("亚运村街道", 116.400, 39.990),
        ("安贞街道", 116.405, 39.972),
        ("望京街道", 116.475, 39.995),
        ("大屯街道", 116.410, 40.005),
        ("奥运村街道", 116.390, 40.015),
        ("东湖街道", 116.478, 40.012),
        ("南磨房乡", 116.487, 39.888),
        ("高碑店乡", 116.525, 39.905),
        ("将台乡", 116.507, 39.960),
        ("太阳宫乡", 116.445, 39.975),
        ("小红门乡", 116.455, 39.840),
        ("十八里店乡", 116.490, 39.850),
        ("平房乡", 116.545, 39.935),
        ("东风乡", 116.490, 39.950),
        ("来广营乡", 116.450, 40.030),
        ("三间房乡", 116.570, 39.915),
        ("管庄乡", 116.600, 39.905),
        ("金盏乡", 116.600, 39.990),
        ("孙河乡", 116.540, 40.045),
        ("崔各庄乡", 116.510, 40.010),
        ("东坝乡", 116.555, 39.970),
        ("黑庄户乡", 116.615, 39.860),
        ("豆各庄乡", 116.560, 39.875),
        ("王四营乡", 116.533, 39.882),
        ("常营回族乡", 116.605, 39.935),
    ];
    for (name, lon, lat) in places {
        let loc = idx
            .locate(lon, lat)
            .unwrap_or_else(|| panic!("{name} centre not located"));
        assert_eq!(street_name(&loc.street), name, "({lon}, {lat})");
    }
}

#[test]
fn random_points_resolve_to_the_grid_that_contains_them() {
    let d = DemoDistrict::get();
    let idx = index();
    let outline = DemoDistrict::outline();
    let bbox = outline.bounding_rect().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(2016);
    let (mut inside, mut outside) = (0, 0);
    for n in 0..3000 {
        let (lon, lat) = (
            rng.random_range(bbox.min().x..bbox.max().x),
            rng.random_range(bbox.min().y..bbox.max().y),
        );
        let p = Point::new(lon, lat);
        match idx.locate(lon, lat) {
            Some(loc) => {
                inside += 1;
                let k = d.technical_grid_index(&loc.technical_grid).unwrap();
                assert!(d.geometry[k].intersects(&p));
                // The unindexed scan is slow in debug builds: cross-check a tenth.
                if n % 10 == 0 {
                    assert_eq!(idx.locate_index_linear(lon, lat), Some(k));
                }
                let t = &d.district.technical_grids[k];
                assert_eq!(
                    (&loc.supervision_grid, &loc.street),
                    (&t.supervision_grid, &t.street)
                );
            }
            None => {
                outside += 1;
                assert!(
                    !outline.contains(&p),
                    "({lon}, {lat}) is in the district but not located"
                );
                assert_eq!(idx.locate_index_linear(lon, lat), None);
            }
        }
    }
    // The district fills roughly 60 % of its bounding box: both branches ran.
    assert!(inside > 1000 && outside > 500, "{inside} in, {outside} out");
}

#[test]
fn points_outside_the_district_are_not_guessed() {
    let idx = index();
    assert_eq!(
        idx.locate(116.3975, 39.9087),
        None,
        "Tiananmen is in Dongcheng"
    );
    assert_eq!(idx.locate(116.65, 40.13), None, "Shunyi town");
    assert_eq!(idx.locate(f64::NAN, 39.95), None);
    assert_eq!(idx.locate(0.0, 0.0), None);
}

#[test]
fn a_point_on_a_shared_border_belongs_to_exactly_one_grid() {
    let d = DemoDistrict::get();
    let idx = index();
    let mut checked = 0;
    let boxes: Vec<_> = d
        .geometry
        .iter()
        .map(|g| g.bounding_rect().unwrap())
        .collect();
    // Midpoints of vertical sides of a spread of grids.
    for k in (0..d.geometry.len()).step_by(97) {
        let ring = d.geometry[k].0[0].exterior();
        for l in ring.lines() {
            if l.start.x != l.end.x {
                continue;
            }
            let p = Coord {
                x: l.start.x,
                y: (l.start.y + l.end.y) / 2.0,
            };
            let holders: Vec<usize> = (0..d.geometry.len())
                .filter(|&j| {
                    let b = boxes[j];
                    b.min().x <= p.x && p.x <= b.max().x && b.min().y <= p.y && p.y <= b.max().y
                })
                .filter(|&j| d.geometry[j].intersects(&p))
                .collect();
            if holders.len() < 2 {
                continue; // on the outline, not a shared border
            }
            let got = idx.locate_index(p.x, p.y).expect("border point is inside");
            assert_eq!(got, holders[0], "lowest code wins on a shared border");
            assert_eq!(idx.locate_index(p.x, p.y), Some(got));
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} border points found");
}

#[test]
fn location_serializes_with_stable_names() {
    let loc = index().locate(116.437, 39.922).unwrap();
    let json = serde_json::to_value(&loc).unwrap();
    for key in ["technical_grid", "supervision_grid", "street"] {
        assert!(json.get(key).and_then(|v| v.as_str()).is_some(), "{key}");
    }
    let back: Location = serde_json::from_value(json).unwrap();
    assert_eq!(back, loc);
}

#[test]
fn gcj02_round_trip_stays_under_half_a_metre_across_the_district() {
    let outline = DemoDistrict::outline();
    let bbox = outline.bounding_rect().unwrap();
    let mut worst: f64 = 0.0;
    let mut n = 0;
    for i in 0..=120 {
        for j in 0..=120 {
            let lon = bbox.min().x + (bbox.max().x - bbox.min().x) * f64::from(i) / 120.0;
            let lat = bbox.min().y + (bbox.max().y - bbox.min().y) * f64::from(j) / 120.0;
            if !outline.contains(&Point::new(lon, lat)) {
                continue;
            }
            let (gx, gy) = wgs84_to_gcj02(lon, lat);
            // GCJ-02 shifts Beijing by a few hundred metres: the conversion is real.
            let shift = Haversine.distance(Point::new(lon, lat), Point::new(gx, gy));
            assert!((100.0..1000.0).contains(&shift), "shift {shift} m");
            let (bx, by) = gcj02_to_wgs84(gx, gy);
            let err = Haversine.distance(Point::new(lon, lat), Point::new(bx, by));
            worst = worst.max(err);
            n += 1;
        }
    }
    assert!(n > 5000, "{n} samples");
    assert!(worst < 0.5, "worst round trip {worst} m");
}
