//! The annual report as JSON, for a national secretariat collecting many labs'
//! reports: `{"format": "dxdesk.activity-report", "version": 1, …}`, documented
//! in `docs/report-format.md` and `docs/report-format.schema.json`.
//!
//! It holds no personal data: no company names, contact persons, e-mail
//! addresses or phone numbers — only counts, durations, the lab's own name and
//! regions, and the names of partner institutions (organisations).

use crate::domain::report::ActivityReport;
use crate::store::LabRow;
use serde::Serialize;

/// The `format` of the document.
pub const FORMAT: &str = "dxdesk.activity-report";
/// The `version` of the format; bumped on any incompatible change.
pub const VERSION: u32 = 1;

/// The lab the report is about.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabInfo<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub name_en: &'a str,
}

/// The whole document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportDocument<'a> {
    pub format: &'static str,
    pub version: u32,
    /// `dxdesk <version>`.
    pub generator: String,
    pub lab: LabInfo<'a>,
    /// `LAB` (the lab's whole year) or `INSTITUTION` (a partner's own figures).
    pub scope: &'static str,
    pub report: &'a ActivityReport,
}

pub fn document<'a>(lab: &'a LabRow, report: &'a ActivityReport) -> ReportDocument<'a> {
    ReportDocument {
        format: FORMAT,
        version: VERSION,
        generator: format!("dxdesk {}", env!("CARGO_PKG_VERSION")),
        lab: LabInfo {
            code: &lab.code,
            name: &lab.name,
            name_en: &lab.name_en,
        },
        scope: if report.institution.is_some() {
            "INSTITUTION"
        } else {
            "LAB"
        },
        report,
    }
}

/// The document as pretty-printed UTF-8 JSON with a final newline.
pub fn to_json(lab: &LabRow, report: &ActivityReport) -> anyhow::Result<Vec<u8>> {
    let mut v = serde_json::to_vec_pretty(&document(lab, report))?;
    v.push(b'\n');
    Ok(v)
}
