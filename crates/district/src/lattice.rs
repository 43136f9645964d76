//! Technical grids: a square lattice clipped to the outline, with slivers merged.
//!
//! All work happens in the local metric projection ([`crate::proj`]). Cells
//! wholly inside the outline stay exact squares; cells crossed by the outline
//! are clipped with `geo`'s boolean operations and every output vertex is
//! snapped back onto a *canonical* point (a cell corner, an outline vertex, or
//! the crossing of an outline edge with a lattice line computed from the
//! original edge). Neighbouring cells therefore share bit-identical edges:
//! no slivers of gap or overlap, and shared borders can be measured exactly.

use std::collections::BTreeMap;

use geo::{Area, BooleanOps, Centroid};
use geo_types::{Coord, LineString, MultiPolygon, Polygon};

/// Snap tolerance in metres for clipped vertices (clipping is accurate to ~1e-5 m).
const SNAP_M: f64 = 0.05;

/// A square lattice: rows counted from the north, columns from the west.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lattice {
    /// x of the west edge of column 0 (metres).
    pub x0: f64,
    /// y of the north edge of row 0 (metres).
    pub y_top: f64,
    /// Cell side (metres).
    pub s: f64,
    /// Number of columns.
    pub nx: usize,
    /// Number of rows.
    pub ny: usize,
}

impl Lattice {
    fn new(bbox: [f64; 4], s: f64) -> Lattice {
        let [minx, miny, maxx, maxy] = bbox;
        Lattice {
            x0: minx,
            y_top: maxy,
            s,
            nx: (((maxx - minx) / s).ceil() as usize).max(1),
            ny: (((maxy - miny) / s).ceil() as usize).max(1),
        }
    }

    /// x of the west edge of column `i`; the only way lattice x values are made.
    pub fn x(&self, i: usize) -> f64 {
        self.x0 + i as f64 * self.s
    }

    /// y of the north edge of row `r`; the only way lattice y values are made.
    pub fn y(&self, r: usize) -> f64 {
        self.y_top - r as f64 * self.s
    }

    /// Column holding x (clamped to the lattice).
    pub fn col_of(&self, x: f64) -> usize {
        (((x - self.x0) / self.s).floor().max(0.0) as usize).min(self.nx - 1)
    }

    /// Row holding y (clamped to the lattice).
    pub fn row_of(&self, y: f64) -> usize {
        (((self.y_top - y) / self.s).floor().max(0.0) as usize).min(self.ny - 1)
    }

    fn square(&self, r: usize, i: usize) -> Polygon<f64> {
        let (xa, xb, yn, ys) = (self.x(i), self.x(i + 1), self.y(r), self.y(r + 1));
        Polygon::new(
            LineString::from(vec![(xa, ys), (xb, ys), (xb, yn), (xa, yn), (xa, ys)]),
            vec![],
        )
    }
}

type Edge = (Coord<f64>, Coord<f64>);

fn edges_of(outline: &MultiPolygon<f64>) -> Vec<Edge> {
    let mut edges = Vec::new();
    for p in &outline.0 {
        for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
            for l in ring.lines() {
                if l.start != l.end {
                    edges.push((l.start, l.end));
                }
            }
        }
    }
    edges
}

fn bbox_of(outline: &MultiPolygon<f64>) -> [f64; 4] {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for p in &outline.0 {
        for c in p.exterior().coords() {
            b[0] = b[0].min(c.x);
            b[1] = b[1].min(c.y);
            b[2] = b[2].max(c.x);
            b[3] = b[3].max(c.y);
        }
    }
    b
}

/// Does segment pq meet the *open* rectangle (xa, xb) × (ya, yb)? (Liang–Barsky.)
fn segment_hits_open_rect(
    p: Coord<f64>,
    q: Coord<f64>,
    xa: f64,
    xb: f64,
    ya: f64,
    yb: f64,
) -> bool {
    let (dx, dy) = (q.x - p.x, q.y - p.y);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (pc, qc) in [
        (-dx, p.x - xa),
        (dx, xb - p.x),
        (-dy, p.y - ya),
        (dy, yb - p.y),
    ] {
        if pc == 0.0 {
            // Parallel: on or beyond this side means never strictly inside.
            if qc <= 0.0 {
                return false;
            }
        } else {
            let t = qc / pc;
            if pc < 0.0 {
                if t >= t1 {
                    return false;
                }
                t0 = t0.max(t);
            } else {
                if t <= t0 {
                    return false;
                }
                t1 = t1.min(t);
            }
        }
    }
    t0 < t1
}

const OUTSIDE: u8 = 0;
const BOUNDARY: u8 = 1;
const INSIDE: u8 = 2;

/// Classifies every cell: crossed by the outline, wholly inside, or outside.
/// A cell meets the district iff an edge enters its open interior (boundary)
/// or, untouched by edges, its centre is inside (interior).
fn classify(l: &Lattice, edges: &[Edge]) -> Vec<u8> {
    let mut flags = vec![OUTSIDE; l.nx * l.ny];
    for &(p, q) in edges {
        let (i0, i1) = (l.col_of(p.x.min(q.x)), l.col_of(p.x.max(q.x)));
        let (r0, r1) = (l.row_of(p.y.max(q.y)), l.row_of(p.y.min(q.y)));
        for r in r0..=r1 {
            for i in i0..=i1 {
                if segment_hits_open_rect(p, q, l.x(i), l.x(i + 1), l.y(r + 1), l.y(r)) {
                    flags[r * l.nx + i] = BOUNDARY;
                }
            }
        }
    }
    let mut xs = Vec::new();
    for r in 0..l.ny {
        let yc = l.y_top - (r as f64 + 0.5) * l.s;
        xs.clear();
        for &(p, q) in edges {
            if (p.y > yc) != (q.y > yc) {
                xs.push(p.x + (yc - p.y) * (q.x - p.x) / (q.y - p.y));
            }
        }
        xs.sort_by(f64::total_cmp);
        for pair in xs.chunks_exact(2) {
            let lo = ((pair[0] - l.x0) / l.s - 0.5).ceil().max(0.0) as usize;
            let hi = ((pair[1] - l.x0) / l.s - 0.5).floor();
            if hi < 0.0 {
                continue;
            }
            for i in lo..=(hi as usize).min(l.nx - 1) {
                let f = &mut flags[r * l.nx + i];
                if *f == OUTSIDE {
                    *f = INSIDE;
                }
            }
        }
    }
    flags
}

fn count_cells(l: &Lattice, edges: &[Edge]) -> usize {
    classify(l, edges).iter().filter(|&&f| f != OUTSIDE).count()
}

/// Cell sizes are tried on a 1 cm ladder: 200.00 m + k cm.
fn ladder(k: u32) -> f64 {
    f64::from(20_000 + k) / 100.0
}

/// One connected piece of the district inside one lattice cell.
#[derive(Debug, Clone)]
struct Piece {
    cell: usize,
    poly: Polygon<f64>,
    area: f64,
    centroid: Coord<f64>,
}

/// A technical grid as generated: geometry in metres, plus its lattice cell.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    /// Geometry in the local projection (metres).
    pub geom: MultiPolygon<f64>,
    /// Area in m².
    pub area: f64,
    /// Area-weighted centroid (metres).
    pub centroid: Coord<f64>,
    /// Lattice row of the unit's largest piece.
    pub row: usize,
}

/// The tessellation of the district into technical grids.
#[derive(Debug, Clone)]
pub(crate) struct Tessellation {
    /// The lattice used.
    pub lattice: Lattice,
    /// Technical grids in lattice order (row-major by largest piece).
    pub units: Vec<Unit>,
    /// Edge-adjacency: for each unit, (neighbour, shared border length in m), ascending.
    pub adj: Vec<Vec<(usize, f64)>>,
    /// Number of lattice cells meeting the outline before sliver merging.
    pub cells_before_merge: usize,
}

fn canonical_points(
    l: &Lattice,
    r: usize,
    i: usize,
    edges: &[Edge],
    cell_edges: &[u32],
) -> Vec<Coord<f64>> {
    let (xa, xb, yn, ys) = (l.x(i), l.x(i + 1), l.y(r), l.y(r + 1));
    let mut pts = vec![
        Coord { x: xa, y: ys },
        Coord { x: xb, y: ys },
        Coord { x: xb, y: yn },
        Coord { x: xa, y: yn },
    ];
    let inside = |c: Coord<f64>| {
        c.x >= xa - SNAP_M && c.x <= xb + SNAP_M && c.y >= ys - SNAP_M && c.y <= yn + SNAP_M
    };
    for &e in cell_edges {
        let (p, q) = edges[e as usize];
        for v in [p, q] {
            if inside(v) {
                pts.push(v);
            }
        }
        // Canonical orientation so both cells beside a line compute the same bits.
        let (a, b) = if (p.x, p.y) <= (q.x, q.y) {
            (p, q)
        } else {
            (q, p)
        };
        for x in [xa, xb] {
            if a.x < x && x < b.x {
                let c = Coord {
                    x,
                    y: a.y + (x - a.x) * (b.y - a.y) / (b.x - a.x),
                };
                if inside(c) {
                    pts.push(c);
                }
            }
        }
        let (a, b) = if (p.y, p.x) <= (q.y, q.x) {
            (p, q)
        } else {
            (q, p)
        };
        for y in [ys, yn] {
            if a.y < y && y < b.y {
                let c = Coord {
                    x: a.x + (y - a.y) * (b.x - a.x) / (b.y - a.y),
                    y,
                };
                if inside(c) {
                    pts.push(c);
                }
            }
        }
    }
    pts
}

fn snap_ring(
    ring: &LineString<f64>,
    canon: &[Coord<f64>],
    lines_x: &[f64],
    lines_y: &[f64],
) -> Option<LineString<f64>> {
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
    for &v in &ring.0 {
        let mut best: Option<(f64, Coord<f64>)> = None;
        for &c in canon {
            // Squared distance: no libm call, so every machine snaps alike.
            let d = (c.x - v.x) * (c.x - v.x) + (c.y - v.y) * (c.y - v.y);
            if d < SNAP_M * SNAP_M && best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, c));
            }
        }
        let mut w = best.map_or(v, |(_, c)| c);
        if best.is_none() {
            for &x in lines_x {
                if (w.x - x).abs() < SNAP_M {
                    w.x = x;
                }
            }
            for &y in lines_y {
                if (w.y - y).abs() < SNAP_M {
                    w.y = y;
                }
            }
        }
        if out.last() != Some(&w) {
            out.push(w);
        }
    }
    if out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    if out.len() < 3 {
        return None;
    }
    out.push(out[0]);
    Some(LineString::new(out))
}

fn snap_polygon(
    p: &Polygon<f64>,
    canon: &[Coord<f64>],
    lines_x: &[f64],
    lines_y: &[f64],
) -> Option<Polygon<f64>> {
    let ext = snap_ring(p.exterior(), canon, lines_x, lines_y)?;
    let holes = p
        .interiors()
        .iter()
        .filter_map(|h| snap_ring(h, canon, lines_x, lines_y))
        .collect();
    let poly = Polygon::new(ext, holes);
    (poly.unsigned_area() > 0.0).then_some(poly)
}

fn build_pieces(
    l: &Lattice,
    flags: &[u8],
    outline: &MultiPolygon<f64>,
    edges: &[Edge],
) -> Vec<Piece> {
    // Edges touching each cell's closed box (with the snap margin), for canonical points.
    let mut cell_edges: Vec<Vec<u32>> = vec![Vec::new(); l.nx * l.ny];
    for (ei, &(p, q)) in edges.iter().enumerate() {
        let (i0, i1) = (
            l.col_of(p.x.min(q.x) - SNAP_M),
            l.col_of(p.x.max(q.x) + SNAP_M),
        );
        let (r0, r1) = (
            l.row_of(p.y.max(q.y) + SNAP_M),
            l.row_of(p.y.min(q.y) - SNAP_M),
        );
        for r in r0..=r1 {
            for i in i0..=i1 {
                cell_edges[r * l.nx + i].push(ei as u32);
            }
        }
    }
    let mut pieces = Vec::new();
    for r in 0..l.ny {
        for i in 0..l.nx {
            let cell = r * l.nx + i;
            let sq = l.square(r, i);
            match flags[cell] {
                INSIDE => {
                    let area = l.s * l.s;
                    let centroid = Coord {
                        x: (l.x(i) + l.x(i + 1)) / 2.0,
                        y: (l.y(r) + l.y(r + 1)) / 2.0,
                    };
                    pieces.push(Piece {
                        cell,
                        poly: sq,
                        area,
                        centroid,
                    });
                }
                BOUNDARY => {
                    let canon = canonical_points(l, r, i, edges, &cell_edges[cell]);
                    let lines_x = [l.x(i), l.x(i + 1)];
                    let lines_y = [l.y(r + 1), l.y(r)];
                    let clipped = sq.intersection(outline);
                    for p in &clipped.0 {
                        if let Some(poly) = snap_polygon(p, &canon, &lines_x, &lines_y) {
                            let area = poly.unsigned_area();
                            let centroid = poly.centroid().map_or(canon[0], |c| c.0);
                            pieces.push(Piece {
                                cell,
                                poly,
                                area,
                                centroid,
                            });
                        }
                    }
                }
                _ => {}
            }
        }
    }
    pieces
}

/// Intervals a piece's boundary covers on its cell's west, east, north and south sides.
fn side_intervals(l: &Lattice, p: &Piece) -> [Vec<(f64, f64)>; 4] {
    let (r, i) = (p.cell / l.nx, p.cell % l.nx);
    let (xa, xb, yn, ys) = (l.x(i), l.x(i + 1), l.y(r), l.y(r + 1));
    let mut sides: [Vec<(f64, f64)>; 4] = Default::default();
    for ring in std::iter::once(p.poly.exterior()).chain(p.poly.interiors()) {
        for seg in ring.lines() {
            let (a, b) = (seg.start, seg.end);
            if a.x == b.x && a.x == xa {
                sides[0].push((a.y.min(b.y), a.y.max(b.y)));
            } else if a.x == b.x && a.x == xb {
                sides[1].push((a.y.min(b.y), a.y.max(b.y)));
            } else if a.y == b.y && a.y == yn {
                sides[2].push((a.x.min(b.x), a.x.max(b.x)));
            } else if a.y == b.y && a.y == ys {
                sides[3].push((a.x.min(b.x), a.x.max(b.x)));
            }
        }
    }
    sides
}

fn overlap(a: &[(f64, f64)], b: &[(f64, f64)]) -> f64 {
    let mut len = 0.0;
    for &(a0, a1) in a {
        for &(b0, b1) in b {
            len += (a1.min(b1) - a0.max(b0)).max(0.0);
        }
    }
    len
}

fn piece_adjacency(l: &Lattice, pieces: &[Piece]) -> Vec<BTreeMap<usize, f64>> {
    let mut by_cell: Vec<Vec<usize>> = vec![Vec::new(); l.nx * l.ny];
    for (k, p) in pieces.iter().enumerate() {
        by_cell[p.cell].push(k);
    }
    let sides: Vec<_> = pieces.iter().map(|p| side_intervals(l, p)).collect();
    let mut adj = vec![BTreeMap::new(); pieces.len()];
    for (k, p) in pieces.iter().enumerate() {
        let (r, i) = (p.cell / l.nx, p.cell % l.nx);
        let mut link = |q: usize, len: f64| {
            if len > 0.0 {
                adj[k].insert(q, len);
                adj[q].insert(k, len);
            }
        };
        if i + 1 < l.nx {
            for &q in &by_cell[p.cell + 1] {
                link(q, overlap(&sides[k][1], &sides[q][0]));
            }
        }
        if r + 1 < l.ny {
            for &q in &by_cell[p.cell + l.nx] {
                link(q, overlap(&sides[k][3], &sides[q][2]));
            }
        }
    }
    adj
}

fn union_snapped(polys: &[&Polygon<f64>]) -> MultiPolygon<f64> {
    if let [one] = polys {
        return MultiPolygon::new(vec![(*one).clone()]);
    }
    let canon: Vec<Coord<f64>> = polys
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|r| r.0.iter().copied())
        .collect();
    let mut acc = MultiPolygon::new(vec![polys[0].clone()]);
    for p in &polys[1..] {
        acc = acc.union(*p);
    }
    MultiPolygon::new(
        acc.0
            .iter()
            .filter_map(|p| snap_polygon(p, &canon, &[], &[]))
            .collect(),
    )
}

/// Tessellates `outline` (projected, metres) into exactly `target` technical grids.
///
/// The cell size is the largest size on a 1 cm ladder whose lattice meets the
/// outline in at least `target` cells (found by bisection; the count falls as
/// the size grows). Cells split by the outline into several parts give one
/// piece per part. Then the smallest piece that has an edge-neighbour is merged
/// into the neighbour it shares the longest border with, until `target` remain.
pub(crate) fn tessellate(outline: &MultiPolygon<f64>, target: usize) -> Tessellation {
    let edges = edges_of(outline);
    let bbox = bbox_of(outline);
    let count = |k: u32| count_cells(&Lattice::new(bbox, ladder(k)), &edges);
    let (mut lo, mut hi) = (0u32, 10_000u32);
    assert!(
        count(lo) >= target,
        "a 200 m lattice must yield at least {target} cells"
    );
    while count(hi) >= target {
        hi *= 2;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if count(mid) >= target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // Clipping may drop a zero-area cell the classifier counted; step down if so.
    let (lattice, pieces, cells) = loop {
        let l = Lattice::new(bbox, ladder(lo));
        let flags = classify(&l, &edges);
        let cells = flags.iter().filter(|&&f| f != OUTSIDE).count();
        let pieces = build_pieces(&l, &flags, outline, &edges);
        if pieces.len() >= target || lo == 0 {
            break (l, pieces, cells);
        }
        lo -= 1;
    };
    let piece_adj = piece_adjacency(&lattice, &pieces);

    // Units start as single pieces; merge the smallest with a neighbour.
    let n = pieces.len();
    let mut members: Vec<Vec<usize>> = (0..n).map(|k| vec![k]).collect();
    let mut area: Vec<f64> = pieces.iter().map(|p| p.area).collect();
    let mut adj = piece_adj;
    let mut alive = vec![true; n];
    let mut alive_count = n;
    while alive_count > target {
        let mut best: Option<usize> = None;
        for u in 0..n {
            if alive[u] && !adj[u].is_empty() && best.is_none_or(|b| area[u] < area[b]) {
                best = Some(u);
            }
        }
        let u = best.expect("a mergeable piece exists while above target");
        let mut v = usize::MAX;
        let mut v_len = f64::NEG_INFINITY;
        for (&w, &len) in &adj[u] {
            if len > v_len {
                v = w;
                v_len = len;
            }
        }
        let moved = std::mem::take(&mut members[u]);
        members[v].extend(moved);
        area[v] += area[u];
        let u_adj = std::mem::take(&mut adj[u]);
        for (w, len) in u_adj {
            adj[w].remove(&u);
            if w != v {
                *adj[v].entry(w).or_insert(0.0) += len;
                *adj[w].entry(v).or_insert(0.0) += len;
            }
        }
        alive[u] = false;
        alive_count -= 1;
    }

    let mut index_of = vec![usize::MAX; n];
    let mut units = Vec::with_capacity(target);
    for u in (0..n).filter(|&u| alive[u]) {
        index_of[u] = units.len();
        let polys: Vec<&Polygon<f64>> = members[u].iter().map(|&k| &pieces[k].poly).collect();
        let geom = union_snapped(&polys);
        let a: f64 = members[u].iter().map(|&k| pieces[k].area).sum();
        let (mut cx, mut cy) = (0.0, 0.0);
        for &k in &members[u] {
            cx += pieces[k].centroid.x * pieces[k].area;
            cy += pieces[k].centroid.y * pieces[k].area;
        }
        let largest = members[u].iter().copied().fold(members[u][0], |b, k| {
            if pieces[k].area > pieces[b].area {
                k
            } else {
                b
            }
        });
        units.push(Unit {
            geom,
            area: a,
            centroid: Coord {
                x: cx / a,
                y: cy / a,
            },
            row: pieces[largest].cell / lattice.nx,
        });
    }
    let adj = (0..n)
        .filter(|&u| alive[u])
        .map(|u| adj[u].iter().map(|(&w, &len)| (index_of[w], len)).collect())
        .collect();
    Tessellation {
        lattice,
        units,
        adj,
        cells_before_merge: cells,
    }
}

/// Projects a WGS-84 multipolygon into the local metric projection.
pub(crate) fn project(mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    use geo::MapCoords;
    mp.map_coords(|c| {
        let (x, y) = crate::proj::to_xy(c.x, c.y);
        Coord { x, y }
    })
}

/// Unprojects a local metric multipolygon back to WGS-84.
pub(crate) fn unproject(mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    use geo::MapCoords;
    mp.map_coords(|c| {
        let (x, y) = crate::proj::to_lonlat(c.x, c.y);
        Coord { x, y }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_rectangle_test_excludes_touching_segments() {
        let c = |x, y| Coord { x, y };
        assert!(segment_hits_open_rect(
            c(-1.0, 0.5),
            c(2.0, 0.5),
            0.0,
            1.0,
            0.0,
            1.0
        ));
        // Along the west side: touches but never enters.
        assert!(!segment_hits_open_rect(
            c(0.0, -1.0),
            c(0.0, 2.0),
            0.0,
            1.0,
            0.0,
            1.0
        ));
        // Through a corner only.
        assert!(!segment_hits_open_rect(
            c(-1.0, 1.0),
            c(1.0, -1.0),
            0.0,
            1.0,
            0.0,
            1.0
        ));
        assert!(!segment_hits_open_rect(
            c(-1.0, 0.0),
            c(0.0, -1.0),
            0.0,
            1.0,
            0.0,
            1.0
        ));
        // Entirely inside.
        assert!(segment_hits_open_rect(
            c(0.2, 0.2),
            c(0.3, 0.4),
            0.0,
            1.0,
            0.0,
            1.0
        ));
    }
}
