//! CSV exports of a fiscal year, for Japanese Excel: UTF-8 with a byte-order
//! mark, CRLF line ends, a Japanese header row, times in Japan time
//! (`2024-04-01 09:30:00`), enum values as their Japanese labels.
//!
//! No personal data beyond the company name: never the contact person, e-mail
//! or phone, nor free text (titles, descriptions, notes, summaries) that could
//! hold some. Cells that Excel would read as a formula (starting with `=`, `+`,
//! `-`, `@`, tab or CR) get a leading `'`.

use crate::domain::business_days::{business_days_between, is_overdue};
use crate::domain::report::round_days;
use crate::domain::types::CaseStatus;
use crate::domain::validation::jsic_label;
use crate::store::reports::{CaseExportRow, ReferralExportRow};
use crate::store::LabRow;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use uuid::Uuid;

/// The UTF-8 byte-order mark that makes Excel read the file as UTF-8.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The header of the cases CSV.
pub const CASE_HEADER: [&str; 17] = [
    "受付番号",
    "受付日時",
    "事業者名",
    "業種コード",
    "業種",
    "地域",
    "市町村",
    "受付経路",
    "段階",
    "状態",
    "優先度",
    "トピック",
    "紹介件数",
    "解決日時",
    "終了日時",
    "成果",
    "成果コード",
];

/// The header of the referrals CSV.
pub const REFERRAL_HEADER: [&str; 11] = [
    "受付番号",
    "事業者名",
    "紹介先機関",
    "状態",
    "辞退理由",
    "紹介日時",
    "受付期限",
    "応答日時",
    "応答までの営業日数",
    "完了日時",
    "期限超過",
];

/// A time as Japanese wall-clock text, `YYYY-MM-DD HH:MM:SS`.
pub fn jst_text(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn opt_time(t: Option<DateTime<Utc>>) -> String {
    t.map(jst_text).unwrap_or_default()
}

/// Neutralises a cell Excel would evaluate as a formula.
pub fn safe_cell(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
    }
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(BOM.to_vec())
}

fn finish(w: csv::Writer<Vec<u8>>) -> anyhow::Result<Vec<u8>> {
    w.into_inner()
        .map_err(|e| anyhow::anyhow!("writing CSV: {}", e.error()))
}

/// The cells of one case row, in [`CASE_HEADER`] order.
pub fn case_cells(lab: &LabRow, r: &CaseExportRow, topics: &[&str]) -> Vec<String> {
    let industry = r.industry.clone().unwrap_or_default();
    let industry_label = industry
        .chars()
        .next()
        .filter(|_| industry.chars().count() == 1)
        .and_then(jsic_label)
        .unwrap_or("")
        .to_owned();
    let region = r
        .region
        .as_deref()
        .map(|code| {
            lab.regions
                .iter()
                .find(|x| x.code == code)
                .map_or_else(|| code.to_owned(), |x| x.name.clone())
        })
        .unwrap_or_default();
    let status = match r.status {
        CaseStatus::New | CaseStatus::InProgress if r.referred != 0 => CaseStatus::Referred,
        s => s,
    };
    vec![
        r.reference.clone(),
        jst_text(r.created_at),
        safe_cell(&r.business_name),
        industry,
        industry_label,
        safe_cell(&region),
        safe_cell(r.municipality.as_deref().unwrap_or("")),
        r.channel.label_ja().to_owned(),
        r.stage.label_ja().to_owned(),
        status.label_ja().to_owned(),
        r.priority.label_ja().to_owned(),
        safe_cell(&topics.join("、")),
        r.referral_count.to_string(),
        opt_time(r.resolved_at),
        opt_time(r.closed_at),
        r.outcomes
            .iter()
            .map(|o| o.label_ja())
            .collect::<Vec<_>>()
            .join("、"),
        r.outcomes
            .iter()
            .map(|o| o.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    ]
}

/// The cases CSV.
pub fn cases_csv(
    lab: &LabRow,
    rows: &[CaseExportRow],
    topics: &[(Uuid, String)],
) -> anyhow::Result<Vec<u8>> {
    let mut by_case: HashMap<Uuid, Vec<&str>> = HashMap::new();
    for (id, t) in topics {
        by_case.entry(*id).or_default().push(t);
    }
    // The same order on both backends (PostgreSQL's collation may differ from SQLite's).
    for v in by_case.values_mut() {
        v.sort_unstable();
    }
    let mut w = writer();
    w.write_record(CASE_HEADER)?;
    for r in rows {
        let t = by_case.get(&r.id).map(Vec::as_slice).unwrap_or(&[]);
        w.write_record(case_cells(lab, r, t))?;
    }
    finish(w)
}

/// The cells of one referral row, in [`REFERRAL_HEADER`] order. In a partner's
/// export a declined referral's case is one they may no longer read: its
/// reference and company are left blank.
pub fn referral_cells(r: &ReferralExportRow, partner: bool, now: DateTime<Utc>) -> Vec<String> {
    let hide = partner && r.status == crate::domain::types::ReferralStatus::Declined;
    let decided = r
        .decided_at
        .filter(|_| {
            matches!(
                r.status,
                crate::domain::types::ReferralStatus::Accepted
                    | crate::domain::types::ReferralStatus::Completed
                    | crate::domain::types::ReferralStatus::Declined
            )
        })
        .map(|d| format!("{:.2}", round_days(business_days_between(r.created_at, d))))
        .unwrap_or_default();
    let overdue = r.status == crate::domain::types::ReferralStatus::Pending
        && is_overdue(r.pickup_deadline, now);
    vec![
        if hide {
            String::new()
        } else {
            r.reference.clone()
        },
        if hide {
            String::new()
        } else {
            safe_cell(&r.business_name)
        },
        safe_cell(&r.institution_name),
        r.status.label_ja().to_owned(),
        r.reason.map(|x| x.label_ja()).unwrap_or("").to_owned(),
        jst_text(r.created_at),
        jst_text(r.pickup_deadline),
        opt_time(r.decided_at),
        decided,
        opt_time(r.completed_at),
        if overdue { "はい" } else { "" }.to_owned(),
    ]
}

/// The referrals CSV.
pub fn referrals_csv(
    rows: &[ReferralExportRow],
    partner: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<u8>> {
    let mut w = writer();
    w.write_record(REFERRAL_HEADER)?;
    for r in rows {
        w.write_record(referral_cells(r, partner, now))?;
    }
    finish(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(safe_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe_cell("-1"), "'-1");
        assert_eq!(safe_cell("株式会社あおもり"), "株式会社あおもり");
        assert_eq!(safe_cell(""), "");
    }

    #[test]
    fn times_are_japan_time() {
        use crate::domain::jst;
        let t = jst::start_of_day(chrono::NaiveDate::from_ymd_opt(2025, 4, 1).unwrap());
        assert_eq!(jst_text(t), "2025-04-01 00:00:00");
    }

    #[test]
    fn file_starts_with_bom_and_uses_crlf() {
        let bytes = referrals_csv(&[], false, Utc::now()).unwrap();
        assert!(bytes.starts_with(BOM));
        assert!(String::from_utf8(bytes).unwrap().ends_with("\r\n"));
    }
}
