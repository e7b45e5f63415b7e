use std::time::Duration;

use stride::server::SERVICE_NAMES;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::harness::TestServer;

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
