//! Regression tests for the hardening findings, over HTTP on both backends:
//! the request edge, limits, connections and idempotency, and the audit chain.

#[path = "../common/mod.rs"]
mod common;

mod audit;
mod conn;
mod edge;
mod limits;
