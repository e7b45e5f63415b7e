//! Handlers of `EventService`: thin, the work is in `ingest` (events),
//! `catalog` (catalogue upserts) and `xapi` (LRS statements).

use std::pin::Pin;

use futures::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::coalesce::Coalescer;
use super::ingest::{self, Ingestion};
use super::{catalog, xapi};
use crate::api::{ApiError, AppState, caller};
use crate::db::ingest::Outcome;
use crate::proto::events::v1 as pb;
use crate::proto::events::v1::event_service_server::EventService;

/// The `EventService` implementation.
#[derive(Clone)]
pub struct EventApi {
    state: AppState,
    ingestion: Ingestion,
    unary: Coalescer,
}

impl EventApi {
    /// Starts the unary group commit's workers (needs a Tokio runtime).
    pub fn new(state: AppState, ingestion: Ingestion) -> Self {
        let unary = Coalescer::start(state.clone(), ingestion.workers, ingestion.batch_size);
        Self {
            state,
            ingestion,
            unary,
        }
    }
}

type ResultStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl EventService for EventApi {
    async fn upsert_users(
        &self,
        request: Request<pb::UpsertUsersRequest>,
    ) -> Result<Response<pb::UpsertUsersResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = catalog::upsert_users(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn upsert_departments(
        &self,
        request: Request<pb::UpsertDepartmentsRequest>,
    ) -> Result<Response<pb::UpsertDepartmentsResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = catalog::upsert_departments(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn upsert_courses(
        &self,
        request: Request<pb::UpsertCoursesRequest>,
    ) -> Result<Response<pb::UpsertCoursesResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = catalog::upsert_courses(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn upsert_lessons(
        &self,
        request: Request<pb::UpsertLessonsRequest>,
    ) -> Result<Response<pb::UpsertLessonsResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = catalog::upsert_lessons(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn upsert_learning_paths(
        &self,
        request: Request<pb::UpsertLearningPathsRequest>,
    ) -> Result<Response<pb::UpsertLearningPathsResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = catalog::upsert_learning_paths(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn upsert_skills(
        &self,
        request: Request<pb::UpsertSkillsRequest>,
    ) -> Result<Response<pb::UpsertSkillsResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = catalog::upsert_skills(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn upsert_course_skills(
        &self,
        request: Request<pb::UpsertCourseSkillsRequest>,
    ) -> Result<Response<pb::UpsertCourseSkillsResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = catalog::upsert_course_skills(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn upsert_enrollments(
        &self,
        request: Request<pb::UpsertEnrollmentsRequest>,
    ) -> Result<Response<pb::UpsertEnrollmentsResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = catalog::upsert_enrollments(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn upsert_priority_skills(
        &self,
        request: Request<pb::UpsertPrioritySkillsRequest>,
    ) -> Result<Response<pb::UpsertPrioritySkillsResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply =
            catalog::upsert_priority_skills(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

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
        let outcome = self.unary.apply(ctx, checked).await?;
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
        )
        .await?;
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn import_xapi_statements(
        &self,
        request: Request<pb::ImportXapiStatementsRequest>,
    ) -> Result<Response<pb::ImportXapiStatementsResponse>, Status> {
        let ctx = caller(&request)?.clone();
        Ok(Response::new(
            xapi::import(&self.state, &ctx, request.into_inner()).await?,
        ))
    }
}
