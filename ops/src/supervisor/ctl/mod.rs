//! The Supervisor's control gateway (default port 9632): the protocol `hab svc stop/start/status`
//! speaks. In layers: [`framing`] (the codec), [`messages`] (the protobuf messages), [`client`]
//! (handshake and one request per connection).

pub mod client;
pub mod framing;
pub mod messages;
pub mod tls;

use serde::{Deserialize, Serialize};

pub use client::{CtlClient, CtlReply, CtlTarget, REQUEST_TIMEOUT};
pub use framing::{Frame, Txn, MAX_BODY_LEN, MAX_MESSAGE_ID_LEN};
pub use messages::*;
pub use tls::CtlTls;

#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Serialize, Deserialize)]
pub enum CtlError {
    #[error("cannot connect to the control gateway: {0}")]
    Connect(String),
    /// The TLS handshake failed (an unknown CA, a wrong name, no client certificate…).
    #[error("the TLS handshake with the control gateway failed: {0}")]
    Tls(String),
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
    /// The reply went past what any Supervisor sends for one command: reading stopped there.
    #[error("the control gateway's reply passed {bytes} bytes in {frames} frames (at most {max_bytes} bytes and {max_frames} frames are read): Onwatch stopped reading; the gateway is broken or not a Supervisor's")]
    TooLarge {
        bytes: usize,
        frames: usize,
        max_bytes: usize,
        max_frames: usize,
    },
    /// The request was sent and then the reply failed: the Supervisor may have taken it.
    #[error(
        "the request was sent, but its reply was lost ({0}): the Supervisor may have acted on it"
    )]
    ReplyLost(Box<CtlError>),
}

impl CtlError {
    /// Whether the request reached the Supervisor before the failure (so it may have acted).
    pub fn after_sent(&self) -> bool {
        matches!(self, CtlError::ReplyLost(_))
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
