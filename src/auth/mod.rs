//! Sign-in: passwords, access tokens, refresh sessions, and turning a bearer
//! token into the `Viewer` of a request.

pub mod jwt;
pub mod password;
pub mod service;

pub use service::{authenticate, login, logout, refresh, AuthOutcome, Authn};
