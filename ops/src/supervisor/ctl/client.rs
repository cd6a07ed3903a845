//! The control-gateway client: a fresh connection per command, as `hab` does — handshake with
//! the shared secret, one request, replies until the transaction completes.

use std::time::Duration;

use prost::Message;
use tokio::net::TcpStream;

use super::framing::{Frame, Txn};
use super::messages::{
    ConsoleLine, ErrCode, Handshake, NetErr, PackageIdentMsg, ServiceStatusMsg, SvcStart,
    SvcStatus, SvcStop,
};
use super::CtlError;

/// The Supervisor's (and `hab`'s) request timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of one reply that is read: a Supervisor answers a stop, a start or a status with a
/// few lines and one status per service; a gateway that sends more (or anyone in the middle of
/// a plaintext connection) is cut off here instead of filling memory until the timeout.
pub const MAX_REPLY_BYTES: usize = 1 << 20;
pub const MAX_REPLY_FRAMES: usize = 4096;
/// Of the console lines, at most this many are kept for the output; the rest are counted.
pub const MAX_CONSOLE_LINES: usize = 200;

/// What a command produced: the console lines, and the service statuses for `SvcStatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CtlReply {
    pub console: Vec<String>,
    /// Console lines beyond [`MAX_CONSOLE_LINES`], counted, not kept.
    pub console_omitted: usize,
    pub statuses: Vec<ServiceStatusMsg>,
}

/// Where a control gateway is, and its shared secret (`/hab/sup/default/CTL_SECRET`; its
/// `Debug` never prints it).
#[derive(Debug, Clone)]
pub struct CtlTarget {
    pub addr: String,
    pub secret: secrecy::SecretString,
    /// TLS, when the environment's Supervisors speak it, with the name their certificate
    /// carries for this host (unless the settings name one for all).
    pub tls: Option<(super::CtlTls, String)>,
}

/// Control-gateway client: a fresh connection per command, as `hab` does.
#[derive(Debug, Clone)]
pub struct CtlClient {
    pub timeout: Duration,
}

impl Default for CtlClient {
    fn default() -> Self {
        CtlClient {
            timeout: REQUEST_TIMEOUT,
        }
    }
}

impl CtlClient {
    /// `hab svc stop ORIGIN/NAME`. Asynchronous on the Supervisor: poll the gateway to see it.
    pub async fn stop(
        &self,
        target: &CtlTarget,
        ident: PackageIdentMsg,
    ) -> Result<CtlReply, CtlError> {
        let msg = SvcStop {
            ident: Some(ident),
            timeout_in_seconds: None,
        };
        self.request(target, "SvcStop", msg.encode_to_vec()).await
    }

    /// `hab svc start ORIGIN/NAME`.
    pub async fn start(
        &self,
        target: &CtlTarget,
        ident: PackageIdentMsg,
    ) -> Result<CtlReply, CtlError> {
        let msg = SvcStart { ident: Some(ident) };
        self.request(target, "SvcStart", msg.encode_to_vec()).await
    }

    /// `hab svc status [ident]`.
    pub async fn status(
        &self,
        target: &CtlTarget,
        ident: Option<PackageIdentMsg>,
    ) -> Result<CtlReply, CtlError> {
        let msg = SvcStatus { ident };
        self.request(target, "SvcStatus", msg.encode_to_vec()).await
    }

    /// Handshake, one request, replies until complete.
    pub async fn request(
        &self,
        target: &CtlTarget,
        message_id: &str,
        body: Vec<u8>,
    ) -> Result<CtlReply, CtlError> {
        let secs = self.timeout.as_secs().max(1);
        let sent = std::sync::atomic::AtomicBool::new(false);
        let result = tokio::time::timeout(self.timeout, async {
            let stream = TcpStream::connect(&target.addr)
                .await
                .map_err(|e| CtlError::Connect(format!("{}: {e}", target.addr)))?;
            stream.set_nodelay(true).ok();
            match &target.tls {
                None => exchange(stream, target, message_id, body, &sent).await,
                Some((tls, host)) => {
                    let name = tls.server_name.clone().unwrap_or_else(|| host.clone());
                    let server_name = rustls::pki_types::ServerName::try_from(name.clone())
                        .map_err(|e| {
                            CtlError::Tls(format!("`{name}` is not a server name: {e}"))
                        })?;
                    let stream = tokio_rustls::TlsConnector::from(tls.config.clone())
                        .connect(server_name, stream)
                        .await
                        .map_err(|e| CtlError::Tls(e.to_string()))?;
                    exchange(stream, target, message_id, body, &sent).await
                }
            }
        })
        .await
        .map_err(|_| CtlError::Timeout(secs))
        .and_then(|r| r);
        match result {
            Err(e) if sent.load(std::sync::atomic::Ordering::Relaxed) => {
                // A refusal is an answer; anything else after sending is a lost reply.
                if matches!(e, CtlError::Refused { .. }) {
                    Err(e)
                } else {
                    Err(CtlError::ReplyLost(Box::new(e)))
                }
            }
            other => other,
        }
    }
}

/// Handshake with the secret, then one request, then its reply, over a connected stream.
async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    target: &CtlTarget,
    message_id: &str,
    body: Vec<u8>,
    sent: &std::sync::atomic::AtomicBool,
) -> Result<CtlReply, CtlError> {
    let hs = Handshake {
        secret_key: Some(secrecy::ExposeSecret::expose_secret(&target.secret).to_owned()),
    };
    Frame::message(Some(Txn::request(0)), "Handshake", &hs)
        .write(&mut stream)
        .await?;
    let reply = Frame::read(&mut stream).await?.ok_or(CtlError::Closed)?;
    match reply.message_id.as_str() {
        "NetOk" => {}
        "NetErr" => return Err(refusal(&reply)),
        other => {
            return Err(CtlError::Protocol(format!(
                "expected NetOk to the handshake, got {other}"
            )))
        }
    }
    // From the first byte of the request on, a failure leaves it unknown whether the
    // Supervisor took it.
    sent.store(true, std::sync::atomic::Ordering::Relaxed);
    Frame::new(Some(Txn::request(1)), message_id, body)
        .write(&mut stream)
        .await?;
    read_reply(&mut stream).await
}

/// Reads reply frames until the transaction completes, within [`MAX_REPLY_BYTES`] and
/// [`MAX_REPLY_FRAMES`]; past either, reading stops and the request fails.
pub async fn read_reply<R: tokio::io::AsyncRead + Unpin>(
    stream: &mut R,
) -> Result<CtlReply, CtlError> {
    let mut out = CtlReply::default();
    let (mut bytes, mut frames) = (0usize, 0usize);
    loop {
        let frame = Frame::read(stream).await?.ok_or(CtlError::Closed)?;
        frames += 1;
        bytes += frame.body.len() + frame.message_id.len();
        if bytes > MAX_REPLY_BYTES || frames > MAX_REPLY_FRAMES {
            return Err(CtlError::TooLarge {
                bytes,
                frames,
                max_bytes: MAX_REPLY_BYTES,
                max_frames: MAX_REPLY_FRAMES,
            });
        }
        match frame.message_id.as_str() {
            "NetErr" => return Err(refusal(&frame)),
            "ConsoleLine" => {
                let line = frame.decode::<ConsoleLine>()?.line;
                if out.console.len() < MAX_CONSOLE_LINES {
                    out.console.push(line);
                } else {
                    out.console_omitted += 1;
                }
            }
            "ServiceStatus" => out.statuses.push(frame.decode::<ServiceStatusMsg>()?),
            _ => {}
        }
        if frame.is_complete() {
            return Ok(out);
        }
    }
}

fn refusal(frame: &Frame) -> CtlError {
    match frame.decode::<NetErr>() {
        Ok(e) => CtlError::Refused {
            code: ErrCode::try_from(e.code).unwrap_or(ErrCode::Internal),
            msg: e.msg,
        },
        Err(e) => e,
    }
}
