//! The roles people play in the supervision loop: what a person does in
//! GridPatrol decides what they may see and change.

use serde::{Deserialize, Serialize};

// The one definition: the device's view and, with the `ts` feature, the
// app's TypeScript binding use it too. The doc comment below is copied
// into that binding (ui/src/lib/bindings/Role.ts), so it stays one line.
/// An account's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Patrols a supervision grid, reports problems, re-verifies on site.
    Inspector,
    /// Leads one squad and reviews its inspectors' reports.
    SquadLeader,
    /// Works in the supervision centre: files, dispatches, closes cases.
    CentreOperator,
    /// Manages accounts and reference data; no part in case handling.
    Admin,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 4] = [
        Role::Inspector,
        Role::SquadLeader,
        Role::CentreOperator,
        Role::Admin,
    ];

    /// Stable identifier used in data files and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Inspector => "inspector",
            Role::SquadLeader => "squad_leader",
            Role::CentreOperator => "centre_operator",
            Role::Admin => "admin",
        }
    }

    /// Parses [`Role::as_str`] output.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Chinese label shown in the UI.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Inspector => "监督员",
            Role::SquadLeader => "分队长",
            Role::CentreOperator => "监督中心受理员",
            Role::Admin => "系统管理员",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_ids_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("mayor"), None);
    }
}
