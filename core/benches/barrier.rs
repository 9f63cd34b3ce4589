//! The barrier's AES-256-GCM seal and open of a 1 KiB value (random nonce, term prefix, the
//! storage path as AAD): the cryptographic cost every stored value pays on each read and write.

use std::hint::black_box;

use coffer_core::barrier::aead::{self, AesKey};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn seal_and_open_1kib(c: &mut Criterion) {
    let key = AesKey::generate();
    let aad = b"store/logical/4b1c2a7e-0d3f-4c55-9f77-1b2f0c3d4e5f/data/app";
    let plaintext = vec![0x5a_u8; 1024];
    let ciphertext = aead::seal(&key, 1, aad, &plaintext);

    let mut group = c.benchmark_group("barrier");
    group.throughput(Throughput::Bytes(plaintext.len() as u64));
    group.bench_function("seal_1KiB", |b| {
        b.iter(|| aead::seal(black_box(&key), 1, black_box(aad), black_box(&plaintext)))
    });
    group.bench_function("open_1KiB", |b| {
        b.iter(|| {
            aead::open(black_box(&key), black_box(aad), black_box(&ciphertext)).expect("opens")
        })
    });
    group.finish();
}

criterion_group!(benches, seal_and_open_1kib);
criterion_main!(benches);
