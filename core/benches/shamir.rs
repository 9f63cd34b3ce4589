//! Shamir split and combine of a 32-byte key (5 shares, threshold 3): what `sys/init` and
//! `sys/unseal` do with the unseal key.

use std::hint::black_box;

use coffer_seal::shamir;
use criterion::{criterion_group, criterion_main, Criterion};

fn split_and_combine(c: &mut Criterion) {
    let secret = [0x42_u8; 32];
    let shares = shamir::split(&secret, 5, 3).expect("split");
    let three: Vec<&[u8]> = shares.iter().take(3).map(|s| s.as_bytes()).collect();

    let mut group = c.benchmark_group("shamir");
    group.bench_function("split_32B_5_of_3", |b| {
        b.iter(|| shamir::split(black_box(&secret), 5, 3).expect("split"))
    });
    group.bench_function("combine_32B_3_shares", |b| {
        b.iter(|| shamir::combine(black_box(&three)).expect("combine"))
    });
    group.finish();
}

criterion_group!(benches, split_and_combine);
criterion_main!(benches);
