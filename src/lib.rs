//! Stride: learning analytics and gamification over gRPC, on PostgreSQL.
//!
//! The data path: request -> [`auth`] layer -> service in [`api`] -> pure
//! rule in [`domain`] -> one transaction through [`db`] -> response.

pub mod api;
pub mod auth;
pub mod cli;
pub mod codec;
pub mod config;
pub mod db;
pub mod deadline;
pub mod demo;
pub mod domain;
pub mod embedded_pg;
pub mod http2;
pub mod jobs;
pub mod linger;
pub mod metrics;
pub mod proto;
pub mod server;
pub mod shed;
pub mod telemetry;
pub mod unreadable;
