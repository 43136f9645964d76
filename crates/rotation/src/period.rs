//! Rotation periods: two calendar months, named by their first month.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::RotationError;

/// A two-month rotation period, named `YYYY-MM` by its first month, which is
/// always odd: January, March, May, July, September or November.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    year: u16,
    month: u8,
}

impl Period {
    /// The period starting in `month` of `year`; `None` unless the month is odd
    /// (1..=11) and the year is 1970..=9999.
    pub fn new(year: u16, month: u8) -> Option<Period> {
        ((1970..=9999).contains(&year) && (1..=11).contains(&month) && month % 2 == 1)
            .then_some(Period { year, month })
    }

    /// Calendar year of the first month.
    pub fn year(self) -> u16 {
        self.year
    }

    /// First month, 1 (January) to 11 (November).
    pub fn month(self) -> u8 {
        self.month
    }

    /// The period that follows this one.
    pub fn next(self) -> Period {
        if self.month == 11 {
            Period {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Period {
                year: self.year,
                month: self.month + 2,
            }
        }
    }

    /// Whether the yearly moves happen at the start of this period (it starts in
    /// January): inspectors change squad and leaders change the squad they lead.
    pub fn is_yearly(self) -> bool {
        self.month == 1
    }

    /// When the period starts: 00:00 China Standard Time (UTC+8) on the 1st
    /// of its first month, in milliseconds since the Unix epoch.
    pub fn start_ms(self) -> i64 {
        let first = chrono::NaiveDate::from_ymd_opt(i32::from(self.year), u32::from(self.month), 1)
            .expect("a period is a valid month");
        gridpatrol_domain::time::day_start_ms(first)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Period {
    type Err = RotationError;

    fn from_str(s: &str) -> Result<Period, RotationError> {
        let bad = || RotationError::BadPeriod(s.to_string());
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !(y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let year = y.parse().map_err(|_| bad())?;
        let month = m.parse().map_err(|_| bad())?;
        Period::new(year, month).ok_or_else(bad)
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Period, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_odd_months_and_round_trips() {
        let p: Period = "2027-03".parse().unwrap();
        assert_eq!((p.year(), p.month()), (2027, 3));
        assert_eq!(p.to_string(), "2027-03");
        for bad in [
            "2027-02", "2027-13", "2027-3", "27-03", "2027/03", "", "2027-0a",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }

    #[test]
    fn next_wraps_the_year_and_only_january_is_yearly() {
        let nov: Period = "2026-11".parse().unwrap();
        assert_eq!(nov.next().to_string(), "2027-01");
        assert!(nov.next().is_yearly());
        assert!(!nov.is_yearly());
        assert_eq!(
            "2027-01".parse::<Period>().unwrap().next().to_string(),
            "2027-03"
        );
    }

    #[test]
    fn starts_at_midnight_beijing_time() {
        // 2027-01-01T00:00+08:00 = 2026-12-31T16:00Z = 1798732800000 ms.
        assert_eq!(
            "2027-01".parse::<Period>().unwrap().start_ms(),
            1_798_732_800_000
        );
        // 2028-03-01T00:00+08:00 (after a leap day) = 2028-02-29T16:00Z.
        assert_eq!(
            "2028-03".parse::<Period>().unwrap().start_ms(),
            1_835_452_800_000
        );
    }
}
