//! The proto2 messages of `sup.net`, `sup.types` and `sup.ctl` that Onwatch speaks, with the
//! field numbers of the Supervisor's `.proto` files.

use serde::{Deserialize, Serialize};

use crate::supervisor::habitat::PackageIdent;

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
}

/// The wire form of an ident; its text is [`PackageIdent`]'s (the one ident formatter).
impl From<&PackageIdent> for PackageIdentMsg {
    fn from(i: &PackageIdent) -> PackageIdentMsg {
        PackageIdentMsg {
            origin: i.origin.clone(),
            name: i.name.clone(),
            version: i.version.clone(),
            release: i.release.clone(),
        }
    }
}

impl From<&PackageIdentMsg> for PackageIdent {
    fn from(m: &PackageIdentMsg) -> PackageIdent {
        PackageIdent {
            origin: m.origin.clone(),
            name: m.name.clone(),
            version: m.version.clone(),
            release: m.release.clone(),
        }
    }
}

impl std::fmt::Display for PackageIdentMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        PackageIdent::from(self).fmt(f)
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
