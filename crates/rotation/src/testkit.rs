//! Hand-made districts for the unit tests.

use gridpatrol_domain::district::{
    District, Inspector, InspectorKind, Squad, Street, StreetKind, SupervisionGrid,
};
use gridpatrol_domain::roles::Role;

/// `squads` squads of `grids` supervision grids each; every grid has
/// `per_grid` grid inspectors and, except each squad's last grid, one unit
/// inspector; each squad's leader comes first. Ids run `I0001`…, squads
/// `S01`…, grids `110105001001`….
pub(crate) fn tiny(squads: usize, grids: usize, per_grid: usize) -> District {
    let street = "110105001".to_string();
    let mut d = District {
        streets: vec![Street {
            code: street.clone(),
            name: "测试街道".into(),
            kind: StreetKind::Street,
        }],
        supervision_grids: Vec::new(),
        technical_grids: Vec::new(),
        squads: Vec::new(),
        inspectors: Vec::new(),
    };
    let person = |d: &mut District, squad: &str, grid: &str, kind, role| {
        let id = format!("I{:04}", d.inspectors.len() + 1);
        d.inspectors.push(Inspector {
            id: id.clone(),
            name: format!("测试{id}"),
            squad: squad.into(),
            supervision_grid: grid.into(),
            kind,
            role,
        });
        id
    };
    for s in 0..squads {
        let sid = format!("S{:02}", s + 1);
        let codes: Vec<String> = (0..grids)
            .map(|g| format!("{street}{:03}", s * grids + g + 1))
            .collect();
        let leader = person(
            &mut d,
            &sid,
            &codes[0],
            InspectorKind::Grid,
            Role::SquadLeader,
        );
        for (g, code) in codes.iter().enumerate() {
            d.supervision_grids.push(SupervisionGrid {
                code: code.clone(),
                name: format!("测试网格{code}"),
                street: street.clone(),
                squad: sid.clone(),
            });
            for _ in 0..per_grid {
                person(&mut d, &sid, code, InspectorKind::Grid, Role::Inspector);
            }
            if g + 1 < grids {
                person(&mut d, &sid, code, InspectorKind::Unit, Role::Inspector);
            }
        }
        d.squads.push(Squad {
            id: sid.clone(),
            name: format!("第{:02}分队", s + 1),
            leader,
            supervision_grids: codes,
        });
    }
    d
}

/// The seed of a randomised test: `GRIDPATROL_TEST_SEED` if set (to replay a
/// failure), else drawn from the clock; printed either way.
pub(crate) fn test_seed(test: &str) -> u64 {
    let seed = std::env::var("GRIDPATROL_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
    eprintln!("{test}: seed {seed} (replay with GRIDPATROL_TEST_SEED={seed})");
    seed
}
