//! Japan Standard Time helpers: the JST calendar date of an instant, and JST wall-clock times as UTC instants.
//!
//! JST is a fixed UTC+09:00: Japan has had no daylight saving time since 1951,
//! so no time-zone database is needed.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// UTC+09:00.
pub const OFFSET: FixedOffset = match FixedOffset::east_opt(9 * 3600) {
    Some(o) => o,
    None => panic!("+09:00 is a valid offset"),
};

/// The instant `t` on the Japanese wall clock.
pub fn local(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&OFFSET)
}

/// The calendar date in Japan of the instant `t`.
pub fn date_of(t: DateTime<Utc>) -> NaiveDate {
    local(t).date_naive()
}

/// The UTC instant of a Japanese wall-clock time (unique: a fixed offset has
/// neither gaps nor repeated hours).
pub fn to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&(local - OFFSET))
}

/// 00:00 JST of `d`, as a UTC instant.
pub fn start_of_day(d: NaiveDate) -> DateTime<Utc> {
    to_utc(d.and_time(NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The instants and wall-clock texts `chrono-tz`'s Asia/Tokyo gave
    /// before the fixed offset replaced it.
    #[test]
    fn fixed_offset_matches_asia_tokyo() {
        let cases = [
            ((2025, 12, 31, 14, 59, 59), "2025-12-31 23:59:59"),
            ((2025, 12, 31, 15, 0, 0), "2026-01-01 00:00:00"),
            ((2024, 2, 28, 15, 0, 0), "2024-02-29 00:00:00"),
            ((2026, 3, 31, 15, 0, 0), "2026-04-01 00:00:00"),
            ((2026, 7, 15, 3, 4, 5), "2026-07-15 12:04:05"),
            ((1970, 1, 1, 0, 0, 0), "1970-01-01 09:00:00"),
        ];
        for ((y, mo, d, h, mi, s), text) in cases {
            let t = Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap();
            assert_eq!(local(t).format("%Y-%m-%d %H:%M:%S").to_string(), text);
            assert_eq!(
                local(t).to_rfc3339(),
                format!("{}+09:00", text.replace(' ', "T"))
            );
            let wall = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap();
            assert_eq!(to_utc(wall), t, "{text}");
            assert_eq!(date_of(t), wall.date());
        }
        let t = Utc.with_ymd_and_hms(2026, 3, 31, 14, 59, 59).unwrap()
            + chrono::Duration::milliseconds(999);
        assert_eq!(to_utc(local(t).naive_local()), t);
        assert_eq!(date_of(t), NaiveDate::from_ymd_opt(2026, 3, 31).unwrap());
    }

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
