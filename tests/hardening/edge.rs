//! Hardening tests: edge.
