//! Monthly figures per inspector and squad (the leader's KPI screen and
//! `gridpatrol kpi`), each from recorded events only.
//!
//! For an inspector and a month:
//! - `reports`: their patrol reports made in the month;
//! - `filed` / `refused`: of those, filed (立案) or refused by the centre;
//!   `valid_rate` = filed / (filed + refused);
//! - `returned`: of those, returned by the leader at least once (the latest
//!   verdict is a return, or they resubmitted after one); `returned_rate` =
//!   returned / reports;
//! - `sampled` / `wrong`: their reports in the month's sample, and those the
//!   leader marked wrong (错报);
//! - `verifications` / `on_time`: re-verifications assigned to them due in
//!   the month, and those with a result by the deadline;
//! - `missed` (漏报): public complaints made in the month in their grid that
//!   no patrol report covered — no report of the same category within
//!   [`KpiRules::missed_radius_m`] in the [`KpiRules::missed_window_ms`]
//!   before the complaint;
//! - `coverage` / `patrol_days`: patrol coverage (巡查覆盖率) and the days
//!   with a recorded patrol, defined in [`crate::coverage`] (only when the
//!   tally is given the patrol days, [`KpiTally::with_coverage`]; `None`
//!   for a squad leader, who holds no grid); not part of the score;
//! - `score` = filed − 0.5 × returned − 2 × wrong − 3 × missed; `rank` 1 is
//!   the best score in the squad (ties: more on-time checks, then id).
//!
//! A squad's figures are the sums over its members (rates from the sums),
//! its coverage the mean of its members' coverages, its score their mean
//! score, ranked among squads.

use std::collections::{BTreeMap, HashMap};

use geo::{Distance, Haversine, Point};
use gridpatrol_domain::lifecycle::Action;
use gridpatrol_domain::roles::Role;
use serde::{Deserialize, Serialize};

use crate::coverage::{mean_coverage, CoverageTally, GridCells, PatrolDay};
use crate::{CaseRecord, CaseView, Mark, Month, MonthTally, Person, VerificationRecord};

/// The thresholds of the missed-report rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KpiRules {
    /// A report this close covers a complaint, metres.
    pub missed_radius_m: f64,
    /// A report this long before a complaint covers it, ms.
    pub missed_window_ms: i64,
}

impl Default for KpiRules {
    /// 100 m, 24 h.
    fn default() -> Self {
        KpiRules {
            missed_radius_m: 100.0,
            missed_window_ms: 24 * 3_600_000,
        }
    }
}

/// One inspector's month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InspectorKpi {
    /// Account id.
    pub id: String,
    /// Squad.
    pub squad: String,
    /// Patrol reports made.
    pub reports: u32,
    /// Of those, filed by the centre.
    pub filed: u32,
    /// Of those, refused filing.
    pub refused: u32,
    /// filed / (filed + refused).
    pub valid_rate: Option<f64>,
    /// Of those, returned by the leader at least once.
    pub returned: u32,
    /// returned / reports.
    pub returned_rate: Option<f64>,
    /// Reports in the month's sample.
    pub sampled: u32,
    /// Of those, marked wrong (错报).
    pub wrong: u32,
    /// Re-verifications due in the month.
    pub verifications: u32,
    /// Of those, done by the deadline.
    pub on_time: u32,
    /// on_time / verifications.
    pub on_time_rate: Option<f64>,
    /// Complaints in their grid no report covered (漏报).
    pub missed: u32,
    /// Patrol coverage (巡查覆盖率), 0–1: the mean daily share of the
    /// assigned technical grids visited (see [`crate::coverage`]).
    pub coverage: Option<f64>,
    /// Working days with a recorded patrol in the assigned grid.
    pub patrol_days: u32,
    /// See the module doc.
    pub score: f64,
    /// 1 = best in the squad.
    pub rank: u32,
}

/// One squad's month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SquadKpi {
    /// Squad id.
    pub squad: String,
    /// Members counted.
    pub members: u32,
    /// Patrol reports made.
    pub reports: u32,
    /// Filed by the centre.
    pub filed: u32,
    /// filed / (filed + refused).
    pub valid_rate: Option<f64>,
    /// returned / reports.
    pub returned_rate: Option<f64>,
    /// Marked wrong in the sample.
    pub wrong: u32,
    /// on_time / verifications.
    pub on_time_rate: Option<f64>,
    /// Missed reports.
    pub missed: u32,
    /// Mean member patrol coverage (members with one).
    pub coverage: Option<f64>,
    /// Mean member score.
    pub score: f64,
    /// 1 = best squad.
    pub rank: u32,
}

/// A month's KPIs, optionally of one squad (the server's `GET /v1/quality/kpi`
/// answer, read by the device and `gridpatrol kpi`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiReport {
    /// The month.
    pub month: Month,
    /// Inspectors by squad, best first in each.
    pub inspectors: Vec<InspectorKpi>,
    /// Squads, best first (all of them, so a squad sees its rank).
    pub squads: Vec<SquadKpi>,
}

/// `num / den`, or `None` when there is nothing to rate.
pub(crate) fn rate(num: u32, den: u32) -> Option<f64> {
    (den > 0).then(|| f64::from(num) / f64::from(den))
}

/// Where and when a patrol report was made: what covering a complaint needs.
#[derive(Debug, Clone, Copy)]
struct Spot {
    at_ms: i64,
    lon: f64,
    lat: f64,
}

/// A complaint of the month in a grid with counted inspectors.
#[derive(Debug, Clone, Copy)]
struct Complaint {
    /// Index into [`KpiTally::reports`].
    category: usize,
    /// Index into [`KpiTally::grid_members`].
    grid: usize,
    spot: Spot,
}

/// One counted inspector's figures while records arrive.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    reports: u32,
    filed: u32,
    refused: u32,
    returned: u32,
    sampled: u32,
    wrong: u32,
    verifications: u32,
    on_time: u32,
    missed: u32,
}

/// The month's inspector and squad figures gathered one record at a time
/// (cases in any order, each once), so a loader can stream a month of
/// cases instead of holding them (see [`MonthTally`]); [`kpis`] is this
/// over slices. People
/// and categories become small indices: nothing is kept per case but the
/// place and time of each patrol report (for the missed-report rule) and
/// the month's complaints.
#[derive(Debug)]
pub struct KpiTally<'p> {
    /// The month's span, Unix ms (computed once: [`Month::contains`]
    /// works it out on every call).
    span: std::ops::Range<i64>,
    rules: KpiRules,
    /// Counted people (grid inspectors and leaders with a squad): id, squad.
    people: Vec<(&'p str, &'p str)>,
    counts: Vec<Counts>,
    /// Index into `people` by id.
    slot: HashMap<&'p str, usize>,
    /// Index into `grid_members` by supervision grid.
    grid: HashMap<&'p str, usize>,
    /// The counted inspectors of each grid (once per listing in `people`).
    grid_members: Vec<Vec<usize>>,
    /// Index into `reports` by category.
    category: HashMap<String, usize>,
    /// Patrol reports by category.
    reports: Vec<Vec<Spot>>,
    complaints: Vec<Complaint>,
    /// Whether each counted person patrols a grid (has a coverage).
    patrols: Vec<bool>,
    /// The month's patrol days, once given.
    coverage: Option<CoverageTally<'p>>,
}

impl<'p> KpiTally<'p> {
    /// A tally of `month` for the grid inspectors (and leaders) in `people`.
    pub fn new(month: Month, people: &'p [Person], rules: KpiRules) -> KpiTally<'p> {
        let mut t = KpiTally {
            span: month.start_ms()..month.end_ms(),
            rules,
            people: Vec::new(),
            counts: Vec::new(),
            slot: HashMap::new(),
            grid: HashMap::new(),
            grid_members: Vec::new(),
            category: HashMap::new(),
            reports: Vec::new(),
            complaints: Vec::new(),
            patrols: Vec::new(),
            coverage: None,
        };
        for p in people {
            if !matches!(p.role, Role::Inspector | Role::SquadLeader) {
                continue;
            }
            let Some(squad) = &p.squad else { continue };
            match t.slot.get(p.id.as_str()) {
                // Listed twice: the later listing's squad.
                Some(&i) => t.people[i].1 = squad,
                None => {
                    t.slot.insert(&p.id, t.people.len());
                    t.people.push((&p.id, squad));
                }
            }
        }
        t.counts = vec![Counts::default(); t.people.len()];
        t.patrols = vec![false; t.people.len()];
        for p in people {
            let (Some(g), Role::Inspector) = (&p.supervision_grid, p.role) else {
                continue;
            };
            let Some(&i) = t.slot.get(p.id.as_str()) else {
                continue;
            };
            t.patrols[i] = true;
            let n = t.grid_members.len();
            let at = *t.grid.entry(g).or_insert(n);
            if at == n {
                t.grid_members.push(Vec::new());
            }
            t.grid_members[at].push(i);
        }
        t
    }

    /// Also figures patrol coverage as of `today` (Beijing), the assigned
    /// technical grids from `cells`; feed the patrol days with
    /// [`KpiTally::add_patrol_day`].
    pub fn with_coverage(mut self, today: chrono::NaiveDate, cells: &'p GridCells) -> Self {
        let month = Month::of_ms(self.span.start);
        self.coverage = Some(CoverageTally::new(month, today, cells));
        self
    }

    /// Counts one recorded patrol day (ignored without
    /// [`KpiTally::with_coverage`]).
    pub fn add_patrol_day(&mut self, d: &PatrolDay) {
        if let Some(c) = &mut self.coverage {
            c.add(d);
        }
    }

    /// Whether `ms` lies in the month.
    pub(crate) fn in_month(&self, ms: i64) -> bool {
        self.span.contains(&ms)
    }

    /// The month's end, Unix ms.
    pub(crate) fn end_ms(&self) -> i64 {
        self.span.end
    }

    /// The index of category `code` in `reports`, added if new.
    fn category(&mut self, code: &str) -> usize {
        if let Some(&i) = self.category.get(code) {
            return i;
        }
        let i = self.reports.len();
        self.category.insert(code.to_owned(), i);
        self.reports.push(Vec::new());
        i
    }

    /// The month's figures of every counted inspector and of every squad.
    pub fn finish(mut self) -> (Vec<InspectorKpi>, Vec<SquadKpi>) {
        for v in &mut self.reports {
            v.sort_by_key(|r| r.at_ms);
        }
        for c in &self.complaints {
            if covered(&self.reports[c.category], c.spot, self.rules) {
                continue;
            }
            for &i in &self.grid_members[c.grid] {
                self.counts[i].missed += 1;
            }
        }
        let coverage = self.coverage.as_ref();
        let inspectors: Vec<InspectorKpi> = self
            .people
            .iter()
            .zip(&self.counts)
            .zip(&self.patrols)
            .map(|((&(id, squad), k), &patrols)| InspectorKpi {
                id: id.to_owned(),
                squad: squad.to_owned(),
                reports: k.reports,
                filed: k.filed,
                refused: k.refused,
                valid_rate: None,
                returned: k.returned,
                returned_rate: None,
                sampled: k.sampled,
                wrong: k.wrong,
                verifications: k.verifications,
                on_time: k.on_time,
                on_time_rate: None,
                missed: k.missed,
                coverage: coverage.filter(|_| patrols).and_then(|c| c.coverage(id)),
                patrol_days: coverage
                    .filter(|_| patrols)
                    .map_or(0, |c| c.patrol_days(id)),
                score: 0.0,
                rank: 0,
            })
            .collect();
        rank(inspectors)
    }
}

impl MonthTally for KpiTally<'_> {
    /// A patrol report counts for its reporter (and as cover for
    /// complaints), a complaint of the month for its grid's inspectors.
    /// Complaints need the patrol reports of the window before them too.
    fn add_case(&mut self, c: &CaseView<'_>) {
        let spot = Spot {
            at_ms: c.reported_at_ms,
            lon: c.lon,
            lat: c.lat,
        };
        if c.is_complaint() {
            if !self.in_month(c.reported_at_ms) {
                return;
            }
            let Some(&grid) = self.grid.get(c.supervision_grid) else {
                return;
            };
            let category = self.category(c.category);
            self.complaints.push(Complaint {
                category,
                grid,
                spot,
            });
            return;
        }
        let category = self.category(c.category);
        self.reports[category].push(spot);
        if !self.in_month(c.reported_at_ms) {
            return;
        }
        let Some(&i) = self.slot.get(c.reporter) else {
            return;
        };
        let k = &mut self.counts[i];
        k.reports += 1;
        k.filed += u32::from(c.has(Action::File));
        k.refused += u32::from(c.has(Action::RefuseFiling));
        let returned = matches!(c.review, Some("needs_fix" | "rejected"));
        k.returned += u32::from(returned || c.resubmitted);
    }

    fn add_verification(&mut self, assignee: &str, due_at_ms: i64, done_at_ms: Option<i64>) {
        if !self.in_month(due_at_ms) {
            return;
        }
        if let Some(&i) = self.slot.get(assignee) {
            let k = &mut self.counts[i];
            k.verifications += 1;
            k.on_time += u32::from(done_at_ms.is_some_and(|d| d <= due_at_ms));
        }
    }

    fn add_mark(&mut self, m: &Mark) {
        if let Some(&i) = self.slot.get(m.inspector.as_str()) {
            let k = &mut self.counts[i];
            k.sampled += 1;
            k.wrong += u32::from(m.wrong == Some(true));
        }
    }
}

/// Whether a patrol report of `reports` (one category's, in time order)
/// covers the complaint at `c`: close enough, in the window before it.
fn covered(reports: &[Spot], c: Spot, rules: KpiRules) -> bool {
    let from = c.at_ms - rules.missed_window_ms;
    let start = reports.partition_point(|r| r.at_ms < from);
    let at = Point::new(c.lon, c.lat);
    reports[start..]
        .iter()
        .take_while(|r| r.at_ms <= c.at_ms)
        .any(|r| Haversine.distance(at, Point::new(r.lon, r.lat)) <= rules.missed_radius_m)
}

/// The month's figures of every grid inspector (and leader) in `people`,
/// and of every squad. `cases` (each once) must include the complaints of
/// the month and the patrol reports of the window before them; `marks` are
/// the leaders' marks on the month's sample.
pub fn kpis(
    month: Month,
    people: &[Person],
    cases: &[CaseRecord],
    verifications: &[VerificationRecord],
    marks: &[Mark],
    rules: KpiRules,
) -> (Vec<InspectorKpi>, Vec<SquadKpi>) {
    let mut t = KpiTally::new(month, people, rules);
    t.add_records(cases, verifications, marks);
    t.finish()
}

/// Rates, scores and ranks of the counted inspectors, and their squads'.
fn rank(mut inspectors: Vec<InspectorKpi>) -> (Vec<InspectorKpi>, Vec<SquadKpi>) {
    for k in &mut inspectors {
        k.valid_rate = rate(k.filed, k.filed + k.refused);
        k.returned_rate = rate(k.returned, k.reports);
        k.on_time_rate = rate(k.on_time, k.verifications);
        k.score = f64::from(k.filed)
            - 0.5 * f64::from(k.returned)
            - 2.0 * f64::from(k.wrong)
            - 3.0 * f64::from(k.missed);
    }
    inspectors.sort_by(|a, b| {
        a.squad
            .cmp(&b.squad)
            .then(b.score.total_cmp(&a.score))
            .then(b.on_time.cmp(&a.on_time))
            .then(a.id.cmp(&b.id))
    });
    let mut squads: BTreeMap<String, SquadKpi> = BTreeMap::new();
    let mut refused: BTreeMap<String, (u32, u32, u32, u32)> = BTreeMap::new();
    let mut last_squad = String::new();
    let mut rank = 0;
    for k in &mut inspectors {
        if k.squad != last_squad {
            last_squad = k.squad.clone();
            rank = 0;
        }
        rank += 1;
        k.rank = rank;
        let s = squads.entry(k.squad.clone()).or_insert_with(|| SquadKpi {
            squad: k.squad.clone(),
            members: 0,
            reports: 0,
            filed: 0,
            valid_rate: None,
            returned_rate: None,
            wrong: 0,
            on_time_rate: None,
            missed: 0,
            coverage: None,
            score: 0.0,
            rank: 0,
        });
        s.members += 1;
        s.reports += k.reports;
        s.filed += k.filed;
        s.wrong += k.wrong;
        s.missed += k.missed;
        s.score += k.score;
        let r = refused.entry(k.squad.clone()).or_default();
        r.0 += k.refused;
        r.1 += k.returned;
        r.2 += k.on_time;
        r.3 += k.verifications;
    }
    let mut squads: Vec<SquadKpi> = squads.into_values().collect();
    for s in &mut squads {
        s.coverage = mean_coverage(
            inspectors
                .iter()
                .filter(|k| k.squad == s.squad)
                .map(|k| k.coverage),
        );
        let (refused, returned, on_time, verifications) = refused[&s.squad];
        s.valid_rate = rate(s.filed, s.filed + refused);
        s.returned_rate = rate(returned, s.reports);
        s.on_time_rate = rate(on_time, verifications);
        s.score /= f64::from(s.members.max(1));
    }
    squads.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.squad.cmp(&b.squad)));
    for (i, s) in squads.iter_mut().enumerate() {
        s.rank = i as u32 + 1;
    }
    (inspectors, squads)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Event;

    pub(crate) fn month() -> Month {
        Month::parse("2026-11").unwrap()
    }

    pub(crate) fn t(day: u32, hour: u32) -> i64 {
        month().start_ms() + i64::from(day - 1) * 86_400_000 + i64::from(hour) * 3_600_000
    }

    pub(crate) fn person(id: &str, squad: &str, grid: &str) -> Person {
        Person {
            id: id.into(),
            role: Role::Inspector,
            squad: Some(squad.into()),
            supervision_grid: Some(grid.into()),
        }
    }

    pub(crate) fn ev(action: Action, at_ms: i64) -> Event {
        Event {
            action,
            by: "C0001".into(),
            at_ms,
            unit: None,
            due_at_ms: None,
        }
    }

    pub(crate) fn case(id: &str, reporter: &str, at_ms: i64, events: Vec<Event>) -> CaseRecord {
        CaseRecord {
            id: id.into(),
            source: "patrol".into(),
            category: "02010101".into(),
            supervision_grid: "G1".into(),
            reporter: reporter.into(),
            reported_at_ms: at_ms,
            lon: 116.45,
            lat: 39.92,
            review: Some("approved".into()),
            resubmitted: false,
            events,
        }
    }

    #[test]
    fn every_figure_comes_from_its_events() {
        let people = vec![
            person("I1", "S1", "G1"),
            person("I2", "S1", "G2"),
            person("I3", "S2", "G3"),
        ];
        let mut returned = case("c3", "I1", t(3, 9), vec![ev(Action::File, t(3, 10))]);
        returned.review = Some("needs_fix".into());
        let mut resubmitted = case("c4", "I1", t(4, 9), vec![]);
        resubmitted.resubmitted = true;
        let cases = vec![
            case("c1", "I1", t(1, 9), vec![ev(Action::File, t(1, 10))]),
            case(
                "c2",
                "I1",
                t(2, 9),
                vec![ev(Action::RefuseFiling, t(2, 10))],
            ),
            returned,
            resubmitted,
            // Last month: not counted.
            case(
                "c0",
                "I1",
                month().start_ms() - 1,
                vec![ev(Action::File, t(1, 1))],
            ),
            case("c5", "I2", t(5, 9), vec![ev(Action::File, t(5, 10))]),
        ];
        let verifications = vec![
            VerificationRecord {
                id: "v1".into(),
                case_id: "c1".into(),
                assignee: "I2".into(),
                due_at_ms: t(6, 12),
                outcome: Some("pass".into()),
                done_at_ms: Some(t(6, 11)),
            },
            VerificationRecord {
                id: "v2".into(),
                case_id: "c3".into(),
                assignee: "I2".into(),
                due_at_ms: t(7, 12),
                outcome: Some("fail".into()),
                done_at_ms: Some(t(7, 13)),
            },
            VerificationRecord {
                id: "v3".into(),
                case_id: "c5".into(),
                assignee: "I2".into(),
                due_at_ms: t(8, 12),
                outcome: None,
                done_at_ms: None,
            },
        ];
        let marks = vec![
            Mark {
                case_id: "c1".into(),
                inspector: "I1".into(),
                wrong: Some(false),
            },
            Mark {
                case_id: "c2".into(),
                inspector: "I1".into(),
                wrong: Some(true),
            },
            Mark {
                case_id: "c3".into(),
                inspector: "I1".into(),
                wrong: None,
            },
        ];
        let (ins, squads) = kpis(
            month(),
            &people,
            &cases,
            &verifications,
            &marks,
            KpiRules::default(),
        );
        let i1 = ins.iter().find(|k| k.id == "I1").unwrap();
        assert_eq!(
            (i1.reports, i1.filed, i1.refused, i1.returned),
            (4, 2, 1, 2)
        );
        assert_eq!(i1.valid_rate, Some(2.0 / 3.0));
        assert_eq!(i1.returned_rate, Some(0.5));
        assert_eq!((i1.sampled, i1.wrong), (3, 1));
        assert_eq!(i1.score, 2.0 - 1.0 - 2.0);
        let i2 = ins.iter().find(|k| k.id == "I2").unwrap();
        assert_eq!((i2.verifications, i2.on_time), (3, 1));
        assert_eq!(i2.on_time_rate, Some(1.0 / 3.0));
        assert_eq!(i2.score, 1.0);
        assert_eq!((i2.rank, i1.rank), (1, 2), "ranked inside the squad");
        let i3 = ins.iter().find(|k| k.id == "I3").unwrap();
        assert_eq!((i3.reports, i3.valid_rate, i3.rank), (0, None, 1));
        let s1 = squads.iter().find(|s| s.squad == "S1").unwrap();
        assert_eq!((s1.members, s1.reports, s1.filed, s1.wrong), (2, 5, 3, 1));
        assert_eq!(s1.valid_rate, Some(3.0 / 4.0));
        assert_eq!(s1.on_time_rate, Some(1.0 / 3.0));
        assert_eq!(s1.score, 0.0);
        assert_eq!(squads[0].squad, "S1");
        assert_eq!(squads[1].rank, 2);
    }

    #[test]
    fn a_complaint_no_report_covered_is_missed_by_the_grids_inspectors() {
        let people = vec![
            person("I1", "S1", "G1"),
            person("I2", "S1", "G1"),
            person("I3", "S1", "G2"),
        ];
        let complaint = |id: &str, at: i64, lon: f64| CaseRecord {
            source: "hotline".into(),
            reporter: "C0001".into(),
            lon,
            ..case(id, "C0001", at, vec![])
        };
        let cases = vec![
            case("r1", "I1", t(10, 8), vec![]),
            // Same place, 2 h later: covered.
            complaint("h1", t(10, 10), 116.45),
            // 300 m east: not covered.
            complaint("h2", t(10, 10), 116.4535),
            // 30 h later: outside the window.
            complaint("h3", t(11, 14), 116.45),
        ];
        let (ins, _) = kpis(month(), &people, &cases, &[], &[], KpiRules::default());
        let mut missed: Vec<(&str, u32)> = ins.iter().map(|k| (k.id.as_str(), k.missed)).collect();
        missed.sort();
        assert_eq!(missed, [("I1", 2), ("I2", 2), ("I3", 0)]);
        // Wider thresholds cover them all.
        let wide = KpiRules {
            missed_radius_m: 500.0,
            missed_window_ms: 48 * 3_600_000,
        };
        let (ins, _) = kpis(month(), &people, &cases, &[], &[], wide);
        assert!(ins.iter().all(|k| k.missed == 0));
    }

    #[test]
    fn patrol_coverage_comes_from_the_patrol_days_and_squads_average_it() {
        use crate::coverage::{GridCells, PatrolDay};
        let mut people = vec![
            person("I1", "S1", "G1"),
            person("I2", "S1", "G1"),
            person("I3", "S2", "G2"),
        ];
        people.push(Person {
            id: "L1".into(),
            role: Role::SquadLeader,
            squad: Some("S1".into()),
            supervision_grid: None,
        });
        let cells = GridCells::new([("G1-1", "G1"), ("G1-2", "G1"), ("G2-1", "G2")]);
        let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let walked = |who: &str, d: u32, grid: &str, codes: &[&str]| PatrolDay {
            inspector: who.into(),
            day: day(d),
            supervision_grid: grid.into(),
            technical_grids: codes.iter().map(|c| c.to_string()).collect(),
        };
        // As of the 2nd: two working days.
        let mut t =
            KpiTally::new(month(), &people, KpiRules::default()).with_coverage(day(2), &cells);
        t.add_patrol_day(&walked("I1", 1, "G1", &["G1-1", "G1-2"]));
        t.add_patrol_day(&walked("I1", 2, "G1", &["G1-1"]));
        t.add_patrol_day(&walked("I3", 2, "G2", &["G2-1"]));
        let (ins, squads) = t.finish();
        let of = |id: &str| ins.iter().find(|k| k.id == id).unwrap();
        assert_eq!((of("I1").coverage, of("I1").patrol_days), (Some(0.75), 2));
        assert_eq!((of("I2").coverage, of("I2").patrol_days), (Some(0.0), 0));
        assert_eq!((of("I3").coverage, of("I3").patrol_days), (Some(0.5), 1));
        assert_eq!(of("L1").coverage, None, "a leader holds no grid");
        let sq = |id: &str| squads.iter().find(|s| s.squad == id).unwrap();
        assert_eq!(
            sq("S1").coverage,
            Some(0.375),
            "the mean of I1 and I2, not L1"
        );
        assert_eq!(sq("S2").coverage, Some(0.5));
        // Coverage is no part of the score.
        assert_eq!(of("I1").score, of("I2").score);
        // Without patrol days given, no coverage at all.
        let (ins, squads) = kpis(month(), &people, &[], &[], &[], KpiRules::default());
        assert!(ins.iter().all(|k| k.coverage.is_none()));
        assert!(squads.iter().all(|s| s.coverage.is_none()));
    }
}
