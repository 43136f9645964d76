//! Rotation plans against collusion: every two months the inspectors of a
//! squad swap supervision grids, once a year (the period starting in January)
//! every inspector moves to another squad and every squad leader to another
//! squad's lead. This crate is pure and deterministic (no IO): from a
//! district and the history of plans already applied it generates the next
//! [`Plan`] with a seeded, reproducible matching ([`plan`]), names every rule
//! a plan breaks ([`check`]), and says who holds which post at any instant
//! ([`assignment_at`]).
//!
//! # Rules
//! - **Periods** are two months, `YYYY-MM` by their first (odd) month, and
//!   start at 00:00 China Standard Time on the 1st ([`Period`]).
//! - **Duties are fixed**: the district's squad leaders stay leaders, grid
//!   inspectors stay grid inspectors, unit inspectors ([`Duty::Unit`]) stay
//!   unit inspectors and are posted only to grids that had unit inspectors in
//!   the district as generated. Grids stay with the squad that owns them.
//! - **No return**: nobody is posted to a supervision grid they held in any of
//!   the last three assignments (the plans in the history, preceded by the
//!   initial assignment, which is the district as generated). So every person
//!   changes grid every period.
//! - **Squad changes**: in a period starting in January every inspector moves
//!   to another squad and every leader leads another squad than the year
//!   before; in every other period everyone stays in their squad.
//! - **Coverage**: every grid keeps, of each duty, at least
//!   [`coverage_floor`] of its generated head count (three quarters rounded
//!   down, at least one). Exactly the generated head count cannot be kept:
//!   a grid of `c` people needs `4c` distinct people over four periods and
//!   some squads have fewer (the demo's S30: 52 grid inspectors, a grid of 14).
//!   Generated plans also post at most [`staffing_cap`] people of a duty to
//!   a grid, so staffing stays near the generated one.
//! - **Balance**: every squad keeps exactly its generated size (one leader
//!   plus the same number of grid and unit inspectors).
#![forbid(unsafe_code)]

mod check;
mod generate;
mod period;

use std::collections::BTreeMap;

use gridpatrol_domain::district::{District, InspectorKind};
use gridpatrol_domain::roles::Role;
use serde::{Deserialize, Serialize};

pub use check::{check, Violation};
pub use generate::{default_seed, plan};
pub use period::Period;

/// Identifier of the rule set plans are generated and checked with.
pub const RULE: &str = "gridpatrol-rotation/1: 2-month grid swap within the squad, \
yearly squad and leader move in January, no return within 3 periods";

/// Why a plan could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    /// A period name that is not `YYYY-MM` with an odd month.
    #[error(
        "period {0:?} is not YYYY-MM starting a two-month period \
         (January, March, May, July, September or November)"
    )]
    BadPeriod(String),
    /// The requested period is not later than the last plan in the history.
    #[error("period {period} is not after the last plan in the history ({last})")]
    NotAfterHistory {
        /// Requested period.
        period: Period,
        /// Latest period in the history.
        last: Period,
    },
    /// No assignment satisfies every rule for this group of people.
    #[error("no plan satisfies the rules for {group}: {detail}")]
    Infeasible {
        /// Which people (e.g. `the grid inspectors of squad S05`).
        group: String,
        /// What could not be placed.
        detail: String,
    },
}

/// What a person does in a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Duty {
    /// Leads the squad (分队长); holds no grid.
    Leader,
    /// Patrols the public space of a supervision grid (网格监督员).
    Grid,
    /// Inspects inside the units of a supervision grid (单位监督员).
    Unit,
}

impl Duty {
    /// A person's duty in the district as generated (it never changes).
    pub fn of(role: Role, kind: InspectorKind) -> Duty {
        match (role, kind) {
            (Role::SquadLeader, _) => Duty::Leader,
            (_, InspectorKind::Grid) => Duty::Grid,
            (_, InspectorKind::Unit) => Duty::Unit,
        }
    }

    /// Lower-case English name used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Duty::Leader => "leader",
            Duty::Grid => "grid inspector",
            Duty::Unit => "unit inspector",
        }
    }
}

/// One person's post in a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    /// Inspector id (`I0001`…).
    pub person: String,
    /// Squad the person belongs to (and leads, for a leader).
    pub squad: String,
    /// Leader, grid inspector or unit inspector.
    pub duty: Duty,
    /// The supervision grid (12-digit code) held; `None` for a leader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<String>,
}

/// Everyone's post for one period: the output of [`plan`], stored as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The period the plan is for.
    pub period: Period,
    /// When it takes effect ([`Period::start_ms`]).
    pub starts_at_ms: i64,
    /// Whether this plan makes the yearly moves (the period starts in January).
    pub yearly: bool,
    /// The rule set it was generated with ([`RULE`]).
    pub rule: String,
    /// Seed of the generator's random choices: the same district, history,
    /// period and seed give the same plan.
    pub seed: u64,
    /// One posting per person, by person id.
    pub postings: Vec<Posting>,
}

/// Who holds which post at one time: the initial assignment or one plan's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The plan's period; `None` for the district as generated.
    pub period: Option<Period>,
    /// Postings by person id.
    pub postings: BTreeMap<String, Posting>,
}

impl Assignment {
    /// The district as generated: everyone in their generated squad and grid.
    pub fn initial(district: &District) -> Assignment {
        let postings = district
            .inspectors
            .iter()
            .map(|i| {
                let duty = Duty::of(i.role, i.kind);
                let posting = Posting {
                    person: i.id.clone(),
                    squad: i.squad.clone(),
                    duty,
                    grid: (duty != Duty::Leader).then(|| i.supervision_grid.clone()),
                };
                (i.id.clone(), posting)
            })
            .collect();
        Assignment {
            period: None,
            postings,
        }
    }

    /// The assignment a plan makes.
    pub fn of_plan(plan: &Plan) -> Assignment {
        Assignment {
            period: Some(plan.period),
            postings: plan
                .postings
                .iter()
                .map(|p| (p.person.clone(), p.clone()))
                .collect(),
        }
    }

    /// This person's posting.
    pub fn posting(&self, person: &str) -> Option<&Posting> {
        self.postings.get(person)
    }

    /// Id of the person leading `squad`.
    pub fn leader_of(&self, squad: &str) -> Option<&str> {
        self.postings
            .values()
            .find(|p| p.duty == Duty::Leader && p.squad == squad)
            .map(|p| p.person.as_str())
    }

    /// Ids of everyone in `squad`, its leader included, ascending.
    pub fn members_of(&self, squad: &str) -> Vec<&str> {
        self.postings
            .values()
            .filter(|p| p.squad == squad)
            .map(|p| p.person.as_str())
            .collect()
    }

    /// Ids of the inspectors (both duties) holding supervision grid `grid`.
    pub fn holders_of(&self, grid: &str) -> Vec<&str> {
        self.postings
            .values()
            .filter(|p| p.grid.as_deref() == Some(grid))
            .map(|p| p.person.as_str())
            .collect()
    }

    /// "the initial assignment" or "period YYYY-MM", for messages.
    pub fn label(&self) -> String {
        match self.period {
            Some(p) => format!("period {p}"),
            None => "the initial assignment".into(),
        }
    }
}

/// The plans of `history` before `period`, ascending by period.
pub(crate) fn before(history: &[Plan], period: Period) -> Vec<&Plan> {
    let mut plans: Vec<&Plan> = history.iter().filter(|p| p.period < period).collect();
    plans.sort_by_key(|p| p.period);
    plans
}

/// The assignments held up to (not including) `period`: the initial one,
/// then each earlier plan's, oldest first.
pub(crate) fn timeline(district: &District, history: &[Plan], period: Period) -> Vec<Assignment> {
    let mut line = vec![Assignment::initial(district)];
    line.extend(before(history, period).into_iter().map(Assignment::of_plan));
    line
}

/// Who holds which post at `at_ms` (ms since the Unix epoch): the latest plan
/// of `history` that has started by then, or the district as generated
/// before the first plan. This is what a device's scope should follow.
pub fn assignment_at(history: &[Plan], district: &District, at_ms: i64) -> Assignment {
    history
        .iter()
        .filter(|p| p.starts_at_ms <= at_ms)
        .max_by_key(|p| p.period)
        .map(Assignment::of_plan)
        .unwrap_or_else(|| Assignment::initial(district))
}

/// Fewest people of one duty a grid must keep, given its generated head count
/// `generated`: three quarters rounded down, at least one (none if it had none).
pub fn coverage_floor(generated: usize) -> usize {
    if generated == 0 {
        0
    } else {
        (generated * 3 / 4).max(1)
    }
}

/// Most people of one duty a generated plan posts to a grid whose generated
/// head count is `generated`: a quarter more, rounded up.
pub fn staffing_cap(generated: usize) -> usize {
    generated + generated.div_ceil(4)
}

/// Generated head counts: per (grid, duty) and per squad.
pub(crate) struct Baseline {
    /// (grid code, duty) → people of that duty holding the grid.
    pub per_grid: BTreeMap<(String, Duty), usize>,
    /// squad id → people in it, leader included.
    pub per_squad: BTreeMap<String, usize>,
    /// grid code → owning squad id.
    pub squad_of_grid: BTreeMap<String, String>,
}

impl Baseline {
    pub(crate) fn of(district: &District) -> Baseline {
        let mut per_grid = BTreeMap::new();
        for g in &district.supervision_grids {
            per_grid.insert((g.code.clone(), Duty::Grid), 0);
            per_grid.insert((g.code.clone(), Duty::Unit), 0);
        }
        let mut per_squad: BTreeMap<String, usize> =
            district.squads.iter().map(|s| (s.id.clone(), 0)).collect();
        for p in Assignment::initial(district).postings.values() {
            *per_squad.entry(p.squad.clone()).or_default() += 1;
            if let Some(g) = &p.grid {
                *per_grid.entry((g.clone(), p.duty)).or_default() += 1;
            }
        }
        let squad_of_grid = district
            .supervision_grids
            .iter()
            .map(|g| (g.code.clone(), g.squad.clone()))
            .collect();
        Baseline {
            per_grid,
            per_squad,
            squad_of_grid,
        }
    }

    /// Generated head count of `duty` on `grid`.
    pub(crate) fn count(&self, grid: &str, duty: Duty) -> usize {
        self.per_grid
            .get(&(grid.to_string(), duty))
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod testkit;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::tiny;

    #[test]
    fn floor_and_cap_bracket_the_generated_count() {
        assert_eq!(coverage_floor(0), 0);
        assert_eq!(coverage_floor(1), 1);
        assert_eq!(coverage_floor(2), 1);
        assert_eq!(coverage_floor(4), 3);
        assert_eq!(coverage_floor(14), 10);
        assert_eq!(staffing_cap(0), 0);
        assert_eq!(staffing_cap(1), 2);
        assert_eq!(staffing_cap(8), 10);
    }

    #[test]
    fn assignment_at_follows_the_latest_started_plan() {
        let d = tiny(2, 5, 3);
        let p1 = plan(&d, &[], "2027-03".parse().unwrap(), 1).unwrap();
        let p2 = plan(&d, std::slice::from_ref(&p1), "2027-05".parse().unwrap(), 1).unwrap();
        let history = vec![p2.clone(), p1.clone()]; // order does not matter
        let initial = Assignment::initial(&d);
        assert_eq!(assignment_at(&history, &d, p1.starts_at_ms - 1), initial);
        let at1 = assignment_at(&history, &d, p1.starts_at_ms);
        assert_eq!(at1, Assignment::of_plan(&p1));
        assert_eq!(at1.period, Some(p1.period));
        assert_eq!(assignment_at(&history, &d, p2.starts_at_ms - 1), at1);
        let at2 = assignment_at(&history, &d, p2.starts_at_ms + 86_400_000);
        assert_eq!(at2, Assignment::of_plan(&p2));
        // The views answer the server's questions.
        let someone = &p2.postings.iter().find(|p| p.duty == Duty::Grid).unwrap();
        let grid = someone.grid.as_deref().unwrap();
        assert!(at2.holders_of(grid).contains(&someone.person.as_str()));
        assert_ne!(
            at1.posting(&someone.person).unwrap().grid,
            at2.posting(&someone.person).unwrap().grid
        );
        for s in &d.squads {
            assert_eq!(at2.leader_of(&s.id), Some(s.leader.as_str()));
            assert_eq!(at2.members_of(&s.id).len(), initial.members_of(&s.id).len());
        }
        assert_eq!(initial.label(), "the initial assignment");
        assert_eq!(at2.label(), "period 2027-05");
    }
}
