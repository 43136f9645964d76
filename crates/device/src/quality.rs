//! The squad leader's monthly quality screens: last month's sample of the
//! squad's reports (marked correct or wrong, 错报, with a reason) and the
//! squad's KPIs. These live on the server (it draws the sample once the
//! month is over), so they need the network: offline they fail with the
//! `offline` code like every other online call.

use gridpatrol_domain::roles::Role;
use gridpatrol_protocol::{codes, paths, SampleMarkRequest, SamplePage};
use gridpatrol_quality::kpi::KpiReport;
use gridpatrol_quality::Month;
use gridpatrol_sync::SyncError;

use crate::view::{Member, QualityKpi, QualitySamples, SampleGroup, SampleMark, SampleView};
use crate::{Device, DeviceError, Result};

/// The largest answer read (a squad's month is a few KiB).
const MAX_ANSWER: usize = 4 << 20;

/// Server refusals the quality screens word themselves.
fn refusal(e: SyncError) -> DeviceError {
    match e {
        SyncError::Server { code, message, .. } if code == codes::FORBIDDEN => {
            DeviceError::NotAllowed(message)
        }
        SyncError::Server { code, message, .. } if code == codes::ACTION_REFUSED => {
            DeviceError::NotYet(message)
        }
        other => DeviceError::from(other),
    }
}

/// `YYYY-MM`, or `None` for the server's default (last month).
fn month_param(month: Option<&str>) -> Result<Option<Month>> {
    match month.map(str::trim).filter(|m| !m.is_empty()) {
        None => Ok(None),
        Some(m) => Month::parse(m)
            .map(Some)
            .map_err(|e| DeviceError::Invalid(format!("month {m:?}: {e}"))),
    }
}

fn with_month(path: &str, month: Option<Month>) -> String {
    match month {
        Some(m) => format!("{path}?month={m}"),
        None => path.to_string(),
    }
}

/// One path segment, percent-encoded (case ids are printable ASCII).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Device {
    /// Only a squad leader has the quality screens (the server says the same).
    fn leader_only(&self) -> Result<()> {
        let role = self.with_account(|a| Ok(a.me.role))?;
        if role == Role::SquadLeader {
            Ok(())
        } else {
            Err(DeviceError::NotAllowed(
                "only a squad leader sees and marks the monthly quality sample".into(),
            ))
        }
    }

    /// Display names of the squad's members, by id.
    fn member_name(&self) -> Result<impl Fn(&str) -> String> {
        let members: Vec<(String, String)> = self.with_account(|a| {
            Ok(a.area()?
                .package
                .members
                .iter()
                .map(|m| (m.id.clone(), m.name.clone()))
                .collect())
        })?;
        Ok(move |id: &str| {
            members
                .iter()
                .find(|(m, _)| m == id)
                .map_or_else(String::new, |(_, n)| n.clone())
        })
    }

    /// The squad's sample of `month` (`YYYY-MM`; `None`: last month), by
    /// inspector. Needs the network; `not_yet` before the month's draw.
    pub async fn quality_samples(&self, month: Option<String>) -> Result<QualitySamples> {
        self.leader_only()?;
        let month = month_param(month.as_deref())?;
        let mut engine = self.online_engine()?;
        let page: SamplePage = engine
            .get(&with_month(paths::QUALITY_SAMPLES, month), MAX_ANSWER)
            .await
            .map_err(refusal)?;
        let name = self.member_name()?;
        let mut inspectors: Vec<SampleGroup> = Vec::new();
        for item in page.items {
            let on_device =
                self.with_account(|a| Ok(a.store.get_case(&item.case_id)?.is_some()))?;
            let inspector = item.inspector.clone();
            let view = SampleView { item, on_device };
            match inspectors.iter_mut().find(|g| g.inspector == inspector) {
                Some(g) => g.items.push(view),
                None => inspectors.push(SampleGroup {
                    name: name(&inspector),
                    inspector,
                    items: vec![view],
                }),
            }
        }
        inspectors.sort_by(|a, b| a.inspector.cmp(&b.inspector));
        let marked = inspectors
            .iter()
            .flat_map(|g| &g.items)
            .filter(|i| i.item.wrong.is_some())
            .count() as u32;
        let total = inspectors.iter().map(|g| g.items.len() as u32).sum();
        Ok(QualitySamples {
            month: page.month,
            drawn_at_ms: page.drawn_at_ms,
            percent: page.percent,
            min: page.min,
            total,
            marked,
            inspectors,
        })
    }

    /// Marks a sampled report correct or wrong (错报, with a reason) and
    /// returns the month's sample as it now is. Needs the network.
    pub async fn mark_sample(&self, mark: SampleMark) -> Result<QualitySamples> {
        self.leader_only()?;
        let Some(month) = month_param(Some(&mark.month))? else {
            return Err(DeviceError::Invalid("name the month of the sample".into()));
        };
        let reason = mark
            .reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        if mark.wrong && reason.is_none() {
            return Err(DeviceError::Invalid(
                "a wrong report (错报) needs a reason".into(),
            ));
        }
        let path = format!(
            "{}/{month}/{}",
            paths::QUALITY_SAMPLES,
            segment(&mark.case_id)
        );
        let mut engine = self.online_engine()?;
        engine
            .post(
                &path,
                &SampleMarkRequest {
                    wrong: mark.wrong,
                    reason: if mark.wrong { reason } else { None },
                },
            )
            .await
            .map_err(refusal)?;
        self.quality_samples(Some(month.to_string())).await
    }

    /// The squad's KPIs of `month` (`None`: last month), best first, and the
    /// squad's own line with its rank among squads. Needs the network.
    pub async fn quality_kpi(&self, month: Option<String>) -> Result<QualityKpi> {
        self.leader_only()?;
        let month = month_param(month.as_deref())?;
        let squad = self.with_account(|a| Ok(a.me.squad.clone()))?;
        let mut engine = self.online_engine()?;
        let report: KpiReport = engine
            .get(&with_month(paths::QUALITY_KPI, month), MAX_ANSWER)
            .await
            .map_err(refusal)?;
        let names = self.with_account(|a| {
            Ok(a.area()?
                .package
                .members
                .iter()
                .filter(|m| report.inspectors.iter().any(|k| k.id == m.id))
                .map(|m| Member {
                    id: m.id.clone(),
                    name: m.name.clone(),
                })
                .collect())
        })?;
        Ok(QualityKpi {
            month: report.month.to_string(),
            squads: report.squads.len() as u32,
            squad: report
                .squads
                .into_iter()
                .find(|s| Some(&s.squad) == squad.as_ref()),
            inspectors: report.inspectors,
            names,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{month_param, segment};

    #[test]
    fn case_ids_are_one_path_segment_and_months_are_checked() {
        assert_eq!(segment("c-01H_x.y~"), "c-01H_x.y~");
        assert_eq!(segment("a/b?c d"), "a%2Fb%3Fc%20d");
        assert!(month_param(Some("2026-13")).is_err());
        assert_eq!(month_param(Some(" ")).unwrap(), None);
        assert_eq!(
            month_param(Some("2026-11")).unwrap().map(|m| m.to_string()),
            Some("2026-11".to_string())
        );
    }
}
