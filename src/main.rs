//! The `dxdesk` binary: parses the command line and runs it.

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = dxdesk::cli::Cli::parse();
    match dxdesk::cli::run(cli).await {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("dxdesk: {e:#}");
            std::process::exit(1);
        }
    }
}
