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

use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;

/// How far around the caller's own grids the package reaches, in degrees
/// (≈ 300 m): a problem across the boundary still gets its grid codes.
const MARGIN_DEG: f64 = 0.003;

pub(crate) async fn district(
    State(_state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<DistrictPackage>, ApiError> {
    caller.require_case_role()?;
    let user = caller.user;
    let pkg = tokio::task::spawn_blocking(move || {
        package(
            user.role,
            user.squad.as_deref(),
            user.supervision_grid.as_deref(),
        )
    })
    .await?;
    Ok(Json(pkg))
}

/// The package for an account with this role, squad and grid.
pub fn package(role: Role, squad: Option<&str>, grid: Option<&str>) -> DistrictPackage {
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
    let members = match role {
        Role::SquadLeader => dist
            .inspectors
            .iter()
            .filter(|i| Some(i.squad.as_str()) == squad)
            .map(|i| PackageMember {
                id: i.id.clone(),
                name: i.name.clone(),
            })
            .collect(),
        _ => Vec::new(),
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
