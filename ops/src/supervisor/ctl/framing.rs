//! The control gateway's framing ("SrvProtocol" codec). No I/O beyond reading and writing one
//! frame on a stream given to it.
//!
//! Frame: `header u32 BE` (bit 31 is_txn, bits 25..20 message-id length, bits 19..0 body length),
//! an optional `txn u32 BE` (bit 31 is_response, bit 30 is_complete, bits 29..0 id), the ASCII
//! message id, then the protobuf body.

use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::CtlError;

pub const MAX_BODY_LEN: usize = 0xF_FFFF;
pub const MAX_MESSAGE_ID_LEN: usize = 0x3F;

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

    pub(crate) fn encode(self) -> u32 {
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
