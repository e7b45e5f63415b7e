//! Integration tests: the real server over a socket, on a real PostgreSQL.
//! One binary so that all tests share one cluster (see `harness`).

mod harness;

mod analytics;
mod analytics_support;
mod auth;
mod auth_attacks;
mod backup;
mod bad_input;
mod blackbox;
mod catalog;
mod cli;
mod data_rights;
mod demo;
mod faults;
mod gamification;
mod health;
mod identity;
mod ingest;
mod ingest_property;
mod ingest_support;
mod jobs;
mod limits;
mod load;
mod migrations;
mod private_cluster;
mod process;
mod readme;
mod reflection;
mod replica;
mod rls;
mod schema;
mod sessions;
mod stream_slots;
mod xapi;
