//! Report maths: median, nearest-rank percentiles, mean and rates.
//!
//! The slice functions sort their input in place (with `f64::total_cmp`) and
//! ignore NaN values, which `total_cmp` puts at the ends.

/// Sorts `v` and returns the sub-slice without NaNs.
fn sorted_finite(v: &mut [f64]) -> &[f64] {
    v.sort_by(f64::total_cmp);
    let start = v.iter().position(|x| !x.is_nan()).unwrap_or(v.len());
    let end = v.iter().rposition(|x| !x.is_nan()).map_or(start, |i| i + 1);
    &v[start..end]
}

/// The median: the middle value, or the mean of the two middle values for an
/// even count. `None` when there are no (non-NaN) values.
pub fn median(v: &mut [f64]) -> Option<f64> {
    let s = sorted_finite(v);
    let n = s.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(s[n / 2]),
        _ => Some((s[n / 2 - 1] + s[n / 2]) / 2.0),
    }
}

/// The `p`-th percentile (0 ≤ p ≤ 100) by the nearest-rank method: sort the
/// N values ascending and take the value at rank ⌈p/100 · N⌉ (1-based),
/// with rank at least 1, so p = 0 gives the minimum and p = 100 the maximum.
/// The result is always one of the values. `None` when there are no
/// (non-NaN) values or `p` is outside 0…100 or NaN.
pub fn percentile(v: &mut [f64], p: f64) -> Option<f64> {
    if !(0.0..=100.0).contains(&p) {
        return None;
    }
    let s = sorted_finite(v);
    let n = s.len();
    if n == 0 {
        return None;
    }
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    Some(s[rank.clamp(1, n) - 1])
}

/// The arithmetic mean, ignoring NaNs; `None` when there are no values.
pub fn mean(v: &[f64]) -> Option<f64> {
    let (sum, n) = v
        .iter()
        .filter(|x| !x.is_nan())
        .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// `part / whole` as a fraction 0…1, `None` when `whole` is 0 (or negative).
pub fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0]), Some(3.0));
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut [f64::NAN, 1.0, 5.0, -f64::NAN]), Some(3.0));
        assert_eq!(median(&mut [f64::NAN]), None);
    }

    #[test]
    fn percentiles_nearest_rank() {
        // the classic example: 15, 20, 35, 40, 50
        let mut v = [50.0, 15.0, 40.0, 20.0, 35.0];
        assert_eq!(percentile(&mut v, 5.0), Some(15.0));
        assert_eq!(percentile(&mut v, 30.0), Some(20.0));
        assert_eq!(percentile(&mut v, 40.0), Some(20.0));
        assert_eq!(percentile(&mut v, 50.0), Some(35.0));
        assert_eq!(percentile(&mut v, 100.0), Some(50.0));
        assert_eq!(percentile(&mut v, 0.0), Some(15.0));
        assert_eq!(percentile(&mut v, 101.0), None);
        assert_eq!(percentile(&mut v, -1.0), None);
        assert_eq!(percentile(&mut v, f64::NAN), None);
        assert_eq!(percentile(&mut [], 50.0), None);
        let mut w: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&mut w, 90.0), Some(9.0));
        assert_eq!(percentile(&mut w, 91.0), Some(10.0));
    }

    #[test]
    fn means_and_rates() {
        assert_eq!(mean(&[]), None);
        assert_eq!(mean(&[1.0, 2.0, f64::NAN, 3.0]), Some(2.0));
        assert_eq!(rate(1, 4), Some(0.25));
        assert_eq!(rate(1, 0), None);
    }

    proptest! {
        #[test]
        fn percentile_is_a_member_and_monotone(mut v in proptest::collection::vec(-1e6f64..1e6, 1..50), p in 0.0f64..=100.0, q in 0.0f64..=100.0) {
            let a = percentile(&mut v, p).unwrap();
            prop_assert!(v.contains(&a));
            let (lo, hi) = if p <= q { (p, q) } else { (q, p) };
            prop_assert!(percentile(&mut v, lo).unwrap() <= percentile(&mut v, hi).unwrap());
            let m = median(&mut v).unwrap();
            prop_assert!(v[0] <= m && m <= v[v.len() - 1]);
        }
    }
}
