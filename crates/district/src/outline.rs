//! The district outline: parsing GeoJSON into a WGS-84 `MultiPolygon`.

use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use serde::Deserialize;

/// Chaoyang's outline (WGS-84): the main body and the Capital Airport exclave.
pub(crate) const CHAOYANG_GEOJSON: &str = include_str!("../../../data/chaoyang-outline.geojson");

/// Why an outline document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OutlineError {
    /// The text is not JSON of the expected FeatureCollection shape.
    #[error("outline is not a GeoJSON FeatureCollection: {0}")]
    Json(#[from] serde_json::Error),
    /// No feature carries a Polygon or MultiPolygon geometry.
    #[error("outline has no Polygon or MultiPolygon feature")]
    NoArea,
    /// A ring is too short or not closed.
    #[error(
        "outline ring {ring} of polygon {polygon} is not a closed ring of at least 4 positions"
    )]
    BadRing {
        /// Index of the polygon in the outline.
        polygon: usize,
        /// Index of the ring within the polygon.
        ring: usize,
    },
    /// A coordinate is not a finite WGS-84 longitude/latitude.
    #[error("outline coordinate ({lon}, {lat}) is not a WGS-84 longitude/latitude")]
    BadCoordinate {
        /// Longitude as read.
        lon: f64,
        /// Latitude as read.
        lat: f64,
    },
}

#[derive(Deserialize)]
struct FeatureCollection {
    features: Vec<Feature>,
}

#[derive(Deserialize)]
struct Feature {
    geometry: Option<Geometry>,
}

#[derive(Deserialize)]
struct Geometry {
    #[serde(rename = "type")]
    kind: String,
    coordinates: Option<serde_json::Value>,
}

/// Parses a GeoJSON FeatureCollection and returns every (Multi)Polygon of it
/// as one WGS-84 `MultiPolygon`.
pub fn parse_outline(text: &str) -> Result<MultiPolygon<f64>, OutlineError> {
    let fc: FeatureCollection = serde_json::from_str(text)?;
    let mut polys: Vec<Vec<Vec<[f64; 2]>>> = Vec::new();
    for f in fc.features {
        let Some(Geometry {
            kind,
            coordinates: Some(coordinates),
        }) = f.geometry
        else {
            continue;
        };
        match kind.as_str() {
            "Polygon" => polys.push(serde_json::from_value(coordinates)?),
            "MultiPolygon" => {
                let mp: Vec<Vec<Vec<[f64; 2]>>> = serde_json::from_value(coordinates)?;
                polys.extend(mp);
            }
            _ => {}
        }
    }
    if polys.is_empty() {
        return Err(OutlineError::NoArea);
    }
    let mut out = Vec::with_capacity(polys.len());
    for (pi, rings) in polys.into_iter().enumerate() {
        let mut lss = Vec::with_capacity(rings.len());
        for (ri, ring) in rings.into_iter().enumerate() {
            if ring.len() < 4 || ring.first() != ring.last() {
                return Err(OutlineError::BadRing {
                    polygon: pi,
                    ring: ri,
                });
            }
            let mut coords = Vec::with_capacity(ring.len());
            for [lon, lat] in ring {
                let valid = (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat);
                if !valid {
                    return Err(OutlineError::BadCoordinate { lon, lat });
                }
                coords.push(Coord { x: lon, y: lat });
            }
            lss.push(LineString::new(coords));
        }
        if lss.is_empty() {
            return Err(OutlineError::BadRing {
                polygon: pi,
                ring: 0,
            });
        }
        let exterior = lss.remove(0);
        out.push(Polygon::new(exterior, lss));
    }
    Ok(MultiPolygon::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chaoyang_outline_has_main_body_and_airport_exclave() {
        let mp = parse_outline(CHAOYANG_GEOJSON).unwrap();
        assert_eq!(mp.0.len(), 2);
        let exclave = &mp.0[1];
        assert!(exclave
            .exterior()
            .coords()
            .all(|c| (116.56..116.61).contains(&c.x) && (40.04..40.11).contains(&c.y)));
    }

    #[test]
    fn rejects_broken_documents_with_a_reason() {
        assert!(matches!(
            parse_outline("{\"features\": 3}"),
            Err(OutlineError::Json(_))
        ));
        assert!(matches!(
            parse_outline(
                r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]}}]}"#
            ),
            Err(OutlineError::NoArea)
        ));
        let open_ring = r#"{"features":[{"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}}]}"#;
        assert!(matches!(
            parse_outline(open_ring),
            Err(OutlineError::BadRing {
                polygon: 0,
                ring: 0
            })
        ));
        let bad = r#"{"features":[{"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,99],[0,0]]]}}]}"#;
        assert!(matches!(
            parse_outline(bad),
            Err(OutlineError::BadCoordinate { .. })
        ));
    }
}
