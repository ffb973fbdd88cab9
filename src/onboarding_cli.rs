//! `dxdesk lab import FILE.json` and `dxdesk user create …`: how a real lab
//! starts without the demo (issue 11). Refusals are one line and a non-zero exit.

use crate::config::Config;
use crate::domain::types::Role;
use crate::service::accounts::{self, CliUser};
use crate::service::lab_import::{self, ImportError};
use crate::state::AppState;
use clap::Subcommand;
use std::io::{Read, Write};

#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// Create or update labs from FILE.json (the format of data/labs.json):
    /// idempotent, validated as a whole first, nothing deleted.
    Import {
        /// The lab file.
        file: std::path::PathBuf,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoleArg {
    Admin,
    Concierge,
    Partner,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Concierge => Role::Concierge,
            RoleArg::Partner => Role::Partner,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a staff account; prints a single-use set-password link
    /// (DXDESK_PUBLIC_URL + path, valid 72 hours) unless --password-stdin.
    Create {
        /// The lab's code (as in the lab file).
        #[arg(long)]
        lab: String,
        #[arg(long)]
        email: String,
        /// The display name.
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The partner's institution: its name or ID.
        #[arg(long, value_name = "NAME_OR_ID")]
        institution: Option<String>,
        /// Read the password from standard input (one line) instead of printing a link.
        #[arg(long)]
        password_stdin: bool,
    },
}

pub async fn lab(config: &Config, what: LabCommand) -> anyhow::Result<i32> {
    let LabCommand::Import { file } = what;
    let text = std::fs::read_to_string(&file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let store = crate::store::connect_for(config).await?;
    let now = crate::clock::trunc(chrono::Utc::now());
    let mut out = std::io::stdout().lock();
    match lab_import::import(store.as_ref(), &text, now).await {
        Ok(r) => {
            for l in lab_import::report_lines(&r) {
                let _ = writeln!(out, "{l}");
            }
            Ok(0)
        }
        Err(ImportError::Invalid(problems)) => {
            let mut err = std::io::stderr().lock();
            for p in &problems {
                let _ = writeln!(err, "{}:{}: {}: {}", file.display(), p.line, p.path, p.en);
            }
            let _ = writeln!(
                err,
                "lab import refused: {} problem(s) in {}; nothing was written",
                problems.len(),
                file.display()
            );
            Ok(2)
        }
        Err(ImportError::Store(e)) => {
            anyhow::bail!("lab import failed, nothing was written: {}", e.message().en)
        }
    }
}

pub async fn user(config: Config, what: UserCommand) -> anyhow::Result<i32> {
    let UserCommand::Create {
        lab,
        email,
        name,
        role,
        institution,
        password_stdin,
    } = what;
    let password = if password_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        let line = s.lines().next().unwrap_or("").to_owned();
        Some(line)
    } else {
        None
    };
    let store = crate::store::connect_for(&config).await?;
    let state = AppState::new(store, config);
    let created = accounts::create_from_cli(
        &state,
        CliUser {
            lab,
            email,
            name,
            role: role.into(),
            institution,
            password,
        },
    )
    .await?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "user create: {} {} ({}) created in lab {}",
        created.user.role.as_str(),
        created.user.email,
        created.user.id,
        created.user.lab_id
    );
    if let Some(link) = created.link {
        let _ = writeln!(
            out,
            "set-password link (single use, valid 72 hours; give it to the user only):\n{link}"
        );
    }
    Ok(0)
}
