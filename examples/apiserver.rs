//! A standalone Kubernetes-compatible API server.
//!
//! ```text
//! cargo run --example apiserver -- --data-dir DIR [--store memory|file|etcd:URL[,URL…]] [--port N]
//! kubectl --kubeconfig DIR/kubeconfig get namespaces
//! ```
//!
//! Writes `DIR/kubeconfig` (admin, CA embedded) once listening, answers `/readyz`, creates the
//! built-in namespaces, and stops cleanly on SIGTERM or Ctrl-C.

// The binary (not the library) chooses the allocator: mimalloc suits the many small JSON nodes
// the server allocates (about 25% more pod creates/s than glibc malloc in examples/api_bench).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use kernel_api::ApiServer;
use kernel_store::{EtcdConfig, EtcdStore, FileStore, MemoryStore, Store};

struct Args {
    data_dir: PathBuf,
    store: String,
    port: u16,
    bind: String,
}

fn usage() -> ! {
    eprintln!(
        "usage: apiserver --data-dir DIR [--store memory|file|etcd:URLS] [--port N] [--bind ADDR]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        data_dir: PathBuf::new(),
        store: "memory".into(),
        port: 6443,
        bind: "127.0.0.1".into(),
    };
    let mut it = std::env::args().skip(1);
    let mut have_dir = false;
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .unwrap_or_else(|| usage())
        };
        match flag.as_str() {
            "--data-dir" => {
                args.data_dir = PathBuf::from(value());
                have_dir = true;
            }
            "--store" => args.store = value(),
            "--port" => args.port = value().parse().unwrap_or_else(|_| usage()),
            "--bind" => args.bind = value(),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    if !have_dir {
        usage();
    }
    args
}

async fn open_store(args: &Args) -> Result<Arc<dyn Store>, Box<dyn std::error::Error>> {
    Ok(match args.store.as_str() {
        "memory" => Arc::new(MemoryStore::new()),
        "file" => Arc::new(FileStore::open(args.data_dir.join("store.redb"))?),
        etcd if etcd.starts_with("etcd:") => {
            let urls: Vec<String> = etcd["etcd:".len()..]
                .split(',')
                .map(str::to_owned)
                .collect();
            Arc::new(EtcdStore::connect(EtcdConfig::new(urls)).await?)
        }
        other => {
            return Err(format!("unknown store {other:?}: use memory, file or etcd:URLS").into())
        }
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // mimalloc gives emptied pages back to the OS 10 ms after they empty; under a steady write
    // load that churn faults (and zeroes) fresh pages all the time, about a tenth of the CPU in
    // the scheduler bench. A server keeps them for 10 s.
    // SAFETY: mimalloc keeps its options in atomics; setting one is sound from any thread.
    // (`mi_option_purge_delay` is option 15 of mimalloc.h; the -sys crate names no constant.)
    unsafe { libmimalloc_sys::mi_option_set(15, 10_000) };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = parse_args();
    std::fs::create_dir_all(&args.data_dir)?;
    let store = open_store(&args).await?;
    let server = ApiServer::builder()
        .store(store)
        .tls_name(args.bind.clone())
        .require_admin_token()
        .build()
        .await?;
    let addr: SocketAddr = format!("{}:{}", args.bind, args.port).parse()?;
    let serving = server.bind(addr).await?;
    let kubeconfig = args.data_dir.join("kubeconfig");
    server.write_kubeconfig(&kubeconfig)?;
    tracing::info!(addr = %serving.local_addr(), kubeconfig = %kubeconfig.display(), "API server ready");

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupt: shutting down"),
    }
    serving.shutdown().await;
    Ok(())
}
