//! Business-record rules: employee bands and websites, the duplicate check
//! (same 法人番号; else same e-mail, phone, or a close name in the same
//! municipality), what an intake form differs in from the stored record, and
//! who may see a business's contact data.

use super::error::{DomainError, DomainResult};
use super::text::fold;
use super::types::ReferralStatus;

/// Employee bands a business may be recorded in.
pub const EMPLOYEE_BANDS: &[&str] = &["1-5", "6-20", "21-50", "51-100", "101-300", "301+"];

/// Fields of a business whose values are personal data: their history entries
/// name the field, never the value (no value is ever copied into history).
pub const PERSONAL_FIELDS: &[&str] = &["contactName", "email", "phone", "name", "role"];

/// What a business history entry records: (kind, Japanese, English). The web front end's
/// labels are generated from this list (`dxdesk labels`).
pub const HISTORY_KINDS: &[(&str, &str, &str)] = &[
    ("UPDATED", "登録内容を変更", "Details changed"),
    ("CONTACT_ADDED", "連絡先を追加", "Contact added"),
    ("CONTACT_UPDATED", "連絡先を変更", "Contact changed"),
    ("CONTACT_REMOVED", "連絡先を削除", "Contact removed"),
    ("MERGED_FROM", "別の記録を統合", "Merged another record in"),
    (
        "MERGED_INTO",
        "別の記録へ統合",
        "Merged into another record",
    ),
    ("ERASED", "個人データを消去", "Personal data erased"),
    (
        "EXPORTED",
        "保有データを開示（書き出し）",
        "Data exported for disclosure",
    ),
];

/// The fields a business history entry names: (field, Japanese, English).
pub const HISTORY_FIELDS: &[(&str, &str, &str)] = &[
    ("name", "事業者名", "Name"),
    ("corporateNumber", "法人番号", "Corporate number"),
    ("industry", "業種", "Industry"),
    ("employeeBand", "従業員規模", "Employees"),
    ("municipality", "所在市町村", "Municipality"),
    ("website", "Webサイト", "Website"),
    ("contactName", "担当者名", "Contact person"),
    ("email", "メールアドレス", "Email"),
    ("phone", "電話番号", "Phone"),
    ("role", "役職", "Role"),
    ("primary", "主担当", "Primary"),
    ("consentToShare", "情報提供の同意", "Consent to share"),
];

/// Whether a history entry's kind or field has a label (every one written must).
pub fn has_history_label(table: &[(&str, &str, &str)], value: &str) -> bool {
    table.iter().any(|(v, _, _)| *v == value)
}

/// An employee band from [`EMPLOYEE_BANDS`] (spaces and full-width digits allowed).
pub fn employee_band(value: &str) -> DomainResult<String> {
    let v: String = fold(value).chars().filter(|c| !c.is_whitespace()).collect();
    if EMPLOYEE_BANDS.contains(&v.as_str()) {
        Ok(v)
    } else {
        Err(DomainError::invalid(
            Some("employeeBand"),
            format!(
                "従業員規模は {} のいずれかを選んでください。",
                EMPLOYEE_BANDS.join("・")
            ),
            format!(
                "The employee band must be one of {}.",
                EMPLOYEE_BANDS.join(", ")
            ),
        ))
    }
}

/// A website: `http://` or `https://`, no spaces, at most 200 characters.
pub fn website(value: &str) -> DomainResult<String> {
    let v = value.trim();
    let ok = (v.starts_with("https://") || v.starts_with("http://"))
        && v.len() > 8
        && v.chars().count() <= 200
        && !v.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(v.to_owned())
    } else {
        Err(DomainError::invalid(
            Some("website"),
            "ウェブサイトは https:// で始まるアドレスを入力してください（200文字以内）。",
            "The website must be an address starting with https:// (at most 200 characters).",
        ))
    }
}

/// A company name folded for comparison: half-width, lower case, without
/// spaces, punctuation and the legal-form words (株式会社, (株), 有限会社, …).
pub fn name_key(name: &str) -> String {
    let mut s = fold(name);
    for form in [
        "株式会社",
        "有限会社",
        "合同会社",
        "合資会社",
        "合名会社",
        "(株)",
        "(有)",
        "(同)",
        "㈱",
        "㈲",
        "co.,ltd.",
        "co.ltd.",
        "inc.",
    ] {
        s = s.replace(form, "");
    }
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .collect::<String>()
}

/// Levenshtein distance over characters (names are short).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Whether two company names are close: equal after [`name_key`], one
/// containing the other (at least 3 characters), or one edit apart (names of
/// at least 4 characters).
pub fn names_close(a: &str, b: &str) -> bool {
    let (a, b) = (name_key(a), name_key(b));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    if a == b {
        return true;
    }
    let (short, long) = if a.chars().count() <= b.chars().count() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    (short.chars().count() >= 3 && long.contains(short.as_str()))
        || (short.chars().count() >= 4 && distance(&a, &b) <= 1)
}

/// Why a stored business may be the same as the one typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DuplicateReason {
    CorporateNumber,
    Email,
    Phone,
    CloseName,
}

impl DuplicateReason {
    pub fn code(self) -> &'static str {
        match self {
            Self::CorporateNumber => "CORPORATE_NUMBER",
            Self::Email => "EMAIL",
            Self::Phone => "PHONE",
            Self::CloseName => "CLOSE_NAME",
        }
    }
    pub fn label(self, lang: super::labels::Lang) -> &'static str {
        use super::labels::Lang;
        match (self, lang) {
            (Self::CorporateNumber, Lang::Ja) => "法人番号が同じ",
            (Self::Email, Lang::Ja) => "メールアドレスが同じ",
            (Self::Phone, Lang::Ja) => "電話番号が同じ",
            (Self::CloseName, Lang::Ja) => "同じ市町村で名称が近い",
            (Self::CorporateNumber, Lang::En) => "Same corporate number",
            (Self::Email, Lang::En) => "Same e-mail",
            (Self::Phone, Lang::En) => "Same phone",
            (Self::CloseName, Lang::En) => "Close name in the same municipality",
        }
    }
}

/// The identifying facts of one business (typed or stored) the check compares.
#[derive(Debug, Clone, Default)]
pub struct Identity<'a> {
    pub name: &'a str,
    pub corporate_number: Option<&'a str>,
    pub municipality: Option<&'a str>,
    /// Every e-mail and phone known for it (all contacts).
    pub emails: Vec<&'a str>,
    pub phones: Vec<&'a str>,
}

fn digits(s: &str) -> String {
    fold(s).chars().filter(char::is_ascii_digit).collect()
}

/// The reasons `stored` may duplicate `typed`; empty when it does not. A
/// shared 法人番号 is the only reason given when both have one and they agree;
/// two different 法人番号 are never duplicates.
pub fn duplicate_reasons(typed: &Identity<'_>, stored: &Identity<'_>) -> Vec<DuplicateReason> {
    if let (Some(a), Some(b)) = (typed.corporate_number, stored.corporate_number) {
        return if a == b {
            vec![DuplicateReason::CorporateNumber]
        } else {
            Vec::new()
        };
    }
    let mut out = Vec::new();
    let emails: Vec<String> = stored.emails.iter().map(|e| fold(e)).collect();
    if typed.emails.iter().any(|e| emails.contains(&fold(e))) {
        out.push(DuplicateReason::Email);
    }
    let phones: Vec<String> = stored.phones.iter().map(|p| digits(p)).collect();
    if typed
        .phones
        .iter()
        .map(|p| digits(p))
        .any(|p| p.len() >= 9 && phones.contains(&p))
    {
        out.push(DuplicateReason::Phone);
    }
    let same_place =
        matches!((typed.municipality, stored.municipality), (Some(a), Some(b)) if a == b);
    if same_place && names_close(typed.name, stored.name) {
        out.push(DuplicateReason::CloseName);
    }
    out
}

/// Whether a partner sees the business's contact data (name, e-mail, phone)
/// on a case: only while the business consents to sharing and the partner's
/// own referral on the case is accepted. A pending referral shows the
/// company name, municipality, title and description only.
pub fn partner_sees_contact(consent_to_share: bool, own_referrals: &[ReferralStatus]) -> bool {
    consent_to_share && own_referrals.contains(&ReferralStatus::Accepted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id<'a>(name: &'a str, m: Option<&'a str>) -> Identity<'a> {
        Identity {
            name,
            municipality: m,
            ..Default::default()
        }
    }

    #[test]
    fn names_fold_legal_forms_and_width() {
        assert_eq!(
            name_key("株式会社 テスト製作所"),
            name_key("（株）テスト製作所")
        );
        assert_eq!(name_key("ＡＢＣ商事"), "abc商事");
        assert!(names_close("株式会社りんご農園", "りんご農園"));
        assert!(names_close("津軽りんご農園", "津軽りんご農圓"));
        assert!(!names_close("青森商店", "八戸工業"));
        assert!(!names_close("", "株式会社"));
    }

    #[test]
    fn duplicates_by_number_mail_phone_or_close_name_in_the_same_town() {
        let mut typed = id("りんご農園", Some("青森市"));
        typed.emails = vec!["Info@Ringo.example"];
        typed.phones = vec!["017-700-0000"];
        let mut stored = id("株式会社りんご農園", Some("青森市"));
        stored.emails = vec!["info@ringo.example"];
        stored.phones = vec!["０１７－７００－００００"];
        assert_eq!(
            duplicate_reasons(&typed, &stored),
            [
                DuplicateReason::Email,
                DuplicateReason::Phone,
                DuplicateReason::CloseName
            ]
        );
        let elsewhere = id("りんご農園", Some("八戸市"));
        assert!(duplicate_reasons(&id("りんご農園", Some("青森市")), &elsewhere).is_empty());
        let mut a = id("x", None);
        a.corporate_number = Some("5835678256246");
        let mut b = id("y", None);
        b.corporate_number = Some("5835678256246");
        assert_eq!(
            duplicate_reasons(&a, &b),
            [DuplicateReason::CorporateNumber]
        );
        b.corporate_number = Some("1234567890128");
        b.emails = vec!["same@example.jp"];
        a.emails = vec!["same@example.jp"];
        assert!(duplicate_reasons(&a, &b).is_empty(), "two numbers differ");
    }

    #[test]
    fn bands_and_websites() {
        assert_eq!(employee_band(" ２１-５０ ").unwrap(), "21-50");
        assert!(employee_band("many").is_err());
        assert_eq!(
            website(" https://ringo.example/ ").unwrap(),
            "https://ringo.example/"
        );
        assert!(website("ringo.example").is_err());
        assert!(website("https://a b").is_err());
    }

    #[test]
    fn contact_only_with_consent_and_an_accepted_referral() {
        use ReferralStatus::*;
        assert!(partner_sees_contact(true, &[Accepted]));
        assert!(!partner_sees_contact(false, &[Accepted]));
        assert!(!partner_sees_contact(true, &[Pending]));
        assert!(!partner_sees_contact(true, &[Completed]));
        assert!(!partner_sees_contact(true, &[]));
    }
}
