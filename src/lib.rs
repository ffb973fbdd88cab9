//! dxdesk: the ticketing system of a one-stop DX consultation desk.
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod onboarding_cli;
pub mod ratelimit;
pub mod seed;
pub mod server;
pub mod service;
pub mod state;
pub mod store;
pub mod telemetry;
