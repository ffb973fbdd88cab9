//! The `dxdesk` binary: parses the command line and runs it.

use clap::Parser;

/// jemalloc instead of glibc's malloc: allocation and freeing were a quarter
/// of a case-list request's instructions, and a background thread returns
/// freed pages to the system while the server idles (options in
/// `.cargo/config.toml`; docs/DESIGN.md, "Allocator"). Its symbols are
/// unprefixed (`malloc`, `free`), so SQLite's C code allocates from it too.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
