//! The `coffer` command.

use coffer_functions::cli::{self, Command};

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
