use std::time::Duration;

use stride::server::SERVICE_NAMES;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::harness::{TestServer, eventually};

async fn status_of(
    client: &mut HealthClient<tonic::transport::Channel>,
    service: &str,
) -> Option<i32> {
    client
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .ok()
        .map(|r| r.into_inner().status)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_service_reports_serving_without_a_token() {
    let server = TestServer::start().await;
    let mut client = HealthClient::new(server.channel());
    for service in std::iter::once("").chain(SERVICE_NAMES) {
        // The first database probe runs right after start-up; allow it a moment.
        let mut status = None;
        for _ in 0..50 {
            status = status_of(&mut client, service).await;
            if status == Some(ServingStatus::Serving as i32) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            status,
            Some(ServingStatus::Serving as i32),
            "service {service:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_service_is_not_found() {
    let server = TestServer::start().await;
    let mut client = HealthClient::new(server.channel());
    let err = client
        .check(HealthCheckRequest {
            service: "stride.nope.v1.NopeService".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn graceful_shutdown_ends_the_server() {
    let server = TestServer::start().await;
    let addr = server.addr;
    tokio::time::timeout(Duration::from_secs(10), server.shutdown())
        .await
        .expect("shutdown within 10 s")
        .expect("server ended cleanly");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port no longer accepts connections"
    );
}

/// The count of `stride_token_verdicts_total` from `source` on `server`.
pub async fn token_verdicts(server: &TestServer, source: &str) -> u64 {
    let text = scrape(server).await;
    let line = format!("stride_token_verdicts_total{{source=\"{source}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&line))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {line} in:\n{text}"))
}

/// `GET /metrics` on the metrics port, as Prometheus scrapes it.
pub async fn scrape(server: &TestServer) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(server.metrics_addr)
        .await
        .expect("metrics port");
    socket
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: stride\r\n\r\n")
        .await
        .unwrap();
    let mut reply = String::new();
    socket.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
    reply
}

#[tokio::test]
async fn metrics_count_calls_by_method_and_code_and_show_the_pool() {
    use stride::auth::Role;
    use stride::proto::identity::v1::WhoAmIRequest;
    use stride::proto::identity::v1::identity_service_client::IdentityServiceClient;

    let server = TestServer::start().await;
    let (user, org) = server.person(None, &[Role::Learner]).await;
    let token = server.user_token(user, org, Role::Learner);
    let mut identity = IdentityServiceClient::new(server.channel());
    for _ in 0..2 {
        identity
            .who_am_i(crate::harness::authed(WhoAmIRequest::default(), &token))
            .await
            .expect("WhoAmI");
    }
    let refused = identity
        .who_am_i(tonic::Request::new(WhoAmIRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let text = scrape(&server).await;
    let method = "/stride.identity.v1.IdentityService/WhoAmI";
    assert!(
        text.contains(&format!(
            "stride_rpc_requests_total{{method=\"{method}\",code=\"OK\"}} 2"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "stride_rpc_requests_total{{method=\"{method}\",code=\"Unauthenticated\"}} 1"
        )),
        "{text}"
    );
    assert!(text.contains(&format!(
        "stride_rpc_duration_seconds_count{{method=\"{method}\"}} 3"
    )));
    assert!(
        text.contains("stride_db_pool_connections{state=\"max\"} 4"),
        "{text}"
    );
    // Anything but /metrics is not found.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(server.metrics_addr)
        .await
        .unwrap();
    socket.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut reply = String::new();
    socket.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_database_down_and_back_without_a_restart() {
    use stride::auth::Role;
    use stride::proto::identity::v1::WhoAmIRequest;
    use stride::proto::identity::v1::identity_service_client::IdentityServiceClient;

    let mut cluster = crate::harness::PrivateCluster::start("health").await;
    let server = TestServer::serve(&cluster.url, &cluster.app_url, Default::default()).await;
    let (user, org) = server.person(None, &[Role::Learner]).await;
    let token = server.user_token(user, org, Role::Learner);
    let mut health = HealthClient::new(server.channel());
    let serving = ServingStatus::Serving as i32;
    assert!(
        eventually(Duration::from_secs(10), async || status_of(&mut health, "")
            .await
            == Some(serving))
        .await
    );

    cluster.stop();
    let not_serving = ServingStatus::NotServing as i32;
    assert!(
        eventually(Duration::from_secs(15), async || status_of(&mut health, "")
            .await
            == Some(not_serving))
        .await,
        "health turns NOT_SERVING"
    );
    // Calls fail fast with UNAVAILABLE, not a hang or INTERNAL.
    let started = tokio::time::Instant::now();
    let down = IdentityServiceClient::new(server.channel())
        .who_am_i(crate::harness::authed(WhoAmIRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(down.code(), tonic::Code::Unavailable, "{down:?}");
    assert!(started.elapsed() < Duration::from_secs(10));

    cluster.restart().await;
    assert!(
        eventually(Duration::from_secs(20), async || status_of(&mut health, "")
            .await
            == Some(serving))
        .await,
        "health returns to SERVING"
    );
    let back = IdentityServiceClient::new(server.channel())
        .who_am_i(crate::harness::authed(WhoAmIRequest::default(), &token))
        .await;
    assert!(back.is_ok(), "the pool reconnected: {back:?}");
}
