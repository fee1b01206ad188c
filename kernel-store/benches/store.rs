//! Criterion micro-benchmarks of the in-process backends' hot paths.
#![allow(missing_docs)]

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use kernel_store::{MemoryStore, RangeRequest, Store};

fn memory(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = MemoryStore::new();
    runtime.block_on(async {
        for i in 0..10_000 {
            store
                .create(
                    &format!("/registry/pods/default/p{i:05}"),
                    Bytes::from(vec![b'x'; 512]),
                    0,
                )
                .await
                .unwrap();
        }
    });
    let mut n = 0u64;
    c.bench_function("memory/create", |b| {
        b.iter(|| {
            n += 1;
            runtime
                .block_on(store.create(&format!("/bench/{n}"), Bytes::from_static(b"v"), 0))
                .unwrap()
        })
    });
    c.bench_function("memory/get", |b| {
        b.iter(|| {
            runtime
                .block_on(store.get("/registry/pods/default/p04242"))
                .unwrap()
        })
    });
    c.bench_function("memory/list 500 of 10k", |b| {
        b.iter(|| {
            runtime
                .block_on(store.range(RangeRequest::prefix("/registry/pods/").with_limit(500)))
                .unwrap()
        })
    });
}

criterion_group!(benches, memory);
criterion_main!(benches);
