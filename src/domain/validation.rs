//! Input checks for the GraphQL inputs: text lengths, e-mail, Japanese phone numbers, JSIC divisions and topic tags.
//!
//! Each check returns the cleaned value or `DomainError::Invalid` naming the
//! input field, with a Japanese message and its English twin.

use super::error::{DomainError, DomainResult};
use super::text::{fold, halfwidth, is_hyphen_like, to_halfwidth};

/// Most topics a case may carry.
pub const MAX_TOPICS: usize = 10;
/// Longest topic, in characters.
pub const MAX_TOPIC_CHARS: usize = 30;
/// Longest e-mail address (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// Normalises line breaks to `\n` and refuses control characters other than
/// line feed and tab.
fn clean_controls(field: &str, label_ja: &str, value: &str) -> DomainResult<String> {
    let s = value.replace("\r\n", "\n").replace('\r', "\n");
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(DomainError::invalid(
            Some(field),
            format!("{label_ja}に使用できない制御文字が含まれています"),
            format!("{field} contains control characters"),
        ));
    }
    Ok(s)
}

/// A required text: trimmed, not empty, at most `max_chars` characters, no
/// control characters except line feeds and tabs (CR LF becomes LF).
pub fn required_text(
    field: &str,
    label_ja: &str,
    value: &str,
    max_chars: usize,
) -> DomainResult<String> {
    let s = clean_controls(field, label_ja, value.trim())?;
    if s.is_empty() {
        return Err(DomainError::invalid(
            Some(field),
            format!("{label_ja}を入力してください"),
            format!("{field} is required"),
        ));
    }
    let n = s.chars().count();
    if n > max_chars {
        return Err(DomainError::invalid(
            Some(field),
            format!("{label_ja}は{max_chars}文字以内で入力してください（現在{n}文字）"),
            format!("{field} must be at most {max_chars} characters (got {n})"),
        ));
    }
    Ok(s)
}

/// An optional text: `None` or blank gives `None`, otherwise as [`required_text`].
pub fn optional_text(
    field: &str,
    label_ja: &str,
    value: Option<&str>,
    max_chars: usize,
) -> DomainResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => required_text(field, label_ja, v, max_chars).map(Some),
    }
}

fn bad_email(field: &str) -> DomainError {
    DomainError::invalid(
        Some(field),
        "メールアドレスの形式が正しくありません（例: taro@example.jp）",
        "Invalid e-mail address (e.g. taro@example.jp)",
    )
}

const LOCAL_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~.-";

/// An e-mail address: full-width characters folded, trimmed, one `@`, a
/// dot-atom local part (≤ 64), an ASCII domain of at least two labels
/// (lower-cased, each ≤ 63, letters/digits/hyphens, alphabetic TLD), ≤ 254 in all.
pub fn email(field: &str, value: &str) -> DomainResult<String> {
    let v = halfwidth(value);
    let v = v.trim();
    if v.is_empty() {
        return Err(DomainError::invalid(
            Some(field),
            "メールアドレスを入力してください",
            "An e-mail address is required",
        ));
    }
    if v.len() > MAX_EMAIL_LEN {
        return Err(DomainError::invalid(
            Some(field),
            format!("メールアドレスは{MAX_EMAIL_LEN}文字以内で入力してください"),
            format!("The e-mail address must be at most {MAX_EMAIL_LEN} characters"),
        ));
    }
    let (local, domain) = v.split_once('@').ok_or_else(|| bad_email(field))?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let domain = domain.to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_lowercase()));
    if !local_ok || !domain_ok {
        return Err(bad_email(field));
    }
    Ok(format!("{local}@{domain}"))
}

/// An optional e-mail address: `None` or blank gives `None`.
pub fn optional_email(field: &str, value: Option<&str>) -> DomainResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => email(field, v).map(Some),
    }
}

fn bad_phone(field: &str) -> DomainError {
    DomainError::invalid(
        Some(field),
        "電話番号の形式が正しくありません（例: 017-734-1111）",
        "Invalid phone number (e.g. 017-734-1111)",
    )
}

/// A Japanese phone number. Full-width digits, spaces, hyphen look-alikes
/// and parentheses are accepted; a leading `+81` becomes the domestic `0`.
/// After that it must be 10–11 digits starting with 0. Returns the domestic
/// form keeping the caller's grouping with ASCII hyphens: `＋８１ ３（１２３４）５６７８` → `03-1234-5678`.
pub fn phone(field: &str, value: &str) -> DomainResult<String> {
    let mapped: String = value
        .chars()
        .map(to_halfwidth)
        .filter(|c| !c.is_whitespace())
        .map(|c| {
            if is_hyphen_like(c) || c == '(' || c == ')' {
                '-'
            } else {
                c
            }
        })
        .collect();
    if mapped.is_empty() {
        return Err(DomainError::invalid(
            Some(field),
            "電話番号を入力してください",
            "A phone number is required",
        ));
    }
    let domestic = if let Some(rest) = mapped.strip_prefix("+81") {
        let rest = rest.trim_start_matches('-');
        if rest.starts_with('0') {
            rest.to_owned()
        } else {
            format!("0{rest}")
        }
    } else {
        mapped
    };
    if !domestic.chars().all(|c| c.is_ascii_digit() || c == '-') {
        return Err(bad_phone(field));
    }
    let mut out = String::with_capacity(domestic.len());
    for c in domestic.chars() {
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_end_matches('-').to_owned();
    let digits = out.chars().filter(char::is_ascii_digit).count();
    if !(10..=11).contains(&digits) || !out.starts_with('0') {
        return Err(bad_phone(field));
    }
    Ok(out)
}

/// An optional phone number: `None` or blank gives `None`.
pub fn optional_phone(field: &str, value: Option<&str>) -> DomainResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => phone(field, v).map(Some),
    }
}

/// The divisions (大分類) of the Japan Standard Industrial Classification.
/// Each entry is (letter, Japanese name, English name).
pub const JSIC_DIVISIONS: &[(char, &str, &str)] = &[
    ('A', "農業，林業", "Agriculture, forestry"),
    ('B', "漁業", "Fisheries"),
    ('C', "鉱業，採石業，砂利採取業", "Mining"),
    ('D', "建設業", "Construction"),
    ('E', "製造業", "Manufacturing"),
    ('F', "電気・ガス・熱供給・水道業", "Utilities"),
    ('G', "情報通信業", "Information and communications"),
    ('H', "運輸業，郵便業", "Transport and postal"),
    ('I', "卸売業，小売業", "Wholesale and retail"),
    ('J', "金融業，保険業", "Finance and insurance"),
    ('K', "不動産業，物品賃貸業", "Real estate and leasing"),
    (
        'L',
        "学術研究，専門・技術サービス業",
        "Scientific and technical services",
    ),
    ('M', "宿泊業，飲食サービス業", "Accommodation and food"),
    (
        'N',
        "生活関連サービス業，娯楽業",
        "Personal services and amusement",
    ),
    ('O', "教育，学習支援業", "Education"),
    ('P', "医療，福祉", "Medical and welfare"),
    ('Q', "複合サービス事業", "Compound services"),
    ('R', "サービス業（他に分類されないもの）", "Other services"),
    ('S', "公務（他に分類されるものを除く）", "Government"),
    ('T', "分類不能の産業", "Unclassifiable"),
];

/// The Japanese name of a JSIC division letter (either case).
pub fn jsic_label(c: char) -> Option<&'static str> {
    let c = to_halfwidth(c).to_ascii_uppercase();
    JSIC_DIVISIONS
        .iter()
        .find(|(letter, _, _)| *letter == c)
        .map(|(_, name, _)| *name)
}

/// A JSIC division letter A–T (case-insensitive, full-width accepted), for the `industry` field.
pub fn jsic_division(value: &str) -> DomainResult<char> {
    let v = halfwidth(value).trim().to_ascii_uppercase();
    let mut chars = v.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if jsic_label(c).is_some() => Ok(c),
        _ => Err(DomainError::invalid(
            Some("industry"),
            "業種は日本標準産業分類の大分類（A〜T の1文字）で指定してください",
            "industry must be a JSIC division letter A–T",
        )),
    }
}

/// Topic tags for the `topics` field: full-width ASCII folded, trimmed,
/// blanks dropped, duplicates (ignoring case) dropped keeping the first
/// spelling; at most 10 topics of at most 30 characters each.
pub fn topics(values: &[String]) -> DomainResult<Vec<String>> {
    tag_list("topics", "トピック", values)
}

/// A list of short tags under any field name (e.g. an institution's `tags`,
/// label 「タグ」), with the rules of [`topics`].
pub fn tag_list(field: &str, label_ja: &str, values: &[String]) -> DomainResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for raw in values {
        let t = halfwidth(raw).trim().to_owned();
        if t.is_empty() {
            continue;
        }
        let t = clean_controls(field, label_ja, &t)?;
        if t.contains('\n') || t.contains('\t') {
            return Err(DomainError::invalid(
                Some(field),
                format!("{label_ja}に改行やタブは使えません"),
                format!("{field} cannot contain line breaks or tabs"),
            ));
        }
        let n = t.chars().count();
        if n > MAX_TOPIC_CHARS {
            return Err(DomainError::invalid(
                Some(field),
                format!(
                    "{label_ja}は1件{MAX_TOPIC_CHARS}文字以内で入力してください（「{t}」は{n}文字）"
                ),
                format!(
                    "Each of {field} must be at most {MAX_TOPIC_CHARS} characters (\"{t}\" has {n})"
                ),
            ));
        }
        let key = fold(&t);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        out.push(t);
    }
    if out.len() > MAX_TOPICS {
        return Err(DomainError::invalid(
            Some(field),
            format!(
                "{label_ja}は{MAX_TOPICS}件までです（{}件指定されています）",
                out.len()
            ),
            format!(
                "At most {MAX_TOPICS} entries in {field} (got {})",
                out.len()
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn required_and_optional_text() {
        assert_eq!(
            required_text("title", "件名", "  IoT導入の相談 ", 100).unwrap(),
            "IoT導入の相談"
        );
        let e = required_text("title", "件名", " \u{3000}\n", 100).unwrap_err();
        assert_eq!(e.field(), Some("title"));
        assert_eq!(e.message_ja(), "件名を入力してください");
        assert_eq!(e.message_en(), "title is required");
        let e = required_text("title", "件名", "あいうえお", 4).unwrap_err();
        assert_eq!(
            e.message_ja(),
            "件名は4文字以内で入力してください（現在5文字）"
        );
        assert!(required_text("title", "件名", "あいうえ", 4).is_ok());
        assert!(required_text("title", "件名", "a\u{0}b", 10).is_err());
        assert_eq!(
            required_text("d", "説明", "a\r\nb\tc", 10).unwrap(),
            "a\nb\tc"
        );
        assert_eq!(optional_text("note", "メモ", None, 10).unwrap(), None);
        assert_eq!(optional_text("note", "メモ", Some("  "), 10).unwrap(), None);
        assert_eq!(
            optional_text("note", "メモ", Some(" x "), 10).unwrap(),
            Some("x".into())
        );
        assert!(optional_text("note", "メモ", Some("12345678901"), 10).is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(
            email("email", " Taro.Yamada+dx@Example.CO.JP ").unwrap(),
            "Taro.Yamada+dx@example.co.jp"
        );
        assert_eq!(
            email("email", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ").unwrap(),
            "taro@example.jp"
        );
        for bad in [
            "",
            "taro",
            "taro@",
            "@example.jp",
            "taro@example",
            "taro@@example.jp",
            "ta ro@example.jp",
            ".taro@example.jp",
            "ta..ro@example.jp",
            "taro@-example.jp",
            "taro@example.j",
            "taro@例え.jp",
            "太郎@example.jp",
            "taro@example..jp",
            "taro@example.123",
        ] {
            let e = email("email", bad).unwrap_err();
            assert_eq!(e.field(), Some("email"), "{bad}");
        }
        let long = format!("{}@example.jp", "a".repeat(250));
        assert!(email("email", &long).is_err());
        assert_eq!(optional_email("email", Some(" ")).unwrap(), None);
    }

    #[test]
    fn phones() {
        assert_eq!(phone("phone", "017-734-1111").unwrap(), "017-734-1111");
        assert_eq!(
            phone("phone", "０１７－７３４－１１１１").unwrap(),
            "017-734-1111"
        );
        assert_eq!(phone("phone", "0177341111").unwrap(), "0177341111");
        assert_eq!(phone("phone", "090 1234 5678").unwrap(), "09012345678");
        assert_eq!(phone("phone", "+81 3-1234-5678").unwrap(), "03-1234-5678");
        assert_eq!(phone("phone", "+81-90-1234-5678").unwrap(), "090-1234-5678");
        assert_eq!(phone("phone", "03(1234)5678").unwrap(), "03-1234-5678");
        assert_eq!(
            phone("phone", "０３ー１２３４ー５６７８").unwrap(),
            "03-1234-5678"
        );
        for bad in [
            "",
            "12345",
            "1-234-567-8901",
            "017-734-111",
            "090-1234-56789",
            "+1 212 555 0100",
            "03-1234-567a",
            "0120--",
        ] {
            let e = phone("phone", bad).unwrap_err();
            assert_eq!(e.field(), Some("phone"), "{bad}");
        }
        assert_eq!(optional_phone("phone", None).unwrap(), None);
    }

    #[test]
    fn jsic() {
        assert_eq!(jsic_division("e").unwrap(), 'E');
        assert_eq!(jsic_division(" Ｇ ").unwrap(), 'G');
        assert_eq!(jsic_label('E'), Some("製造業"));
        assert_eq!(jsic_label('t'), Some("分類不能の産業"));
        assert_eq!(jsic_label('U'), None);
        assert_eq!(JSIC_DIVISIONS.len(), 20);
        for bad in ["", "U", "EE", "1", "製造業"] {
            assert_eq!(jsic_division(bad).unwrap_err().field(), Some("industry"));
        }
    }

    #[test]
    fn topic_lists() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            topics(&v(&[" IoT ", "", "iot", "ＡＩ", "業務効率化", "ai", "　"])).unwrap(),
            v(&["IoT", "AI", "業務効率化"])
        );
        let many: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert_eq!(topics(&many).unwrap_err().field(), Some("topics"));
        let dup: Vec<String> = (0..15).map(|i| format!("t{}", i % 10)).collect();
        assert_eq!(topics(&dup).unwrap().len(), 10);
        assert!(topics(&v(&[&"あ".repeat(31)])).is_err());
        assert!(topics(&v(&[&"あ".repeat(30)])).is_ok());
        assert!(topics(&v(&["a\nb"])).is_err());
        assert!(topics(&[]).unwrap().is_empty());
        let e = tag_list("tags", "タグ", &v(&[&"x".repeat(31)])).unwrap_err();
        assert_eq!(e.field(), Some("tags"));
        assert!(e.message_ja().starts_with("タグは1件30文字以内"));
    }

    proptest! {
        #[test]
        fn email_never_panics_and_is_idempotent(s in "\\PC{0,80}") {
            if let Ok(e) = email("email", &s) {
                prop_assert_eq!(email("email", &e).unwrap(), e);
            }
        }

        #[test]
        fn email_like_strings(local in "[a-zA-Z0-9._+-]{1,20}", dom in "[a-zA-Z0-9-]{1,10}", tld in "[a-zA-Z]{2,5}") {
            let _ = email("email", &format!("{local}@{dom}.{tld}"));
        }

        #[test]
        fn phone_never_panics_and_is_idempotent(s in "\\PC{0,40}") {
            if let Ok(p) = phone("phone", &s) {
                prop_assert_eq!(phone("phone", &p).unwrap(), p.clone());
                let digits = p.chars().filter(char::is_ascii_digit).count();
                prop_assert!((10..=11).contains(&digits));
            }
        }

        #[test]
        fn phone_like_strings(s in "(\\+81)?[0-9０-９ \\-ー()]{0,20}") {
            let _ = phone("phone", &s);
        }

        #[test]
        fn text_never_exceeds_max(s in "\\PC{0,50}", max in 1usize..40) {
            if let Ok(t) = required_text("f", "項目", &s, max) {
                prop_assert!(t.chars().count() <= max);
                prop_assert!(!t.is_empty());
            }
        }
    }
}
