//! District model: streets, supervision and technical grids, squads, inspectors.
//!
//! Codes follow Beijing's 15-digit local grid standard:
//! `110105` (Chaoyang) + 3-digit street + 3-digit community + 3-digit grid.
//! A street code is the first 9 digits, a supervision grid code the first 12,
//! a technical grid code all 15. Numbering runs west→east, north→south.

use serde::{Deserialize, Serialize};

use crate::roles::Role;

/// Administrative kind of a street-level unit (街乡).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreetKind {
    /// Urban sub-district (街道).
    Street,
    /// Rural-urban township (乡 / 地区).
    Township,
    /// Ethnic township (民族乡), e.g. 常营回族乡.
    EthnicTownship,
}

impl StreetKind {
    /// Chinese label shown in the UI.
    pub fn label_zh(self) -> &'static str {
        match self {
            StreetKind::Street => "街道",
            StreetKind::Township => "乡",
            StreetKind::EthnicTownship => "民族乡",
        }
    }
}

/// Area class of a technical grid; handling time limits depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AreaClass {
    /// Core urban area: the shortest time limits.
    A,
    /// Ordinary urban area.
    B,
    /// Outskirts: the longest time limits.
    C,
}

/// The two kinds of inspectors (监督员).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InspectorKind {
    /// Patrols public space in a supervision grid (网格监督员).
    Grid,
    /// Inspects inside social units: fire equipment, wiring, corridors (单位监督员).
    Unit,
}

/// A street or township (街乡), the level that answers for its territory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Street {
    /// 9-digit code: `110105` + 3-digit street number.
    pub code: String,
    /// Chinese name including its suffix, e.g. `朝外街道`, `常营回族乡`.
    pub name: String,
    /// Administrative kind.
    pub kind: StreetKind,
}

/// A supervision grid (监督网格): the patch one inspector patrols.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisionGrid {
    /// 12-digit code: street code + 3-digit number within the street.
    pub code: String,
    /// Display name, e.g. `朝外街道第3监督网格`.
    pub name: String,
    /// Code of the street it lies in.
    pub street: String,
    /// Id of the squad that supervises it.
    pub squad: String,
}

/// A technical grid (技术网格), the smallest located unit (~0.058 km²).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TechnicalGrid {
    /// 15-digit code: supervision grid code + 3-digit sequence within it.
    pub code: String,
    /// Code of the supervision grid it belongs to.
    pub supervision_grid: String,
    /// Code of the street it belongs to.
    pub street: String,
    /// Area class deciding handling time limits.
    pub area_class: AreaClass,
}

/// A supervision squad (监督分队) with its leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Squad {
    /// Id `S01`..`S35`.
    pub id: String,
    /// Display name, e.g. `第01分队`.
    pub name: String,
    /// Inspector id of the squad leader.
    pub leader: String,
    /// Codes of the supervision grids the squad owns, ascending.
    pub supervision_grids: Vec<String>,
}

/// An inspector (监督员), squad leaders included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspector {
    /// Id `I0001`..
    pub id: String,
    /// Full Chinese name, unique in the district.
    pub name: String,
    /// Id of the squad the inspector belongs to.
    pub squad: String,
    /// Code of the supervision grid currently assigned (inside the squad).
    pub supervision_grid: String,
    /// Grid or unit inspector.
    pub kind: InspectorKind,
    /// `SquadLeader` for the one leader per squad, otherwise `Inspector`.
    pub role: Role,
}

/// Counts of everything in a district.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistrictStats {
    /// Streets and townships.
    pub streets: usize,
    /// Supervision grids.
    pub supervision_grids: usize,
    /// Technical grids.
    pub technical_grids: usize,
    /// Supervision squads.
    pub squads: usize,
    /// Inspectors including squad leaders.
    pub inspectors: usize,
}

/// A whole district: its territory's hierarchy and the people who patrol it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct District {
    /// Streets and townships, by code.
    pub streets: Vec<Street>,
    /// Supervision grids, by code.
    pub supervision_grids: Vec<SupervisionGrid>,
    /// Technical grids, by code.
    pub technical_grids: Vec<TechnicalGrid>,
    /// Squads, by id.
    pub squads: Vec<Squad>,
    /// Inspectors, by id.
    pub inspectors: Vec<Inspector>,
}

impl District {
    /// Counts of every kind of thing in the district.
    pub fn stats(&self) -> DistrictStats {
        DistrictStats {
            streets: self.streets.len(),
            supervision_grids: self.supervision_grids.len(),
            technical_grids: self.technical_grids.len(),
            squads: self.squads.len(),
            inspectors: self.inspectors.len(),
        }
    }

    /// The inspector with this id.
    pub fn inspector(&self, id: &str) -> Option<&Inspector> {
        self.inspectors.iter().find(|i| i.id == id)
    }

    /// The supervision grid with this 12-digit code.
    pub fn supervision_grid(&self, code: &str) -> Option<&SupervisionGrid> {
        self.supervision_grids.iter().find(|g| g.code == code)
    }

    /// The street with this 9-digit code.
    pub fn street(&self, code: &str) -> Option<&Street> {
        self.streets.iter().find(|s| s.code == code)
    }

    /// The technical grid with this 15-digit code.
    pub fn technical_grid(&self, code: &str) -> Option<&TechnicalGrid> {
        self.technical_grids.iter().find(|g| g.code == code)
    }

    /// The squad with this id.
    pub fn squad(&self, id: &str) -> Option<&Squad> {
        self.squads.iter().find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> District {
        District {
            streets: vec![Street {
                code: "110105001".into(),
                name: "朝外街道".into(),
                kind: StreetKind::Street,
            }],
            supervision_grids: vec![SupervisionGrid {
                code: "110105001001".into(),
                name: "朝外街道第1监督网格".into(),
                street: "110105001".into(),
                squad: "S01".into(),
            }],
            technical_grids: vec![TechnicalGrid {
                code: "110105001001001".into(),
                supervision_grid: "110105001001".into(),
                street: "110105001".into(),
                area_class: AreaClass::A,
            }],
            squads: vec![Squad {
                id: "S01".into(),
                name: "第01分队".into(),
                leader: "I0001".into(),
                supervision_grids: vec!["110105001001".into()],
            }],
            inspectors: vec![Inspector {
                id: "I0001".into(),
                name: "王伟".into(),
                squad: "S01".into(),
                supervision_grid: "110105001001".into(),
                kind: InspectorKind::Grid,
                role: Role::SquadLeader,
            }],
        }
    }

    #[test]
    fn lookups_find_by_code_and_miss_unknown() {
        let d = tiny();
        assert_eq!(d.stats().technical_grids, 1);
        assert_eq!(d.inspector("I0001").unwrap().name, "王伟");
        assert!(d.inspector("I0002").is_none());
        assert_eq!(d.street("110105001").unwrap().kind, StreetKind::Street);
        assert!(d.supervision_grid("110105001002").is_none());
        assert_eq!(d.squad("S01").unwrap().leader, "I0001");
    }
}
