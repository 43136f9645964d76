//! The whole demo district (1,547 people, 237 grids, 35 squads) over two
//! simulated years: every generated plan checks clean, and broken plans
//! report exactly what was broken.

use std::collections::BTreeSet;

use gridpatrol_district::DemoDistrict;
use gridpatrol_domain::district::District;
use gridpatrol_rotation::{
    assignment_at, check, coverage_floor, plan, Assignment, Duty, Period, Plan, Posting, Violation,
};

// The unit tests' kit: `test_seed` (and the tiny districts, unused here).
#[path = "../src/testkit.rs"]
#[allow(dead_code)]
mod testkit;
use testkit::test_seed;

/// Twelve periods from 2027-01 (two Januaries), each planned on the ones
/// before with a seed derived from `seed`.
fn two_years(d: &District, seed: u64) -> Vec<Plan> {
    let mut history: Vec<Plan> = Vec::new();
    let mut period: Period = "2027-01".parse().unwrap();
    for k in 0..12u64 {
        let next = plan(d, &history, period, seed.wrapping_mul(31).wrapping_add(k))
            .unwrap_or_else(|e| panic!("{period}: {e}"));
        let v = check(&next, d, &history);
        assert!(v.is_empty(), "{period}: {v:#?}");
        history.push(next);
        period = period.next();
    }
    history
}

#[test]
fn two_years_of_generated_plans_all_check_clean() {
    let d = &DemoDistrict::get().district;
    assert_eq!((d.inspectors.len(), d.supervision_grids.len()), (1547, 237));
    let history = two_years(d, test_seed("two_years"));
    let initial = Assignment::initial(d);
    let mut line = vec![initial.clone()];
    line.extend(history.iter().map(Assignment::of_plan));
    // What the server will ask: the posts in force at any instant.
    for (k, p) in history.iter().enumerate() {
        assert_eq!(assignment_at(&history, d, p.starts_at_ms - 1), line[k]);
        assert_eq!(assignment_at(&history, d, p.starts_at_ms), line[k + 1]);
    }
    // Independent of `check`: the properties a supervisor would look at.
    for (k, a) in line.iter().enumerate().skip(1) {
        let before = &line[k - 1];
        let yearly = a.period.unwrap().is_yearly();
        for s in &d.squads {
            assert_eq!(a.members_of(&s.id).len(), initial.members_of(&s.id).len());
            let leader = a.leader_of(&s.id).unwrap();
            assert_eq!(
                leader == before.leader_of(&s.id).unwrap(),
                !yearly,
                "{}",
                s.id
            );
        }
        for (id, x) in &a.postings {
            let was = &before.postings[id];
            assert_eq!(x.squad != was.squad, yearly, "{id} in {:?}", a.period);
            for back in 1..=3.min(k) {
                if x.duty != Duty::Leader {
                    assert_ne!(x.grid, line[k - back].postings[id].grid, "{id}");
                }
            }
        }
        for g in &d.supervision_grids {
            let grid_inspectors = a
                .holders_of(&g.code)
                .iter()
                .filter(|p| a.postings[**p].duty == Duty::Grid)
                .count();
            assert!(grid_inspectors >= 1, "{} uncovered", g.code);
        }
    }
    // Each leader's squad, year by year (initial, 2027, 2028): never the
    // same twice running, and the whole year long.
    for l in d.squads.iter().map(|s| &s.leader) {
        let led: Vec<&str> = line.iter().map(|a| a.postings[l].squad.as_str()).collect();
        assert!(led[1..=6].iter().all(|s| *s == led[1]), "{l}: {led:?}");
        assert!(led[7..=12].iter().all(|s| *s == led[7]), "{l}: {led:?}");
        assert!(led[0] != led[1] && led[1] != led[7], "{l}: {led:?}");
    }
}

/// The July plan (the fourth of the year, where the no-return rule bites
/// hardest) and the plans before it.
fn july(d: &District, seed: u64) -> (Plan, Vec<Plan>) {
    let mut all = two_years(d, seed);
    all.truncate(4); // 2027-01, -03, -05, -07
    let july = all.pop().unwrap();
    assert_eq!(july.period.to_string(), "2027-07");
    (july, all)
}

fn posting_mut<'a>(plan: &'a mut Plan, person: &str) -> &'a mut Posting {
    plan.postings
        .iter_mut()
        .find(|p| p.person == person)
        .unwrap()
}

fn grid_of(plan: &Plan, person: &str) -> String {
    let p = plan.postings.iter().find(|p| p.person == person).unwrap();
    p.grid.clone().unwrap()
}

/// Grids `person` held in the three assignments before the plan.
fn recent(d: &District, history: &[Plan], person: &str) -> Vec<String> {
    let mut line = vec![Assignment::initial(d)];
    line.extend(history.iter().map(Assignment::of_plan));
    line.iter()
        .rev()
        .take(3)
        .filter_map(|a| a.postings[person].grid.clone())
        .collect()
}

/// People of `duty` posted to `grid` by `plan`.
fn on_grid(plan: &Plan, grid: &str, duty: Duty) -> usize {
    plan.postings
        .iter()
        .filter(|p| p.duty == duty && p.grid.as_deref() == Some(grid))
        .count()
}

/// Generated head count of `duty` on `grid`.
fn generated(d: &District, grid: &str, duty: Duty) -> usize {
    let a = Assignment::initial(d);
    a.holders_of(grid)
        .iter()
        .filter(|p| a.postings[**p].duty == duty)
        .count()
}

/// Sends two grid inspectors of `squad` back to the grid they held last
/// period, each by an exchange with someone for whom the exchange is legal.
fn swap_two_back(
    d: &District,
    plan: &mut Plan,
    history: &[Plan],
    squad: &str,
) -> BTreeSet<Violation> {
    let last = Assignment::of_plan(history.last().unwrap());
    let ids: Vec<String> = plan
        .postings
        .iter()
        .filter(|p| p.duty == Duty::Grid && p.squad == squad)
        .map(|p| p.person.clone())
        .collect();
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut expected = BTreeSet::new();
    for a in &ids {
        if expected.len() == 2 {
            break;
        }
        if used.contains(a) {
            continue;
        }
        let back = last.postings[a].grid.clone().unwrap();
        let mine = grid_of(plan, a);
        let partner = ids.iter().find(|b| {
            !used.contains(*b)
                && *b != a
                && grid_of(plan, b) == back
                && !recent(d, history, b).contains(&mine)
        });
        let Some(b) = partner.cloned() else { continue };
        posting_mut(plan, a).grid = Some(back.clone());
        posting_mut(plan, &b).grid = Some(mine);
        used.insert(a.clone());
        used.insert(b);
        expected.insert(Violation::ReturnedToGrid {
            person: a.clone(),
            grid: back,
            held_in: "period 2027-05".into(),
        });
    }
    assert_eq!(expected.len(), 2, "no two legal exchanges in {squad}");
    expected
}

/// Moves everyone off `grid` onto other grids of its squad they may hold.
fn empty_a_grid(
    d: &District,
    plan: &mut Plan,
    history: &[Plan],
    grid: &str,
) -> BTreeSet<Violation> {
    let squad = &d.supervision_grid(grid).unwrap().squad;
    let others: Vec<String> = d.squad(squad).unwrap().supervision_grids.clone();
    let on: Vec<String> = plan
        .postings
        .iter()
        .filter(|p| p.grid.as_deref() == Some(grid))
        .map(|p| p.person.clone())
        .collect();
    assert!(!on.is_empty());
    for person in &on {
        let held = recent(d, history, person);
        let to = others
            .iter()
            .find(|g| *g != grid && !held.contains(g))
            .expect("a grid they may hold");
        posting_mut(plan, person).grid = Some(to.clone());
    }
    let mut expected = BTreeSet::new();
    for duty in [Duty::Grid, Duty::Unit] {
        let needed = coverage_floor(generated(d, grid, duty));
        if needed > 0 {
            expected.insert(Violation::GridUncovered {
                grid: grid.into(),
                duty,
                found: 0,
                needed,
            });
        }
    }
    expected
}

/// Moves one grid inspector of squad `from` (from a grid that stays above its
/// floor) onto a grid of squad `to`.
fn unbalance(d: &District, plan: &mut Plan, from: &str, to: &str) -> BTreeSet<Violation> {
    let who = plan
        .postings
        .iter()
        .find(|p| {
            let g = p.grid.as_deref().unwrap_or("");
            p.duty == Duty::Grid
                && p.squad == from
                && on_grid(plan, g, Duty::Grid) > coverage_floor(generated(d, g, Duty::Grid))
        })
        .expect("a grid above its floor")
        .person
        .clone();
    let x = posting_mut(plan, &who);
    x.squad = to.into();
    x.grid = Some(d.squad(to).unwrap().supervision_grids[0].clone());
    let size = |s: &str| Assignment::initial(d).members_of(s).len();
    BTreeSet::from([
        Violation::SquadSize {
            squad: from.into(),
            found: size(from) - 1,
            expected: size(from),
        },
        Violation::SquadSize {
            squad: to.into(),
            found: size(to) + 1,
            expected: size(to),
        },
        Violation::MovedOutOfTurn {
            person: who,
            from: from.into(),
            to: to.into(),
            period: plan.period,
        },
    ])
}

fn reported(plan: &Plan, d: &District, history: &[Plan]) -> BTreeSet<Violation> {
    let v = check(plan, d, history);
    let set: BTreeSet<Violation> = v.iter().cloned().collect();
    assert_eq!(set.len(), v.len(), "reported twice: {v:#?}");
    set
}

#[test]
fn a_broken_plan_reports_exactly_what_was_broken() {
    let d = &DemoDistrict::get().district;
    let (good, history) = july(d, test_seed("broken_plan"));
    assert_eq!(reported(&good, d, &history), BTreeSet::new());
    // The squad of 52 grid inspectors with a grid of 14: the tightest one.
    let empty = d.squad("S30").unwrap().supervision_grids[0].clone();

    let mut a = good.clone();
    let want = swap_two_back(d, &mut a, &history, "S07");
    assert_eq!(reported(&a, d, &history), want);

    let mut b = good.clone();
    let want = empty_a_grid(d, &mut b, &history, &empty);
    assert_eq!(want.len(), 2, "S30's first grid has both duties");
    assert_eq!(reported(&b, d, &history), want);

    let mut c = good.clone();
    let want = unbalance(d, &mut c, "S11", "S12");
    assert_eq!(reported(&c, d, &history), want);

    // All three at once, in different squads: the union, nothing more.
    let mut all = good.clone();
    let mut want = swap_two_back(d, &mut all, &history, "S07");
    want.extend(empty_a_grid(d, &mut all, &history, &empty));
    want.extend(unbalance(d, &mut all, "S11", "S12"));
    let got = reported(&all, d, &history);
    assert_eq!(got, want);
    for v in &got {
        println!("{v}");
    }
}
