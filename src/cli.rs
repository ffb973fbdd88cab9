//! The `dxdesk` command line: `serve`, `seed-demo`, `audit verify`, `report`, `schema`, `labels`.

use crate::app::Application;
use crate::config::Config;
use crate::state::AppState;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "dxdesk",
    version,
    about = "dxdesk — 地域DX推進ラボの DX総合窓口 チケットシステム"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API and the web front end on DXDESK_BIND.
    Serve,
    /// Load the reference labs, demo accounts and demo cases (idempotent).
    SeedDemo,
    /// Tamper checks of the support record.
    Audit {
        #[command(subcommand)]
        what: AuditCommand,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Print the web front end's label table (TypeScript), generated from the domain's labels.
    Labels,
    /// Write a lab's fiscal-year activity report (JSON) or its cases/referrals (CSV).
    Report {
        /// The fiscal year, e.g. 2024 (= 令和6年度, April 2024 – March 2025).
        #[arg(long)]
        fiscal_year: i32,
        #[arg(long, value_enum, default_value = "json")]
        format: crate::report::CliFormat,
        /// The lab's code (e.g. AOM); needed when the deployment has several labs.
        #[arg(long)]
        lab: Option<String>,
        /// What the CSV holds.
        #[arg(long, value_enum, default_value = "cases")]
        kind: crate::report::ExportKind,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Re-check every case's hash chain; exits non-zero on a break.
    Verify,
}

/// Runs a command; the exit code is the process's.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            return Ok(0);
        }
        Command::Labels => {
            print!("{}", crate::domain::labels::typescript());
            return Ok(0);
        }
        _ => {}
    }
    let config = Config::from_env()?;
    crate::telemetry::init(config.log_format);
    match cli.command {
        Command::Serve => {
            config.check_for_serve()?;
            if config.jwt_secret.is_none() {
                tracing::warn!("DXDESK_JWT_SECRET is not set: using a random secret for this process (development only; sessions end when it stops)");
            }
            let store = crate::store::connect(&config.database_url).await?;
            let bind = config.bind;
            let state = AppState::new(store, config);
            let app = Application::bind(state, bind).await?;
            tracing::info!(addr = %app.local_addr(), "dxdesk listening");
            println!("dxdesk: http://{}/", app.local_addr());
            app.run().await?;
            Ok(0)
        }
        Command::SeedDemo => {
            let store = crate::store::connect(&config.database_url).await?;
            let state = AppState::new(store, config);
            let r = crate::seed::seed_demo(&state).await?;
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error of ours.
            let _ = writeln!(
                out,
                "seed-demo: {} labs, {} institutions added, {} accounts added, {} cases added",
                r.labs, r.institutions_added, r.users_added, r.cases_added
            );
            for line in crate::seed::login_lines() {
                let _ = writeln!(out, "{line}");
            }
            Ok(0)
        }
        Command::Audit {
            what: AuditCommand::Verify,
        } => {
            let store = crate::store::connect(&config.database_url).await?;
            let r = crate::service::audit::verify_all(store.as_ref()).await?;
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let Some(first) = r.broken.first() else {
                let _ = writeln!(
                    out,
                    "audit verify: OK — {} cases, {} events, every hash chain intact",
                    r.cases, r.events
                );
                return Ok(0);
            };
            for b in &r.broken {
                let _ = writeln!(
                    out,
                    "audit verify: BROKEN {} (case {}) at event {}: {}",
                    b.reference, b.case_id, b.seq, b.why
                );
            }
            let _ = writeln!(
                out,
                "audit verify: FAILED — {} of {} cases broken; first: {}",
                r.broken.len(),
                r.cases,
                first.reference
            );
            Ok(1)
        }
        Command::Report {
            fiscal_year,
            format,
            lab,
            kind,
            output,
        } => {
            let store = crate::store::connect(&config.database_url).await?;
            crate::report::run_cli(
                store.as_ref(),
                fiscal_year,
                format,
                lab.as_deref(),
                kind,
                output.as_deref(),
                crate::clock::trunc(chrono::Utc::now()),
            )
            .await?;
            Ok(0)
        }
        Command::Schema | Command::Labels => unreachable!(),
    }
}
