//! The Supervisor's control gateway (default port 9632): the protocol `hab svc stop/start/status`
//! speaks. Framing ("SrvProtocol" codec), the proto2 messages the portal uses, and a client.
//!
//! Frame: `header u32 BE` (bit 31 is_txn, bits 25..20 message-id length, bits 19..0 body length),
//! an optional `txn u32 BE` (bit 31 is_response, bit 30 is_complete, bits 29..0 id), the ASCII
//! message id, then the protobuf body. One request per connection, after a `Handshake`.

use std::time::Duration;

use prost::Message;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub const MAX_BODY_LEN: usize = 0xF_FFFF;
pub const MAX_MESSAGE_ID_LEN: usize = 0x3F;
/// The Supervisor's (and `hab`'s) request timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

const IS_TXN: u32 = 1 << 31;
const TXN_RESPONSE: u32 = 1 << 31;
const TXN_COMPLETE: u32 = 1 << 30;
const TXN_ID_MASK: u32 = (1 << 30) - 1;

/// A transaction: the id, and the response/complete flags of replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Txn {
    pub id: u32,
    pub is_response: bool,
    pub is_complete: bool,
}

impl Txn {
    pub fn request(id: u32) -> Txn {
        Txn {
            id: id & TXN_ID_MASK,
            is_response: false,
            is_complete: false,
        }
    }

    pub fn reply(id: u32, complete: bool) -> Txn {
        Txn {
            id: id & TXN_ID_MASK,
            is_response: true,
            is_complete: complete,
        }
    }

    fn encode(self) -> u32 {
        let mut v = self.id & TXN_ID_MASK;
        if self.is_response {
            v |= TXN_RESPONSE;
        }
        if self.is_complete {
            v |= TXN_COMPLETE;
        }
        v
    }

    fn decode(v: u32) -> Txn {
        Txn {
            id: v & TXN_ID_MASK,
            is_response: v & TXN_RESPONSE != 0,
            is_complete: v & TXN_COMPLETE != 0,
        }
    }
}

/// One framed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub txn: Option<Txn>,
    pub message_id: String,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Serialize, Deserialize)]
pub enum CtlError {
    #[error("cannot connect to the control gateway: {0}")]
    Connect(String),
    #[error("the control gateway did not answer within {0} s")]
    Timeout(u64),
    #[error("control gateway I/O: {0}")]
    Io(String),
    #[error("malformed control-gateway frame: {0}")]
    Protocol(String),
    #[error("the Supervisor refused: {code:?}: {msg}")]
    Refused { code: ErrCode, msg: String },
    #[error("the Supervisor closed the connection before a complete reply")]
    Closed,
}

impl Frame {
    pub fn new(txn: Option<Txn>, message_id: &str, body: Vec<u8>) -> Frame {
        Frame {
            txn,
            message_id: message_id.to_owned(),
            body,
        }
    }

    pub fn message<M: Message>(txn: Option<Txn>, message_id: &str, msg: &M) -> Frame {
        Frame::new(txn, message_id, msg.encode_to_vec())
    }

    /// The bytes on the wire.
    pub fn encode(&self) -> Result<Vec<u8>, CtlError> {
        if self.message_id.len() > MAX_MESSAGE_ID_LEN || !self.message_id.is_ascii() {
            return Err(CtlError::Protocol(format!(
                "message id `{}` is not ASCII of at most 63 bytes",
                self.message_id
            )));
        }
        if self.body.len() > MAX_BODY_LEN {
            return Err(CtlError::Protocol(format!(
                "body of {} bytes exceeds {MAX_BODY_LEN}",
                self.body.len()
            )));
        }
        let mut header = ((self.message_id.len() as u32) << 20) | self.body.len() as u32;
        if self.txn.is_some() {
            header |= IS_TXN;
        }
        let mut out = Vec::with_capacity(8 + self.message_id.len() + self.body.len());
        out.extend_from_slice(&header.to_be_bytes());
        if let Some(txn) = self.txn {
            out.extend_from_slice(&txn.encode().to_be_bytes());
        }
        out.extend_from_slice(self.message_id.as_bytes());
        out.extend_from_slice(&self.body);
        Ok(out)
    }

    /// Reads one frame. `Ok(None)` on a clean end of stream before a header.
    pub async fn read<R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<Frame>, CtlError> {
        let mut h = [0u8; 4];
        match r.read_exact(&mut h).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(CtlError::Io(e.to_string())),
        }
        let header = u32::from_be_bytes(h);
        if header & 0x7C00_0000 != 0 {
            return Err(CtlError::Protocol(format!(
                "reserved header bits set: {header:#010x}"
            )));
        }
        let id_len = ((header >> 20) & 0x3F) as usize;
        let body_len = (header & 0xF_FFFF) as usize;
        let txn = if header & IS_TXN != 0 {
            let mut t = [0u8; 4];
            r.read_exact(&mut t)
                .await
                .map_err(|e| CtlError::Io(e.to_string()))?;
            Some(Txn::decode(u32::from_be_bytes(t)))
        } else {
            None
        };
        let mut id = vec![0u8; id_len];
        r.read_exact(&mut id)
            .await
            .map_err(|e| CtlError::Io(e.to_string()))?;
        let message_id = String::from_utf8(id)
            .map_err(|_| CtlError::Protocol("message id is not UTF-8".into()))?;
        let mut body = vec![0u8; body_len];
        r.read_exact(&mut body)
            .await
            .map_err(|e| CtlError::Io(e.to_string()))?;
        Ok(Some(Frame {
            txn,
            message_id,
            body,
        }))
    }

    pub async fn write<W: AsyncWrite + Unpin>(&self, w: &mut W) -> Result<(), CtlError> {
        let bytes = self.encode()?;
        w.write_all(&bytes)
            .await
            .map_err(|e| CtlError::Io(e.to_string()))?;
        w.flush().await.map_err(|e| CtlError::Io(e.to_string()))
    }

    /// Decodes the body as `M`.
    pub fn decode<M: Message + Default>(&self) -> Result<M, CtlError> {
        M::decode(self.body.as_slice())
            .map_err(|e| CtlError::Protocol(format!("{} body: {e}", self.message_id)))
    }

    /// True for the final reply of a transaction (or any non-transactional message).
    pub fn is_complete(&self) -> bool {
        self.txn.map(|t| t.is_complete).unwrap_or(true)
    }
}

// ---- proto2 messages (sup.net, sup.types, sup.ctl); field numbers from the .proto files ----

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    prost::Enumeration,
    Serialize,
    Deserialize,
)]
#[repr(i32)]
pub enum ErrCode {
    Internal = 0,
    Io = 1,
    NotFound = 2,
    Conflict = 3,
    Unauthorized = 4,
    NotSupported = 5,
    BadPayload = 6,
    InvalidPayload = 7,
    EntityTooLarge = 8,
    UpdateClient = 9,
    TlsHandshakeFailed = 10,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NetOk {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NetErr {
    #[prost(enumeration = "ErrCode", required, tag = "1")]
    pub code: i32,
    #[prost(string, required, tag = "2")]
    pub msg: String,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct PackageIdentMsg {
    #[prost(string, required, tag = "1")]
    pub origin: String,
    #[prost(string, required, tag = "2")]
    pub name: String,
    #[prost(string, optional, tag = "3")]
    pub version: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub release: Option<String>,
}

impl PackageIdentMsg {
    pub fn new(origin: &str, name: &str) -> PackageIdentMsg {
        PackageIdentMsg {
            origin: origin.to_owned(),
            name: name.to_owned(),
            version: None,
            release: None,
        }
    }

    pub fn to_ident_string(&self) -> String {
        let mut s = format!("{}/{}", self.origin, self.name);
        for part in [&self.version, &self.release].into_iter().flatten() {
            s.push('/');
            s.push_str(part);
        }
        s
    }
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ServiceGroupMsg {
    #[prost(string, required, tag = "1")]
    pub service: String,
    #[prost(string, required, tag = "2")]
    pub group: String,
    #[prost(string, optional, tag = "4")]
    pub organization: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum ProcessStateMsg {
    Down = 0,
    Up = 1,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum DesiredState {
    DesiredNone = -1,
    DesiredDown = 0,
    DesiredUp = 1,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ProcessStatus {
    #[prost(uint64, optional, tag = "1")]
    pub elapsed: Option<u64>,
    #[prost(uint32, optional, tag = "2")]
    pub pid: Option<u32>,
    #[prost(enumeration = "ProcessStateMsg", required, tag = "3")]
    pub state: i32,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ServiceStatusMsg {
    #[prost(message, required, tag = "1")]
    pub ident: PackageIdentMsg,
    #[prost(message, optional, tag = "2")]
    pub process: Option<ProcessStatus>,
    #[prost(message, required, tag = "3")]
    pub service_group: ServiceGroupMsg,
    #[prost(enumeration = "DesiredState", optional, tag = "5")]
    pub desired_state: Option<i32>,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Handshake {
    #[prost(string, optional, tag = "1")]
    pub secret_key: Option<String>,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SvcStop {
    #[prost(message, optional, tag = "1")]
    pub ident: Option<PackageIdentMsg>,
    #[prost(uint32, optional, tag = "3")]
    pub timeout_in_seconds: Option<u32>,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SvcStart {
    #[prost(message, optional, tag = "1")]
    pub ident: Option<PackageIdentMsg>,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SvcStatus {
    #[prost(message, optional, tag = "1")]
    pub ident: Option<PackageIdentMsg>,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ConsoleLine {
    #[prost(string, required, tag = "1")]
    pub line: String,
    #[prost(string, optional, tag = "2")]
    pub color: Option<String>,
    #[prost(bool, required, tag = "3")]
    pub bold: bool,
}

/// What a command produced: the console lines, and the service statuses for `SvcStatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CtlReply {
    pub console: Vec<String>,
    pub statuses: Vec<ServiceStatusMsg>,
}

/// Where a control gateway is, and its shared secret (`/hab/sup/default/CTL_SECRET`).
#[derive(Clone)]
pub struct CtlTarget {
    pub addr: String,
    pub secret: String,
}

impl std::fmt::Debug for CtlTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtlTarget")
            .field("addr", &self.addr)
            .field("secret", &"***")
            .finish()
    }
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
        tokio::time::timeout(self.timeout, async {
            let mut stream = TcpStream::connect(&target.addr)
                .await
                .map_err(|e| CtlError::Connect(format!("{}: {e}", target.addr)))?;
            stream.set_nodelay(true).ok();
            let hs = Handshake {
                secret_key: Some(target.secret.clone()),
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
            Frame::new(Some(Txn::request(1)), message_id, body)
                .write(&mut stream)
                .await?;
            let mut out = CtlReply::default();
            loop {
                let frame = Frame::read(&mut stream).await?.ok_or(CtlError::Closed)?;
                match frame.message_id.as_str() {
                    "NetErr" => return Err(refusal(&frame)),
                    "ConsoleLine" => out.console.push(frame.decode::<ConsoleLine>()?.line),
                    "ServiceStatus" => out.statuses.push(frame.decode::<ServiceStatusMsg>()?),
                    _ => {}
                }
                if frame.is_complete() {
                    return Ok(out);
                }
            }
        })
        .await
        .map_err(|_| CtlError::Timeout(secs))?
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn expect(parts: &[&[u8]]) -> String {
        hex(&parts.concat())
    }

    // The worked examples of the reference (habitat.md §2.6), byte for byte.

    #[test]
    fn handshake_bytes() {
        let f = Frame::message(
            Some(Txn::request(0)),
            "Handshake",
            &Handshake {
                secret_key: Some("s3cr3t".into()),
            },
        );
        assert_eq!(
            hex(&f.encode().unwrap()),
            expect(&[
                &[0x80, 0x90, 0x00, 0x08, 0, 0, 0, 0],
                b"Handshake",
                &[0x0a, 0x06],
                b"s3cr3t"
            ])
        );
    }

    #[test]
    fn net_ok_reply_bytes() {
        let f = Frame::message(Some(Txn::reply(0, true)), "NetOk", &NetOk {});
        assert_eq!(
            hex(&f.encode().unwrap()),
            expect(&[&[0x80, 0x50, 0x00, 0x00, 0xc0, 0, 0, 0], b"NetOk"])
        );
    }

    #[test]
    fn svc_stop_bytes() {
        let f = Frame::message(
            Some(Txn::request(1)),
            "SvcStop",
            &SvcStop {
                ident: Some(PackageIdentMsg::new("habitat", "builder-api")),
                timeout_in_seconds: None,
            },
        );
        assert_eq!(
            hex(&f.encode().unwrap()),
            expect(&[
                &[0x80, 0x70, 0x00, 0x18, 0, 0, 0, 1],
                b"SvcStop",
                &[0x0a, 0x16, 0x0a, 0x07],
                b"habitat",
                &[0x12, 0x0b],
                b"builder-api"
            ])
        );
    }

    #[test]
    fn svc_status_all_bytes() {
        let f = Frame::message(
            Some(Txn::request(1)),
            "SvcStatus",
            &SvcStatus { ident: None },
        );
        assert_eq!(
            hex(&f.encode().unwrap()),
            expect(&[&[0x80, 0x90, 0x00, 0x00, 0, 0, 0, 1], b"SvcStatus"])
        );
    }

    #[test]
    fn partial_and_final_txn_words() {
        assert_eq!(Txn::reply(1, false).encode(), 0x8000_0001);
        assert_eq!(Txn::reply(1, true).encode(), 0xc000_0001);
    }

    #[test]
    fn net_err_not_found_bytes() {
        let f = Frame::message(
            Some(Txn::reply(1, true)),
            "NetErr",
            &NetErr {
                code: ErrCode::NotFound as i32,
                msg: "Service not loaded, habitat/builder-api".into(),
            },
        );
        assert_eq!(
            hex(&f.encode().unwrap()),
            expect(&[
                &[0x80, 0x60, 0x00, 0x2b, 0xc0, 0, 0, 1],
                b"NetErr",
                &[0x08, 0x02, 0x12, 0x27],
                b"Service not loaded, habitat/builder-api"
            ])
        );
    }

    #[tokio::test]
    async fn frames_round_trip_and_bad_frames_are_errors() {
        let f = Frame::message(
            Some(Txn::reply(7, true)),
            "ConsoleLine",
            &ConsoleLine {
                line: "hello\n".into(),
                color: None,
                bold: false,
            },
        );
        let bytes = f.encode().unwrap();
        let back = Frame::read(&mut bytes.as_slice()).await.unwrap().unwrap();
        assert_eq!(back, f);
        assert_eq!(back.decode::<ConsoleLine>().unwrap().line, "hello\n");
        // Truncated body.
        assert!(Frame::read(&mut &bytes[..bytes.len() - 1]).await.is_err());
        // Clean EOF.
        assert_eq!(Frame::read(&mut &b""[..]).await.unwrap(), None);
        // Reserved bits.
        assert!(Frame::read(&mut &[0x7c, 0, 0, 0][..]).await.is_err());
        // Oversized id.
        assert!(Frame::new(None, &"x".repeat(64), vec![]).encode().is_err());
        // Non-transactional frames are complete.
        let nt = Frame::new(None, "NetOk", vec![]);
        assert!(nt.is_complete());
        assert_eq!(
            hex(&nt.encode().unwrap()),
            expect(&[&[0x00, 0x50, 0, 0], b"NetOk"])
        );
    }
}
