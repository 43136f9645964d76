//! Checking any plan (generated, hand-edited or tampered) against the rules.

use std::collections::{BTreeMap, BTreeSet};

use gridpatrol_domain::district::District;
use serde::{Deserialize, Serialize};

use crate::{coverage_floor, timeline, Baseline, Duty, Period, Plan};

/// One broken rule, naming the person, grid or squad. `Display` says it in
/// words; the JSON form carries the rule name in `rule`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, thiserror::Error,
)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Violation {
    /// `starts_at_ms` is not the period's start.
    #[error(
        "the plan for {period} starts at {found_ms} ms, but the period starts at {expected_ms} ms"
    )]
    WrongStart {
        /// The plan's period.
        period: Period,
        /// What the plan says.
        found_ms: i64,
        /// [`Period::start_ms`].
        expected_ms: i64,
    },
    /// `yearly` does not say whether the period starts in January.
    #[error("the plan for {period} says yearly = {found}, but only a period starting in January is yearly")]
    WrongYearly {
        /// The plan's period.
        period: Period,
        /// What the plan says.
        found: bool,
    },
    /// A posting for someone who is not in the district.
    #[error("{person} is not an inspector of the district")]
    UnknownPerson {
        /// The id posted.
        person: String,
    },
    /// Someone of the district has no posting.
    #[error("{person} has no posting (everyone must have one)")]
    MissingPerson {
        /// The person left out.
        person: String,
    },
    /// Someone posted more than once.
    #[error("{person} is posted {count} times (one posting each)")]
    DuplicatePerson {
        /// The person.
        person: String,
        /// How many postings name them.
        count: usize,
    },
    /// A posting to a squad the district does not have.
    #[error("{person} is posted to squad {squad}, which does not exist")]
    UnknownSquad {
        /// The person.
        person: String,
        /// The squad named.
        squad: String,
    },
    /// A posting with a duty other than the person's (duties never change).
    #[error("{person} is posted as {} but is a {} (duties do not change)", found.as_str(), expected.as_str())]
    WrongDuty {
        /// The person.
        person: String,
        /// Their duty in the district.
        expected: Duty,
        /// The duty posted.
        found: Duty,
    },
    /// An inspector without a grid, a leader with one, or an unknown grid.
    #[error("{person} ({}) is posted to grid {}, which is not a supervision grid they can hold", duty.as_str(), grid.as_deref().unwrap_or("(none)"))]
    BadGrid {
        /// The person.
        person: String,
        /// Their duty.
        duty: Duty,
        /// The grid posted, if any.
        grid: Option<String>,
    },
    /// A grid posted together with a squad that does not own it.
    #[error("{person} is posted to grid {grid}, which squad {squad} does not supervise")]
    GridOutsideSquad {
        /// The person.
        person: String,
        /// The grid.
        grid: String,
        /// The squad posted.
        squad: String,
    },
    /// Someone back on a grid they held in one of the last three assignments.
    #[error("{person} returns to grid {grid}, held in {held_in} (no return within 3 periods)")]
    ReturnedToGrid {
        /// The person.
        person: String,
        /// The grid.
        grid: String,
        /// Where they held it: `period YYYY-MM` or `the initial assignment`.
        held_in: String,
    },
    /// A grid with fewer people of a duty than its coverage floor.
    #[error("grid {grid} has {found} {}s, fewer than {needed} (every grid stays covered)", duty.as_str())]
    GridUncovered {
        /// The grid.
        grid: String,
        /// Grid or unit inspectors.
        duty: Duty,
        /// How many the plan posts.
        found: usize,
        /// [`coverage_floor`] of the generated count.
        needed: usize,
    },
    /// A squad whose size differs from the generated one.
    #[error("squad {squad} has {found} people, not its {expected} (squad sizes stay balanced)")]
    SquadSize {
        /// The squad.
        squad: String,
        /// People posted to it.
        found: usize,
        /// Its generated size.
        expected: usize,
    },
    /// A squad without exactly one leader.
    #[error("squad {squad} has {found} leaders (exactly one)")]
    LeaderCount {
        /// The squad.
        squad: String,
        /// Leaders posted to it.
        found: usize,
    },
    /// A yearly period in which someone stays in their squad (an inspector)
    /// or leads the squad they led the year before (a leader).
    #[error("{person} stays in squad {squad} as {} in {period}, a yearly period (everyone moves squad in January)", duty.as_str())]
    StayedInSquad {
        /// The person.
        person: String,
        /// The squad kept.
        squad: String,
        /// Their duty.
        duty: Duty,
        /// The plan's period.
        period: Period,
    },
    /// A squad change outside a yearly period.
    #[error("{person} moves from squad {from} to {to} in {period}; squads change only in January")]
    MovedOutOfTurn {
        /// The person.
        person: String,
        /// Squad before.
        from: String,
        /// Squad in the plan.
        to: String,
        /// The plan's period.
        period: Period,
    },
}

/// Every rule `plan` breaks, given the district and the plans applied before
/// it (`history` may also hold the plan itself or later ones: only plans of
/// earlier periods count). Empty means the plan may be applied.
pub fn check(plan: &Plan, district: &District, history: &[Plan]) -> Vec<Violation> {
    let mut out = Vec::new();
    let period = plan.period;
    if plan.starts_at_ms != period.start_ms() {
        out.push(Violation::WrongStart {
            period,
            found_ms: plan.starts_at_ms,
            expected_ms: period.start_ms(),
        });
    }
    if plan.yearly != period.is_yearly() {
        out.push(Violation::WrongYearly {
            period,
            found: plan.yearly,
        });
    }
    let line = timeline(district, history, period);
    let initial = &line[0];
    let prev = &line[line.len() - 1];
    let recent = &line[line.len().saturating_sub(3)..];
    let base = Baseline::of(district);

    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &plan.postings {
        *count.entry(p.person.as_str()).or_default() += 1;
    }
    for (&person, &n) in &count {
        if n > 1 {
            out.push(Violation::DuplicatePerson {
                person: person.into(),
                count: n,
            });
        }
    }
    for person in initial.postings.keys() {
        if !count.contains_key(person.as_str()) {
            out.push(Violation::MissingPerson {
                person: person.clone(),
            });
        }
    }

    let mut squad_size: BTreeMap<&str, usize> = BTreeMap::new();
    let mut leaders: BTreeMap<&str, usize> = BTreeMap::new();
    let mut on_grid: BTreeMap<(&str, Duty), usize> = BTreeMap::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for p in &plan.postings {
        let Some(original) = initial.posting(&p.person) else {
            out.push(Violation::UnknownPerson {
                person: p.person.clone(),
            });
            continue;
        };
        if !seen.insert(p.person.as_str()) {
            continue; // reported as a duplicate; count the first posting only
        }
        if !base.per_squad.contains_key(&p.squad) {
            out.push(Violation::UnknownSquad {
                person: p.person.clone(),
                squad: p.squad.clone(),
            });
            continue;
        }
        *squad_size.entry(p.squad.as_str()).or_default() += 1;
        if p.duty != original.duty {
            out.push(Violation::WrongDuty {
                person: p.person.clone(),
                expected: original.duty,
                found: p.duty,
            });
        }
        let before = prev.posting(&p.person).unwrap_or(original);
        if period.is_yearly() && before.squad == p.squad {
            out.push(Violation::StayedInSquad {
                person: p.person.clone(),
                squad: p.squad.clone(),
                duty: p.duty,
                period,
            });
        }
        if !period.is_yearly() && before.squad != p.squad {
            out.push(Violation::MovedOutOfTurn {
                person: p.person.clone(),
                from: before.squad.clone(),
                to: p.squad.clone(),
                period,
            });
        }
        let bad_grid = || Violation::BadGrid {
            person: p.person.clone(),
            duty: p.duty,
            grid: p.grid.clone(),
        };
        match (p.duty, &p.grid) {
            (Duty::Leader, None) => *leaders.entry(p.squad.as_str()).or_default() += 1,
            (Duty::Leader, Some(_)) | (_, None) => out.push(bad_grid()),
            (duty, Some(grid)) => {
                match base.squad_of_grid.get(grid) {
                    None => out.push(bad_grid()),
                    Some(owner) if *owner != p.squad => out.push(Violation::GridOutsideSquad {
                        person: p.person.clone(),
                        grid: grid.clone(),
                        squad: p.squad.clone(),
                    }),
                    Some(_) => {
                        *on_grid.entry((grid.as_str(), duty)).or_default() += 1;
                        // Most recent holding first, so the message names it.
                        if let Some(a) = recent.iter().rev().find(|a| {
                            a.posting(&p.person).and_then(|x| x.grid.as_ref()) == Some(grid)
                        }) {
                            out.push(Violation::ReturnedToGrid {
                                person: p.person.clone(),
                                grid: grid.clone(),
                                held_in: a.label(),
                            });
                        }
                    }
                }
            }
        }
    }

    for (squad, &expected) in &base.per_squad {
        let found = squad_size.get(squad.as_str()).copied().unwrap_or(0);
        if found != expected {
            out.push(Violation::SquadSize {
                squad: squad.clone(),
                found,
                expected,
            });
        }
        let n = leaders.get(squad.as_str()).copied().unwrap_or(0);
        if n != 1 {
            out.push(Violation::LeaderCount {
                squad: squad.clone(),
                found: n,
            });
        }
    }
    for ((grid, duty), &generated) in &base.per_grid {
        let needed = coverage_floor(generated);
        let found = on_grid.get(&(grid.as_str(), *duty)).copied().unwrap_or(0);
        if found < needed {
            out.push(Violation::GridUncovered {
                grid: grid.clone(),
                duty: *duty,
                found,
                needed,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::tiny;
    use crate::{plan, Assignment, Posting};

    fn p(s: &str) -> Period {
        s.parse().unwrap()
    }

    /// A tiny district, the clean March plan on it, and a mutable copy.
    fn setup() -> (District, Plan) {
        let d = tiny(2, 5, 3);
        let good = plan(&d, &[], p("2027-03"), 11).unwrap();
        assert_eq!(check(&good, &d, &[]), vec![]);
        (d, good)
    }

    fn find(plan: &mut Plan, f: impl Fn(&Posting) -> bool) -> &mut Posting {
        plan.postings.iter_mut().find(|x| f(x)).unwrap()
    }

    fn kinds(v: &[Violation]) -> Vec<String> {
        v.iter()
            .map(|x| {
                serde_json::to_value(x).unwrap()["rule"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn a_wrong_start_is_named() {
        let (d, mut bad) = setup();
        bad.starts_at_ms += 1;
        bad.yearly = true;
        let v = check(&bad, &d, &[]);
        assert_eq!(
            v,
            vec![
                Violation::WrongStart {
                    period: p("2027-03"),
                    found_ms: p("2027-03").start_ms() + 1,
                    expected_ms: p("2027-03").start_ms(),
                },
                Violation::WrongYearly {
                    period: p("2027-03"),
                    found: true
                }
            ]
        );
        assert!(v[0].to_string().contains("2027-03 starts at"), "{}", v[0]);
    }

    #[test]
    fn unknown_missing_and_duplicate_people_are_named() {
        let (d, good) = setup();
        let mut bad = good.clone();
        let mut stranger = bad.postings[0].clone();
        stranger.person = "I9999".into();
        bad.postings.push(stranger);
        assert_eq!(
            check(&bad, &d, &[]),
            vec![Violation::UnknownPerson {
                person: "I9999".into()
            }]
        );

        let mut bad = good.clone();
        let gone = bad
            .postings
            .iter()
            .position(|x| x.duty == Duty::Unit)
            .unwrap();
        let gone = bad.postings.remove(gone);
        let v = check(&bad, &d, &[]);
        assert!(v.contains(&Violation::MissingPerson {
            person: gone.person.clone()
        }));
        assert!(v.contains(&Violation::SquadSize {
            squad: gone.squad.clone(),
            found: 19,
            expected: 20,
        }));
        assert!(v[0].to_string().contains(&gone.person));

        let mut bad = good;
        let twice = bad.postings[3].clone();
        bad.postings.push(twice.clone());
        let v = check(&bad, &d, &[]);
        assert_eq!(
            v,
            vec![Violation::DuplicatePerson {
                person: twice.person,
                count: 2
            }]
        );
        assert!(v[0].to_string().contains("posted 2 times"));
    }

    #[test]
    fn unknown_squads_and_bad_grids_are_named() {
        let (d, good) = setup();
        let mut bad = good.clone();
        let x = find(&mut bad, |x| x.duty == Duty::Unit && x.squad == "S01");
        x.squad = "S99".into();
        let who = x.person.clone();
        let v = check(&bad, &d, &[]);
        assert!(v.contains(&Violation::UnknownSquad {
            person: who,
            squad: "S99".into()
        }));
        assert!(kinds(&v).contains(&"squad_size".to_string()), "{v:?}");

        // A leader holding a grid, and an unknown grid code.
        let mut bad = good.clone();
        let leader = find(&mut bad, |x| x.duty == Duty::Leader);
        leader.grid = Some("110105001001".into());
        let leader = leader.person.clone();
        let x = find(&mut bad, |x| x.duty == Duty::Unit);
        x.grid = Some("110105001999".into());
        let who = x.person.clone();
        let v = check(&bad, &d, &[]);
        assert!(v.contains(&Violation::BadGrid {
            person: leader,
            duty: Duty::Leader,
            grid: Some("110105001001".into())
        }));
        assert!(v.contains(&Violation::BadGrid {
            person: who,
            duty: Duty::Unit,
            grid: Some("110105001999".into())
        }));

        // A grid of the other squad.
        let mut bad = good;
        let x = find(&mut bad, |x| x.duty == Duty::Grid && x.squad == "S01");
        x.grid = Some(d.squads[1].supervision_grids[0].clone());
        let who = x.person.clone();
        let v = check(&bad, &d, &[]);
        assert!(v.contains(&Violation::GridOutsideSquad {
            person: who,
            grid: d.squads[1].supervision_grids[0].clone(),
            squad: "S01".into()
        }));
        assert!(v[0].to_string().contains("does not supervise"), "{v:?}");
    }

    #[test]
    fn a_changed_duty_is_named() {
        let (d, mut bad) = setup();
        let x = find(&mut bad, |x| x.duty == Duty::Grid);
        x.duty = Duty::Unit;
        let who = x.person.clone();
        let v = check(&bad, &d, &[]);
        assert!(v.contains(&Violation::WrongDuty {
            person: who,
            expected: Duty::Grid,
            found: Duty::Unit
        }));
    }

    #[test]
    fn a_return_within_three_periods_names_where_the_grid_was_held() {
        let d = tiny(2, 5, 3);
        let mar = plan(&d, &[], p("2027-03"), 5).unwrap();
        let may = plan(&d, std::slice::from_ref(&mar), p("2027-05"), 5).unwrap();
        let history = vec![mar.clone(), may.clone()];
        let mut jul = plan(&d, &history, p("2027-07"), 5).unwrap();
        assert_eq!(check(&jul, &d, &history), vec![]);
        let initial = Assignment::initial(&d);
        // Back to the initial grid (three assignments ago) and to March's.
        let a = jul
            .postings
            .iter()
            .find(|x| x.duty == Duty::Grid)
            .unwrap()
            .person
            .clone();
        let b = jul
            .postings
            .iter()
            .rfind(|x| x.duty == Duty::Unit)
            .unwrap()
            .person
            .clone();
        let a_grid = initial.postings[&a].grid.clone().unwrap();
        let b_grid = Assignment::of_plan(&mar).postings[&b].grid.clone().unwrap();
        find(&mut jul, |x| x.person == a).grid = Some(a_grid.clone());
        find(&mut jul, |x| x.person == b).grid = Some(b_grid.clone());
        let v = check(&jul, &d, &history);
        assert!(v.contains(&Violation::ReturnedToGrid {
            person: a.clone(),
            grid: a_grid,
            held_in: "the initial assignment".into()
        }));
        assert!(v.contains(&Violation::ReturnedToGrid {
            person: b,
            grid: b_grid,
            held_in: "period 2027-03".into()
        }));
        // Four assignments ago is allowed: checked in September, the initial
        // grid is no longer recent.
        let history = vec![mar, may, jul.clone()];
        let sep = plan(&d, &history, p("2027-09"), 5).unwrap();
        assert!(check(&sep, &d, &history)
            .iter()
            .all(|v| !matches!(v, Violation::ReturnedToGrid { held_in, .. } if held_in == "the initial assignment")));
    }

    #[test]
    fn an_uncovered_grid_and_an_unbalanced_squad_are_named() {
        let (d, good) = setup();
        let grid = d.squads[0].supervision_grids[0].clone();
        let mut bad = good.clone();
        for x in bad.postings.iter_mut() {
            if x.grid.as_deref() == Some(grid.as_str()) {
                x.grid = Some(d.squads[0].supervision_grids[4].clone());
            }
        }
        let v = check(&bad, &d, &[]);
        let uncovered: Vec<&Violation> = v
            .iter()
            .filter(|x| matches!(x, Violation::GridUncovered { .. }))
            .collect();
        assert_eq!(
            uncovered,
            vec![
                &Violation::GridUncovered {
                    grid: grid.clone(),
                    duty: Duty::Grid,
                    found: 0,
                    needed: 2
                },
                &Violation::GridUncovered {
                    grid: grid.clone(),
                    duty: Duty::Unit,
                    found: 0,
                    needed: 1
                }
            ]
        );

        let mut bad = good;
        let x = find(&mut bad, |x| x.duty == Duty::Leader && x.squad == "S01");
        x.squad = "S02".into();
        let v = check(&bad, &d, &[]);
        let leader = d.squads[0].leader.clone();
        assert!(v.contains(&Violation::SquadSize {
            squad: "S01".into(),
            found: 19,
            expected: 20
        }));
        assert!(v.contains(&Violation::SquadSize {
            squad: "S02".into(),
            found: 21,
            expected: 20
        }));
        assert!(v.contains(&Violation::LeaderCount {
            squad: "S01".into(),
            found: 0
        }));
        assert!(v.contains(&Violation::LeaderCount {
            squad: "S02".into(),
            found: 2
        }));
        assert!(v.contains(&Violation::MovedOutOfTurn {
            person: leader,
            from: "S01".into(),
            to: "S02".into(),
            period: p("2027-03")
        }));
        assert_eq!(v.len(), 5, "{v:#?}");
    }

    #[test]
    fn staying_in_a_squad_in_january_is_named() {
        let d = tiny(2, 5, 3);
        let mut jan = plan(&d, &[], p("2027-01"), 2).unwrap();
        assert_eq!(check(&jan, &d, &[]), vec![]);
        // Swap the two leaders back to their own squads.
        for x in jan.postings.iter_mut().filter(|x| x.duty == Duty::Leader) {
            x.squad = d.inspector(&x.person).unwrap().squad.clone();
        }
        let v = check(&jan, &d, &[]);
        assert_eq!(v.len(), 2, "{v:#?}");
        for s in &d.squads {
            assert!(v.contains(&Violation::StayedInSquad {
                person: s.leader.clone(),
                squad: s.id.clone(),
                duty: Duty::Leader,
                period: p("2027-01")
            }));
        }
        assert!(v[0].to_string().contains("yearly period"), "{}", v[0]);
    }

    #[test]
    fn only_earlier_plans_of_the_history_count() {
        let (d, good) = setup();
        let later = plan(&d, std::slice::from_ref(&good), p("2027-05"), 1).unwrap();
        // The plan itself and a later one in the history change nothing.
        assert_eq!(check(&good, &d, &[good.clone(), later]), vec![]);
    }
}
