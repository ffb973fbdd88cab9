//! The use-cases of the case area: opening and editing cases,
//! referrals, notes, the public status check, the web consultation form,
//! routing suggestions and the audit of the support record.
//!
//! Resolvers stay thin: they parse arguments, call a function here and wrap
//! the rows it returns. Every rule comes from `crate::domain`; who may see
//! what is decided in one place, [`access`]. Decisions that change a case are
//! pure functions of the locked [`CaseSnapshot`](crate::store::CaseSnapshot)
//! (see `decide_*`), so they are unit-tested without a database.

pub mod access;
pub mod accounts;
pub mod audit;
pub mod business;
pub mod cases;
pub mod consultation;
pub mod disclosure;
pub mod erasure;
pub mod events;
pub mod institutions;
pub mod intake;
pub mod lab_import;
pub mod lab_settings;
pub mod live;
pub mod notes;
pub mod notify;
pub mod referrals;
pub mod reports;
pub mod status;
pub mod suggest;
pub mod users;

#[cfg(test)]
mod tests;

/// Longest case title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest description, note body or summary, in characters.
pub const MAX_TEXT: usize = 4000;
/// Longest short note (a referral note, a decision note), in characters.
pub const MAX_NOTE: usize = 2000;
