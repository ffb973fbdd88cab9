//! Rows as the store reads and writes them, shared by both backends.

use crate::domain::types::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Region {
    pub code: String,
    pub name: String,
    pub municipalities: Vec<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LabRow {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub regions: Json<Vec<Region>>,
    pub pickup_days: i64,
    pub created_at: DateTime<Utc>,
}

impl LabRow {
    /// The region code of a municipality of this lab.
    pub fn region_of(&self, municipality: &str) -> Option<&Region> {
        self.regions
            .iter()
            .find(|r| r.municipalities.iter().any(|m| m == municipality))
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InstitutionRow {
    pub id: Uuid,
    pub lab_id: Uuid,
    pub name: String,
    pub kind: InstitutionKind,
    pub tags: Json<Vec<String>>,
    pub regions: Json<Vec<String>>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub lab_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub institution_id: Option<Uuid>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserRow {
    pub fn viewer(&self) -> crate::domain::permissions::Viewer {
        crate::domain::permissions::Viewer {
            user_id: self.id,
            lab_id: self.lab_id,
            role: self.role,
            institution_id: self.institution_id,
            display_name: self.display_name.clone(),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub token_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// How many hits a throttling bucket holds in a window, and when the oldest came.
#[derive(Debug, Clone, Copy, Default)]
pub struct RateWindow {
    pub count: i64,
    pub oldest: Option<DateTime<Utc>>,
}

/// One atomic throttling step (`rate_take`): count the key's hits after
/// `since`, and record a hit at `at`, named `token`, when fewer than `max`
/// are there — or in any case with `count_refused` (look-ups where every
/// attempt counts).
#[derive(Debug, Clone, Copy)]
pub struct RateTake<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub token: &'a str,
    pub at: DateTime<Utc>,
    pub since: DateTime<Utc>,
    pub max: i64,
    pub count_refused: bool,
}

/// What a take saw: the hits before it, and whether it got in.
#[derive(Debug, Clone, Copy)]
pub struct RateTaken {
    pub allowed: bool,
    /// The window before this take's own hit.
    pub before: RateWindow,
}
