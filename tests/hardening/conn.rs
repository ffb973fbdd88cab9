//! Hardening tests: conn.
