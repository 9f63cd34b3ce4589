//! `coffer-lambda`: the Vault API as an AWS Lambda function (see `coffer_functions::lambda`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coffer_functions::lambda::app::run().await
}
