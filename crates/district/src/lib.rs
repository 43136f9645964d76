//! The GridPatrol demo district and everything spatial: it generates Chaoyang's
//! 43 streets/townships, 237 supervision grids, 8,070 technical grids, 35 squads
//! and 1,547 inspectors deterministically from the real district outline,
//! locates WGS-84 points in the grid hierarchy with an R-tree, and converts
//! between WGS-84 and GCJ-02 at the edges.
//!
//! # Codes and numbering
//! Codes follow Beijing's 15-digit grid standard: `110105` + street (3) +
//! community (3) + grid (3). Here the street number is `001..=043`, the
//! community segment is the supervision grid's number within its street
//! (`001..`), and the grid segment is the technical grid's sequence within its
//! supervision grid. All numbering is in reading order, west→east within
//! north→south rows: a technical grid's row is the lattice row of its (largest)
//! cell, counted from the north, ties broken by centroid x; a street, supervision
//! grid or squad is placed by the lattice row holding its area-weighted centroid,
//! then by the centroid's x. A supervision grid code is the first 12 digits of
//! its technical grids' codes, a street code the first 9.
//!
//! # Geometry
//! Technical grids are cells of a square lattice (245.65 m, the largest size on a 1 cm ladder
//! that still yields at least 8,070 cells) laid in a local metric
//! projection and clipped to the outline; the smallest boundary slivers are merged
//! into an edge-neighbour until exactly 8,070 remain. Streets, supervision grids
//! and squads are grown over the cell adjacency graph, so each is connected (the
//! Capital Airport exclave is its own component and wholly 首都机场街道).
//! The borders are synthetic: plausible, not the real administrative ones.
#![forbid(unsafe_code)]

pub mod coords;
mod generate;
mod index;
mod lattice;
mod outline;
mod people;
mod proj;
mod regions;
mod streets;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use geo_types::MultiPolygon;
use gridpatrol_domain::district::District;
use sha2::{Digest, Sha256};

pub use index::{GridIndex, Location};
pub use outline::{parse_outline, OutlineError};

/// The generated demo district: the domain records plus the WGS-84 geometry
/// of every technical grid.
pub struct DemoDistrict {
    /// Streets, grids, squads and inspectors.
    pub district: District,
    /// One WGS-84 `MultiPolygon` per technical grid, in the same order as
    /// `district.technical_grids`.
    pub geometry: Vec<MultiPolygon<f64>>,
    rows: Vec<usize>,
    xs: Vec<f64>,
    cell_size_m: f64,
    cells_before_merge: usize,
    by_code: BTreeMap<String, usize>,
}

impl DemoDistrict {
    /// The district, generated once per process on first use.
    pub fn get() -> &'static DemoDistrict {
        static DISTRICT: OnceLock<DemoDistrict> = OnceLock::new();
        DISTRICT.get_or_init(DemoDistrict::generate)
    }

    /// Generates the district afresh (byte-identical every time; see
    /// [`DemoDistrict::fingerprint`]). Prefer [`DemoDistrict::get`].
    pub fn generate() -> DemoDistrict {
        let g = generate::generate(&DemoDistrict::outline());
        let by_code = g
            .district
            .technical_grids
            .iter()
            .enumerate()
            .map(|(k, t)| (t.code.clone(), k))
            .collect();
        DemoDistrict {
            district: g.district,
            geometry: g.geometry,
            rows: g.rows,
            xs: g.xs,
            cell_size_m: g.cell_size_m,
            cells_before_merge: g.cells_before_merge,
            by_code,
        }
    }

    /// Chaoyang's outline (WGS-84): main body and the Capital Airport exclave.
    pub fn outline() -> MultiPolygon<f64> {
        parse_outline(outline::CHAOYANG_GEOJSON).expect("the embedded outline parses (tested)")
    }

    /// WGS-84 geometry of the technical grid with this 15-digit code.
    pub fn grid_geometry(&self, code: &str) -> Option<&MultiPolygon<f64>> {
        self.by_code.get(code).map(|&k| &self.geometry[k])
    }

    /// Position of a technical grid in `district.technical_grids`.
    pub fn technical_grid_index(&self, code: &str) -> Option<usize> {
        self.by_code.get(code).copied()
    }

    /// Side of the lattice cells in metres (local projection).
    pub fn cell_size_m(&self) -> f64 {
        self.cell_size_m
    }

    /// Lattice cells that met the outline before slivers were merged (>= 8,070).
    pub fn cells_before_merge(&self) -> usize {
        self.cells_before_merge
    }

    /// Reading-order position of technical grid `k`: (lattice row from the
    /// north, centroid x in metres east of 116.49 E).
    pub fn reading_position(&self, k: usize) -> (usize, f64) {
        (self.rows[k], self.xs[k])
    }

    /// SHA-256 (hex) of a canonical text of every code, membership, name and
    /// the cell geometry rounded to 1e-7 degrees: equal fingerprints mean
    /// byte-identical districts.
    pub fn fingerprint(&self) -> String {
        let d = &self.district;
        let mut s = String::with_capacity(1 << 22);
        for st in &d.streets {
            let _ = writeln!(s, "street|{}|{}|{:?}", st.code, st.name, st.kind);
        }
        for g in &d.supervision_grids {
            let _ = writeln!(s, "sg|{}|{}|{}|{}", g.code, g.name, g.street, g.squad);
        }
        let q = |v: f64| (v * 1e7).round() as i64;
        for (t, geom) in d.technical_grids.iter().zip(&self.geometry) {
            let _ = write!(
                s,
                "tg|{}|{}|{}|{:?}|",
                t.code, t.supervision_grid, t.street, t.area_class
            );
            for p in &geom.0 {
                for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                    s.push('(');
                    for c in &ring.0 {
                        let _ = write!(s, "{},{};", q(c.x), q(c.y));
                    }
                    s.push(')');
                }
                s.push('/');
            }
            s.push('\n');
        }
        for sq in &d.squads {
            let _ = writeln!(
                s,
                "squad|{}|{}|{}|{}",
                sq.id,
                sq.name,
                sq.leader,
                sq.supervision_grids.join(",")
            );
        }
        for i in &d.inspectors {
            let _ = writeln!(
                s,
                "inspector|{}|{}|{}|{}|{:?}|{}",
                i.id,
                i.name,
                i.squad,
                i.supervision_grid,
                i.kind,
                i.role.as_str()
            );
        }
        hex::encode(Sha256::digest(s.as_bytes()))
    }
}
