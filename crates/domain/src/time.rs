//! Beijing time (UTC+8, no daylight saving): the clock every day, month,
//! deadline and shown time in GridPatrol counts in, whatever zone a phone
//! or the server runs in. The one definition the device, server, CLI and
//! quality work call.

use chrono::{DateTime, FixedOffset, NaiveDate};

/// Beijing's offset from UTC, seconds.
pub const BEIJING_OFFSET_SECS: i32 = 8 * 3600;

/// One day, ms (Beijing has no daylight saving: every day is this long).
pub const DAY_MS: i64 = 86_400_000;

/// The Beijing offset.
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(BEIJING_OFFSET_SECS).expect("+08:00 is a valid offset")
}

/// `ms` (Unix ms) as a Beijing date-time; `None` outside chrono's range.
pub fn at_beijing(ms: i64) -> Option<DateTime<FixedOffset>> {
    DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&beijing()))
}

/// The Beijing calendar day of `ms` (Unix ms): the day a patrol or a
/// report counts for.
pub fn beijing_day(ms: i64) -> NaiveDate {
    at_beijing(ms).unwrap_or_default().date_naive()
}

/// The first instant of Beijing day `day`, Unix ms.
pub fn day_start_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_millis()
        - i64::from(BEIJING_OFFSET_SECS) * 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beijing_day_runs_from_16_00_utc_to_16_00_utc() {
        // 2026-12-01 16:00 UTC is 2026-12-02 00:00 in Beijing.
        let midnight = 1_796_083_200_000 + 16 * 3_600_000;
        let d2 = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        assert_eq!(beijing_day(midnight), d2);
        assert_eq!(beijing_day(midnight - 1), d2.pred_opt().unwrap());
        assert_eq!(day_start_ms(d2), midnight);
        assert_eq!(day_start_ms(d2.succ_opt().unwrap()) - midnight, DAY_MS);
        assert_eq!(
            at_beijing(midnight).unwrap().to_rfc3339(),
            "2026-12-02T00:00:00+08:00"
        );
    }
}
