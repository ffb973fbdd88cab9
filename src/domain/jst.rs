//! Japan Standard Time helpers: the JST calendar date of an instant, and JST wall-clock times as UTC instants.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Asia::Tokyo;

/// The calendar date in Japan of the instant `t`.
pub fn date_of(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&Tokyo).date_naive()
}

/// The UTC instant of a Japanese wall-clock time. Japan has no daylight
/// saving time today, so the mapping is unique; for the (historic) ambiguous
/// case the earlier instant is taken, and a gap falls back to UTC+9.
pub fn to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    match Tokyo.from_local_datetime(&local).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => Utc.from_utc_datetime(&(local - chrono::Duration::hours(9))),
    }
}

/// 00:00 JST of `d`, as a UTC instant.
pub fn start_of_day(d: NaiveDate) -> DateTime<Utc> {
    to_utc(d.and_time(NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jst_is_utc_plus_nine() {
        let t = Utc.with_ymd_and_hms(2026, 3, 31, 15, 0, 0).unwrap();
        assert_eq!(date_of(t), NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
        let t = Utc.with_ymd_and_hms(2026, 3, 31, 14, 59, 59).unwrap();
        assert_eq!(date_of(t), NaiveDate::from_ymd_opt(2026, 3, 31).unwrap());
        assert_eq!(
            start_of_day(NaiveDate::from_ymd_opt(2026, 4, 1).unwrap()),
            Utc.with_ymd_and_hms(2026, 3, 31, 15, 0, 0).unwrap()
        );
    }
}
