//! ACL evaluation: compiling a token's policies into an `Acl` and checking one request against
//! it, for a token of one policy and for the suite's ACL-heavy token (50 policies x 20 paths,
//! the same rules as `bench/harness/cases.py`), matched exactly, through a glob, or not at all;
//! and what a request pays for its token's ACL once `PolicyStore` has compiled it.

use std::hint::black_box;
use std::sync::Arc;

use coffer_core::barrier::aead::AesKey;
use coffer_core::barrier::Barrier;
use coffer_core::policy::{Acl, AclOperation, Policy, PolicyStore};
use coffer_core::storage::MemoryStorage;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::Map;

const POLICIES: usize = 50;
const PATHS_PER_POLICY: usize = 20;

/// Policy `i` of the ACL-heavy token: exact paths, globs and `+` segments mixed.
fn heavy_policy(i: usize) -> Policy {
    let rules: Vec<String> = (0..PATHS_PER_POLICY)
        .map(|j| match j % 4 {
            0 => format!(r#"path "secret/data/acl/p{i}/k{j}" {{ capabilities = ["read"] }}"#),
            1 => format!(
                r#"path "secret/data/acl/p{i}/g{j}/*" {{ capabilities = ["read", "list"] }}"#
            ),
            2 => format!(r#"path "secret/data/acl/+/s{i}-{j}" {{ capabilities = ["read"] }}"#),
            _ => format!(r#"path "secret/metadata/acl/p{i}/k{j}" {{ capabilities = ["list"] }}"#),
        })
        .collect();
    Policy::parse(&format!("bench-acl-{i}"), &rules.join("\n")).expect("policy parses")
}

fn acl_evaluation(c: &mut Criterion) {
    let data = Map::new();
    let single = [Policy::parse(
        "app",
        r#"path "secret/data/app/*" { capabilities = ["read"] }"#,
    )
    .expect("policy parses")];
    let heavy: Vec<Policy> = (0..POLICIES).map(heavy_policy).collect();
    let single_acl = Acl::new(&single);
    let heavy_acl = Acl::new(&heavy);

    let mut group = c.benchmark_group("acl");
    group.bench_function("compile_1_policy", |b| {
        b.iter(|| Acl::new(black_box(&single)))
    });
    group.bench_function("compile_50x20", |b| b.iter(|| Acl::new(black_box(&heavy))));
    group.bench_function("check_1_policy_glob", |b| {
        b.iter(|| single_acl.check(AclOperation::Read, black_box("secret/data/app/db"), &data))
    });
    for (name, path) in [
        ("check_50x20_exact", "secret/data/acl/p49/k16"),
        ("check_50x20_glob", "secret/data/acl/p49/g17/app"),
        ("check_50x20_segment", "secret/data/acl/x/s49-18"),
        ("check_50x20_denied", "secret/data/other/app"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| heavy_acl.check(AclOperation::Read, black_box(path), &data))
        });
    }
    group.finish();
}

/// `PolicyStore::acl` for the ACL-heavy token at steady state: policies and ACL both cached.
fn token_acl(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime builds");
    let barrier = Arc::new(Barrier::new(Arc::new(MemoryStorage::new()), "bench"));
    let store = PolicyStore::new(barrier.clone());
    let mut names: Vec<String> = (0..POLICIES).map(|i| format!("bench-acl-{i}")).collect();
    names.push("default".into());
    names.sort();
    runtime.block_on(async {
        barrier
            .initialize(&AesKey::generate(), vec![])
            .await
            .expect("barrier initialises");
        for i in 0..POLICIES {
            let raw = heavy_policy(i).raw;
            store
                .write(&format!("bench-acl-{i}"), &raw)
                .await
                .expect("policy is stored");
        }
    });
    c.bench_function("acl/token_acl_cached_50x20", |b| {
        b.iter(|| runtime.block_on(store.acl(black_box(&names))))
    });
}

criterion_group!(benches, acl_evaluation, token_acl);
criterion_main!(benches);
