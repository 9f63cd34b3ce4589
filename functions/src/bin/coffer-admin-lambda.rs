//! `coffer-admin-lambda`: the control plane's admin API as an AWS Lambda function (see
//! `coffer_functions::lambda::app::run_admin`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coffer_functions::lambda::app::run_admin().await
}
