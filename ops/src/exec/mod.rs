//! The executors that reach into production hosts: SSH ([`ssh`]: a command run on a host as the
//! configured user, its output streamed into a [`crate::change::Sink`], the host key checked
//! against `known_hosts`). The control gateway's client is [`crate::supervisor::ctl`]; which host
//! is reached with which key is [`crate::access`].

pub mod ssh;
