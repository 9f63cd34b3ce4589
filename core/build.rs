//! Stamps the build date that `sys/seal-status` reports as `build_date`, as OpenBao does.
//! `SOURCE_DATE_EPOCH` makes it reproducible.
fn main() {
    let date = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .unwrap_or_else(chrono::Utc::now);
    println!(
        "cargo:rustc-env=COFFER_BUILD_DATE={}",
        date.format("%Y-%m-%dT%H:%M:%SZ")
    );
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=build.rs");
}
