//! Japanese business days (weekdays that are neither public holidays nor the 12/29–1/3 closure) and referral pick-up deadlines.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};

use super::jst;

/// Years for which public holidays are looked up; jpholiday's equinox formula
/// is only defined for this range. Outside it only weekends and the year-end
/// closure are non-business days.
const HOLIDAY_YEARS: std::ops::RangeInclusive<i32> = 1949..=2150;

/// Corrections to jpholiday 0.1.4, which lacks the 2021 Olympic special
/// measures (東京オリンピック特措法): 海の日 moved to 7/22, スポーツの日 to
/// 7/23, 山の日 to 8/8 (a Sunday, so 8/9 was a substitute holiday).
const NOT_HOLIDAYS: &[(i32, u32, u32)] = &[(2021, 7, 19), (2021, 8, 11), (2021, 10, 11)];
const EXTRA_HOLIDAYS: &[(i32, u32, u32)] =
    &[(2021, 7, 22), (2021, 7, 23), (2021, 8, 8), (2021, 8, 9)];

type HolidayCache = Mutex<HashMap<i32, HashSet<NaiveDate>>>;

fn cache() -> &'static HolidayCache {
    static CACHE: OnceLock<HolidayCache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn ymd(&(y, m, d): &(i32, u32, u32)) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

/// The Japanese public holidays of `year` (incl. substitute holidays and
/// 国民の休日), computed once per year and cached.
fn compute_year(year: i32) -> HashSet<NaiveDate> {
    if !HOLIDAY_YEARS.contains(&year) {
        return HashSet::new();
    }
    let jp = jpholiday::jpholiday::JPHoliday::new();
    let mut set: HashSet<NaiveDate> = jp
        .year_holidays(year)
        .into_iter()
        .map(|(d, _name)| d)
        .collect();
    for d in NOT_HOLIDAYS.iter().filter(|t| t.0 == year).filter_map(ymd) {
        set.remove(&d);
    }
    set.extend(
        EXTRA_HOLIDAYS
            .iter()
            .filter(|t| t.0 == year)
            .filter_map(ymd),
    );
    set
}

/// Whether `d` is a Japanese public holiday (national holiday, substitute
/// holiday or 国民の休日).
pub fn is_public_holiday(d: NaiveDate) -> bool {
    let mut map = cache()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    map.entry(d.year())
        .or_insert_with(|| compute_year(d.year()))
        .contains(&d)
}

/// The public holidays of `year`, sorted.
pub fn public_holidays(year: i32) -> Vec<NaiveDate> {
    let mut map = cache()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut v: Vec<NaiveDate> = map
        .entry(year)
        .or_insert_with(|| compute_year(year))
        .iter()
        .copied()
        .collect();
    v.sort();
    v
}

/// Whether `d` falls in the year-end closure, December 29 – January 3.
pub fn is_year_end_closure(d: NaiveDate) -> bool {
    matches!((d.month(), d.day()), (12, 29..=31) | (1, 1..=3))
}

/// A business day: Monday–Friday, not a public holiday, not in the year-end closure.
pub fn is_business_day(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
        && !is_year_end_closure(d)
        && !is_public_holiday(d)
}

/// The days of `year` (ordinals, 1 = January 1) that are business days,
/// ascending. Years of [`HOLIDAY_YEARS`] are computed once and cached, so
/// counting business days over years costs a binary search per year, not a
/// holiday lookup per day (an escalation scan counts years of days for
/// every overdue referral).
fn business_ordinals(year: i32) -> Arc<[u16]> {
    type Cache = Mutex<HashMap<i32, Arc<[u16]>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let compute = || -> Arc<[u16]> {
        (1..=366)
            .filter_map(|o| NaiveDate::from_yo_opt(year, o))
            .filter(|d| is_business_day(*d))
            .map(|d| d.ordinal() as u16)
            .collect()
    };
    if !HOLIDAY_YEARS.contains(&year) {
        return compute();
    }
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(v) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&year) {
        return v.clone();
    }
    // Computed outside the lock: `is_business_day` takes the holiday cache's.
    let v = compute();
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(year)
        .or_insert(v)
        .clone()
}

/// The `n`-th business day after `start` (`start` itself does not count,
/// whatever it is). `n = 0` returns `start` unchanged. Saturates at the end of
/// chrono's calendar.
pub fn add_business_days(start: NaiveDate, n: u32) -> NaiveDate {
    if n == 0 {
        return start;
    }
    let (mut year, mut after, mut left) = (start.year(), start.ordinal(), n as usize);
    loop {
        let days = business_ordinals(year);
        let from = days.partition_point(|&o| u32::from(o) <= after);
        let here = days.len() - from;
        if left <= here {
            let o = days[from + left - 1];
            return NaiveDate::from_yo_opt(year, u32::from(o)).unwrap_or(NaiveDate::MAX);
        }
        left -= here;
        match year.checked_add(1) {
            Some(y) if NaiveDate::from_yo_opt(y, 1).is_some() => (year, after) = (y, 0),
            _ => return NaiveDate::MAX,
        }
    }
}

/// How many business days fall in `(start, end]` (0 when `end <= start`).
pub fn business_days_after(start: NaiveDate, end: NaiveDate) -> u32 {
    if end <= start {
        return 0;
    }
    let mut n = 0usize;
    for year in start.year()..=end.year() {
        let days = business_ordinals(year);
        let lo = if year == start.year() {
            days.partition_point(|&o| u32::from(o) <= start.ordinal())
        } else {
            0
        };
        let hi = if year == end.year() {
            days.partition_point(|&o| u32::from(o) <= end.ordinal())
        } else {
            days.len()
        };
        n += hi.saturating_sub(lo);
    }
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The pick-up deadline of a referral created at `created_at`: the end
/// (23:59:59.999 JST) of the `days`-th business day after the Japanese date of
/// `created_at`. With `days = 0` it is the end of the creation day itself.
pub fn pickup_deadline(created_at: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let due = add_business_days(jst::date_of(created_at), days);
    match due.succ_opt() {
        Some(next) => jst::start_of_day(next) - Duration::milliseconds(1),
        None => DateTime::<Utc>::MAX_UTC,
    }
}

/// A lab's extra closure day beyond 12/29–1/3: one date (`2025-08-13`) or a
/// month-day every year (`--08-14`, ISO 8601's recurring form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosureDay {
    Date(NaiveDate),
    Yearly { month: u32, day: u32 },
}

impl ClosureDay {
    /// Parses `YYYY-MM-DD` or `--MM-DD`; `None` when it is neither.
    pub fn parse(s: &str) -> Option<ClosureDay> {
        let s = s.trim();
        if let Some(md) = s.strip_prefix("--") {
            let (m, d) = md.split_once('-')?;
            if m.len() != 2 || d.len() != 2 {
                return None;
            }
            let (month, day): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
            // Valid in a leap year (so 02-29 is allowed).
            NaiveDate::from_ymd_opt(2024, month, day)?;
            return Some(ClosureDay::Yearly { month, day });
        }
        if s.len() != 10 {
            return None;
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(ClosureDay::Date)
    }

    /// The stored form.
    pub fn render(self) -> String {
        match self {
            ClosureDay::Date(d) => d.format("%Y-%m-%d").to_string(),
            ClosureDay::Yearly { month, day } => format!("--{month:02}-{day:02}"),
        }
    }

    pub fn covers(self, d: NaiveDate) -> bool {
        match self {
            ClosureDay::Date(x) => x == d,
            ClosureDay::Yearly { month, day } => d.month() == month && d.day() == day,
        }
    }
}

/// [`add_business_days`] where the `extra` closure days are not business days either.
pub fn add_business_days_closed(start: NaiveDate, n: u32, extra: &[ClosureDay]) -> NaiveDate {
    let mut d = start;
    let mut left = n;
    while left > 0 {
        match d.succ_opt() {
            Some(next) => d = next,
            None => return d,
        }
        if is_business_day(d) && !extra.iter().any(|c| c.covers(d)) {
            left -= 1;
        }
    }
    d
}

/// [`pickup_deadline`] skipping the lab's extra closure days too.
pub fn pickup_deadline_closed(
    created_at: DateTime<Utc>,
    days: u32,
    extra: &[ClosureDay],
) -> DateTime<Utc> {
    let due = add_business_days_closed(jst::date_of(created_at), days, extra);
    match due.succ_opt() {
        Some(next) => jst::start_of_day(next) - Duration::milliseconds(1),
        None => DateTime::<Utc>::MAX_UTC,
    }
}

/// Whether `now` is past `deadline` (the deadline instant itself is still on time).
pub fn is_overdue(deadline: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now > deadline
}

/// Elapsed business time between two instants, in business days, for
/// "time to pick up" statistics.
///
/// Definition: the interval `[from, to)` is cut at Japanese midnights; each
/// piece that lies on a business day counts its length divided by 24 hours,
/// pieces on other days count nothing. So every whole business day strictly
/// between the two dates counts 1, and the first and last days count the
/// fraction of the (24-hour) day that elapsed on them if they are business
/// days. Office hours are not modelled. Example: Friday 17:00 → Monday 10:00
/// (no holidays) = 7/24 + 10/24 ≈ 0.71. Returns 0 if `to <= from`.
pub fn business_days_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    if to <= from {
        return 0.0;
    }
    const DAY_MS: f64 = 86_400_000.0;
    let last = jst::date_of(to);
    let mut d = jst::date_of(from);
    let mut total_ms: i64 = 0;
    loop {
        if is_business_day(d) {
            let day_start = jst::start_of_day(d);
            let day_end = d
                .succ_opt()
                .map(jst::start_of_day)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            let a = from.max(day_start);
            let b = to.min(day_end);
            if b > a {
                total_ms += (b - a).num_milliseconds();
            }
        }
        if d >= last {
            break;
        }
        match d.succ_opt() {
            Some(next) => d = next,
            None => break,
        }
    }
    total_ms as f64 / DAY_MS
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// A JST wall-clock time as UTC.
    fn jst(y: i32, m: u32, day: u32, h: u32, min: u32) -> DateTime<Utc> {
        jst::to_utc(d(y, m, day).and_hms_opt(h, min, 0).unwrap())
    }

    #[test]
    fn extra_closure_days() {
        assert_eq!(
            ClosureDay::parse("--08-14"),
            Some(ClosureDay::Yearly { month: 8, day: 14 })
        );
        assert_eq!(
            ClosureDay::parse("2025-08-13"),
            Some(ClosureDay::Date(d(2025, 8, 13)))
        );
        assert_eq!(ClosureDay::parse("--02-30"), None);
        assert_eq!(ClosureDay::parse("2025-8-13"), None);
        assert_eq!(ClosureDay::parse("--08-14").unwrap().render(), "--08-14");
        // Tue 2025-08-12 + 3 business days = Fri 8/15; closed 8/13 and every 8/14: Mon 8/18.
        let extra = [
            ClosureDay::parse("2025-08-13").unwrap(),
            ClosureDay::parse("--08-14").unwrap(),
        ];
        assert_eq!(
            add_business_days_closed(d(2025, 8, 12), 3, &[]),
            d(2025, 8, 15)
        );
        assert_eq!(
            add_business_days_closed(d(2025, 8, 12), 3, &extra),
            d(2025, 8, 19)
        );
        assert_eq!(
            pickup_deadline_closed(jst(2025, 8, 12, 10, 0), 3, &[]),
            pickup_deadline(jst(2025, 8, 12, 10, 0), 3)
        );
    }

    #[test]
    fn golden_week_2025() {
        // 4/29 (Tue) 昭和の日; 5/3 (Sat) 憲法記念日, 5/4 (Sun) みどりの日,
        // 5/5 (Mon) こどもの日, 5/6 (Tue) 振替休日
        for (m, day) in [(4, 29), (5, 3), (5, 4), (5, 5), (5, 6)] {
            assert!(is_public_holiday(d(2025, m, day)), "2025-{m}-{day}");
            assert!(!is_business_day(d(2025, m, day)));
        }
        assert!(is_business_day(d(2025, 4, 28)));
        assert!(is_business_day(d(2025, 4, 30)));
        assert!(is_business_day(d(2025, 5, 2)));
        assert!(is_business_day(d(2025, 5, 7)));
        // Friday 5/2 + 1 business day skips the whole long weekend
        assert_eq!(add_business_days(d(2025, 5, 2), 1), d(2025, 5, 7));
        assert_eq!(add_business_days(d(2025, 4, 28), 3), d(2025, 5, 2));
    }

    #[test]
    fn year_end_closure() {
        assert_eq!(add_business_days(d(2025, 12, 26), 1), d(2026, 1, 5));
        for day in [29, 30, 31] {
            assert!(is_year_end_closure(d(2025, 12, day)));
        }
        assert!(!is_business_day(d(2026, 1, 2)));
        // 2024-12-30 is a Monday but closed
        assert!(!is_business_day(d(2024, 12, 30)));
        assert!(is_business_day(d(2024, 12, 27)));
    }

    #[test]
    fn specific_holidays() {
        // 天皇誕生日 (Friday)
        assert!(is_public_holiday(d(2024, 2, 23)));
        assert!(!is_business_day(d(2024, 2, 23)));
        // 建国記念の日 2024-02-11 was a Sunday → Monday 2/12 振替休日
        assert!(is_public_holiday(d(2024, 2, 12)));
        // 勤労感謝の日 2025-11-23 (Sunday) → 11/24 振替休日
        assert!(!is_business_day(d(2025, 11, 24)));
        // 2026-09-22: 国民の休日 between 敬老の日 (9/21) and 秋分の日 (9/23)
        assert!(is_public_holiday(d(2026, 9, 22)));
        // 2026-05-06 (Wed): 憲法記念日 on Sunday → substitute after 5/4, 5/5
        assert!(is_public_holiday(d(2026, 5, 6)));
        // 2019 即位の日
        assert!(is_public_holiday(d(2019, 5, 1)));
        // ordinary days
        assert!(is_business_day(d(2024, 2, 22)));
        assert!(!is_business_day(d(2024, 2, 24)));
    }

    #[test]
    fn olympic_2021_corrections() {
        assert!(is_public_holiday(d(2021, 7, 22)));
        assert!(is_public_holiday(d(2021, 7, 23)));
        assert!(is_public_holiday(d(2021, 8, 9)));
        assert!(is_business_day(d(2021, 7, 19)));
        assert!(is_business_day(d(2021, 10, 11)));
        assert!(is_business_day(d(2021, 8, 11)));
    }

    #[test]
    fn holiday_list() {
        let h = public_holidays(2025);
        assert!(h.len() >= 16);
        assert!(h.windows(2).all(|w| w[0] < w[1]));
        assert!(public_holidays(3000).is_empty());
    }

    #[test]
    fn deadline_is_end_of_jst_day() {
        // created Friday 2025-05-02 10:00 JST, 3 business days → Friday 5/9
        let created = jst(2025, 5, 2, 10, 0);
        let due = pickup_deadline(created, 3);
        let expected = jst::to_utc(d(2025, 5, 9).and_hms_milli_opt(23, 59, 59, 999).unwrap());
        assert_eq!(due, expected);
        assert_eq!(
            due,
            Utc.with_ymd_and_hms(2025, 5, 9, 14, 59, 59).unwrap() + Duration::milliseconds(999)
        );
        // created late in the evening JST (still the same JST day though UTC says otherwise)
        let late = Utc.with_ymd_and_hms(2025, 12, 25, 16, 0, 0).unwrap(); // 12/26 01:00 JST
        assert_eq!(jst::date_of(pickup_deadline(late, 1)), d(2026, 1, 5));
        assert!(!is_overdue(due, due));
        assert!(is_overdue(due, due + Duration::milliseconds(1)));
        assert!(!is_overdue(due, created));
        // days = 0: end of the creation day
        assert_eq!(
            jst::date_of(pickup_deadline(jst(2025, 5, 3, 9, 0), 0)),
            d(2025, 5, 3)
        );
    }

    #[test]
    fn elapsed_business_days() {
        // Friday 17:00 → Monday 10:00
        let v = business_days_between(jst(2025, 6, 6, 17, 0), jst(2025, 6, 9, 10, 0));
        assert!((v - 17.0 / 24.0).abs() < 1e-9, "{v}");
        // same business day, 6 hours
        let v = business_days_between(jst(2025, 6, 9, 9, 0), jst(2025, 6, 9, 15, 0));
        assert!((v - 0.25).abs() < 1e-9);
        // over Golden Week 2025: Friday 5/2 12:00 → Wednesday 5/7 12:00 = 0.5 + 0.5
        let v = business_days_between(jst(2025, 5, 2, 12, 0), jst(2025, 5, 7, 12, 0));
        assert!((v - 1.0).abs() < 1e-9, "{v}");
        // Monday 00:00 → next Monday 00:00 = 5 whole business days
        let v = business_days_between(jst(2025, 6, 9, 0, 0), jst(2025, 6, 16, 0, 0));
        assert!((v - 5.0).abs() < 1e-9);
        // only a weekend
        assert_eq!(
            business_days_between(jst(2025, 6, 7, 1, 0), jst(2025, 6, 8, 23, 0)),
            0.0
        );
        // reversed or equal
        let t = jst(2025, 6, 9, 9, 0);
        assert_eq!(business_days_between(t, t), 0.0);
        assert_eq!(business_days_between(t + Duration::hours(1), t), 0.0);
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        (0i64..(365 * 120)).prop_map(|o| d(1990, 1, 1) + Duration::days(o))
    }

    fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
        (0i64..(86_400 * 365 * 30))
            .prop_map(|s| Utc.with_ymd_and_hms(2010, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(s))
    }

    /// Day by day, as the rules read.
    fn naive_add(start: NaiveDate, n: u32) -> NaiveDate {
        let (mut d, mut left) = (start, n);
        while left > 0 {
            d = d.succ_opt().unwrap();
            if is_business_day(d) {
                left -= 1;
            }
        }
        d
    }

    #[test]
    fn year_tables_agree_with_the_day_by_day_rules_across_years() {
        for (start, n) in [
            (d(2025, 12, 26), 1),
            (d(2025, 12, 26), 2),
            (d(2025, 12, 31), 1),
            (d(2024, 2, 28), 3),
            (d(2000, 1, 1), 2_500),
            (d(2148, 12, 1), 800),
        ] {
            assert_eq!(
                add_business_days(start, n),
                naive_add(start, n),
                "{start} + {n}"
            );
            let end = naive_add(start, n);
            assert_eq!(business_days_after(start, end), n);
        }
        assert_eq!(business_days_after(d(2025, 6, 9), d(2025, 6, 9)), 0);
        assert_eq!(business_days_after(d(2025, 6, 9), d(2025, 6, 1)), 0);
        assert_eq!(add_business_days(NaiveDate::MAX, 1), NaiveDate::MAX);
    }

    proptest! {
        #[test]
        fn counting_and_adding_agree(start in any_date(), n in 0u32..900) {
            let end = add_business_days(start, n);
            prop_assert_eq!(end, naive_add(start, n));
            prop_assert_eq!(business_days_after(start, end), n);
            // One day more adds a business day only if that day is one.
            let next = end.succ_opt().unwrap();
            prop_assert_eq!(
                business_days_after(start, next),
                n + u32::from(is_business_day(next))
            );
        }

        #[test]
        fn result_is_a_later_business_day(start in any_date(), n in 1u32..60) {
            let r = add_business_days(start, n);
            prop_assert!(is_business_day(r));
            prop_assert!(r > start);
            // exactly n business days in (start, r]
            let mut count = 0;
            let mut x = start;
            while x < r {
                x = x.succ_opt().unwrap();
                if is_business_day(x) { count += 1; }
            }
            prop_assert_eq!(count, n);
        }

        #[test]
        fn monotonic_in_n(start in any_date(), n in 0u32..40, k in 1u32..10) {
            prop_assert!(add_business_days(start, n + k) > add_business_days(start, n));
        }

        #[test]
        fn deadline_after_creation(t in any_instant(), days in 0u32..10) {
            let dl = pickup_deadline(t, days);
            prop_assert!(dl > t);
            prop_assert!(pickup_deadline(t, days + 1) > dl);
        }

        #[test]
        fn elapsed_is_bounded(a in any_instant(), secs in 0i64..(86_400 * 60)) {
            let b = a + Duration::seconds(secs);
            let v = business_days_between(a, b);
            prop_assert!(v >= 0.0);
            prop_assert!(v <= secs as f64 / 86_400.0 + 1e-9);
            // additive over a split point
            let mid = a + Duration::seconds(secs / 2);
            let sum = business_days_between(a, mid) + business_days_between(mid, b);
            prop_assert!((sum - v).abs() < 1e-9);
        }
    }
}
