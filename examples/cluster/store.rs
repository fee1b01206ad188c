//! Opening the store the flags name.

use std::path::Path;
use std::sync::Arc;

use kernel::store::{EtcdConfig, EtcdStore, EtcdTls, FileStore, MemoryStore, Store};

use crate::cli::{Cli, StoreChoice};

/// Opens the store; also says what it is, for the ready table.
pub async fn open(
    cli: &Cli,
    data_dir: &Path,
) -> Result<(Arc<dyn Store>, String), Box<dyn std::error::Error>> {
    Ok(match &cli.store {
        StoreChoice::Memory => (Arc::new(MemoryStore::new()), "memory".into()),
        StoreChoice::File => {
            let path = data_dir.join("store.redb");
            let open_path = path.clone();
            let store = tokio::task::spawn_blocking(move || FileStore::open(open_path))
                .await?
                .map_err(|e| format!("opening {}: {e}", path.display()))?;
            (Arc::new(store), format!("file {}", path.display()))
        }
        StoreChoice::Etcd(urls) => {
            let mut config = EtcdConfig::new(urls.clone()).with_prefix(cli.etcd_prefix.clone());
            if let Some(ca) = &cli.etcd_cafile {
                let mut tls = EtcdTls::new(read(ca).await?);
                if let (Some(cert), Some(key)) = (&cli.etcd_certfile, &cli.etcd_keyfile) {
                    tls = tls.with_identity(read(cert).await?, read(key).await?);
                }
                config = config.with_tls(tls);
            }
            let store = EtcdStore::connect(config)
                .await
                .map_err(|e| format!("connecting to etcd at {}: {e}", urls.join(",")))?;
            (Arc::new(store), cli.store.to_string())
        }
    })
}

async fn read(path: &Path) -> Result<Vec<u8>, String> {
    tokio::fs::read(path)
        .await
        .map_err(|e| format!("reading {}: {e}", path.display()))
}
