//! The simulated control gateway (port 9632 on a real Supervisor): the framing and handshake of
//! the real one, one request per connection, asynchronous stop/start.

use std::sync::Arc;

use prost::Message;
use tokio::net::TcpListener;

use crate::state::SimHost;
use ops::supervisor::ctl::{
    ConsoleLine, DesiredState, ErrCode, Frame, Handshake, NetErr, NetOk, PackageIdentMsg,
    ProcessStateMsg, ProcessStatus, ServiceGroupMsg, ServiceStatusMsg, SvcStart, SvcStatus,
    SvcStop, Txn, REQUEST_TIMEOUT,
};

pub async fn serve(
    listener: TcpListener,
    host: Arc<SimHost>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        if host.is_down() {
            continue; // dropped: a down host does not answer
        }
        let host = host.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(REQUEST_TIMEOUT, async {
                match tls {
                    // As the Supervisor: TLS first, then the framing; a failed handshake
                    // closes the connection.
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(s) => handle(s, &host).await,
                        Err(_) => Ok(()),
                    },
                    None => handle(stream, &host).await,
                }
            })
            .await;
        });
    }
}

/// The TLS side of a simulated control gateway, from PEM text.
pub fn acceptor(tls: &crate::SimCtlTls) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(tls.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("simulator TLS certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes())
        .map_err(|e| format!("simulator TLS key: {e}"))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match &tls.client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots
                    .add(c.map_err(|e| format!("simulator client CA: {e}"))?)
                    .map_err(|e| format!("simulator client CA: {e}"))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| format!("simulator client CA: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("simulator TLS: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

fn net_err(txn: u32, code: ErrCode, msg: &str) -> Frame {
    Frame::message(
        Some(Txn::reply(txn, true)),
        "NetErr",
        &NetErr {
            code: code as i32,
            msg: msg.to_owned(),
        },
    )
}

async fn handle<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    host: &SimHost,
) -> Result<(), ops::supervisor::ctl::CtlError> {
    // 1. The first message must be a transactional Handshake with the right secret.
    let Some(first) = Frame::read(&mut stream).await? else {
        return Ok(());
    };
    let Some(txn) = first.txn.filter(|_| first.message_id == "Handshake") else {
        return Ok(()); // the real Supervisor drops the connection
    };
    let hs: Handshake = first.decode()?;
    if hs.secret_key.as_deref() != Some(host.ctl_secret.as_str()) {
        net_err(txn.id, ErrCode::Unauthorized, "secret key mismatch")
            .write(&mut stream)
            .await?;
        return Ok(());
    }
    Frame::message(Some(Txn::reply(txn.id, true)), "NetOk", &NetOk {})
        .write(&mut stream)
        .await?;

    // 2. Exactly one request.
    let Some(req) = Frame::read(&mut stream).await? else {
        return Ok(());
    };
    let txn = req.txn.map(|t| t.id).unwrap_or(0);
    match req.message_id.as_str() {
        "SvcStop" | "SvcStart" => {
            let up = req.message_id == "SvcStart";
            let ident = if up {
                req.decode::<SvcStart>()?.ident
            } else {
                req.decode::<SvcStop>()?.ident
            };
            let Some(ident) = ident else {
                net_err(txn, ErrCode::UpdateClient, "client out of date")
                    .write(&mut stream)
                    .await?;
                return Ok(());
            };
            match host.set_desired(&ident.origin, &ident.name, up) {
                None => {
                    let msg = format!("Service not loaded, {}", ident);
                    net_err(txn, ErrCode::NotFound, &msg)
                        .write(&mut stream)
                        .await?;
                }
                Some((changed, full)) => {
                    let (flood, lose) = host.ctl_faults();
                    if lose {
                        return Ok(()); // taken, and the connection closes without a reply
                    }
                    if let Some((frames, bytes)) = flood {
                        let line = ConsoleLine {
                            line: "x".repeat(bytes),
                            color: None,
                            bold: false,
                        };
                        let frame =
                            Frame::message(Some(Txn::reply(txn, false)), "ConsoleLine", &line);
                        for _ in 0..frames {
                            frame.write(&mut stream).await?;
                        }
                    }
                    if changed {
                        let verb = if up { "starting" } else { "stopping" };
                        let line = ConsoleLine {
                            line: format!("Supervisor {verb} {full}. See the Supervisor output for more details.\n"),
                            color: None,
                            bold: false,
                        };
                        Frame::message(Some(Txn::reply(txn, false)), "ConsoleLine", &line)
                            .write(&mut stream)
                            .await?;
                    }
                    Frame::message(Some(Txn::reply(txn, true)), "NetOk", &NetOk {})
                        .write(&mut stream)
                        .await?;
                }
            }
        }
        "SvcStatus" => {
            let want = req.decode::<SvcStatus>()?.ident;
            let statuses = statuses(host, want.as_ref());
            if statuses.is_empty() {
                if let Some(ident) = want {
                    let msg = format!("Service not loaded, {}", ident);
                    net_err(txn, ErrCode::NotFound, &msg)
                        .write(&mut stream)
                        .await?;
                } else {
                    Frame::message(Some(Txn::reply(txn, true)), "NetOk", &NetOk {})
                        .write(&mut stream)
                        .await?;
                }
            } else {
                let n = statuses.len();
                for (i, s) in statuses.into_iter().enumerate() {
                    Frame::new(
                        Some(Txn::reply(txn, i + 1 == n)),
                        "ServiceStatus",
                        s.encode_to_vec(),
                    )
                    .write(&mut stream)
                    .await?;
                }
            }
        }
        _ => {
            // "Unhandled message": the real Supervisor closes without a reply.
        }
    }
    Ok(())
}

fn statuses(host: &SimHost, want: Option<&PackageIdentMsg>) -> Vec<ServiceStatusMsg> {
    let st = host.lock();
    let now = ops::time::now_ms() / 1000;
    st.services
        .iter()
        .filter(|s| want.is_none_or(|w| w.origin == s.spec.origin && w.name == s.spec.name))
        .take(if want.is_some() { 1 } else { usize::MAX })
        .map(|s| ServiceStatusMsg {
            ident: PackageIdentMsg {
                origin: s.spec.origin.clone(),
                name: s.spec.name.clone(),
                version: Some(s.spec.version.clone()),
                release: Some(s.spec.release.clone()),
            },
            process: Some(ProcessStatus {
                elapsed: Some((now - s.state_entered).max(0) as u64),
                pid: s.process_up.then_some(s.pid),
                state: if s.process_up {
                    ProcessStateMsg::Up
                } else {
                    ProcessStateMsg::Down
                } as i32,
            }),
            service_group: ServiceGroupMsg {
                service: s.spec.name.clone(),
                group: s.spec.group.clone(),
                organization: None,
            },
            desired_state: Some(if s.desired_up {
                DesiredState::DesiredUp
            } else {
                DesiredState::DesiredDown
            } as i32),
        })
        .collect()
}
