//! `GET /v1/district`: the district package a field device caches at
//! sign-in, cut to the caller's scope (see [`gridpatrol_protocol::DistrictPackage`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use geo::BoundingRect;
use gridpatrol_district::DemoDistrict;
use gridpatrol_domain::roles::Role;
use gridpatrol_domain::taxonomy::Taxonomy;
use gridpatrol_protocol::{
    DistrictPackage, FeatureCollection, GridFeature, GridProperties, MultiPolygonGeometry,
    PackageMember, PackageStreet,
};

use gridpatrol_server_storage::User;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;

/// How far around the caller's own grids the package reaches, in degrees
/// (≈ 300 m): a problem across the boundary still gets its grid codes.
const MARGIN_DEG: f64 = 0.003;

pub(crate) async fn district(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<DistrictPackage>, ApiError> {
    caller.require_case_role()?;
    let user = caller.user;
    let pkg = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        // Only the rows the list can hold: 1,500 phones signing in at shift
        // start must not each read every account of the district.
        let accounts = state.store.squad_and_centre(user.squad.as_deref())?;
        let members = members_of(&accounts, user.role, user.squad.as_deref());
        Ok(package(
            user.role,
            user.squad.as_deref(),
            user.supervision_grid.as_deref(),
            members,
        ))
    })
    .await??;
    Ok(Json(pkg))
}

/// The people a device names on its screens: the caller's squad as the
/// accounts stand now (after any rotation; a leader filters and scores the
/// team by it, everyone sees colleagues' names rather than ids on a
/// timeline) and the centre's operators, so their steps read as the
/// centre's. A centre caller gets the operators only.
pub fn members_of(accounts: &[User], role: Role, squad: Option<&str>) -> Vec<PackageMember> {
    accounts
        .iter()
        .filter(|u| match u.role {
            Role::CentreOperator => true,
            Role::Inspector | Role::SquadLeader => {
                role != Role::CentreOperator && squad.is_some() && u.squad.as_deref() == squad
            }
            Role::Admin => false,
        })
        .map(|u| PackageMember {
            id: u.id.clone(),
            name: u.name.clone(),
            role: Some(u.role),
        })
        .collect()
}

/// The package for an account with this role, squad and grid, naming
/// `members` (see [`members_of`]).
pub fn package(
    role: Role,
    squad: Option<&str>,
    grid: Option<&str>,
    members: Vec<PackageMember>,
) -> DistrictPackage {
    let d = DemoDistrict::get();
    let dist = &d.district;
    let mine: BTreeSet<String> = match role {
        Role::CentreOperator => dist
            .supervision_grids
            .iter()
            .map(|g| g.code.clone())
            .collect(),
        Role::SquadLeader => dist
            .squads
            .iter()
            .filter(|s| Some(s.id.as_str()) == squad)
            .flat_map(|s| s.supervision_grids.iter().cloned())
            .collect(),
        _ => grid.into_iter().map(str::to_string).collect(),
    };
    // The bounding box of my cells, widened by the margin.
    let mut bbox = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    let rects: Vec<_> = d.geometry.iter().map(|g| g.bounding_rect()).collect();
    for (t, r) in dist.technical_grids.iter().zip(&rects) {
        if let (true, Some(r)) = (mine.contains(&t.supervision_grid), r) {
            bbox = [
                bbox[0].min(r.min().x),
                bbox[1].min(r.min().y),
                bbox[2].max(r.max().x),
                bbox[3].max(r.max().y),
            ];
        }
    }
    let bbox = [
        bbox[0] - MARGIN_DEG,
        bbox[1] - MARGIN_DEG,
        bbox[2] + MARGIN_DEG,
        bbox[3] + MARGIN_DEG,
    ];
    let names: std::collections::HashMap<&str, &str> = dist
        .supervision_grids
        .iter()
        .map(|g| (g.code.as_str(), g.name.as_str()))
        .collect();
    let mut features = Vec::new();
    for ((t, r), geom) in dist.technical_grids.iter().zip(&rects).zip(&d.geometry) {
        let Some(r) = r else { continue };
        let inside = r.max().x >= bbox[0]
            && r.min().x <= bbox[2]
            && r.max().y >= bbox[1]
            && r.min().y <= bbox[3];
        if !inside {
            continue;
        }
        features.push(GridFeature {
            kind: "Feature".into(),
            properties: GridProperties {
                code: t.code.clone(),
                supervision_grid: t.supervision_grid.clone(),
                supervision_name: names
                    .get(t.supervision_grid.as_str())
                    .unwrap_or(&"")
                    .to_string(),
                street: t.street.clone(),
                mine: mine.contains(&t.supervision_grid),
            },
            geometry: MultiPolygonGeometry {
                kind: "MultiPolygon".into(),
                coordinates: geom
                    .0
                    .iter()
                    .map(|p| {
                        std::iter::once(p.exterior())
                            .chain(p.interiors())
                            .map(|ring| ring.0.iter().map(|c| [c.x, c.y]).collect())
                            .collect()
                    })
                    .collect(),
            },
        });
    }
    let street = mine
        .iter()
        .next()
        .and_then(|g| dist.supervision_grids.iter().find(|s| &s.code == g))
        .and_then(|g| dist.streets.iter().find(|s| s.code == g.street))
        .map(|s| PackageStreet {
            code: s.code.clone(),
            name: s.name.clone(),
        });
    DistrictPackage {
        district_version: district_version().to_string(),
        checklist_version: Taxonomy::builtin().version(),
        supervision_grids: mine.into_iter().collect(),
        street,
        members,
        grids: FeatureCollection {
            kind: "FeatureCollection".into(),
            features,
        },
    }
}

/// The district's fingerprint, computed once (it hashes every cell).
fn district_version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| DemoDistrict::get().fingerprint()[..16].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, role: Role, squad: Option<&str>) -> User {
        User {
            id: id.into(),
            name: format!("name of {id}"),
            role,
            squad: squad.map(str::to_string),
            supervision_grid: None,
            password_hash: String::new(),
        }
    }

    fn ids(m: &[PackageMember]) -> Vec<&str> {
        m.iter().map(|m| m.id.as_str()).collect()
    }

    #[test]
    fn members_are_my_squad_and_the_centre_never_other_squads_or_admins() {
        let accounts = [
            user("I0001", Role::Inspector, Some("S01")),
            user("L0001", Role::SquadLeader, Some("S01")),
            user("I0002", Role::Inspector, Some("S02")),
            user("C0001", Role::CentreOperator, None),
            user("A0001", Role::Admin, None),
        ];
        let insp = members_of(&accounts, Role::Inspector, Some("S01"));
        assert_eq!(ids(&insp), ["I0001", "L0001", "C0001"]);
        assert_eq!(insp[1].role, Some(Role::SquadLeader));
        assert_eq!(insp[1].name, "name of L0001");
        let lead = members_of(&accounts, Role::SquadLeader, Some("S01"));
        assert_eq!(ids(&lead), ids(&insp));
        // No squad: nobody's colleagues; the centre sees only itself.
        assert_eq!(
            ids(&members_of(&accounts, Role::Inspector, None)),
            ["C0001"]
        );
        assert_eq!(
            ids(&members_of(&accounts, Role::CentreOperator, None)),
            ["C0001"]
        );
    }
}
