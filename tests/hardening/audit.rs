//! Hardening tests: audit.
