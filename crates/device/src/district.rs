//! The cached district package: my grids and those around them, a grid
//! lookup over them (R-tree of outlines) and the map view.

use geo::{Contains, Coord, LineString, MultiPolygon, Point, Polygon};
use gridpatrol_protocol::DistrictPackage;
use rstar::{RTree, RTreeObject, AABB};

use crate::view::{GridLevel, MapGrid};

/// One technical grid of the package.
struct Cell {
    code: String,
    supervision_grid: String,
    street: String,
    mine: bool,
    shape: MultiPolygon<f64>,
    env: AABB<[f64; 2]>,
    index: usize,
}

impl RTreeObject for Cell {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.env
    }
}

/// Where a point falls in the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Technical grid.
    pub technical_grid: String,
    /// Supervision grid.
    pub supervision_grid: String,
    /// Street.
    pub street: String,
    /// In one of my grids.
    pub mine: bool,
}

/// The package with its lookup index.
pub struct Area {
    /// The package as fetched.
    pub package: DistrictPackage,
    tree: RTree<Cell>,
}

impl Area {
    /// Indexes a package.
    pub fn new(package: DistrictPackage) -> Area {
        let mut cells = Vec::new();
        for (index, f) in package.grids.features.iter().enumerate() {
            let shape = MultiPolygon::new(
                f.geometry
                    .coordinates
                    .iter()
                    .filter(|rings| !rings.is_empty())
                    .map(|rings| {
                        let ring = |r: &Vec<[f64; 2]>| {
                            LineString::new(r.iter().map(|p| Coord { x: p[0], y: p[1] }).collect())
                        };
                        Polygon::new(ring(&rings[0]), rings[1..].iter().map(ring).collect())
                    })
                    .collect(),
            );
            let pts = f.geometry.coordinates.iter().flatten().flatten();
            let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
            for p in pts {
                lo = [lo[0].min(p[0]), lo[1].min(p[1])];
                hi = [hi[0].max(p[0]), hi[1].max(p[1])];
            }
            if lo[0] > hi[0] {
                continue;
            }
            cells.push(Cell {
                code: f.properties.code.clone(),
                supervision_grid: f.properties.supervision_grid.clone(),
                street: f.properties.street.clone(),
                mine: f.properties.mine,
                shape,
                env: AABB::from_corners(lo, hi),
                index,
            });
        }
        Area {
            package,
            tree: RTree::bulk_load(cells),
        }
    }

    /// The grid a WGS-84 point falls in.
    pub fn locate(&self, lon: f64, lat: f64) -> Option<Hit> {
        let p = Point::new(lon, lat);
        self.tree
            .locate_in_envelope_intersecting(AABB::from_point([lon, lat]))
            // Lowest feature index first: a point on a shared edge always
            // gets the same cell.
            .filter(|c| c.shape.contains(&p) || on_boundary(&c.shape, &p))
            .min_by_key(|c| c.index)
            .map(|c| Hit {
                technical_grid: c.code.clone(),
                supervision_grid: c.supervision_grid.clone(),
                street: c.street.clone(),
                mine: c.mine,
            })
    }

    /// The grids for the map, `visited` marked from today's track.
    pub fn map_grids(&self, visited: &std::collections::HashSet<String>) -> Vec<MapGrid> {
        self.package
            .grids
            .features
            .iter()
            .map(|f| MapGrid {
                code: f.properties.code.clone(),
                level: GridLevel::Technical,
                name: f.properties.supervision_name.clone(),
                mine: f.properties.mine,
                rings: f
                    .geometry
                    .coordinates
                    .iter()
                    .filter_map(|rings| rings.first().cloned())
                    .collect(),
                visited: visited.contains(&f.properties.code),
            })
            .collect()
    }

    /// `[west, south, east, north]` of my grids (of all, if none is mine).
    pub fn my_bbox(&self) -> [f64; 4] {
        let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        let any_mine = self
            .package
            .grids
            .features
            .iter()
            .any(|f| f.properties.mine);
        for f in &self.package.grids.features {
            if any_mine && !f.properties.mine {
                continue;
            }
            for p in f.geometry.coordinates.iter().flatten().flatten() {
                b = [
                    b[0].min(p[0]),
                    b[1].min(p[1]),
                    b[2].max(p[0]),
                    b[3].max(p[1]),
                ];
            }
        }
        b
    }
}

/// `contains` excludes the boundary; a fix exactly on a cell edge still
/// belongs to a cell.
fn on_boundary(shape: &MultiPolygon<f64>, p: &Point<f64>) -> bool {
    use geo::Intersects;
    shape.0.iter().any(|poly| poly.exterior().intersects(p))
}

/// Great-circle distance in metres (haversine on the WGS-84 mean radius).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    use geo::{Distance, Haversine};
    Haversine.distance(Point::new(a.0, a.1), Point::new(b.0, b.1))
}
