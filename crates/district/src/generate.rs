//! Builds the demo district: tessellation → streets → supervision grids →
//! squads → inspectors, all deterministic.

use std::collections::BTreeSet;

use geo_types::{Coord, MultiPolygon};
use gridpatrol_domain::district::{
    AreaClass, District, Inspector, InspectorKind, Squad, Street, StreetKind, SupervisionGrid,
    TechnicalGrid,
};
use gridpatrol_domain::roles::Role;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::lattice::{tessellate, Lattice};
use crate::people::NameMaker;
use crate::proj::to_xy;
use crate::regions::{apportion, components, grow, is_connected, spread_seeds, FREE};
use crate::streets::{AIRPORT, STREETS};

/// Technical grids in the district (case study).
pub(crate) const TECHNICAL_GRIDS: usize = 8070;
/// Supervision grids in the district (case study).
pub(crate) const SUPERVISION_GRIDS: usize = 237;
/// Supervision squads (case study).
pub(crate) const SQUADS: usize = 35;
/// Inspectors including squad leaders (case study).
pub(crate) const INSPECTORS: usize = 1547;
/// Share of unit inspectors among the inspectors of a supervision grid.
const UNIT_INSPECTOR_SHARE: f64 = 0.2;
/// Seed of the name generator ("GridPatr").
const NAME_SEED: u64 = 0x4772_6964_5061_7472;
/// Tiananmen, the centre distances are measured from for area classes.
const CITY_CENTRE: (f64, f64) = (116.3975, 39.9087);
/// Core (class A): 街道 within this distance of the centre (about the 4th ring).
const CORE_RADIUS_M: f64 = 9_000.0;
/// Outskirts (class C): townships beyond this distance.
const OUTSKIRTS_RADIUS_M: f64 = 12_000.0;

/// Everything generation produces.
pub(crate) struct Generated {
    pub district: District,
    /// WGS-84 geometry per technical grid (same order as `district.technical_grids`).
    pub geometry: Vec<MultiPolygon<f64>>,
    /// Lattice row (from the north) per technical grid.
    pub rows: Vec<usize>,
    /// Centroid x (metres, local projection) per technical grid.
    pub xs: Vec<f64>,
    /// Lattice cell side (metres).
    pub cell_size_m: f64,
    /// Lattice cells meeting the outline before slivers were merged.
    pub cells_before_merge: usize,
}

/// Reading-order key: lattice row holding `c` (north first), then x (west first).
fn reading_key(l: &Lattice, c: Coord<f64>) -> (usize, f64) {
    (l.row_of(c.y), c.x)
}

fn weighted_centroid(members: &[usize], pos: &[Coord<f64>], w: &[f64]) -> Coord<f64> {
    let total: f64 = members.iter().map(|&m| w[m]).sum();
    Coord {
        x: members.iter().map(|&m| pos[m].x * w[m]).sum::<f64>() / total,
        y: members.iter().map(|&m| pos[m].y * w[m]).sum::<f64>() / total,
    }
}

/// Orders region ids by the reading key of their centroids.
fn reading_order(l: &Lattice, centroids: &[Coord<f64>]) -> Vec<usize> {
    let mut ids: Vec<usize> = (0..centroids.len()).collect();
    ids.sort_by(|&a, &b| {
        let (ka, kb) = (reading_key(l, centroids[a]), reading_key(l, centroids[b]));
        ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1)).then(a.cmp(&b))
    });
    ids
}

fn nearest_free(pos: &[Coord<f64>], p: Coord<f64>, ok: &dyn Fn(usize) -> bool) -> usize {
    (0..pos.len())
        .filter(|&u| ok(u))
        .min_by(|&a, &b| {
            // Squared distances: plain IEEE arithmetic, identical on every machine.
            let sq = |u: usize| {
                (pos[u].x - p.x) * (pos[u].x - p.x) + (pos[u].y - p.y) * (pos[u].y - p.y)
            };
            let (da, db) = (sq(a), sq(b));
            da.total_cmp(&db).then(a.cmp(&b))
        })
        .expect("a free unit exists")
}

fn members_of(owner: &[usize], k: usize) -> Vec<usize> {
    (0..owner.len()).filter(|&u| owner[u] == k).collect()
}

/// Generates the whole demo district.
pub(crate) fn generate(outline_wgs: &MultiPolygon<f64>) -> Generated {
    let outline_m = crate::lattice::project(outline_wgs);
    let tess = tessellate(&outline_m, TECHNICAL_GRIDS);
    let lat = tess.lattice;
    let n = tess.units.len();
    let adj: Vec<Vec<usize>> = tess
        .adj
        .iter()
        .map(|v| v.iter().map(|&(w, _)| w).collect())
        .collect();
    let pos: Vec<Coord<f64>> = tess.units.iter().map(|u| u.centroid).collect();
    let area: Vec<f64> = tess.units.iter().map(|u| u.area).collect();
    let comp = components(&adj);

    // ---- streets: the airport exclave is its own component and street.
    let airport = STREETS
        .iter()
        .position(|s| s.name == AIRPORT)
        .expect("airport street");
    let seed_xy = |k: usize| {
        let (x, y) = to_xy(STREETS[k].lon, STREETS[k].lat);
        Coord { x, y }
    };
    let exclave = comp[nearest_free(&pos, seed_xy(airport), &|_| true)];
    let main_ids: Vec<usize> = (0..STREETS.len()).filter(|&k| k != airport).collect();
    let mut seeds = Vec::new();
    for &k in &main_ids {
        let taken = seeds.clone();
        seeds.push(nearest_free(&pos, seed_xy(k), &|u| {
            comp[u] != exclave && !taken.contains(&u)
        }));
    }
    let targets: Vec<f64> = main_ids.iter().map(|&k| STREETS[k].weight).collect();
    let grown = grow(&adj, &pos, &area, &seeds, &targets, &|u| comp[u] != exclave);
    let mut street_of = vec![FREE; n];
    for u in 0..n {
        street_of[u] = if comp[u] == exclave {
            airport
        } else {
            assert_ne!(
                grown[u], FREE,
                "technical grid {u} unreachable from every street seed"
            );
            main_ids[grown[u]]
        };
    }
    let street_members: Vec<Vec<usize>> = (0..STREETS.len())
        .map(|k| members_of(&street_of, k))
        .collect();
    let street_centroids: Vec<Coord<f64>> = street_members
        .iter()
        .map(|m| weighted_centroid(m, &pos, &area))
        .collect();
    let street_order = reading_order(&lat, &street_centroids); // street_order[rank] = street id
    let mut street_rank = vec![0; STREETS.len()];
    for (rank, &k) in street_order.iter().enumerate() {
        street_rank[k] = rank;
    }
    let street_code = |k: usize| format!("110105{:03}", street_rank[k] + 1);

    // ---- supervision grids, proportional to street area, grown inside each street.
    let street_area: Vec<f64> = street_members
        .iter()
        .map(|m| m.iter().map(|&u| area[u]).sum())
        .collect();
    let sg_count = apportion(SUPERVISION_GRIDS, &street_area, 1);
    let mut sg_of = vec![FREE; n];
    // Supervision grids in code order: (street id, members).
    let mut sgs: Vec<(usize, Vec<usize>)> = Vec::with_capacity(SUPERVISION_GRIDS);
    for &k in &street_order {
        let nodes = &street_members[k];
        let seeds = spread_seeds(nodes, &pos, &area, sg_count[k]);
        let owner = grow(&adj, &pos, &area, &seeds, &vec![1.0; seeds.len()], &|u| {
            street_of[u] == k
        });
        let parts: Vec<Vec<usize>> = (0..seeds.len()).map(|j| members_of(&owner, j)).collect();
        assert!(
            nodes.iter().all(|&u| owner[u] != FREE),
            "street {k} not fully covered"
        );
        let cents: Vec<Coord<f64>> = parts
            .iter()
            .map(|m| weighted_centroid(m, &pos, &area))
            .collect();
        for j in reading_order(&lat, &cents) {
            for &u in &parts[j] {
                sg_of[u] = sgs.len();
            }
            sgs.push((k, parts[j].clone()));
        }
    }
    let sg_pos: Vec<Coord<f64>> = sgs
        .iter()
        .map(|(_, m)| weighted_centroid(m, &pos, &area))
        .collect();
    let sg_area: Vec<f64> = sgs
        .iter()
        .map(|(_, m)| m.iter().map(|&u| area[u]).sum())
        .collect();

    // ---- squads over the supervision-grid adjacency graph, per component.
    let mut sg_adj_set: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); sgs.len()];
    for u in 0..n {
        for &w in &adj[u] {
            if sg_of[u] != sg_of[w] {
                sg_adj_set[sg_of[u]].insert(sg_of[w]);
            }
        }
    }
    let sg_adj: Vec<Vec<usize>> = sg_adj_set
        .into_iter()
        .map(|s| s.into_iter().collect())
        .collect();
    let sg_comp = components(&sg_adj);
    let n_comp = sg_comp.iter().max().map_or(0, |&c| c + 1);
    let comp_sizes: Vec<f64> = (0..n_comp)
        .map(|c| sg_comp.iter().filter(|&&x| x == c).count() as f64)
        .collect();
    let squads_per_comp = apportion(SQUADS, &comp_sizes, 1);
    let ones = vec![1.0; sgs.len()];
    let mut squad_members: Vec<Vec<usize>> = Vec::new();
    for (c, &k) in squads_per_comp.iter().enumerate() {
        let nodes: Vec<usize> = (0..sgs.len()).filter(|&g| sg_comp[g] == c).collect();
        let seeds = spread_seeds(&nodes, &sg_pos, &sg_area, k);
        let owner = grow(
            &sg_adj,
            &sg_pos,
            &ones,
            &seeds,
            &vec![1.0; seeds.len()],
            &|g| sg_comp[g] == c,
        );
        assert!(
            nodes.iter().all(|&g| owner[g] != FREE),
            "squad growth left a grid"
        );
        for j in 0..seeds.len() {
            squad_members.push(members_of(&owner, j));
        }
    }
    let squad_cents: Vec<Coord<f64>> = squad_members
        .iter()
        .map(|m| weighted_centroid(m, &sg_pos, &sg_area))
        .collect();
    let squad_order = reading_order(&lat, &squad_cents);
    let mut squad_of_sg = vec![0; sgs.len()];
    for (rank, &q) in squad_order.iter().enumerate() {
        for &g in &squad_members[q] {
            squad_of_sg[g] = rank;
        }
    }
    let squad_id = |rank: usize| format!("S{:02}", rank + 1);

    // ---- codes and records.
    let streets: Vec<Street> = street_order
        .iter()
        .map(|&k| Street {
            code: street_code(k),
            name: STREETS[k].full_name(),
            kind: STREETS[k].kind,
        })
        .collect();
    let mut sg_codes = Vec::with_capacity(sgs.len());
    let mut supervision_grids = Vec::with_capacity(sgs.len());
    let mut seq_in_street = vec![0usize; STREETS.len()];
    for (g, (k, _)) in sgs.iter().enumerate() {
        seq_in_street[*k] += 1;
        let code = format!("{}{:03}", street_code(*k), seq_in_street[*k]);
        supervision_grids.push(SupervisionGrid {
            code: code.clone(),
            name: format!("{}第{}监督网格", STREETS[*k].full_name(), seq_in_street[*k]),
            street: street_code(*k),
            squad: squad_id(squad_of_sg[g]),
        });
        sg_codes.push(code);
    }
    let centre = {
        let (x, y) = to_xy(CITY_CENTRE.0, CITY_CENTRE.1);
        Coord { x, y }
    };
    let area_class = |u: usize| {
        let (dx, dy) = (pos[u].x - centre.x, pos[u].y - centre.y);
        let d2 = dx * dx + dy * dy;
        let kind = STREETS[street_of[u]].kind;
        match kind {
            StreetKind::Street if d2 <= CORE_RADIUS_M * CORE_RADIUS_M => AreaClass::A,
            StreetKind::Township | StreetKind::EthnicTownship
                if d2 > OUTSKIRTS_RADIUS_M * OUTSKIRTS_RADIUS_M =>
            {
                AreaClass::C
            }
            _ => AreaClass::B,
        }
    };
    let mut technical_grids = Vec::with_capacity(n);
    let mut geometry = Vec::with_capacity(n);
    let mut rows = Vec::with_capacity(n);
    let mut xs = Vec::with_capacity(n);
    let mut class_of = vec![AreaClass::B; n];
    for (g, (k, members)) in sgs.iter().enumerate() {
        let mut ordered = members.clone();
        ordered.sort_by(|&a, &b| {
            tess.units[a]
                .row
                .cmp(&tess.units[b].row)
                .then(pos[a].x.total_cmp(&pos[b].x))
                .then(a.cmp(&b))
        });
        for (seq, &u) in ordered.iter().enumerate() {
            class_of[u] = area_class(u);
            technical_grids.push(TechnicalGrid {
                code: format!("{}{:03}", sg_codes[g], seq + 1),
                supervision_grid: sg_codes[g].clone(),
                street: street_code(*k),
                area_class: class_of[u],
            });
            geometry.push(crate::lattice::unproject(&tess.units[u].geom));
            rows.push(tess.units[u].row);
            xs.push(pos[u].x);
        }
    }

    // ---- squads and inspectors: the core carries more work per hectare.
    let class_factor = |c: AreaClass| match c {
        AreaClass::A => 3.0,
        AreaClass::B => 2.0,
        AreaClass::C => 1.0,
    };
    let load: Vec<f64> = sgs
        .iter()
        .map(|(_, m)| m.iter().map(|&u| area[u] * class_factor(class_of[u])).sum())
        .collect();
    let per_sg = apportion(INSPECTORS - SQUADS, &load, 1);
    let mut names = NameMaker::new(ChaCha8Rng::seed_from_u64(NAME_SEED));
    let mut inspectors = Vec::with_capacity(INSPECTORS);
    let mut squads = Vec::with_capacity(SQUADS);
    for rank in 0..squad_order.len() {
        let mut grids: Vec<usize> = (0..sgs.len()).filter(|&g| squad_of_sg[g] == rank).collect();
        grids.sort_unstable();
        let id = squad_id(rank);
        let leader = format!("I{:04}", inspectors.len() + 1);
        inspectors.push(Inspector {
            id: leader.clone(),
            name: names.next_name(),
            squad: id.clone(),
            supervision_grid: sg_codes[grids[0]].clone(),
            kind: InspectorKind::Grid,
            role: Role::SquadLeader,
        });
        for &g in &grids {
            let total = per_sg[g];
            let unit = ((total as f64 * UNIT_INSPECTOR_SHARE).round() as usize).min(total - 1);
            for j in 0..total {
                inspectors.push(Inspector {
                    id: format!("I{:04}", inspectors.len() + 1),
                    name: names.next_name(),
                    squad: id.clone(),
                    supervision_grid: sg_codes[g].clone(),
                    kind: if j < total - unit {
                        InspectorKind::Grid
                    } else {
                        InspectorKind::Unit
                    },
                    role: Role::Inspector,
                });
            }
        }
        squads.push(Squad {
            id: id.clone(),
            name: format!("第{:02}分队", rank + 1),
            leader,
            supervision_grids: grids.iter().map(|&g| sg_codes[g].clone()).collect(),
        });
    }

    debug_assert!(street_members.iter().all(|m| is_connected(&adj, m)));
    Generated {
        district: District {
            streets,
            supervision_grids,
            technical_grids,
            squads,
            inspectors,
        },
        geometry,
        rows,
        xs,
        cell_size_m: lat.s,
        cells_before_merge: tess.cells_before_merge,
    }
}
