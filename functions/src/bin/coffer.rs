//! The `coffer` command.

use coffer_functions::cli::{self, Command};

/// mimalloc rather than glibc's malloc: a request allocates and frees many small strings and JSON
/// values, and glibc's free lists (`malloc_consolidate`) were a large share of a LIST's
/// instructions in the callgrind profile (bench/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::parse();
    let result = match cli.command {
        Command::Server(args) => coffer_functions::server::run(args).await,
        Command::Admin(args) => coffer_functions::admin::client::run(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
