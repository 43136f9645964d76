//! The 43 streets and townships of Chaoyang with seed locations.
//!
//! Seeds are approximate real centres (WGS-84) so the generated map is
//! plausible; `weight` is a rough relative size used as the growth target. Both
//! are hand-estimated for the demo, not official figures: the generated
//! borders are synthetic.

use gridpatrol_domain::district::StreetKind;

/// One street-level unit to generate.
pub(crate) struct StreetSeed {
    /// Name without suffix.
    pub name: &'static str,
    /// Administrative kind (decides the suffix).
    pub kind: StreetKind,
    /// Seed longitude (WGS-84).
    pub lon: f64,
    /// Seed latitude (WGS-84).
    pub lat: f64,
    /// Rough relative size (about km²).
    pub weight: f64,
}

impl StreetSeed {
    /// Full name with its suffix, e.g. `朝外街道`, `南磨房乡`, `常营回族乡`.
    pub fn full_name(&self) -> String {
        match self.kind {
            StreetKind::Street => format!("{}街道", self.name),
            StreetKind::Township => format!("{}乡", self.name),
            StreetKind::EthnicTownship => format!("{}回族乡", self.name),
        }
    }
}

/// The name of the street that owns the Capital Airport exclave.
pub(crate) const AIRPORT: &str = "首都机场";

const fn s(name: &'static str, kind: StreetKind, lon: f64, lat: f64, weight: f64) -> StreetSeed {
    StreetSeed {
        name,
        kind,
        lon,
        lat,
        weight,
    }
}

use StreetKind::{EthnicTownship as E, Street as J, Township as X};

/// All 43: 24 streets (街道), 18 townships (乡), 1 ethnic township (民族乡).
pub(crate) const STREETS: [StreetSeed; 43] = [
    s("朝外", J, 116.437, 39.922, 1.5),
    s("劲松", J, 116.462, 39.884, 2.9),
    s("建外", J, 116.452, 39.906, 3.8),
    s("呼家楼", J, 116.462, 39.921, 2.7),
    s("八里庄", J, 116.497, 39.920, 4.9),
    s("三里屯", J, 116.452, 39.935, 2.9),
    s("团结湖", J, 116.468, 39.930, 1.3),
    s("双井", J, 116.463, 39.895, 5.0),
    s("垡头", J, 116.507, 39.860, 4.9),
    s("左家庄", J, 116.445, 39.952, 3.9),
    s("小关", J, 116.418, 39.980, 3.1),
    s("和平街", J, 116.424, 39.965, 3.5),
    s("酒仙桥", J, 116.493, 39.972, 5.9),
    s(AIRPORT, J, 116.585, 40.075, 15.0),
    s("潘家园", J, 116.458, 39.872, 3.7),
    s("六里屯", J, 116.487, 39.932, 5.1),
    s("麦子店", J, 116.470, 39.945, 6.8),
    s("香河园", J, 116.434, 39.960, 2.3),
    s("亚运村", J, 116.400, 39.990, 4.9),
    s("安贞", J, 116.405, 39.972, 3.6),
    s("望京", J, 116.475, 39.995, 13.0),
    s("大屯", J, 116.410, 40.005, 8.6),
    s("奥运村", J, 116.390, 40.015, 22.0),
    s("东湖", J, 116.478, 40.012, 5.5),
    s("南磨房", X, 116.487, 39.888, 8.5),
    s("高碑店", X, 116.525, 39.905, 13.8),
    s("将台", X, 116.507, 39.960, 18.0),
    s("太阳宫", X, 116.445, 39.975, 10.4),
    s("小红门", X, 116.455, 39.840, 15.9),
    s("十八里店", X, 116.490, 39.850, 30.0),
    s("平房", X, 116.545, 39.935, 16.0),
    s("东风", X, 116.490, 39.950, 8.6),
    s("来广营", X, 116.450, 40.030, 25.0),
    s("三间房", X, 116.570, 39.915, 13.0),
    s("管庄", X, 116.600, 39.905, 16.0),
    s("金盏", X, 116.600, 39.990, 40.0),
    s("孙河", X, 116.540, 40.045, 37.0),
    s("崔各庄", X, 116.510, 40.010, 32.0),
    s("东坝", X, 116.555, 39.970, 29.0),
    s("黑庄户", X, 116.615, 39.860, 34.0),
    s("豆各庄", X, 116.560, 39.875, 24.0),
    s("王四营", X, 116.533, 39.882, 17.0),
    s("常营", E, 116.605, 39.935, 9.1),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_kind_match_the_case_study() {
        let count = |k| STREETS.iter().filter(|s| s.kind == k).count();
        assert_eq!((count(J), count(X), count(E)), (24, 18, 1));
        assert_eq!(STREETS[42].full_name(), "常营回族乡");
        assert_eq!(STREETS[0].full_name(), "朝外街道");
    }
}
