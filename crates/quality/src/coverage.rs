//! Patrol coverage (巡查覆盖率): how much of their supervision grid an
//! inspector walked, from the recorded patrol days only (each device
//! uploads, per inspector and Beijing day, the set of technical grids its
//! patrol track visited; the server keeps the supervision grid the inspector
//! held that day beside it).
//!
//! For an inspector and a month:
//! - a **working day** is a calendar day of the month (Beijing time) up to
//!   and including today. There are no duty rosters in the data and the
//!   brief says a grid inspector patrols their grid every day, so every day
//!   is a duty day; days after today are not counted yet (a month in the
//!   future has none);
//! - a day's share = |visited ∩ assigned| / |assigned|, where `assigned` is
//!   the technical grids of the supervision grid recorded with that day's
//!   patrol (after a rotation mid-month, the new grid from its first day);
//!   visited codes outside it are ignored, and a day with no recorded patrol
//!   has share 0. A day recorded under two grids (moved in the middle of a
//!   day) counts its better share;
//! - `coverage` = the mean share over the working days, `None` with no
//!   working day.
//!
//! A squad's coverage is the mean of its members' (those with one).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use crate::Month;

/// One inspector's patrol of one Beijing day, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatrolDay {
    /// Account id.
    pub inspector: String,
    /// The Beijing calendar day.
    pub day: NaiveDate,
    /// The supervision grid the inspector held that day.
    pub supervision_grid: String,
    /// Technical grid codes the patrol track visited.
    pub technical_grids: Vec<String>,
}

/// The technical grids of every supervision grid (what "assigned" means).
#[derive(Debug, Clone, Default)]
pub struct GridCells {
    cells: HashMap<String, HashSet<String>>,
}

impl GridCells {
    /// From `(technical grid, supervision grid)` pairs.
    pub fn new<I, T, S>(pairs: I) -> GridCells
    where
        I: IntoIterator<Item = (T, S)>,
        T: Into<String>,
        S: Into<String>,
    {
        let mut cells: HashMap<String, HashSet<String>> = HashMap::new();
        for (t, s) in pairs {
            cells.entry(s.into()).or_default().insert(t.into());
        }
        GridCells { cells }
    }

    /// The technical grids of `supervision_grid` (none if unknown).
    pub fn of(&self, supervision_grid: &str) -> Option<&HashSet<String>> {
        self.cells.get(supervision_grid)
    }

    /// Whether `technical_grid` is one of `supervision_grid`'s.
    pub fn contains(&self, supervision_grid: &str, technical_grid: &str) -> bool {
        self.of(supervision_grid)
            .is_some_and(|c| c.contains(technical_grid))
    }

    /// The share of `supervision_grid`'s technical grids in `visited`
    /// (codes outside it ignored, each counted once); 0 for a grid with
    /// none known.
    pub fn share(&self, supervision_grid: &str, visited: &[String]) -> f64 {
        let Some(cells) = self.of(supervision_grid).filter(|c| !c.is_empty()) else {
            return 0.0;
        };
        let hit: HashSet<&str> = visited
            .iter()
            .map(String::as_str)
            .filter(|v| cells.contains(*v))
            .collect();
        hit.len() as f64 / cells.len() as f64
    }
}

/// The first and last working day of `month` as of `today` (see the module
/// doc), `None` when the month starts after today.
pub fn working_days(month: Month, today: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::from_ymd_opt(month.year, month.month, 1)?;
    let next = month.next();
    let last = NaiveDate::from_ymd_opt(next.year, next.month, 1)?.pred_opt()?;
    let last = last.min(today);
    (first <= last).then_some((first, last))
}

/// The month's coverage gathered one recorded patrol day at a time.
#[derive(Debug)]
pub struct CoverageTally<'g> {
    days: Option<(NaiveDate, NaiveDate)>,
    cells: &'g GridCells,
    /// The best share of each working day recorded, by inspector.
    best: HashMap<String, HashMap<NaiveDate, f64>>,
}

impl<'g> CoverageTally<'g> {
    /// A tally of `month` as of `today`, assignments from `cells`.
    pub fn new(month: Month, today: NaiveDate, cells: &'g GridCells) -> CoverageTally<'g> {
        CoverageTally {
            days: working_days(month, today),
            cells,
            best: HashMap::new(),
        }
    }

    /// The number of working days (0 for a month after today).
    pub fn working_days(&self) -> u32 {
        self.days.map_or(0, |(a, b)| (b - a).num_days() as u32 + 1)
    }

    /// Counts one recorded patrol day (ignored outside the working days).
    pub fn add(&mut self, d: &PatrolDay) {
        let Some((first, last)) = self.days else {
            return;
        };
        if d.day < first || d.day > last {
            return;
        }
        let share = self.cells.share(&d.supervision_grid, &d.technical_grids);
        let e = self
            .best
            .entry(d.inspector.clone())
            .or_default()
            .entry(d.day)
            .or_insert(0.0);
        *e = e.max(share);
    }

    /// `inspector`'s days with a recorded patrol that visited part of
    /// their grid.
    pub fn patrol_days(&self, inspector: &str) -> u32 {
        self.best
            .get(inspector)
            .map_or(0, |days| days.values().filter(|s| **s > 0.0).count() as u32)
    }

    /// `inspector`'s coverage (see the module doc).
    pub fn coverage(&self, inspector: &str) -> Option<f64> {
        let n = self.working_days();
        if n == 0 {
            return None;
        }
        let sum: f64 = self
            .best
            .get(inspector)
            .map_or(0.0, |days| days.values().sum());
        Some(sum / f64::from(n))
    }
}

/// The mean of the members' coverages that exist (`None` if none does).
pub fn mean_coverage(members: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let (sum, n) = members
        .into_iter()
        .flatten()
        .fold((0.0, 0u32), |(s, n), c| (s + c, n + 1));
    (n > 0).then(|| sum / f64::from(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month() -> Month {
        Month::parse("2026-11").unwrap()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    /// G1 has four technical grids, G2 two.
    fn cells() -> GridCells {
        GridCells::new([
            ("G1-1", "G1"),
            ("G1-2", "G1"),
            ("G1-3", "G1"),
            ("G1-4", "G1"),
            ("G2-1", "G2"),
            ("G2-2", "G2"),
        ])
    }

    fn patrol(who: &str, d: u32, grid: &str, visited: &[&str]) -> PatrolDay {
        PatrolDay {
            inspector: who.into(),
            day: day(d),
            supervision_grid: grid.into(),
            technical_grids: visited.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn working_days_run_to_today_or_the_months_end() {
        assert_eq!(working_days(month(), day(10)), Some((day(1), day(10))));
        let later = NaiveDate::from_ymd_opt(2027, 1, 5).unwrap();
        assert_eq!(working_days(month(), later), Some((day(1), day(30))));
        let before = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        assert_eq!(working_days(month(), before), None);
        let dec = Month::parse("2026-12").unwrap();
        let end = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        assert_eq!(working_days(dec, end).map(|(_, b)| b), Some(end));
    }

    #[test]
    fn coverage_is_the_mean_daily_share_over_working_days() {
        let c = cells();
        // As of the 4th: four working days.
        let mut t = CoverageTally::new(month(), day(4), &c);
        // Day 1: all of G1. Day 2: half, one code twice. Day 3: nothing
        // recorded. Day 4: a quarter.
        t.add(&patrol("I1", 1, "G1", &["G1-1", "G1-2", "G1-3", "G1-4"]));
        t.add(&patrol("I1", 2, "G1", &["G1-1", "G1-2", "G1-2"]));
        t.add(&patrol("I1", 4, "G1", &["G1-3"]));
        assert_eq!(t.working_days(), 4);
        assert_eq!(t.coverage("I1"), Some((1.0 + 0.5 + 0.0 + 0.25) / 4.0));
        assert_eq!(t.patrol_days("I1"), 3);
        // Nobody else patrolled: 0, not unknown.
        assert_eq!(t.coverage("I2"), Some(0.0));
        assert_eq!(t.patrol_days("I2"), 0);
    }

    #[test]
    fn grids_outside_the_assignment_and_days_outside_the_month_are_ignored() {
        let c = cells();
        let mut t = CoverageTally::new(month(), day(2), &c);
        // G2's cells and an unknown code do not count for a G1 day.
        t.add(&patrol("I1", 1, "G1", &["G1-1", "G2-1", "G2-2", "X"]));
        // An unknown supervision grid has no share.
        t.add(&patrol("I1", 2, "G9", &["G1-1", "G1-2"]));
        // Last month, and after today: not working days.
        t.add(&PatrolDay {
            day: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
            ..patrol("I1", 1, "G1", &["G1-1", "G1-2", "G1-3", "G1-4"])
        });
        t.add(&patrol("I1", 3, "G1", &["G1-1", "G1-2", "G1-3", "G1-4"]));
        assert_eq!(t.coverage("I1"), Some(0.25 / 2.0));
        assert_eq!(t.patrol_days("I1"), 1);
    }

    #[test]
    fn a_rotation_mid_month_counts_each_day_against_the_grid_held_that_day() {
        let c = cells();
        let mut t = CoverageTally::new(month(), day(4), &c);
        // Days 1–2 in G1 (all of it), days 3–4 in G2 (all of it): full
        // coverage although the G2 days visit none of G1.
        t.add(&patrol("I1", 1, "G1", &["G1-1", "G1-2", "G1-3", "G1-4"]));
        t.add(&patrol("I1", 2, "G1", &["G1-1", "G1-2", "G1-3", "G1-4"]));
        t.add(&patrol("I1", 3, "G2", &["G2-1", "G2-2"]));
        // Walking the old grid after moving does not count.
        t.add(&patrol("I1", 4, "G2", &["G2-1", "G1-1", "G1-2"]));
        assert_eq!(t.coverage("I1"), Some((1.0 + 1.0 + 1.0 + 0.5) / 4.0));
        // Moved in the middle of a day: the better share of that day.
        t.add(&patrol("I1", 4, "G1", &["G1-1", "G1-2"]));
        t.add(&patrol("I1", 4, "G2", &["G2-2"]));
        assert_eq!(t.coverage("I1"), Some((1.0 + 1.0 + 1.0 + 0.5) / 4.0));
        t.add(&patrol("I1", 4, "G2", &["G2-1", "G2-2"]));
        assert_eq!(t.coverage("I1"), Some(1.0));
    }

    #[test]
    fn a_month_after_today_has_no_coverage_and_squads_average_members() {
        let c = cells();
        let mut t = CoverageTally::new(month(), NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(), &c);
        t.add(&patrol("I1", 1, "G1", &["G1-1"]));
        assert_eq!((t.working_days(), t.coverage("I1")), (0, None));
        assert_eq!(mean_coverage([Some(1.0), None, Some(0.5)]), Some(0.75));
        assert_eq!(mean_coverage([None, None]), None);
        assert_eq!(mean_coverage([]), None);
    }
}
