//! Handlers of `EventService`: thin, the work is in `ingest` (events) and
//! `catalog` (catalogue upserts).

use std::pin::Pin;

use futures::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::ingest::{self, Ingestion};
use crate::api::{ApiError, AppState, caller};
use crate::db::ingest::Outcome;
use crate::proto::events::v1 as pb;
use crate::proto::events::v1::event_service_server::EventService;

/// The `EventService` implementation.
#[derive(Clone)]
pub struct EventApi {
    state: AppState,
    ingestion: Ingestion,
}

impl EventApi {
    pub fn new(state: AppState, ingestion: Ingestion) -> Self {
        Self { state, ingestion }
    }
}

type ResultStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl EventService for EventApi {
    /// One event, one transaction. Unlike the stream, refusals are errors:
    /// INVALID_ARGUMENT (with the bad fields) and ALREADY_EXISTS (event id
    /// reused with another payload); a duplicate is a success.
    async fn publish_event(
        &self,
        request: Request<pb::PublishEventRequest>,
    ) -> Result<Response<pb::PublishEventResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let event = request.into_inner().event;
        let checked = ingest::check(event.as_ref());
        if let Err(violations) = checked {
            return Err(ApiError::InvalidArgument(violations).into());
        }
        let event_id = event.map(|e| e.event_id).unwrap_or_default();
        let outcome = ingest::apply(&self.state, &ctx, vec![checked])
            .await?
            .pop()
            .ok_or_else(|| ApiError::Internal("no outcome for the event".into()))?;
        match outcome {
            Outcome::Invalid(violations) => Err(ApiError::InvalidArgument(violations).into()),
            Outcome::Conflict => Err(ApiError::AlreadyExists(format!(
                "event_id {event_id:?} was already used with another payload; nothing applied"
            ))
            .into()),
            accepted_or_duplicate => Ok(Response::new(pb::PublishEventResponse {
                result: Some(ingest::result(0, &event_id, accepted_or_duplicate)),
            })),
        }
    }

    async fn publish_events(
        &self,
        request: Request<Streaming<pb::PublishEventsRequest>>,
    ) -> Result<Response<ResultStream<pb::PublishEventsResponse>>, Status> {
        let ctx = caller(&request)?.clone();
        let rx = ingest::open_stream(
            self.state.clone(),
            &self.ingestion,
            ctx,
            request.into_inner(),
        )?;
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
