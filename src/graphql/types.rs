//! GraphQL object types of the directory: `User`, `Lab`, `Region`, `Institution`.

use super::loaders::{from_load, InstitutionKey, Loaders};
use crate::domain::types::{InstitutionKind, Role};
use crate::store::{InstitutionRow, LabRow, Region as RegionRow, UserRow};
use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

/// A staff account.
pub struct User(pub UserRow);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    async fn role(&self) -> Role {
        self.0.role
    }
    /// Whether the account may sign in.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// The partner institution of a `PARTNER` user.
    async fn institution(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Institution>> {
        let Some(id) = self.0.institution_id else {
            return Ok(None);
        };
        let row = ctx
            .data_unchecked::<Loaders>()
            .load_one(InstitutionKey(id))
            .await
            .map_err(from_load)?;
        Ok(row.map(Institution))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Whether the account has a password (false until its set-password link is used).
    async fn has_password(&self) -> bool {
        self.0.password_hash.starts_with('$')
    }
    /// The language the user reads the desk in: `JA` (default) or `EN`.
    async fn language(&self, ctx: &Context<'_>) -> crate::error::AppResult<String> {
        crate::service::accounts::language_of(super::state(ctx), self.0.id).await
    }
}

/// A region of a lab and its municipalities.
#[derive(SimpleObject, Clone)]
pub struct Region {
    pub code: String,
    pub name: String,
    pub municipalities: Vec<String>,
}

impl From<&RegionRow> for Region {
    fn from(r: &RegionRow) -> Self {
        Region {
            code: r.code.clone(),
            name: r.name.clone(),
            municipalities: r.municipalities.clone(),
        }
    }
}

/// A DX promotion lab (the tenant).
pub struct Lab {
    pub row: LabRow,
}

#[Object]
impl Lab {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    /// Short code used in case references, e.g. `AOM`.
    async fn code(&self) -> &str {
        &self.row.code
    }
    async fn name(&self) -> &str {
        &self.row.name
    }
    async fn name_en(&self) -> &str {
        &self.row.name_en
    }
    async fn regions(&self) -> Vec<Region> {
        self.row.regions.iter().map(Region::from).collect()
    }
    /// Business days a partner has to pick up a referral.
    async fn pickup_days(&self) -> i64 {
        self.row.pickup_days
    }
}

/// A partner institution of a lab.
pub struct Institution(pub InstitutionRow);

#[Object]
impl Institution {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn kind(&self) -> InstitutionKind {
        self.0.kind
    }
    /// Specialty tags, e.g. IoT, AI, 資金調達.
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    /// Region codes it covers; empty means the whole lab area.
    async fn regions(&self) -> &[String] {
        &self.0.regions
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The institution's own pick-up days for referrals; null: the lab's.
    async fn pickup_days(&self, ctx: &Context<'_>) -> crate::error::AppResult<Option<i64>> {
        super::state(ctx)
            .store
            .institution_pickup_days(self.0.id)
            .await
    }
}
