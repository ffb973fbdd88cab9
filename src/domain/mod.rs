//! Pure domain types and rules of dxdesk: no I/O, no database, no HTTP.
//!
//! Everything here is deterministic (except [`access_code::generate`], which
//! draws from the OS random source) and unit-tested in place.

pub mod access_code;
pub mod business;
pub mod business_days;
pub mod case_actions;
pub mod case_state;
pub mod corporate_number;
pub mod error;
pub mod events;
pub mod fiscal_year;
pub mod hash_chain;
pub mod jst;
pub mod lab_file;
pub mod labels;
pub mod ngram;
pub mod notify;
pub mod password_policy;
pub mod permissions;
pub mod reference;
pub mod referral_state;
pub mod report;
pub mod seal;
pub mod stats;
pub mod suggest;
pub mod text;
pub mod types;
pub mod validation;

pub use corporate_number::CorporateNumber;
pub use error::{DomainError, DomainResult};
pub use hash_chain::ChainLink;
pub use permissions::{Denied, Viewer};
pub use suggest::{InstitutionProfile, SuggestInput, Suggestion};
pub use types::{
    CaseStatus, Channel, DeclineReason, EventKind, InstitutionKind, NoteVisibility, Outcome,
    Priority, ReferralStatus, Role, Stage,
};
