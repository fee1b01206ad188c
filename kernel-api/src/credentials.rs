//! [`Credentials`]: the CA, serving certificate and admin token a server keeps in a directory,
//! so that a kubeconfig written once stays valid across restarts.
//!
//! The layout follows kubeadm's `/etc/kubernetes/pki`:
//!
//! ```text
//! DIR/pki/ca.crt  ca.key                 the cluster CA (made once, never replaced)
//! DIR/pki/apiserver.crt  apiserver.key   the serving certificate, signed by the CA
//! DIR/pki/apiserver.names                the names and addresses it was made for
//! DIR/admin.token                        the admin bearer token
//! ```
//!
//! The serving certificate is made again (signed by the same CA) when the names asked for are
//! not the ones it was made for; a kubeconfig trusts the CA, so it stays valid.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::status::{Error, Result};
use crate::tls::TlsMaterial;

/// The serving TLS material and admin token of a server, loaded from or created in a directory.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// CA, serving certificate and key.
    pub tls: TlsMaterial,
    /// The admin bearer token.
    pub token: String,
}

impl Credentials {
    /// Loads the credentials kept in `dir`, creating what is missing: the CA and the token are
    /// made once; the serving certificate again whenever `names` (extra DNS names or IP
    /// addresses, see [`TlsMaterial::generate`]) differ from the ones it was made for.
    ///
    /// ```
    /// # fn main() -> Result<(), kernel_api::Error> {
    /// let dir = tempfile::tempdir()?;
    /// let first = kernel_api::Credentials::load_or_create(dir.path(), &[])?;
    /// let again = kernel_api::Credentials::load_or_create(dir.path(), &[])?;
    /// assert_eq!(first.token, again.token);
    /// assert_eq!(first.tls.ca_pem, again.tls.ca_pem);
    /// # Ok(())
    /// # }
    /// ```
    pub fn load_or_create(dir: &Path, names: &[String]) -> Result<Self> {
        let pki = dir.join("pki");
        fs::create_dir_all(&pki).map_err(|e| file_error(&pki, e))?;
        let (ca_pem, ca_key_pem) = match (
            read_optional(&pki.join("ca.crt"))?,
            read_optional(&pki.join("ca.key"))?,
        ) {
            (Some(cert), Some(key)) => (cert, key),
            (None, None) => {
                let (cert, key) = TlsMaterial::generate_ca()?;
                write_private(&pki.join("ca.key"), &key)?;
                write_public(&pki.join("ca.crt"), &cert)?;
                (cert, key)
            }
            _ => {
                return Err(Error::internal(format!(
                    "{}: one of ca.crt and ca.key is missing; restore it or remove both to make \
                     a new CA (every kubeconfig written before then stops working)",
                    pki.display()
                )))
            }
        };
        let names_file = pki.join("apiserver.names");
        let wanted = names.join("\n");
        let serving = match (
            read_optional(&pki.join("apiserver.crt"))?,
            read_optional(&pki.join("apiserver.key"))?,
            read_optional(&names_file)?,
        ) {
            (Some(cert), Some(key), Some(made_for)) if made_for == wanted => {
                TlsMaterial::from_pem(ca_pem.clone(), cert, key)?
            }
            _ => {
                let tls = TlsMaterial::generate_signed(&ca_pem, &ca_key_pem, names)?;
                write_private(&pki.join("apiserver.key"), &tls.key_pem)?;
                write_public(&pki.join("apiserver.crt"), &tls.cert_pem)?;
                write_public(&names_file, &wanted)?;
                tls
            }
        };
        let token_file = dir.join("admin.token");
        let token = match read_optional(&token_file)? {
            Some(token) if !token.trim().is_empty() => token.trim().to_owned(),
            _ => {
                let token = random_token();
                write_private(&token_file, &token)?;
                token
            }
        };
        Ok(Credentials {
            tls: serving,
            token,
        })
    }
}

/// 32 random hex digits.
pub(crate) fn random_token() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..32)
        .map(|_| format!("{:x}", rng.gen_range(0..16u8)))
        .collect()
}

fn file_error(path: &Path, e: io::Error) -> Error {
    Error::internal(format!("{}: {e}", path.display()))
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(file_error(path, e)),
    }
}

/// Writes through a temporary file and a rename, so a crash never leaves half a key.
fn write_atomically(path: &Path, contents: &str, mode: u32) -> Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    fs::write(&tmp, contents).map_err(|e| file_error(&tmp, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
            .map_err(|e| file_error(&tmp, e))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    fs::rename(&tmp, path).map_err(|e| file_error(path, e))
}

fn write_private(path: &Path, contents: &str) -> Result<()> {
    write_atomically(path, contents, 0o600)
}

fn write_public(path: &Path, contents: &str) -> Result<()> {
    write_atomically(path, contents, 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_across_loads_and_the_ca_survives_new_names() {
        let dir = tempfile::tempdir().unwrap();
        let first = Credentials::load_or_create(dir.path(), &[]).unwrap();
        let again = Credentials::load_or_create(dir.path(), &[]).unwrap();
        assert_eq!(first.token, again.token);
        assert_eq!(first.tls.cert_pem, again.tls.cert_pem);
        assert_eq!(first.token.len(), 32);

        let renamed = Credentials::load_or_create(dir.path(), &["10.0.0.7".into()]).unwrap();
        assert_eq!(renamed.tls.ca_pem, first.tls.ca_pem, "the CA is kept");
        assert_ne!(renamed.tls.cert_pem, first.tls.cert_pem, "new serving cert");
        assert_eq!(renamed.token, first.token);
        renamed.tls.server_config().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("pki/ca.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn half_a_ca_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        Credentials::load_or_create(dir.path(), &[]).unwrap();
        fs::remove_file(dir.path().join("pki/ca.key")).unwrap();
        let err = Credentials::load_or_create(dir.path(), &[]).unwrap_err();
        assert!(err.to_string().contains("ca.key"), "{err}");
    }
}
