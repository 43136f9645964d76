//! Point location: WGS-84 (lon, lat) → technical grid → supervision grid → street.

use geo::{BoundingRect, Intersects};
use geo_types::{Coord, MultiPolygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;
use serde::{Deserialize, Serialize};

use crate::DemoDistrict;

/// Where a point lies in the grid hierarchy (codes as in the domain model).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// 15-digit technical grid code.
    pub technical_grid: String,
    /// 12-digit supervision grid code.
    pub supervision_grid: String,
    /// 9-digit street code.
    pub street: String,
}

type Entry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// R-tree over the technical grids' bounding boxes, with an exact
/// point-in-polygon check behind it.
///
/// A point on a border shared by several grids (or on the district outline)
/// counts as inside each of them; the grid with the lowest code wins, so the
/// answer is always exactly one grid and the same on every run.
pub struct GridIndex {
    tree: RTree<Entry>,
    geometry: Vec<MultiPolygon<f64>>,
    locations: Vec<Location>,
}

impl GridIndex {
    /// Builds the index for a district (copies what it needs).
    pub fn new(d: &DemoDistrict) -> GridIndex {
        let entries = d
            .geometry
            .iter()
            .enumerate()
            .filter_map(|(k, g)| {
                let r = g.bounding_rect()?;
                let idx = u32::try_from(k).expect("fewer than 2^32 grids");
                Some(GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    idx,
                ))
            })
            .collect();
        let locations = d
            .district
            .technical_grids
            .iter()
            .map(|t| Location {
                technical_grid: t.code.clone(),
                supervision_grid: t.supervision_grid.clone(),
                street: t.street.clone(),
            })
            .collect();
        GridIndex {
            tree: RTree::bulk_load(entries),
            geometry: d.geometry.clone(),
            locations,
        }
    }

    /// The grids of a WGS-84 point, or `None` when it is outside the district
    /// (or not a finite coordinate). Never guesses a nearest grid.
    pub fn locate(&self, lon: f64, lat: f64) -> Option<Location> {
        self.locate_index(lon, lat)
            .map(|k| self.locations[k].clone())
    }

    /// Position (in `district.technical_grids`) of the grid holding the point.
    pub fn locate_index(&self, lon: f64, lat: f64) -> Option<usize> {
        if !(lon.is_finite() && lat.is_finite()) {
            return None;
        }
        let p = Coord { x: lon, y: lat };
        let mut best: Option<usize> = None;
        for e in self.tree.locate_all_at_point([lon, lat]) {
            let k = e.data as usize;
            if best.is_none_or(|b| k < b) && self.geometry[k].intersects(&p) {
                best = Some(k);
            }
        }
        best
    }

    /// Reference answer by testing every grid polygon in turn (no index);
    /// the baseline for benchmarks and a cross-check for tests.
    pub fn locate_index_linear(&self, lon: f64, lat: f64) -> Option<usize> {
        if !(lon.is_finite() && lat.is_finite()) {
            return None;
        }
        let p = Coord { x: lon, y: lat };
        self.geometry.iter().position(|g| g.intersects(&p))
    }

    /// Number of grids indexed.
    pub fn len(&self) -> usize {
        self.geometry.len()
    }

    /// True when no grid is indexed.
    pub fn is_empty(&self) -> bool {
        self.geometry.is_empty()
    }
}
