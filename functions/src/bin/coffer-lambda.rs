//! `coffer-lambda`: the Vault API as an AWS Lambda function (see `coffer_functions::lambda`).

/// mimalloc rather than glibc's malloc: a request allocates and frees many small strings and JSON
/// values, and glibc's free lists (`malloc_consolidate`) were a large share of a LIST's
/// instructions in the callgrind profile (bench/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coffer_functions::lambda::app::run().await
}
