//! `bench/run --smoke`: the benchmark suite still runs end to end against both servers and
//! reports every case. Timings are never asserted (CI machines are shared and noisy); only that
//! the script completes and its report has a measurement for each case, flavor and backend.

use std::process::Command;

use coffer_blackbox::binaries::{coffer_bin, repo_root};
use serde_json::Value;

/// Issue 9's cases, as `bench/harness/cases.py` names them.
const CASES: &[&str] = &[
    "kv_read",
    "kv_write_new",
    "kv_write_cas",
    "kv_list",
    "token_lookup_self",
    "token_create",
    "sys_health",
    "acl_read",
    "audit_read",
];
/// The cases of the durable comparison (coffer embedded vs OpenBao raft).
const DURABLE_CASES: &[&str] = &["kv_read", "kv_write_new", "kv_write_cas", "token_create"];
const BACKENDS: &[&str] = &["memory", "embedded", "dynamodb"];

fn measured(results: &[Value], pair: &str, case: &str, flavor: &str) -> bool {
    results.iter().any(|r| {
        r["pair"] == pair
            && r["case"] == case
            && r["flavor"] == flavor
            && r["requests"].as_u64().is_some_and(|n| n > 0)
    })
}

#[test]
fn bench_smoke_run_reports_every_case_for_both_servers_and_every_backend() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("RESULTS.md");
    let out = Command::new(repo_root().join("bench/run"))
        .arg("--smoke")
        .arg(format!("--coffer-bin={}", coffer_bin().display()))
        .arg(format!("--out={}", report.display()))
        .output()
        .expect("run bench/run");
    let log = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "bench/run --smoke failed\n{log}");

    let markdown = std::fs::read_to_string(&report).expect("report written");
    for heading in [
        "## Headline",
        "## Targets",
        "## Throughput and latency",
        "## Memory",
        "## Start-up",
        "## Storage round trips",
    ] {
        assert!(markdown.contains(heading), "no {heading:?} in\n{markdown}");
    }

    let raw = std::fs::read_to_string(dir.path().join("RESULTS.json")).expect("raw data written");
    let data: Value = serde_json::from_str(&raw).expect("raw data is JSON");
    let results = data["results"].as_array().expect("results array");
    for flavor in ["coffer", "openbao"] {
        for case in CASES {
            assert!(
                measured(results, "memory", case, flavor),
                "no memory/{case} run for {flavor}\n{log}"
            );
        }
        for case in DURABLE_CASES {
            assert!(
                measured(results, "durable", case, flavor),
                "no durable/{case} run for {flavor}\n{log}"
            );
        }
        assert!(
            data["fill"][flavor]["after_hwm"]
                .as_u64()
                .is_some_and(|k| k > 0),
            "no RSS after writes for {flavor}\n{log}"
        );
        assert!(
            data["startup"][flavor]
                .as_array()
                .is_some_and(|t| !t.is_empty()),
            "no start-up time for {flavor}\n{log}"
        );
    }
    // The generator's own accounting: in a closed loop, mean latency x req/s = connections.
    for r in results {
        let (mean_ms, rps, c) = (
            r["mean_ms"].as_f64().unwrap_or(0.0),
            r["rps"].as_f64().unwrap_or(0.0),
            r["connections"].as_f64().unwrap_or(0.0),
        );
        let little = mean_ms / 1e3 * rps / c;
        assert!(
            (0.8..=1.05).contains(&little),
            "latencies do not account for the run (Little's law {little:.3}): {r}\n{log}"
        );
    }
    // cas mode follows the versions the responses report: more than the first write succeeds.
    for flavor in ["coffer", "openbao"] {
        let ok: u64 = results
            .iter()
            .filter(|r| r["case"] == "kv_write_cas" && r["flavor"] == flavor)
            .map(|r| r["requests"].as_u64().unwrap_or(0) - r["non2xx"].as_u64().unwrap_or(0))
            .sum();
        assert!(ok >= 2, "{flavor}: {ok} successful cas writes\n{log}");
    }
    for backend in BACKENDS {
        for case in CASES {
            assert!(
                data["round_trips"][backend][case].as_u64().is_some(),
                "no round-trip count for {backend}/{case}\n{log}"
            );
        }
    }
}
