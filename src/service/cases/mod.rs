//! Cases: opening (with the business and the consent to share), editing,
//! stage and status changes, resolving, reopening, closing, rotating the
//! access code, and the reads behind `case`, `caseByReference`, `cases` and
//! `businesses`.
//!
//! [`write`] holds the machinery every case write shares, [`actions`] the
//! case actions (a pure `decide_*` each), [`list`] the reads. Everything is
//! re-exported here, so callers say `service::cases::open_case`.

pub mod actions;
pub mod count;
pub mod list;
pub mod write;

pub use actions::*;
pub use list::*;
pub use write::*;
