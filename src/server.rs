//! Assembles the gRPC server: the four Stride services behind the auth
//! layer, health (per service, following the database) and reflection (v1
//! and v1alpha, so every grpcurl version works). This file only wires; it
//! holds no business rule.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding::Gzip;
use tonic::server::NamedService;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::api::events::Ingestion;
use crate::api::gamification::BoardHub;
use crate::api::{AnalyticsApi, AppState, EventApi, GamificationApi, IdentityApi};
use crate::auth::AuthLayer;
use crate::config::Limits;
use crate::proto::analytics::v1::analytics_service_server::AnalyticsServiceServer;
use crate::proto::events::v1::event_service_server::EventServiceServer;
use crate::proto::gamification::v1::gamification_service_server::GamificationServiceServer;
use crate::proto::identity::v1::identity_service_server::IdentityServiceServer;
use crate::{db, http2};

/// The background jobs with the work they take from the API (the history
/// records the analytics' answers).
pub fn job_runner(settings: crate::jobs::JobSettings) -> crate::jobs::Runner {
    crate::jobs::Runner {
        settings,
        record_history: crate::api::analytics::record_history,
    }
}

/// How often the health task checks the database.
const HEALTH_PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// The names health reports on, one per Stride service.
pub const SERVICE_NAMES: [&str; 4] = [
    <IdentityServiceServer<IdentityApi> as NamedService>::NAME,
    <EventServiceServer<EventApi> as NamedService>::NAME,
    <GamificationServiceServer<GamificationApi> as NamedService>::NAME,
    <AnalyticsServiceServer<AnalyticsApi> as NamedService>::NAME,
];

/// Serves on `listener` until `shutdown` resolves, then stops accepting
/// calls and gives in-flight ones `limits.shutdown_grace()` to finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    limits: &Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    let probe = tokio::spawn(track_database_health(reporter, state.pool.clone()));

    // Each reflection version also registers the other's descriptors, so
    // `grpcurl list` shows both whichever version the client speaks.
    let reflection_v1 =
        reflection(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET).build_v1()?;
    let reflection_v1alpha =
        reflection(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET).build_v1alpha()?;

    let max = limits.max_message_bytes;
    let keys = state.keys.clone();
    let auth = AuthLayer::new(
        keys,
        state.pool.clone(),
        limits.token_verdict(),
        state.metrics.clone(),
    );
    let metrics = crate::metrics::MetricsLayer::new(state.metrics.clone());
    // Every service reads gzip-compressed requests and answers in gzip a
    // client that asks for it (grpc-accept-encoding).
    let identity = IdentityServiceServer::new(IdentityApi::new(state.clone()))
        .max_decoding_message_size(max)
        .accept_compressed(Gzip)
        .send_compressed(Gzip);
    let events = EventServiceServer::new(EventApi::new(state.clone(), Ingestion::new(limits)))
        .max_decoding_message_size(max)
        .accept_compressed(Gzip)
        .send_compressed(Gzip);
    let gamification =
        GamificationServiceServer::new(GamificationApi::new(state.clone(), BoardHub::new(limits)))
            .max_decoding_message_size(max)
            .accept_compressed(Gzip)
            .send_compressed(Gzip);
    let analytics = AnalyticsServiceServer::new(AnalyticsApi::new(state))
        .max_decoding_message_size(max)
        .accept_compressed(Gzip)
        .send_compressed(Gzip);

    // Graceful shutdown: once `shutdown` fires, tonic stops accepting and
    // drains; streams that never end are cut after the grace period.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut drain_rx = stop_rx.clone();
    let mut signal_rx = stop_rx;
    let signal = async move {
        let _ = signal_rx.wait_for(|stopped| *stopped).await;
        tracing::info!("shutting down: draining in-flight calls");
    };
    let grace = limits.shutdown_grace();
    // Overload: beyond max_concurrent_requests the limit is not ready, and
    // the shed layer answers RESOURCE_EXHAUSTED at once.
    // Flow control stops a fast producer before h2's small-frame guard
    // would disconnect it (src/http2.rs).
    let server = Server::builder()
        .initial_stream_window_size(http2::STREAM_WINDOW)
        .initial_connection_window_size(http2::CONNECTION_WINDOW)
        .max_concurrent_streams(http2::MAX_STREAMS_PER_CONNECTION)
        .layer(crate::linger::LingerLayer)
        .layer(metrics)
        .layer(tower::util::MapResponseLayer::new(
            crate::unreadable::translate_response,
        ))
        .layer(crate::shed::ShedLayer::new(limits.max_concurrent_requests))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            limits.max_concurrent_requests as usize,
        ))
        .layer(crate::deadline::DeadlineLayer::new(
            limits.request_timeout(),
        ))
        .layer(auth)
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(identity)
        .add_service(events)
        .add_service(gamification)
        .add_service(analytics)
        .serve_with_incoming_shutdown(incoming(listener), signal);
    let result = tokio::select! {
        res = server => res.map_err(anyhow::Error::from),
        _ = async {
            let _ = drain_rx.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_s = grace.as_secs(), "in-flight calls still open after the grace period; closing them");
            Ok(())
        }
    };
    probe.abort();
    result
}

/// Accepted connections with TCP_NODELAY: small replies go out at once
/// instead of waiting on delayed ACKs (tens of milliseconds per unary call),
/// and with keepalive so dead peers are noticed.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)))
}

fn reflection(other_version: &'static [u8]) -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(other_version)
}

/// Keeps every service's health status in step with the database: a
/// service without its database cannot serve, and balancers should know.
async fn track_database_health(reporter: HealthReporter, pool: db::PgPool) {
    let mut last = None;
    loop {
        let status = if db::ping(&pool).await {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        if last != Some(status) {
            for name in SERVICE_NAMES {
                reporter.set_service_status(name, status).await;
            }
            reporter.set_service_status("", status).await;
            if status == ServingStatus::NotServing {
                tracing::warn!("database unreachable: health is NOT_SERVING");
            }
            last = Some(status);
        }
        tokio::time::sleep(HEALTH_PROBE_INTERVAL).await;
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            // Without a SIGTERM handler, SIGINT still works.
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("received SIGINT"),
        _ = term => tracing::info!("received SIGTERM"),
    }
}

/// Shared handles every service gets.
pub fn state(pool: db::PgPool, keys: crate::auth::TokenKeys) -> AppState {
    AppState {
        reads: Arc::new(db::replica::ReadRouter::primary_only(pool.clone())),
        pool,
        keys: Arc::new(keys),
        tokens: Default::default(),
        flights: Default::default(),
        metrics: Default::default(),
    }
}
