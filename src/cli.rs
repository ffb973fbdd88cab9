//! The `dxdesk` command line: `serve`, `migrate`, `seed-demo`, `lab import`,
//! `user create`, `audit verify|reseal`, `report`, `schema`, `labels`, `healthcheck`.

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
    /// Apply the database migrations (as the owner role: DXDESK_MIGRATE_DATABASE_URL,
    /// else DATABASE_URL), and optionally grant the app's PostgreSQL role its rights.
    Migrate {
        /// A PostgreSQL role that must own nothing: gets DML on the app's tables,
        /// only INSERT/SELECT on case_events (see docs/postgres-roles.sql).
        #[arg(long, value_name = "ROLE")]
        grant_app_role: Option<String>,
    },
    /// Load the reference labs, demo accounts and demo cases (idempotent).
    /// Refused under DXDESK_ENV=production unless --i-know-this-is-demo-data.
    SeedDemo {
        /// Load the demo (published passwords, undeletable demo cases) even in production.
        #[arg(long = "i-know-this-is-demo-data")]
        i_know_this_is_demo_data: bool,
    },
    /// Create or update labs from a lab file (docs/lab-file.md).
    Lab {
        #[command(subcommand)]
        what: crate::onboarding_cli::LabCommand,
    },
    /// Staff accounts.
    User {
        #[command(subcommand)]
        what: crate::onboarding_cli::UserCommand,
    },
    /// Tamper checks of the support record.
    Audit {
        #[command(subcommand)]
        what: AuditCommand,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Print the web front end's label table (TypeScript), generated from the domain's labels.
    Labels,
    /// Exit 0 when the server on DXDESK_BIND (or --url) answers `/healthz`:
    /// the container's health check, which needs no shell or curl.
    Healthcheck {
        /// Base URL to probe instead of DXDESK_BIND, e.g. http://127.0.0.1:8080
        #[arg(long)]
        url: Option<String>,
    },
    /// Write a lab's fiscal-year activity report (JSON) or its cases/referrals (CSV).
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Report {
        #[command(subcommand)]
        action: Option<ReportCommand>,
        /// The fiscal year, e.g. 2024 (= 令和6年度, April 2024 – March 2025).
        #[arg(long, required = true)]
        fiscal_year: Option<i32>,
        #[arg(long, value_enum, default_value = "json")]
        format: crate::service::reports::CliFormat,
        /// The lab's code (e.g. AOM); needed when the deployment has several labs.
        #[arg(long)]
        lab: Option<String>,
        /// What the CSV holds.
        #[arg(long, value_enum, default_value = "cases")]
        kind: crate::service::reports::ExportKind,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Rebuild the activity report's rollup from the cases (the report of a
    /// lab reads it; every case write keeps it up to date, this is for safety).
    RebuildRollup,
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Re-check every case's hash chain, and its seal with DXDESK_AUDIT_KEY
    /// (or DXDESK_AUDIT_KEY_PREVIOUS); exits non-zero on a break.
    Verify {
        /// Also fail when a case has no seal (after `audit reseal`, none should).
        #[arg(long)]
        require_sealed: bool,
    },
    /// Re-seal every intact case with DXDESK_AUDIT_KEY (after setting a key for
    /// the first time, or with DXDESK_AUDIT_KEY_PREVIOUS to rotate keys).
    Reseal,
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
        Command::Healthcheck { url } => {
            let target = crate::http::health::probe_target(
                url.as_deref(),
                std::env::var("DXDESK_BIND").ok().as_deref(),
            )?;
            return Ok(match crate::http::health::probe(&target).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("healthcheck: {target}: {e}");
                    1
                }
            });
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
            if config.is_production() && config.audit_key.is_none() {
                tracing::warn!("DXDESK_AUDIT_KEY is not set: case records are hash-chained but not sealed, so someone with database access can rewrite a chain undetected (set at least 32 random bytes, e.g. `openssl rand -base64 48`)");
            }
            let store = crate::store::connect_for(&config).await?;
            if let Some(pg) = store.as_any().downcast_ref::<crate::store::PgStore>() {
                if config.is_production()
                    && crate::store::roles::can_alter_the_record(pg.pool()).await?
                {
                    tracing::warn!("the database role can drop the append-only triggers of case_events (a superuser or the tables' owner): run serve as a role that owns nothing (`dxdesk migrate --grant-app-role ROLE`, docs/postgres-roles.sql)");
                }
            }
            let bind = config.bind;
            let state = AppState::new(store, config);
            let app = Application::bind(state, bind).await?;
            tracing::info!(addr = %app.local_addr(), "dxdesk listening");
            println!("dxdesk: http://{}/", app.local_addr());
            app.run().await?;
            Ok(0)
        }
        Command::Migrate { grant_app_role } => {
            let url = std::env::var("DXDESK_MIGRATE_DATABASE_URL")
                .ok()
                .filter(|u| !u.trim().is_empty())
                .unwrap_or_else(|| config.database_url.clone());
            crate::store::migrate(&url, grant_app_role.as_deref()).await?;
            match grant_app_role {
                Some(role) => println!("migrate: migrations applied; role {role} may use the app's tables (INSERT/SELECT only on case_events)"),
                None => println!("migrate: migrations applied"),
            }
            Ok(0)
        }
        Command::Lab { what } => crate::onboarding_cli::lab(&config, what).await,
        Command::User { what } => crate::onboarding_cli::user(config, what).await,
        Command::SeedDemo {
            i_know_this_is_demo_data,
        } => {
            if config.is_production() && !i_know_this_is_demo_data {
                anyhow::bail!("seed-demo refused: DXDESK_ENV=production and the demo has published passwords and demo cases that can never be deleted; set up a real lab with `dxdesk lab import FILE.json` and `dxdesk user create …` (or pass --i-know-this-is-demo-data)");
            }
            let store = crate::store::connect_for(&config).await?;
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
        Command::Audit { what } => {
            let store = crate::store::connect_for(&config).await?;
            let keys: Vec<&crate::domain::seal::SealKey> =
                [&config.audit_key, &config.audit_key_previous]
                    .into_iter()
                    .flatten()
                    .collect();
            let label = match what {
                AuditCommand::Verify { .. } => "audit verify",
                AuditCommand::Reseal => "audit reseal",
            };
            let (r, require_sealed) = match what {
                AuditCommand::Verify { require_sealed } => (
                    crate::service::audit::verify_all_with(store.as_ref(), &keys).await?,
                    require_sealed,
                ),
                AuditCommand::Reseal => {
                    if config.audit_key.is_none() {
                        anyhow::bail!("audit reseal needs DXDESK_AUDIT_KEY (and DXDESK_AUDIT_KEY_PREVIOUS to rotate)");
                    }
                    let r = crate::service::audit::reseal_all(
                        store.as_ref(),
                        &keys,
                        crate::clock::trunc(chrono::Utc::now()),
                    )
                    .await?;
                    println!(
                        "audit reseal: {} cases sealed with the current key",
                        r.resealed
                    );
                    (r, false)
                }
            };
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let seals = if keys.is_empty() {
                format!(
                    "seals not checked (no DXDESK_AUDIT_KEY): {} sealed, {} unsigned",
                    r.unchecked, r.unsigned
                )
            } else {
                format!("{} sealed, {} unsigned", r.sealed, r.unsigned)
            };
            let Some(first) = r.broken.first() else {
                if require_sealed && r.unsigned + r.unchecked > 0 {
                    let _ = writeln!(
                        out,
                        "{label}: FAILED — {} of {} cases are not sealed under the given keys ({seals})",
                        r.unsigned + r.unchecked,
                        r.cases
                    );
                    return Ok(1);
                }
                let _ = writeln!(
                    out,
                    "{label}: OK — {} cases, {} events, every hash chain intact; {seals}",
                    r.cases, r.events
                );
                return Ok(0);
            };
            for b in &r.broken {
                let _ = writeln!(
                    out,
                    "{label}: BROKEN {} (case {}) at event {}: {}",
                    b.reference, b.case_id, b.seq, b.why
                );
            }
            let _ = writeln!(
                out,
                "{label}: FAILED — {} of {} cases broken; first: {}; {seals}",
                r.broken.len(),
                r.cases,
                first.reference
            );
            Ok(1)
        }
        Command::Report {
            action: Some(ReportCommand::RebuildRollup),
            ..
        } => {
            let store = crate::store::connect_for(&config).await?;
            let started = std::time::Instant::now();
            let r = store.rebuild_rollup().await?;
            println!(
                "rollup rebuilt from {} cases in {:.1} s: {} cells, {} business-years, {} stage moves, {} pick-ups, {} resolution rows",
                r.cases,
                started.elapsed().as_secs_f64(),
                r.cells,
                r.business_years,
                r.moves,
                r.pickups,
                r.resolutions
            );
            Ok(0)
        }
        Command::Report {
            action: None,
            fiscal_year,
            format,
            lab,
            kind,
            output,
        } => {
            let store = crate::store::connect_for(&config).await?;
            crate::service::reports::run_cli(
                store.as_ref(),
                fiscal_year.unwrap_or_default(),
                format,
                lab.as_deref(),
                kind,
                output.as_deref(),
                crate::clock::trunc(chrono::Utc::now()),
            )
            .await?;
            Ok(0)
        }
        Command::Schema | Command::Labels | Command::Healthcheck { .. } => unreachable!(),
    }
}
