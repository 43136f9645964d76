//! Generating the next plan: a seeded, capacitated bipartite matching.
//!
//! Three matchings, each Kuhn's augmenting-path algorithm over groups with
//! capacities, the candidates' orders shuffled by a ChaCha8 generator seeded
//! with the plan's seed (so a seed replays a plan exactly):
//! 1. in a yearly period, leaders onto squads (one each, never the squad led
//!    the year before);
//! 2. in a yearly period, inspectors of each duty onto squads other than
//!    their own, each squad taking exactly its generated number of that duty;
//! 3. in every period, each squad's inspectors of each duty onto its grids,
//!    never a grid held in the last three assignments: first every grid up to
//!    its [`coverage_floor`](crate::coverage_floor) (a maximum matching, so it
//!    succeeds whenever any assignment does), then the rest up to its
//!    [`staffing_cap`](crate::staffing_cap). An augmenting path never takes a
//!    person away from a grid without putting another there, so the floors
//!    reached in the first pass hold to the end.

use std::collections::BTreeMap;

use gridpatrol_domain::district::District;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{
    coverage_floor, staffing_cap, timeline, Baseline, Duty, Period, Plan, Posting, RotationError,
    RULE,
};

/// The seed `gridpatrol rotation plan` uses when none is given: fixed per
/// period, so planning the same period twice gives the same plan.
pub fn default_seed(period: Period) -> u64 {
    0x4752_4f54_0000_0000 ^ (u64::from(period.year()) * 100 + u64::from(period.month()))
}

/// Generates the plan for `period` from the district and the plans applied
/// before it (any order; the initial assignment is the district as
/// generated). The same inputs and `seed` always give the same plan, and a
/// generated plan passes [`check`](crate::check) against the same history.
pub fn plan(
    district: &District,
    history: &[Plan],
    period: Period,
    seed: u64,
) -> Result<Plan, RotationError> {
    if let Some(last) = history.iter().map(|p| p.period).max() {
        if last >= period {
            return Err(RotationError::NotAfterHistory { period, last });
        }
    }
    let line = timeline(district, history, period);
    let initial = &line[0];
    let prev = &line[line.len() - 1];
    let recent = &line[line.len().saturating_sub(3)..];
    let base = Baseline::of(district);
    let yearly = period.is_yearly();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    // Everyone's previous posting (the initial one for anyone a plan missed).
    let people: Vec<&Posting> = initial
        .postings
        .values()
        .map(|p0| prev.posting(&p0.person).unwrap_or(p0))
        .collect();
    let squads: Vec<&str> = district.squads.iter().map(|s| s.id.as_str()).collect();
    let duty_of = |id: &str| initial.posting(id).map(|p| p.duty).unwrap_or(Duty::Grid);

    // Squad of every person in the new period.
    let mut new_squad: BTreeMap<&str, &str> = people
        .iter()
        .map(|p| (p.person.as_str(), p.squad.as_str()))
        .collect();
    if yearly {
        for duty in [Duty::Leader, Duty::Grid, Duty::Unit] {
            let who: Vec<&Posting> = people
                .iter()
                .copied()
                .filter(|p| duty_of(&p.person) == duty)
                .collect();
            let caps: Vec<usize> = squads
                .iter()
                .map(|s| match duty {
                    Duty::Leader => 1,
                    _ => district
                        .squad(s)
                        .map(|sq| {
                            sq.supervision_grids
                                .iter()
                                .map(|g| base.count(g, duty))
                                .sum()
                        })
                        .unwrap_or(0),
                })
                .collect();
            let allowed = who
                .iter()
                .map(|p| {
                    (0..squads.len())
                        .filter(|&k| squads[k] != p.squad)
                        .collect()
                })
                .collect();
            let group = format!("the yearly squad move of the {}s", duty.as_str());
            let placed = Matching::solve(allowed, &[caps], &mut rng)
                .map_err(|unplaced| infeasible(&group, &who, &unplaced))?;
            for (p, k) in who.iter().zip(placed) {
                new_squad.insert(p.person.as_str(), squads[k]);
            }
        }
    }

    // Grids within each squad, per duty.
    let mut postings: Vec<Posting> = Vec::with_capacity(people.len());
    for p in people.iter().filter(|p| duty_of(&p.person) == Duty::Leader) {
        postings.push(Posting {
            person: p.person.clone(),
            squad: new_squad[p.person.as_str()].to_string(),
            duty: Duty::Leader,
            grid: None,
        });
    }
    for &squad in &squads {
        let grids: Vec<&str> = district
            .squad(squad)
            .map(|s| s.supervision_grids.iter().map(String::as_str).collect())
            .unwrap_or_default();
        for duty in [Duty::Grid, Duty::Unit] {
            let who: Vec<&Posting> = people
                .iter()
                .copied()
                .filter(|p| duty_of(&p.person) == duty && new_squad[p.person.as_str()] == squad)
                .collect();
            if who.is_empty() {
                continue;
            }
            let held: Vec<Vec<&str>> = who
                .iter()
                .map(|p| {
                    recent
                        .iter()
                        .filter_map(|a| a.posting(&p.person)?.grid.as_deref())
                        .collect()
                })
                .collect();
            let group = Group {
                grids: &grids,
                floors: grids
                    .iter()
                    .map(|g| coverage_floor(base.count(g, duty)))
                    .collect(),
                caps: grids
                    .iter()
                    .map(|g| staffing_cap(base.count(g, duty)))
                    .collect(),
            };
            let name = format!("the {}s of squad {squad}", duty.as_str());
            let placed = group
                .place(&held, periods_left_in_year(period), &mut rng)
                .map_err(|unplaced| infeasible(&name, &who, &unplaced))?;
            for (p, k) in who.iter().zip(placed) {
                postings.push(Posting {
                    person: p.person.clone(),
                    squad: squad.to_string(),
                    duty,
                    grid: Some(grids[k].to_string()),
                });
            }
        }
    }
    postings.sort_by(|a, b| a.person.cmp(&b.person));
    Ok(Plan {
        period,
        starts_at_ms: period.start_ms(),
        yearly,
        rule: RULE.to_string(),
        seed,
        postings,
    })
}

/// Periods after `period` before the next January (when squads change and
/// the no-return rule starts afresh in a new squad).
fn periods_left_in_year(period: Period) -> usize {
    usize::from((11 - period.month()) / 2)
}

/// Tries for a squad's grid assignment that leaves the rest of the year
/// feasible (a candidate is kept once a simulated continuation succeeds).
const ATTEMPTS: usize = 40;

/// The grids of one squad for one duty, with their floors and caps.
struct Group<'a> {
    grids: &'a [&'a str],
    floors: Vec<usize>,
    caps: Vec<usize>,
}

impl Group<'_> {
    /// Each person's grid index, given the grids each held in the last three
    /// assignments (oldest first). A candidate is accepted once the next
    /// `horizon` periods can be planned after it too (simulated with the
    /// same generator); if no candidate in [`ATTEMPTS`] passes, the first
    /// is kept (it satisfies every rule for this period).
    fn place(
        &self,
        held: &[Vec<&str>],
        horizon: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<usize>, Vec<usize>> {
        let mut first = None;
        for _ in 0..ATTEMPTS {
            let placed = self.once(held, rng)?;
            if horizon == 0 || self.survives(held, &placed, horizon, rng) {
                return Ok(placed);
            }
            first.get_or_insert(placed);
        }
        Ok(first.unwrap_or_default())
    }

    fn once(&self, held: &[Vec<&str>], rng: &mut ChaCha8Rng) -> Result<Vec<usize>, Vec<usize>> {
        let allowed = held
            .iter()
            .map(|h| {
                (0..self.grids.len())
                    .filter(|&k| !h.contains(&self.grids[k]))
                    .collect()
            })
            .collect();
        Matching::solve(allowed, &[self.floors.clone(), self.caps.clone()], rng)
    }

    fn survives(
        &self,
        held: &[Vec<&str>],
        placed: &[usize],
        horizon: usize,
        rng: &mut ChaCha8Rng,
    ) -> bool {
        let mut held: Vec<Vec<&str>> = held.to_vec();
        let mut placed = placed.to_vec();
        for _ in 0..horizon {
            for (h, &k) in held.iter_mut().zip(&placed) {
                h.push(self.grids[k]);
                if h.len() > 3 {
                    h.remove(0);
                }
            }
            match self.once(&held, rng) {
                Ok(next) => placed = next,
                Err(_) => return false,
            }
        }
        true
    }
}

fn infeasible(group: &str, who: &[&Posting], unplaced: &[usize]) -> RotationError {
    let names: Vec<&str> = unplaced
        .iter()
        .take(5)
        .map(|&i| who[i].person.as_str())
        .collect();
    let detail = if unplaced.is_empty() {
        format!(
            "{} people cannot meet every grid's coverage floor",
            who.len()
        )
    } else {
        format!(
            "{} of {} cannot be placed (e.g. {})",
            unplaced.len(),
            who.len(),
            names.join(", ")
        )
    };
    RotationError::Infeasible {
        group: group.to_string(),
        detail,
    }
}

/// People onto capacitated groups (Kuhn's algorithm with capacities).
struct Matching {
    /// Per person: the groups they may join, in preference order.
    allowed: Vec<Vec<usize>>,
    /// Per group: how many it may take now.
    cap: Vec<usize>,
    /// Per group: who is in it.
    holders: Vec<Vec<usize>>,
    /// Groups visited by the current search.
    visited: Vec<bool>,
}

impl Matching {
    /// Places every person. `phases` are successive capacity vectors (each
    /// at least the one before): every phase must fill its capacities as far
    /// as a maximum matching can; the last must place everyone. Returns each
    /// person's group, or the people left unplaced (or, when an earlier
    /// phase leaves a floor unmet, the people who could not be moved there).
    fn solve(
        mut allowed: Vec<Vec<usize>>,
        phases: &[Vec<usize>],
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<usize>, Vec<usize>> {
        let groups = phases.first().map_or(0, Vec::len);
        for list in &mut allowed {
            shuffle(list, rng);
        }
        let mut order: Vec<usize> = (0..allowed.len()).collect();
        shuffle(&mut order, rng);
        let mut m = Matching {
            allowed,
            cap: vec![0; groups],
            holders: vec![Vec::new(); groups],
            visited: vec![false; groups],
        };
        let mut group_of: Vec<Option<usize>> = vec![None; order.len()];
        for (phase, caps) in phases.iter().enumerate() {
            m.cap.clone_from(caps);
            for &p in &order {
                if group_of[p].is_none() {
                    m.visited.iter_mut().for_each(|v| *v = false);
                    m.place(p);
                    group_of = m.group_of(order.len());
                }
            }
            let last = phase + 1 == phases.len();
            let short = (0..groups).any(|g| m.holders[g].len() < caps[g]);
            if !last && short {
                // A floor cannot be met: report who is left over.
                return Err(order
                    .iter()
                    .copied()
                    .filter(|&p| group_of[p].is_none())
                    .collect());
            }
        }
        let unplaced: Vec<usize> = order
            .into_iter()
            .filter(|&p| group_of[p].is_none())
            .collect();
        if unplaced.is_empty() {
            Ok(group_of.into_iter().map(|g| g.unwrap_or(0)).collect())
        } else {
            Err(unplaced)
        }
    }

    fn group_of(&self, people: usize) -> Vec<Option<usize>> {
        let mut of = vec![None; people];
        for (g, hs) in self.holders.iter().enumerate() {
            for &p in hs {
                of[p] = Some(g);
            }
        }
        of
    }

    /// Finds `p` a place, moving others along an augmenting path if needed.
    /// On success every group holds at least as many people as before.
    fn place(&mut self, p: usize) -> bool {
        for i in 0..self.allowed[p].len() {
            let g = self.allowed[p][i];
            if self.visited[g] {
                continue;
            }
            self.visited[g] = true;
            if self.holders[g].len() < self.cap[g] {
                self.holders[g].push(p);
                return true;
            }
            for j in 0..self.holders[g].len() {
                let q = self.holders[g][j];
                if self.place(q) {
                    self.holders[g][j] = p;
                    return true;
                }
            }
        }
        false
    }
}

/// Fisher–Yates with the plan's generator (stable across platforms).
fn shuffle<T>(items: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::testkit::{test_seed, tiny};
    use crate::{check, coverage_floor, staffing_cap, Assignment};

    fn p(s: &str) -> Period {
        s.parse().unwrap()
    }

    /// Plans `periods` in turn from an empty history, each checked clean.
    fn run(d: &District, periods: &[&str], seed: u64) -> Vec<Plan> {
        let mut history: Vec<Plan> = Vec::new();
        for (k, name) in periods.iter().enumerate() {
            let next = plan(d, &history, p(name), seed.wrapping_add(k as u64)).unwrap();
            assert_eq!(check(&next, d, &history), vec![], "{name}");
            history.push(next);
        }
        history
    }

    #[test]
    fn every_two_months_everyone_swaps_grid_within_the_squad_never_back_within_three() {
        let d = tiny(2, 5, 3);
        let seed = test_seed("swaps_within_squad");
        let plans = run(
            &d,
            &["2027-03", "2027-05", "2027-07", "2027-09", "2027-11"],
            seed,
        );
        let mut line = vec![Assignment::initial(&d)];
        line.extend(plans.iter().map(Assignment::of_plan));
        for k in 1..line.len() {
            for (id, now) in &line[k].postings {
                let before = &line[k - 1].postings[id];
                assert_eq!(now.squad, before.squad, "{id} changed squad");
                assert_eq!(now.duty, before.duty);
                if now.duty == Duty::Leader {
                    assert_eq!(now.grid, None);
                    continue;
                }
                for back in 1..=3.min(k) {
                    assert_ne!(
                        now.grid,
                        line[k - back].postings[id].grid,
                        "{id} back after {back}"
                    );
                }
            }
        }
    }

    #[test]
    fn grids_keep_their_floor_and_stay_under_their_cap_unit_inspectors_only_where_units_were() {
        let d = tiny(2, 5, 3);
        let seed = test_seed("coverage");
        let base = Baseline::of(&d);
        for pl in run(&d, &["2027-03", "2027-05", "2027-07", "2027-09"], seed) {
            let mut n: BTreeMap<(String, Duty), usize> = BTreeMap::new();
            for x in pl.postings.iter().filter(|x| x.duty != Duty::Leader) {
                *n.entry((x.grid.clone().unwrap(), x.duty)).or_default() += 1;
            }
            for ((grid, duty), &generated) in &base.per_grid {
                let got = n.get(&(grid.clone(), *duty)).copied().unwrap_or(0);
                assert!(got >= coverage_floor(generated), "{grid} {duty:?} {got}");
                assert!(got <= staffing_cap(generated), "{grid} {duty:?} {got}");
                if *duty == Duty::Unit && generated == 0 {
                    assert_eq!(got, 0, "unit inspector on {grid}, which has no units");
                }
            }
        }
    }

    #[test]
    fn january_moves_every_inspector_and_leader_to_another_squad_keeping_sizes() {
        let d = tiny(3, 4, 2);
        let seed = test_seed("january");
        let plans = run(&d, &["2026-11", "2027-01", "2027-03", "2028-01"], seed);
        let initial = Assignment::initial(&d);
        let nov = Assignment::of_plan(&plans[0]);
        let jan = Assignment::of_plan(&plans[1]);
        let mar = Assignment::of_plan(&plans[2]);
        let jan2 = Assignment::of_plan(&plans[3]);
        assert!(!plans[0].yearly && plans[1].yearly && plans[3].yearly);
        for (id, x) in &jan.postings {
            assert_ne!(x.squad, nov.postings[id].squad, "{id} stayed in January");
            assert_eq!(mar.postings[id].squad, x.squad, "{id} moved in March");
            assert_ne!(
                jan2.postings[id].squad, mar.postings[id].squad,
                "{id} stayed"
            );
        }
        for s in &d.squads {
            assert_eq!(jan.members_of(&s.id).len(), initial.members_of(&s.id).len());
            let led = [&initial, &jan, &jan2].map(|a| a.leader_of(&s.id).unwrap().to_string());
            assert_ne!(led[0], led[1], "{} kept its leader", s.id);
            assert_ne!(led[1], led[2], "{} kept its leader", s.id);
            let units = |a: &Assignment| {
                a.members_of(&s.id)
                    .iter()
                    .filter(|m| a.postings[**m].duty == Duty::Unit)
                    .count()
            };
            assert_eq!(units(&jan), units(&initial));
        }
    }

    #[test]
    fn same_inputs_and_seed_give_the_same_plan_another_seed_another() {
        let d = tiny(2, 6, 3);
        let a = plan(&d, &[], p("2027-03"), 7).unwrap();
        assert_eq!(a, plan(&d, &[], p("2027-03"), 7).unwrap());
        assert_eq!(a.seed, 7);
        assert_eq!(a.rule, RULE);
        assert_eq!(a.starts_at_ms, p("2027-03").start_ms());
        assert_ne!(a.postings, plan(&d, &[], p("2027-03"), 8).unwrap().postings);
        assert_ne!(default_seed(p("2027-03")), default_seed(p("2027-05")));
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.contains("\"period\":\"2027-03\""), "{json}");
        assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), a);
    }

    #[test]
    fn refuses_a_period_not_after_the_history() {
        let d = tiny(2, 5, 3);
        let a = plan(&d, &[], p("2027-03"), 1).unwrap();
        for again in ["2027-03", "2027-01"] {
            assert_eq!(
                plan(&d, std::slice::from_ref(&a), p(again), 1),
                Err(RotationError::NotAfterHistory {
                    period: p(again),
                    last: p("2027-03")
                })
            );
        }
    }

    #[test]
    fn says_which_squad_cannot_rotate() {
        // Unit inspectors work on three grids of each squad: the fourth
        // assignment would need a fourth.
        let d = tiny(2, 4, 2);
        let plans = run(&d, &["2027-03", "2027-05"], 3);
        match plan(&d, &plans, p("2027-07"), 3) {
            Err(RotationError::Infeasible { group, .. }) => {
                assert_eq!(group, "the unit inspectors of squad S01");
            }
            other => panic!("{other:?}"),
        }
        // One squad: nowhere to move in January.
        let one = tiny(1, 5, 2);
        let err = plan(&one, &[], p("2027-01"), 3).unwrap_err();
        assert!(err.to_string().contains("yearly squad move"), "{err}");
    }

    #[test]
    fn a_floor_that_cannot_be_met_is_infeasible_not_a_short_plan() {
        // Three people for two grids that each need two.
        let grids = ["110105001001", "110105001002"];
        let group = Group {
            grids: &grids,
            floors: vec![2, 2],
            caps: vec![3, 3],
        };
        let held = vec![Vec::new(); 3];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(group.place(&held, 0, &mut rng), Err(vec![]));
        let who: Vec<Posting> = (0..3)
            .map(|k| Posting {
                person: format!("I000{k}"),
                squad: "S01".into(),
                duty: Duty::Grid,
                grid: None,
            })
            .collect();
        let who: Vec<&Posting> = who.iter().collect();
        let e = infeasible("the grid inspectors of squad S01", &who, &[]);
        assert!(e.to_string().contains("3 people cannot meet"), "{e}");
        // With four people it works, each grid at its floor.
        let held = vec![Vec::new(); 4];
        let placed = group.place(&held, 0, &mut rng).unwrap();
        assert_eq!(placed.iter().filter(|&&g| g == 0).count(), 2);
    }
}
