//! TLS to the control gateway, as `hab` speaks it (Supervisor 1.6+): the handshake comes right
//! after the TCP connection, before any framing. The Supervisor's certificate is checked against
//! the configured CA (`ctl_server_ca_certificate`), under the name the Supervisor's certificate
//! carries (`ctl_server_name_indication`, else the host's name); when the Supervisor asks for a
//! client certificate (`--ctl-client-ca-certificate`), Onwatch presents its own.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The TLS settings of one environment's control gateways, read once from their files.
#[derive(Clone)]
pub struct CtlTls {
    pub config: Arc<rustls::ClientConfig>,
    /// The name the Supervisors' certificates carry; `None`: each host's inventory name.
    pub server_name: Option<String>,
}

impl std::fmt::Debug for CtlTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtlTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// What is wrong with the TLS files of an environment's control gateways: a configuration
/// mistake, found at start-up. Each names the file and what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: not readable PEM certificates ({error})", file.display())]
    Certificates {
        file: PathBuf,
        error: rustls::pki_types::pem::Error,
    },
    #[error("{}: holds no certificate", .0.display())]
    NoCertificate(PathBuf),
    #[error("{}: a certificate is not usable as a CA ({error})", file.display())]
    NotACa { file: PathBuf, error: rustls::Error },
    #[error("TLS: {0}")]
    Protocols(rustls::Error),
    #[error("{}: not a readable PEM private key ({error})", file.display())]
    Key {
        file: PathBuf,
        error: rustls::pki_types::pem::Error,
    },
    #[error("the client certificate and key do not go together: {0}")]
    Mismatch(rustls::Error),
}

impl CtlTls {
    /// From PEM files: the CA that signed the Supervisors' certificates, and optionally Onwatch's
    /// client certificate and key (both or neither). `Err` names the file and what was wrong.
    pub fn from_files(
        server_ca: &Path,
        client: Option<(&Path, &Path)>,
        server_name: Option<String>,
    ) -> Result<CtlTls, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        let cas: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(server_ca)
            .and_then(|i| i.collect::<Result<_, _>>())
            .map_err(|error| TlsError::Certificates {
                file: server_ca.to_owned(),
                error,
            })?;
        if cas.is_empty() {
            return Err(TlsError::NoCertificate(server_ca.to_owned()));
        }
        for ca in cas {
            roots.add(ca).map_err(|error| TlsError::NotACa {
                file: server_ca.to_owned(),
                error,
            })?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Protocols)?
            .with_root_certificates(roots);
        let config = match client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                    .and_then(|i| i.collect::<Result<_, _>>())
                    .map_err(|error| TlsError::Certificates {
                        file: cert.to_owned(),
                        error,
                    })?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|error| TlsError::Key {
                    file: key.to_owned(),
                    error,
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(TlsError::Mismatch)?
            }
        };
        Ok(CtlTls {
            config: Arc::new(config),
            server_name,
        })
    }
}
