//! Regression tests for the hardening findings, over HTTP on both backends:
//! the request edge, limits, connections and idempotency, and the audit chain.

mod audit;
mod conn;
mod edge;
mod limits;
