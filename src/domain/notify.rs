//! Notification rules, no I/O: the kinds of message, which are safety-critical
//! (cannot be switched off), when a referral's reminder and escalations fall
//! due, the retry backoff, address masking and the webhook signature.

use super::business_days::{add_business_days, business_days_after, is_business_day};
use super::jst;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What a message is about. Stored as its SCREAMING_SNAKE name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotifyKind {
    /// A referral arrives at an institution → its users.
    ReferralArrived,
    /// The last business day before the pick-up deadline, still pending → the institution's users.
    Reminder,
    /// Past the deadline (and every N business days after) → assignee and lab admins.
    Escalation,
    /// The institution accepted, declined or completed → the assigned concierge.
    ReferralAnswered,
    /// A web-form consultation arrived → the lab's concierges.
    WebConsultation,
    /// The business's reference right after intake.
    BusinessReference,
    /// A public milestone on the business's status page.
    BusinessMilestone,
    /// A password-reset link.
    PasswordReset,
    /// A webhook POST of a case event to a partner system.
    WebhookEvent,
}

impl NotifyKind {
    pub const ALL: [NotifyKind; 9] = [
        NotifyKind::ReferralArrived,
        NotifyKind::Reminder,
        NotifyKind::Escalation,
        NotifyKind::ReferralAnswered,
        NotifyKind::WebConsultation,
        NotifyKind::BusinessReference,
        NotifyKind::BusinessMilestone,
        NotifyKind::PasswordReset,
        NotifyKind::WebhookEvent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::ReferralArrived => "REFERRAL_ARRIVED",
            NotifyKind::Reminder => "REMINDER",
            NotifyKind::Escalation => "ESCALATION",
            NotifyKind::ReferralAnswered => "REFERRAL_ANSWERED",
            NotifyKind::WebConsultation => "WEB_CONSULTATION",
            NotifyKind::BusinessReference => "BUSINESS_REFERENCE",
            NotifyKind::BusinessMilestone => "BUSINESS_MILESTONE",
            NotifyKind::PasswordReset => "PASSWORD_RESET",
            NotifyKind::WebhookEvent => "WEBHOOK_EVENT",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Safety-critical kinds reach the user whatever their preferences: an
    /// overdue referral nobody hears of, a reset link that never arrives.
    pub fn safety_critical(self) -> bool {
        matches!(self, NotifyKind::Escalation | NotifyKind::PasswordReset)
    }

    /// The kinds a staff user may switch off in their profile.
    pub fn user_optional() -> Vec<NotifyKind> {
        vec![
            NotifyKind::ReferralArrived,
            NotifyKind::Reminder,
            NotifyKind::ReferralAnswered,
            NotifyKind::WebConsultation,
        ]
    }

    pub fn label(self, en: bool) -> &'static str {
        let (ja, e) = match self {
            NotifyKind::ReferralArrived => ("紹介の到着", "Referral arrived"),
            NotifyKind::Reminder => ("受付期限前日のお知らせ", "Reminder before the deadline"),
            NotifyKind::Escalation => ("受付期限超過のエスカレーション", "Overdue escalation"),
            NotifyKind::ReferralAnswered => ("紹介先からの回答", "Institution's answer"),
            NotifyKind::WebConsultation => ("Webフォームからの相談", "Web-form consultation"),
            NotifyKind::BusinessReference => ("受付番号のお知らせ(事業者)", "Reference (business)"),
            NotifyKind::BusinessMilestone => ("進捗のお知らせ(事業者)", "Progress (business)"),
            NotifyKind::PasswordReset => ("パスワード再設定", "Password reset"),
            NotifyKind::WebhookEvent => ("Webhook", "Webhook"),
        };
        if en {
            e
        } else {
            ja
        }
    }
}

/// The hour (JST) at which a day's reminder or repeated escalation is due.
pub const MORNING: u32 = 9;

fn morning_of(d: chrono::NaiveDate) -> DateTime<Utc> {
    jst::to_utc(d.and_time(NaiveTime::from_hms_opt(MORNING, 0, 0).expect("valid time")))
}

/// When the reminder of a referral with this pick-up deadline is due: 09:00
/// JST on the last business day before the deadline's day. `None` when that
/// moment is not after the referral was made (a deadline of one business day
/// leaves no day before it to remind on — then the reminder falls on the
/// creation day only if the referral was made before 09:00).
pub fn reminder_due(created_at: DateTime<Utc>, deadline: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut d = jst::date_of(deadline).pred_opt()?;
    while !is_business_day(d) {
        d = d.pred_opt()?;
    }
    let due = morning_of(d);
    (due > created_at).then_some(due)
}

/// When the `k`-th escalation is due: k = 0 just after the deadline, k ≥ 1
/// at 09:00 JST on the (k × every)-th business day after the deadline's day.
pub fn escalation_due(deadline: DateTime<Utc>, every: u32, k: u32) -> DateTime<Utc> {
    if k == 0 {
        return deadline + Duration::milliseconds(1);
    }
    morning_of(add_business_days(
        jst::date_of(deadline),
        every.max(1).saturating_mul(k),
    ))
}

/// The latest escalation occurrence due at `now` (`None` before the deadline).
/// A scan that missed occurrences (every instance down) sends only the latest.
pub fn escalation_occurrence(
    deadline: DateTime<Utc>,
    every: u32,
    now: DateTime<Utc>,
) -> Option<u32> {
    if now <= deadline {
        return None;
    }
    // The k-th repeat falls on the (k × every)-th business day after the
    // deadline's day: count the business days up to today (a binary search
    // per year, not a walk per occurrence), then step back once if today's
    // occurrence is still before its 09:00.
    let every = every.max(1);
    let days = business_days_after(jst::date_of(deadline), jst::date_of(now));
    let mut k = (days / every).min(10_000);
    while k > 0 && escalation_due(deadline, every, k) > now {
        k -= 1;
    }
    Some(k)
}

/// What of a pending referral's notices is due at `now`: its reminder (from
/// `reminder_due` up to the deadline) and the latest escalation occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueNotices {
    pub reminder: bool,
    pub escalation: Option<u32>,
}

pub fn due_notices(
    created_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
    every: u32,
    now: DateTime<Utc>,
) -> DueNotices {
    DueNotices {
        reminder: reminder_due(created_at, deadline)
            .is_some_and(|due| now >= due && now <= deadline),
        escalation: escalation_occurrence(deadline, every, now),
    }
}

/// The first moment after `now` at which a pending referral has a notice not
/// already due at `now`: its reminder, else its next escalation occurrence.
/// The reminder scan looks at the referral again then, and not before, so a
/// scan reads the referrals with something due, not every pending one.
pub fn next_notice_after(
    created_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
    every: u32,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let escalation = match escalation_occurrence(deadline, every, now) {
        None => escalation_due(deadline, every, 0),
        Some(k) => escalation_due(deadline, every, k.saturating_add(1)),
    };
    let next = match reminder_due(created_at, deadline) {
        Some(due) if due > now => due.min(escalation),
        _ => escalation,
    };
    // Past the occurrence cap (some 40 years of daily escalations) the next
    // one would not be after `now`: look again in a day rather than at once.
    if next > now {
        next
    } else {
        now + Duration::days(1)
    }
}

/// The delay before attempt `attempts + 1` after `attempts` failed ones:
/// `base × 2^(attempts-1)`, capped at an hour, with ±20 % jitter from `unit`
/// (a uniform number in [0, 1)).
pub fn backoff(base: std::time::Duration, attempts: i64, unit: f64) -> Duration {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    let ms = (base.as_millis() as f64) * f64::from(2u32.pow(exp));
    let ms = ms.min(3_600_000.0) * (0.8 + 0.4 * unit.clamp(0.0, 1.0));
    Duration::milliseconds(ms as i64)
}

/// An address as the outbox page shows it: `ya****@ex****.jp`.
pub fn mask_address(addr: &str) -> String {
    fn part(s: &str) -> String {
        let keep: String = s.chars().take(2).collect();
        format!("{keep}****")
    }
    if addr.starts_with("http://") || addr.starts_with("https://") {
        // A webhook URL: scheme and host only.
        let rest = addr.split_once("://").map_or("", |x| x.1);
        let host = rest.split(['/', '?']).next().unwrap_or("");
        let scheme = addr.split_once("://").map_or("", |x| x.0);
        return format!("{scheme}://{host}/…");
    }
    match addr.rsplit_once('@') {
        Some((local, domain)) => {
            let (name, tld) = domain.rsplit_once('.').unwrap_or((domain, ""));
            if tld.is_empty() {
                format!("{}@{}", part(local), part(name))
            } else {
                format!("{}@{}.{tld}", part(local), part(name))
            }
        }
        None => part(addr),
    }
}

/// The value of `X-Dxdesk-Signature` for `body` sent at unix time `t`:
/// `t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>`.
pub fn webhook_signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature header as a receiver would: the `v1` HMAC matches and
/// `t` is within `tolerance_secs` of `now`.
pub fn verify_webhook_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v.to_owned()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let want = mac.finalize().into_bytes();
    sigs.iter().any(|s| {
        hex::decode(s)
            .map(|b| subtle::ConstantTimeEq::ct_eq(b.as_slice(), want.as_slice()).into())
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::business_days::pickup_deadline;
    use chrono::TimeZone;

    fn jst_at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        jst::to_utc(
            chrono::NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(h, 0, 0)
                .unwrap(),
        )
    }

    #[test]
    fn reminder_on_the_last_business_day_before_the_deadline() {
        // Thursday 2026-11-05 10:00 JST, 3 business days → deadline Tue 11-10.
        let created = jst_at(2026, 11, 5, 10);
        let deadline = pickup_deadline(created, 3);
        assert_eq!(
            jst::date_of(deadline),
            chrono::NaiveDate::from_ymd_opt(2026, 11, 10).unwrap()
        );
        assert_eq!(
            reminder_due(created, deadline),
            Some(jst_at(2026, 11, 9, 9))
        );
        // Deadline on a Monday: the reminder is on the Friday before.
        let created = jst_at(2026, 11, 4, 10); // Wed → Mon 11-09 (11-03 is a holiday, before)
        let deadline = pickup_deadline(created, 3);
        assert_eq!(
            jst::date_of(deadline),
            chrono::NaiveDate::from_ymd_opt(2026, 11, 9).unwrap()
        );
        assert_eq!(
            reminder_due(created, deadline),
            Some(jst_at(2026, 11, 6, 9))
        );
        // One business day: the day before the deadline is the creation day, after 09:00.
        let created = jst_at(2026, 11, 5, 10);
        assert_eq!(reminder_due(created, pickup_deadline(created, 1)), None);
    }

    #[test]
    fn escalation_repeats_every_n_business_days() {
        let created = jst_at(2026, 11, 5, 10);
        let deadline = pickup_deadline(created, 3); // Tue 11-10 23:59:59.999
        assert_eq!(escalation_occurrence(deadline, 2, deadline), None);
        assert_eq!(
            escalation_occurrence(deadline, 2, jst_at(2026, 11, 11, 0)),
            Some(0)
        );
        // 2 business days after Tue 11-10 is Thu 11-12, at 09:00.
        assert_eq!(escalation_due(deadline, 2, 1), jst_at(2026, 11, 12, 9));
        assert_eq!(
            escalation_occurrence(deadline, 2, jst_at(2026, 11, 12, 8)),
            Some(0)
        );
        assert_eq!(
            escalation_occurrence(deadline, 2, jst_at(2026, 11, 12, 9)),
            Some(1)
        );
        // then Mon 11-16 (the weekend does not count)
        assert_eq!(escalation_due(deadline, 2, 2), jst_at(2026, 11, 16, 9));
    }

    /// The definition: the latest k whose `escalation_due` has passed.
    fn occurrence_by_definition(
        deadline: DateTime<Utc>,
        every: u32,
        now: DateTime<Utc>,
    ) -> Option<u32> {
        if now <= deadline {
            return None;
        }
        let mut k = 0;
        while escalation_due(deadline, every, k + 1) <= now {
            k += 1;
        }
        Some(k)
    }

    proptest::proptest! {
        #[test]
        fn occurrence_is_the_latest_due_one(
            start in 0i64..(86_400 * 365 * 20),
            after in -86_400i64..(86_400 * 400),
            every in 1u32..6,
        ) {
            let t0 = Utc.with_ymd_and_hms(2015, 1, 1, 0, 0, 0).unwrap();
            let deadline = pickup_deadline(t0 + Duration::seconds(start), 3);
            let now = deadline + Duration::seconds(after);
            proptest::prop_assert_eq!(
                escalation_occurrence(deadline, every, now),
                occurrence_by_definition(deadline, every, now)
            );
        }
    }

    proptest::proptest! {
        /// Nothing new falls due between `now` and the next notice, and at
        /// the next notice something does: the scan may skip the referral
        /// until then and miss nothing.
        #[test]
        fn nothing_new_is_due_before_the_next_notice(
            start in 0i64..(86_400 * 365 * 20),
            pickup in 1u32..8,
            at in -86_400i64 * 10..(86_400 * 60),
            frac in 0.0f64..1.0,
            every in 1u32..6,
        ) {
            let t0 = Utc.with_ymd_and_hms(2015, 1, 1, 0, 0, 0).unwrap();
            let created = t0 + Duration::seconds(start);
            let deadline = pickup_deadline(created, pickup);
            let now = (deadline + Duration::seconds(at)).max(created);
            let next = next_notice_after(created, deadline, every, now);
            proptest::prop_assert!(next > now);
            let before = due_notices(created, deadline, every, now);
            let span = (next - now).num_milliseconds();
            let t = now + Duration::milliseconds(((span - 1) as f64 * frac) as i64);
            let between = due_notices(created, deadline, every, t);
            proptest::prop_assert!(!between.reminder || before.reminder, "{t}: {between:?} {before:?}");
            proptest::prop_assert_eq!(between.escalation, before.escalation);
            let then = due_notices(created, deadline, every, next);
            proptest::prop_assert!(
                (then.reminder && !before.reminder) || then.escalation != before.escalation,
                "{next}: {then:?} {before:?}"
            );
        }
    }

    #[test]
    fn a_referral_pending_for_years_is_counted_without_walking_each_occurrence() {
        let deadline = pickup_deadline(jst_at(2016, 12, 1, 10), 3);
        let now = jst_at(2026, 12, 1, 12);
        let k = escalation_occurrence(deadline, 1, now).unwrap();
        assert_eq!(Some(k), occurrence_by_definition(deadline, 1, now));
        assert!(k > 2_000, "{k}");
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let b = std::time::Duration::from_secs(2);
        assert_eq!(backoff(b, 1, 0.5), Duration::seconds(2));
        assert_eq!(backoff(b, 3, 0.5), Duration::seconds(8));
        assert!(backoff(b, 3, 0.0) >= Duration::milliseconds(6400));
        assert!(backoff(b, 3, 0.999) <= Duration::milliseconds(9600));
        assert!(backoff(b, 40, 0.5) <= Duration::hours(1));
    }

    #[test]
    fn masks_addresses_and_urls() {
        assert_eq!(mask_address("yamada@example.jp"), "ya****@ex****.jp");
        assert_eq!(
            mask_address("https://partner.example/hooks/x?k=1"),
            "https://partner.example/…"
        );
    }

    #[test]
    fn signatures_verify_and_reject_tampering() {
        let t = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .unwrap()
            .timestamp();
        let h = webhook_signature("whsec_test", t, b"{\"a\":1}");
        assert!(h.starts_with(&format!("t={t},v1=")));
        assert!(verify_webhook_signature(
            "whsec_test",
            &h,
            b"{\"a\":1}",
            t + 10,
            300
        ));
        assert!(!verify_webhook_signature(
            "whsec_test",
            &h,
            b"{\"a\":2}",
            t,
            300
        ));
        assert!(!verify_webhook_signature("other", &h, b"{\"a\":1}", t, 300));
        assert!(!verify_webhook_signature(
            "whsec_test",
            &h,
            b"{\"a\":1}",
            t + 301,
            300
        ));
    }

    #[test]
    fn kinds_round_trip() {
        for k in NotifyKind::ALL {
            assert_eq!(NotifyKind::parse(k.as_str()), Some(k));
        }
        assert!(NotifyKind::Escalation.safety_critical());
        assert!(!NotifyKind::user_optional()
            .iter()
            .any(|k| k.safety_critical()));
    }
}
