use std::collections::BTreeSet;

use tokio_stream::StreamExt;

use crate::harness::TestServer;

const EXPECTED: [&str; 7] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "stride.analytics.v1.AnalyticsService",
    "stride.events.v1.EventService",
    "stride.gamification.v1.GamificationService",
    "stride.identity.v1.IdentityService",
];

#[tokio::test(flavor = "multi_thread")]
async fn v1_lists_the_four_services_health_and_reflection() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let server = TestServer::start().await;
    let mut client = ServerReflectionClient::new(server.channel());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection call")
        .into_inner();
    let reply = stream.next().await.expect("one reply").expect("ok reply");
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("expected a service list, got {:?}", reply.message_response);
    };
    let names: BTreeSet<_> = list.service.into_iter().map(|s| s.name).collect();
    assert_eq!(names, EXPECTED.into_iter().map(String::from).collect());
}

#[tokio::test(flavor = "multi_thread")]
async fn v1alpha_describes_a_stride_method() {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

    let server = TestServer::start().await;
    let mut client = ServerReflectionClient::new(server.channel());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(
            "stride.identity.v1.IdentityService".into(),
        )),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection call")
        .into_inner();
    let reply = stream.next().await.expect("one reply").expect("ok reply");
    let Some(MessageResponse::FileDescriptorResponse(files)) = reply.message_response else {
        panic!(
            "expected file descriptors, got {:?}",
            reply.message_response
        );
    };
    use prost::Message;
    let found = files.file_descriptor_proto.iter().any(|bytes| {
        prost_types::FileDescriptorProto::decode(bytes.as_slice())
            .map(|f| {
                f.service.iter().any(|s| {
                    s.name() == "IdentityService" && s.method.iter().any(|m| m.name() == "WhoAmI")
                })
            })
            .unwrap_or(false)
    });
    assert!(found, "IdentityService.WhoAmI is described");
}
