//! The salted token hash (HMAC-SHA256, hex): computed for every authenticated request to find
//! the token entry. The salt comes from a real initialised barrier over memory storage.

use std::hint::black_box;
use std::sync::Arc;

use coffer_core::auth::token::{self, TokenSalt};
use coffer_core::barrier::aead::AesKey;
use coffer_core::barrier::Barrier;
use coffer_core::storage::MemoryStorage;
use criterion::{criterion_group, criterion_main, Criterion};

fn salt() -> TokenSalt {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        let barrier = Barrier::new(Arc::new(MemoryStorage::new()), "bench");
        barrier
            .initialize(&AesKey::generate(), Vec::new())
            .await
            .expect("initialize barrier");
        barrier
            .write(vec![token::new_salt_op()])
            .await
            .expect("write salt");
        token::load_salt(&barrier).await.expect("load salt")
    })
}

fn token_hash(c: &mut Criterion) {
    let salt = salt();
    let token = token::generate_token();
    c.bench_function("token_hash", |b| b.iter(|| salt.hash(black_box(&token))));
}

criterion_group!(benches, token_hash);
criterion_main!(benches);
