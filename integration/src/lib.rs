//! The end-to-end harness: a real Kafka-protocol broker, the real service binaries as child
//! processes, real HTTP servers and files. Nothing here is mocked.

pub mod broker;
pub mod chaos;
pub mod data;
pub mod services;
pub mod topics;
