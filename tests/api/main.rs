//! The integration tests, in one binary so the crate is linked once: the real
//! router over HTTP (and the store, the CLI and the schema files) on SQLite and
//! PostgreSQL. `common` is the one harness; `backend_tests!` makes a
//! `<name>::sqlite` and a `<name>::postgres` test from one body, so a failure
//! names its backend. Run one area with e.g. `cargo test --test api cases_rules::`
//! or one backend with `cargo test --test api ::postgres`.

mod common;

mod api_auth;
mod business;
mod case_counts;
mod cases_concurrency;
mod cases_permissions;
mod cases_rules;
mod cases_scenario;
mod cli;
mod dataloader_queries;
mod deploy;
mod erasure;
mod hardening;
mod intake_batch;
mod live;
mod migrations_match;
mod mutation_statements;
mod notify;
mod notify_instances;
mod onboarding;
mod report_rollup;
mod reports;
mod row_cache;
mod schema;
mod search;
mod status_public;
mod store_story;
