//! Checking a business as typed on the intake screen or the public web form:
//! lengths, 法人番号 (check digit), JSIC division, a municipality of the lab
//! (which gives the region), e-mail and phone.

use crate::domain::validation;
use crate::domain::CorporateNumber;
use crate::error::{AppError, AppResult};
use crate::store::{BusinessRow, LabRow};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Longest company or contact name, in characters.
pub const MAX_NAME: usize = 100;

/// A business as submitted (GraphQL `BusinessInput`).
#[derive(Debug, Clone, Default)]
pub struct BusinessFields {
    pub name: String,
    pub corporate_number: Option<String>,
    pub industry: Option<String>,
    pub municipality: Option<String>,
    pub contact_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Checks the fields and builds a new business row of the lab.
pub fn new_business(
    lab: &LabRow,
    f: &BusinessFields,
    now: DateTime<Utc>,
) -> AppResult<BusinessRow> {
    let name = validation::required_text("name", "事業者名", &f.name, MAX_NAME)?;
    let corporate_number = match f.corporate_number.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) => Some(CorporateNumber::parse(n)?.into_string()),
    };
    let industry = match f.industry.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(i) => Some(validation::jsic_division(i)?.to_string()),
    };
    let (municipality, region) = match f.municipality.as_deref().map(str::trim) {
        None | Some("") => (None, None),
        Some(m) => {
            let region = lab
                .region_of(m)
                .ok_or_else(|| unknown_municipality(lab, m))?;
            (Some(m.to_owned()), Some(region.code.clone()))
        }
    };
    let contact_name = validation::optional_text(
        "contactName",
        "担当者名",
        f.contact_name.as_deref(),
        MAX_NAME,
    )?;
    let email = validation::optional_email("email", f.email.as_deref())?;
    let phone = validation::optional_phone("phone", f.phone.as_deref())?;
    Ok(BusinessRow {
        id: Uuid::now_v7(),
        lab_id: lab.id,
        name,
        corporate_number,
        industry,
        employee_band: None,
        municipality,
        region,
        contact_name,
        email,
        phone,
        created_at: now,
        updated_at: now,
        erased_at: None,
    })
}

fn unknown_municipality(lab: &LabRow, m: &str) -> AppError {
    AppError::bad_input(
        Some("municipality"),
        format!(
            "市町村「{m}」は{}の対象地域にありません。一覧から選んでください。",
            lab.name
        ),
        format!(
            "The municipality {m:?} is not in the area of {}. Choose one from the list.",
            if lab.name_en.is_empty() {
                &lab.code
            } else {
                &lab.name_en
            }
        ),
    )
}

/// The lab whose regions include this municipality, if any.
pub fn lab_of_municipality<'a>(labs: &'a [LabRow], municipality: &str) -> Option<&'a LabRow> {
    let m = municipality.trim();
    labs.iter().find(|l| l.region_of(m).is_some())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::Region;
    use sqlx::types::Json;

    pub fn aomori() -> LabRow {
        LabRow {
            id: Uuid::now_v7(),
            code: "AOM".into(),
            name: "青森県DX推進ラボ".into(),
            name_en: "Aomori DX Lab".into(),
            regions: Json(vec![
                Region {
                    code: "TOSEI".into(),
                    name: "東青".into(),
                    municipalities: vec!["青森市".into(), "平内町".into()],
                },
                Region {
                    code: "SANPACHI".into(),
                    name: "三八".into(),
                    municipalities: vec!["八戸市".into()],
                },
            ]),
            pickup_days: 3,
            created_at: Utc::now(),
        }
    }

    fn fields() -> BusinessFields {
        BusinessFields {
            name: " 株式会社テスト製作所 ".into(),
            corporate_number: Some("５８３５６７８２５６２４６".into()),
            industry: Some("e".into()),
            municipality: Some("八戸市".into()),
            contact_name: Some("".into()),
            email: Some("Info@Example.JP".into()),
            phone: Some("0178-00-0000".into()),
        }
    }

    #[test]
    fn builds_a_clean_row() {
        let lab = aomori();
        let b = new_business(&lab, &fields(), Utc::now()).unwrap();
        assert_eq!(b.name, "株式会社テスト製作所");
        assert_eq!(b.corporate_number.as_deref(), Some("5835678256246"));
        assert_eq!(b.industry.as_deref(), Some("E"));
        assert_eq!(b.region.as_deref(), Some("SANPACHI"));
        assert_eq!(b.contact_name, None);
        assert_eq!(b.email.as_deref(), Some("Info@example.jp"));
        assert_eq!(b.lab_id, lab.id);
    }

    #[test]
    fn refuses_bad_fields_naming_them() {
        let lab = aomori();
        let field = |f: BusinessFields| match new_business(&lab, &f, Utc::now()) {
            Err(AppError::BadInput { field, .. }) => field,
            other => panic!("expected BAD_USER_INPUT, got {other:?}"),
        };
        let mut f = fields();
        f.corporate_number = Some("1234567890123".into());
        assert_eq!(field(f).as_deref(), Some("corporateNumber"));
        let mut f = fields();
        f.municipality = Some("幸田町".into());
        assert_eq!(field(f).as_deref(), Some("municipality"));
        let mut f = fields();
        f.name = "あ".repeat(101);
        assert_eq!(field(f).as_deref(), Some("name"));
        let mut f = fields();
        f.industry = Some("Z".into());
        assert_eq!(field(f).as_deref(), Some("industry"));
        let mut f = fields();
        f.phone = Some("12345".into());
        assert_eq!(field(f).as_deref(), Some("phone"));
    }

    #[test]
    fn finds_the_lab_of_a_municipality() {
        let labs = vec![aomori()];
        assert_eq!(lab_of_municipality(&labs, " 青森市 ").unwrap().code, "AOM");
        assert!(lab_of_municipality(&labs, "幸田町").is_none());
    }
}
