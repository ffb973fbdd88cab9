//! Hardening tests: limits.
