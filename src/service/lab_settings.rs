//! A lab's settings (issue 11): pick-up days (default 3), extra closure days
//! beyond 12/29–1/3, the escalation repeat interval, the display name and the
//! desk's contact line for the public pages; an institution's own pick-up days.
//! A referral's deadline uses the institution's days if set, else the lab's.

use crate::domain::business_days::{self, ClosureDay};
use crate::domain::permissions::{require_admin, Viewer};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::accounts::LabSettingsRow;
use crate::store::{InstitutionRow, LabRow};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

pub const DEFAULT_PICKUP_DAYS: i64 = 3;
/// The escalation repeat interval when none is set, in business days (the
/// default of `labs.escalation_repeat_days`, which the notification worker
/// reads; `updateLabSettings` writes both in one transaction).
pub const DEFAULT_ESCALATION_REPEAT_DAYS: i64 = 2;

/// The settings as the API shows them.
#[derive(Debug, Clone)]
pub struct LabSettings {
    pub lab_id: Uuid,
    pub pickup_days: i64,
    pub closure_days: Vec<String>,
    pub escalation_repeat_days: i64,
    pub display_name: String,
    pub contact_line: String,
    pub updated_at: Option<DateTime<Utc>>,
}

fn assemble(lab: &LabRow, row: Option<LabSettingsRow>) -> LabSettings {
    LabSettings {
        lab_id: lab.id,
        pickup_days: lab.pickup_days,
        closure_days: row
            .as_ref()
            .map(|r| r.closure_days.0.clone())
            .unwrap_or_default(),
        escalation_repeat_days: row
            .as_ref()
            .and_then(|r| r.escalation_repeat_days)
            .unwrap_or(DEFAULT_ESCALATION_REPEAT_DAYS),
        display_name: row
            .as_ref()
            .and_then(|r| r.display_name.clone())
            .unwrap_or_else(|| lab.name.clone()),
        contact_line: row
            .as_ref()
            .and_then(|r| r.contact_line.clone())
            .unwrap_or_default(),
        updated_at: row.map(|r| r.updated_at),
    }
}

/// The settings of a lab.
pub async fn of_lab(st: &AppState, lab: &LabRow) -> AppResult<LabSettings> {
    Ok(assemble(lab, st.store.lab_settings(lab.id).await?))
}

/// `labSettings`: the viewer's lab's settings (any staff member may read them).
pub async fn get(st: &AppState, v: &Viewer) -> AppResult<LabSettings> {
    let lab = super::cases::lab_of(st, v).await?;
    of_lab(st, &lab).await
}

/// `updateLabSettings(input)`; `None` fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct SettingsInput {
    pub pickup_days: Option<i64>,
    pub closure_days: Option<Vec<String>>,
    pub escalation_repeat_days: Option<i64>,
    pub display_name: Option<String>,
    pub contact_line: Option<String>,
}

fn days_in(field: &str, n: i64, max: i64) -> AppResult<i64> {
    if (1..=max).contains(&n) {
        Ok(n)
    } else {
        Err(AppError::bad_input(
            Some(field),
            format!("1から{max}までの日数にしてください。"),
            format!("Give a number of days from 1 to {max}."),
        ))
    }
}

/// Parses closure days (`2025-08-13` or `--08-14`), sorted and without duplicates.
pub fn parse_closures(list: &[String]) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    for s in list {
        let c = ClosureDay::parse(s).ok_or_else(|| {
            AppError::bad_input(
                Some("closureDays"),
                format!("休業日「{s}」は日付（2025-08-13）か毎年の月日（--08-14）で指定してください。"),
                format!("Closure day {s:?} must be a date (2025-08-13) or a month-day every year (--08-14)."),
            )
        })?;
        let r = c.render();
        if !out.contains(&r) {
            out.push(r);
        }
    }
    if out.len() > 366 {
        return Err(AppError::bad_input(
            Some("closureDays"),
            "休業日は366件までです。",
            "At most 366 closure days.",
        ));
    }
    out.sort();
    Ok(out)
}

pub async fn update(st: &AppState, v: &Viewer, input: SettingsInput) -> AppResult<LabSettings> {
    require_admin(v)?;
    let lab = super::cases::lab_of(st, v).await?;
    let cur = of_lab(st, &lab).await?;
    let pickup_days = match input.pickup_days {
        Some(n) => days_in("pickupDays", n, 30)?,
        None => cur.pickup_days,
    };
    let escalation = match input.escalation_repeat_days {
        Some(n) => days_in("escalationRepeatDays", n, 30)?,
        None => cur.escalation_repeat_days,
    };
    let closure_days = match &input.closure_days {
        Some(list) => parse_closures(list)?,
        None => cur.closure_days.clone(),
    };
    let display_name = match input.display_name.as_deref() {
        Some(n) => crate::domain::validation::required_text("displayName", "表示名", n, 100)?,
        None => cur.display_name.clone(),
    };
    let contact_line = match input.contact_line.as_deref() {
        Some(c) => {
            crate::domain::validation::optional_text("contactLine", "窓口の連絡先", Some(c), 200)?
                .unwrap_or_default()
        }
        None => cur.contact_line.clone(),
    };
    let row = LabSettingsRow {
        lab_id: lab.id,
        display_name: Some(display_name),
        contact_line: Some(contact_line),
        escalation_repeat_days: Some(escalation),
        closure_days: Json(closure_days),
        updated_at: st.now(),
    };
    st.store.save_lab_settings(&row, pickup_days).await?;
    let lab = super::cases::lab_of(st, v).await?;
    of_lab(st, &lab).await
}

/// `setInstitutionPickupDays(id, days)`: an institution's own pick-up days
/// (`None`: the lab's).
pub async fn set_institution_pickup_days(
    st: &AppState,
    v: &Viewer,
    institution_id: Uuid,
    days: Option<i64>,
) -> AppResult<InstitutionRow> {
    require_admin(v)?;
    let inst = st
        .store
        .institution(v.lab_id, institution_id)
        .await?
        .ok_or_else(|| AppError::not_found("連携機関", "Institution"))?;
    let days = days.map(|n| days_in("pickupDays", n, 30)).transpose()?;
    st.store
        .set_institution_pickup_days(inst.id, days, st.now())
        .await?;
    Ok(inst)
}

/// The pick-up deadline of a referral to `institution` made `now`: the
/// institution's pick-up days if set, else the lab's, skipping weekends,
/// public holidays, 12/29–1/3 and the lab's extra closure days.
pub async fn pickup_deadline(
    st: &AppState,
    lab: &LabRow,
    institution: &InstitutionRow,
    now: DateTime<Utc>,
) -> AppResult<DateTime<Utc>> {
    let days = st
        .store
        .institution_pickup_days(institution.id)
        .await?
        .unwrap_or(lab.pickup_days);
    let days = u32::try_from(days.max(0)).unwrap_or(DEFAULT_PICKUP_DAYS as u32);
    let closures: Vec<ClosureDay> = st
        .store
        .lab_settings(lab.id)
        .await?
        .map(|r| r.closure_days.0)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| ClosureDay::parse(s))
        .collect();
    Ok(business_days::pickup_deadline_closed(now, days, &closures))
}
