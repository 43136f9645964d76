//! A calendar month in Beijing time (UTC+8), the period every figure is for.

use chrono::{Datelike, NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};

/// `YYYY-MM`, e.g. `2026-11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Month {
    /// Year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u32,
}

/// A month that is not `YYYY-MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a month like 2026-11")]
pub struct MonthError(pub String);

use gridpatrol_domain::time::beijing;
pub use gridpatrol_domain::time::{beijing_day, day_start_ms};

impl Month {
    /// Parses `YYYY-MM` (years 2000–2999).
    pub fn parse(s: &str) -> Result<Month, MonthError> {
        let bad = || MonthError(s.to_string());
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if !(2000..=2999).contains(&year) || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Month { year, month })
    }

    /// The month a moment falls in (Beijing time).
    pub fn of_ms(ms: i64) -> Month {
        let t = beijing()
            .timestamp_millis_opt(ms)
            .single()
            .expect("a fixed offset is unambiguous");
        Month {
            year: t.year(),
            month: t.month(),
        }
    }

    /// The month before.
    pub fn prev(self) -> Month {
        match self.month {
            1 => Month {
                year: self.year - 1,
                month: 12,
            },
            m => Month {
                year: self.year,
                month: m - 1,
            },
        }
    }

    /// The month after.
    pub fn next(self) -> Month {
        match self.month {
            12 => Month {
                year: self.year + 1,
                month: 1,
            },
            m => Month {
                year: self.year,
                month: m + 1,
            },
        }
    }

    /// First instant, Unix ms.
    pub fn start_ms(self) -> i64 {
        let d = NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a valid month");
        beijing()
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
            .single()
            .expect("a fixed offset is unambiguous")
            .timestamp_millis()
    }

    /// First instant of the next month, Unix ms (the end, exclusive).
    pub fn end_ms(self) -> i64 {
        self.next().start_ms()
    }

    /// Whether `ms` lies in the month.
    pub fn contains(self, ms: i64) -> bool {
        (self.start_ms()..self.end_ms()).contains(&ms)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl TryFrom<String> for Month {
    type Error = MonthError;
    fn try_from(s: String) -> Result<Month, MonthError> {
        Month::parse(&s)
    }
}

impl From<Month> for String {
    fn from(m: Month) -> String {
        m.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_beijing_calendar_months() {
        let m = Month::parse("2026-12").unwrap();
        // 2026-12-01T00:00+08:00 is 2026-11-30T16:00Z.
        assert_eq!(m.start_ms(), 1_796_054_400_000);
        assert_eq!(m.end_ms() - m.start_ms(), 31 * 86_400_000);
        assert_eq!(Month::of_ms(m.start_ms()), m);
        assert_eq!(Month::of_ms(m.start_ms() - 1), m.prev());
        assert_eq!(m.next().to_string(), "2027-01");
        assert_eq!(Month::parse("2027-01").unwrap().prev(), m);
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", "", "abcd-ef"] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }
}
