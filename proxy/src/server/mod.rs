//! The client-facing listeners: UDP and TCP on each --listen address.

pub mod batch;
pub mod tcp;
pub mod udp;
