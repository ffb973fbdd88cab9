//! `dxdesk seed-demo`: the two reference labs (from `data/labs.json`, copied
//! into the project), their institutions, the demo accounts and demo cases.
//! Running it twice changes nothing the second time.

pub mod cases;
pub mod labs;

use crate::auth::password;
use crate::domain::types::Role;
use crate::error::AppResult;
use crate::state::AppState;
use crate::store::UserRow;
use uuid::Uuid;

pub const DEMO_PASSWORD: &str = "demo-pass-2024";

/// A demo account: email, display name, role, lab code, institution name.
pub struct DemoAccount {
    pub email: &'static str,
    pub display_name: &'static str,
    pub role: Role,
    pub lab: &'static str,
    pub institution: Option<&'static str>,
}

pub const DEMO_ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        email: "admin@aomori.example",
        display_name: "青森県DX推進課（事務局）",
        role: Role::Admin,
        lab: "AOM",
        institution: None,
    },
    DemoAccount {
        email: "concierge@aomori.example",
        display_name: "DXコンシェルジュ 佐藤",
        role: Role::Concierge,
        lab: "AOM",
        institution: None,
    },
    DemoAccount {
        email: "partner.center@aomori.example",
        display_name: "産業技術センター 工藤",
        role: Role::Partner,
        lab: "AOM",
        institution: Some("地方独立行政法人青森県産業技術センター"),
    },
    DemoAccount {
        email: "partner.bank@aomori.example",
        display_name: "青森銀行 成田",
        role: Role::Partner,
        lab: "AOM",
        institution: Some("株式会社青森銀行"),
    },
    DemoAccount {
        email: "partner.univ@aomori.example",
        display_name: "弘前大学 木村",
        role: Role::Partner,
        lab: "AOM",
        institution: Some("弘前大学"),
    },
    DemoAccount {
        email: "admin@koda.example",
        display_name: "幸田町企業立地課（事務局）",
        role: Role::Admin,
        lab: "KOD",
        institution: None,
    },
];

/// What a seed run did.
#[derive(Debug, Default)]
pub struct SeedReport {
    pub labs: usize,
    pub institutions_added: usize,
    pub users_added: usize,
    pub cases_added: usize,
}

/// Loads everything; safe to run again.
pub async fn seed_demo(state: &AppState) -> anyhow::Result<SeedReport> {
    let mut report = seed_directory(state).await?;
    crate::service::reports::kpi::seed_reference_targets(state.store.as_ref(), state.now()).await?;
    report.cases_added = cases::seed_cases(state).await?;
    Ok(report)
}

/// The labs, their institutions and the demo accounts, without demo cases
/// (what the API tests start from).
pub async fn seed_directory(state: &AppState) -> anyhow::Result<SeedReport> {
    let mut report = SeedReport::default();
    let (labs, added) = labs::seed_labs(state).await?;
    report.labs = labs;
    report.institutions_added = added;
    report.users_added = seed_accounts(state).await?;
    Ok(report)
}

async fn seed_accounts(state: &AppState) -> AppResult<usize> {
    let store = state.store.as_ref();
    let mut added = 0;
    for a in DEMO_ACCOUNTS {
        if store.user_by_email(a.email).await?.is_some() {
            continue;
        }
        let lab = store.lab_by_code(a.lab).await?.ok_or_else(|| {
            crate::error::AppError::internal(anyhow::anyhow!("lab {} missing", a.lab))
        })?;
        let institution_id = match a.institution {
            Some(name) => store
                .institutions(lab.id)
                .await?
                .into_iter()
                .find(|i| i.name == name)
                .map(|i| i.id),
            None => None,
        };
        let hash = password::hash_async(DEMO_PASSWORD.to_owned())
            .await
            .map_err(crate::error::AppError::internal)?;
        let now = state.now();
        store
            .insert_user(&UserRow {
                id: Uuid::now_v7(),
                lab_id: lab.id,
                email: a.email.to_owned(),
                display_name: a.display_name.to_owned(),
                password_hash: hash,
                role: a.role,
                institution_id,
                active: true,
                created_at: now,
                updated_at: now,
            })
            .await?;
        added += 1;
    }
    Ok(added)
}

/// The lines `seed-demo` prints.
pub fn login_lines() -> Vec<String> {
    let mut lines = vec!["デモアカウント / demo logins (password: demo-pass-2024):".to_owned()];
    for a in DEMO_ACCOUNTS {
        lines.push(format!(
            "  {:<32} {:<10} {}",
            a.email,
            a.role.as_str(),
            a.institution.unwrap_or(a.lab)
        ));
    }
    lines
}
