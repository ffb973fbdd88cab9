//! Japanese fiscal years (April 1 – March 31, Japan time) and their era labels (令和6年度).

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::jst;

/// The fiscal year of an instant: the JST calendar year, minus one for January–March.
pub fn fiscal_year_of(t: DateTime<Utc>) -> i32 {
    let d = jst::date_of(t);
    if d.month() >= 4 {
        d.year()
    } else {
        d.year() - 1
    }
}

/// `[start, end)` of fiscal year `fy` in UTC: April 1 00:00 JST of `fy` to
/// April 1 00:00 JST of `fy + 1`.
///
/// # Panics
/// Only for years outside chrono's calendar (±262,000).
pub fn fiscal_year_bounds(fy: i32) -> (DateTime<Utc>, DateTime<Utc>) {
    let april1 =
        |y: i32| NaiveDate::from_ymd_opt(y, 4, 1).expect("fiscal year within chrono's calendar");
    (
        jst::start_of_day(april1(fy)),
        jst::start_of_day(april1(fy + 1)),
    )
}

/// The Japanese label of fiscal year `fy`: 2024 → 令和6年度, 2019 → 令和元年度.
/// Fiscal years before 2019 use 平成 (1989–2018, 1989 → 平成元年度) and 昭和
/// (1926–1988); earlier years fall back to `1900年度`.
pub fn reiwa_label(fy: i32) -> String {
    let (era, first) = match fy {
        2019.. => ("令和", 2019),
        1989..=2018 => ("平成", 1989),
        1926..=1988 => ("昭和", 1926),
        _ => return format!("{fy}年度"),
    };
    let n = fy - first + 1;
    if n == 1 {
        format!("{era}元年度")
    } else {
        format!("{era}{n}年度")
    }
}

/// English label: `FY2024`.
pub fn label_en(fy: i32) -> String {
    format!("FY{fy}")
}

/// Month of the fiscal year of an instant (JST): 0 = April … 11 = March.
pub fn month_index(t: DateTime<Utc>) -> u32 {
    (jst::date_of(t).month() + 8) % 12
}

/// The calendar month (1–12) of a fiscal month index (0 = April); indexes wrap modulo 12.
pub fn month_of_index(idx: u32) -> u32 {
    (idx + 3) % 12 + 1
}

/// Japanese label of a fiscal month index: 0 → 「4月」 … 11 → 「3月」.
pub fn month_label_ja(idx: u32) -> String {
    format!("{}月", month_of_index(idx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn jst(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        jst::to_utc(
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(h, min, s)
                .unwrap(),
        )
    }

    #[test]
    fn boundaries() {
        let last = jst(2025, 3, 31, 23, 59, 59);
        let first = jst(2025, 4, 1, 0, 0, 0);
        assert_eq!(fiscal_year_of(last), 2024);
        assert_eq!(fiscal_year_of(first), 2025);
        assert_eq!(month_index(last), 11);
        assert_eq!(month_index(first), 0);
        // 2025-03-31 15:00 UTC is already April 1 in Japan
        assert_eq!(
            fiscal_year_of(Utc.with_ymd_and_hms(2025, 3, 31, 15, 0, 0).unwrap()),
            2025
        );
        assert_eq!(
            fiscal_year_of(Utc.with_ymd_and_hms(2025, 3, 31, 14, 59, 59).unwrap()),
            2024
        );
        let (s, e) = fiscal_year_bounds(2024);
        assert_eq!(s, Utc.with_ymd_and_hms(2024, 3, 31, 15, 0, 0).unwrap());
        assert_eq!(e, Utc.with_ymd_and_hms(2025, 3, 31, 15, 0, 0).unwrap());
        assert_eq!(e, first);
        assert!(last < e);
    }

    #[test]
    fn labels() {
        assert_eq!(reiwa_label(2024), "令和6年度");
        assert_eq!(reiwa_label(2019), "令和元年度");
        assert_eq!(reiwa_label(2020), "令和2年度");
        assert_eq!(reiwa_label(2018), "平成30年度");
        assert_eq!(reiwa_label(1989), "平成元年度");
        assert_eq!(reiwa_label(1988), "昭和63年度");
        assert_eq!(reiwa_label(1900), "1900年度");
        assert_eq!(label_en(2024), "FY2024");
        assert_eq!(month_label_ja(0), "4月");
        assert_eq!(month_label_ja(8), "12月");
        assert_eq!(month_label_ja(9), "1月");
        assert_eq!(month_label_ja(11), "3月");
        assert_eq!(month_index(jst(2026, 1, 15, 12, 0, 0)), 9);
    }

    proptest! {
        #[test]
        fn instant_lies_in_its_fiscal_year(secs in 0i64..(86_400 * 365 * 50)) {
            let t = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(secs);
            let fy = fiscal_year_of(t);
            let (s, e) = fiscal_year_bounds(fy);
            prop_assert!(s <= t && t < e);
            prop_assert!(month_index(t) < 12);
            prop_assert_eq!(month_of_index(month_index(t)), jst::date_of(t).month());
        }
    }
}
