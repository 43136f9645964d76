//! Monthly evaluation (监督评价, step 6): scores and ranks of responsible
//! units, squads and inspectors, from recorded lifecycle events only.
//!
//! A unit's *round* is a step that sent it a case with a deadline (a
//! dispatch, a re-dispatch after a failed check, a complaint confirmed on
//! site, a second handling) recorded in the month. For each unit:
//! - `on_time`: rounds whose next "handled" step came by the deadline;
//!   `late`: handled after it, or not handled and the deadline passed
//!   before the month's end; `pending`: neither yet (not rated);
//!   `on_time_rate` = on_time / (on_time + late);
//! - `rework`: rounds whose handling a re-verification then failed;
//!   `rework_rate` = rework / rounds;
//! - `cases` / `closed`: the distinct cases it got rounds of, and those
//!   closed before the month's end; `closure_rate` = closed / cases;
//! - `score` = 100 × (0.5 × on_time_rate + 0.3 × closure_rate + 0.2 × (1 −
//!   rework_rate)), a missing rate counting 0; rank 1 = best.
//!
//! Squads and inspectors are scored as in [`crate::kpi`].

use std::collections::HashMap;

use gridpatrol_domain::lifecycle::Action;
use serde::{Deserialize, Serialize};

use crate::kpi::{rate, InspectorKpi, KpiRules, KpiTally, SquadKpi};
use crate::{CaseRecord, CaseView, Mark, Month, MonthTally, Person, VerificationRecord};

/// One responsible unit's month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitScore {
    /// The unit as named on the dispatch.
    pub unit: String,
    /// Rounds it was sent in the month.
    pub rounds: u32,
    /// Handled by the deadline.
    pub on_time: u32,
    /// Handled late, or overdue and not handled.
    pub late: u32,
    /// Not handled, deadline still ahead at the month's end.
    pub pending: u32,
    /// on_time / (on_time + late).
    pub on_time_rate: Option<f64>,
    /// Rounds a failed re-verification sent back.
    pub rework: u32,
    /// rework / rounds.
    pub rework_rate: Option<f64>,
    /// Distinct cases.
    pub cases: u32,
    /// Of those, closed before the month's end.
    pub closed: u32,
    /// closed / cases.
    pub closure_rate: Option<f64>,
    /// See the module doc.
    pub score: f64,
    /// 1 = best.
    pub rank: u32,
}

/// The month's evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The month evaluated.
    pub month: Month,
    /// Responsible units, best first.
    pub units: Vec<UnitScore>,
    /// Squads, best first.
    pub squads: Vec<SquadKpi>,
    /// Inspectors by squad, best first in each.
    pub inspectors: Vec<InspectorKpi>,
}

/// One unit's figures while cases arrive.
#[derive(Debug, Default)]
struct Tally {
    rounds: u32,
    on_time: u32,
    late: u32,
    pending: u32,
    rework: u32,
    cases: u32,
    closed: u32,
}

/// The month's evaluation gathered one record at a time (cases in any
/// order, each once), so a loader can stream a month of cases instead of
/// holding them (see [`MonthTally`]); [`evaluate`] is this over slices.
/// Units become small indices: nothing is kept per case.
#[derive(Debug)]
pub struct Evaluator<'p> {
    month: Month,
    /// Index into `tallies` by unit name.
    unit: HashMap<String, usize>,
    tallies: Vec<(String, Tally)>,
    /// The units the current case has rounds of (counted once each).
    case_units: Vec<usize>,
    kpi: KpiTally<'p>,
}

impl<'p> Evaluator<'p> {
    /// An evaluation of `month`, scoring the squads and inspectors of `people`.
    pub fn new(month: Month, people: &'p [Person], rules: KpiRules) -> Evaluator<'p> {
        Evaluator {
            month,
            unit: HashMap::new(),
            tallies: Vec::new(),
            case_units: Vec::new(),
            kpi: KpiTally::new(month, people, rules),
        }
    }

    /// The index of `unit` in `tallies`, added if new.
    fn unit(&mut self, unit: &str) -> usize {
        if let Some(&i) = self.unit.get(unit) {
            return i;
        }
        let i = self.tallies.len();
        self.unit.insert(unit.to_owned(), i);
        self.tallies.push((unit.to_owned(), Tally::default()));
        i
    }

    /// The month's evaluation (see the module doc).
    pub fn finish(self) -> Evaluation {
        let mut tallies = self.tallies;
        tallies.sort_by(|a, b| a.0.cmp(&b.0));
        let mut units: Vec<UnitScore> = tallies
            .into_iter()
            .map(|(unit, t)| {
                let on_time_rate = rate(t.on_time, t.on_time + t.late);
                let rework_rate = rate(t.rework, t.rounds);
                let closure_rate = rate(t.closed, t.cases);
                let score = 100.0
                    * (0.5 * on_time_rate.unwrap_or(0.0)
                        + 0.3 * closure_rate.unwrap_or(0.0)
                        + 0.2 * (1.0 - rework_rate.unwrap_or(0.0)));
                UnitScore {
                    unit,
                    rounds: t.rounds,
                    on_time: t.on_time,
                    late: t.late,
                    pending: t.pending,
                    on_time_rate,
                    rework: t.rework,
                    rework_rate,
                    cases: t.cases,
                    closed: t.closed,
                    closure_rate,
                    score,
                    rank: 0,
                }
            })
            .collect();
        units.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.unit.cmp(&b.unit)));
        for (i, u) in units.iter_mut().enumerate() {
            u.rank = i as u32 + 1;
        }
        let (inspectors, squads) = self.kpi.finish();
        Evaluation {
            month: self.month,
            units,
            squads,
            inspectors,
        }
    }
}

impl MonthTally for Evaluator<'_> {
    /// The case's rounds count for their units, the case for the KPIs.
    fn add_case(&mut self, c: &CaseView<'_>) {
        let end = self.kpi.end_ms();
        let closed_at = c
            .steps
            .iter()
            .find(|e| matches!(e.action, Action::VerifyPass | Action::Satisfied))
            .map(|e| e.at_ms);
        let closed = closed_at.is_some_and(|at| at < end);
        for (i, e) in c.steps.iter().enumerate() {
            let (Some(unit), Some(due)) = (e.unit, e.due_at_ms) else {
                continue;
            };
            if !self.kpi.in_month(e.at_ms) {
                continue;
            }
            let rest = &c.steps[i + 1..];
            // This round ends where the next one starts.
            let round = rest
                .iter()
                .position(|x| x.unit.is_some())
                .map_or(rest, |n| &rest[..n]);
            let u = self.unit(unit);
            let t = &mut self.tallies[u].1;
            t.rounds += 1;
            match round.iter().find(|x| x.action == Action::ReportHandled) {
                Some(h) if h.at_ms <= due => t.on_time += 1,
                Some(_) => t.late += 1,
                None if due < end => t.late += 1,
                None => t.pending += 1,
            }
            t.rework += u32::from(round.iter().any(|x| x.action == Action::VerifyFail));
            if !self.case_units.contains(&u) {
                self.case_units.push(u);
                t.cases += 1;
                t.closed += u32::from(closed);
            }
        }
        self.case_units.clear();
        self.kpi.add_case(c);
    }

    fn add_verification(&mut self, assignee: &str, due_at_ms: i64, done_at_ms: Option<i64>) {
        self.kpi.add_verification(assignee, due_at_ms, done_at_ms);
    }

    fn add_mark(&mut self, m: &Mark) {
        self.kpi.add_mark(m);
    }
}

/// Evaluates `month` from the records (see the module doc); `cases` as for
/// [`kpis`](crate::kpi::kpis).
pub fn evaluate(
    month: Month,
    people: &[Person],
    cases: &[CaseRecord],
    verifications: &[VerificationRecord],
    marks: &[Mark],
    rules: KpiRules,
) -> Evaluation {
    let mut e = Evaluator::new(month, people, rules);
    e.add_records(cases, verifications, marks);
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::tests::{case, ev, month, t};
    use crate::Event;

    fn sent(unit: &str, at_ms: i64, due_at_ms: i64) -> Event {
        Event {
            unit: Some(unit.into()),
            due_at_ms: Some(due_at_ms),
            ..ev(Action::Dispatch, at_ms)
        }
    }

    #[test]
    fn units_are_scored_on_time_rework_and_closure() {
        let cases = vec![
            // Water: on time, passes, closed.
            case(
                "c1",
                "I1",
                t(1, 8),
                vec![
                    ev(Action::File, t(1, 9)),
                    sent("water", t(1, 9), t(1, 13)),
                    ev(Action::ReportHandled, t(1, 12)),
                    ev(Action::RequestVerification, t(1, 12)),
                    ev(Action::VerifyPass, t(1, 15)),
                ],
            ),
            // Water: on time, the check fails (rework), re-sent, late, still open.
            case(
                "c2",
                "I1",
                t(2, 8),
                vec![
                    ev(Action::File, t(2, 9)),
                    sent("water", t(2, 9), t(2, 13)),
                    ev(Action::ReportHandled, t(2, 10)),
                    ev(Action::RequestVerification, t(2, 10)),
                    ev(Action::VerifyFail, t(2, 11)),
                    sent("water", t(2, 11), t(2, 15)),
                    ev(Action::ReportHandled, t(2, 20)),
                ],
            ),
            // Roads: never handled, overdue in the month; another round
            // dispatched on the last day is still pending.
            case(
                "c3",
                "I1",
                t(3, 8),
                vec![ev(Action::File, t(3, 9)), sent("roads", t(3, 9), t(3, 12))],
            ),
            case(
                "c4",
                "I1",
                t(30, 8),
                vec![
                    ev(Action::File, t(30, 9)),
                    sent("roads", t(30, 9), month().end_ms() + 3_600_000),
                ],
            ),
            // Last month's round: not this month's.
            case(
                "c5",
                "I1",
                month().start_ms() - 7_200_000,
                vec![sent("roads", month().start_ms() - 3_600_000, t(1, 1))],
            ),
        ];
        let e = evaluate(month(), &[], &cases, &[], &[], KpiRules::default());
        let water = e.units.iter().find(|u| u.unit == "water").unwrap();
        assert_eq!(
            (
                water.rounds,
                water.on_time,
                water.late,
                water.pending,
                water.rework
            ),
            (3, 2, 1, 0, 1)
        );
        assert_eq!((water.cases, water.closed), (2, 1));
        let want = 100.0 * (0.5 * (2.0 / 3.0) + 0.3 * 0.5 + 0.2 * (1.0 - 1.0 / 3.0));
        assert!((water.score - want).abs() < 1e-9, "{}", water.score);
        let roads = e.units.iter().find(|u| u.unit == "roads").unwrap();
        assert_eq!(
            (roads.rounds, roads.on_time, roads.late, roads.pending),
            (2, 0, 1, 1)
        );
        assert_eq!(roads.on_time_rate, Some(0.0));
        assert_eq!(roads.closure_rate, Some(0.0));
        assert_eq!(roads.score, 20.0);
        assert_eq!((e.units[0].unit.as_str(), e.units[0].rank), ("water", 1));
        assert_eq!(e.units[1].rank, 2);
    }
}
