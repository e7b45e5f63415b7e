//! The tonic trait of `AnalyticsService`: one line per RPC into `handlers`.

use tonic::{Request, Response, Status};

use super::handlers;
use crate::api::{AppState, caller};
use crate::proto::analytics::v1 as pb;
use crate::proto::analytics::v1::analytics_service_server::AnalyticsService;

/// The `AnalyticsService` implementation.
#[derive(Clone)]
pub struct AnalyticsApi {
    state: AppState,
}

impl AnalyticsApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl AnalyticsService for AnalyticsApi {
    async fn get_learning_velocity(
        &self,
        request: Request<pb::GetLearningVelocityRequest>,
    ) -> Result<Response<pb::GetLearningVelocityResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = handlers::learning_velocity(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_skill_gap_matrix(
        &self,
        request: Request<pb::GetSkillGapMatrixRequest>,
    ) -> Result<Response<pb::GetSkillGapMatrixResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = handlers::skill_gap_matrix(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_engagement_score(
        &self,
        request: Request<pb::GetEngagementScoreRequest>,
    ) -> Result<Response<pb::GetEngagementScoreResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = handlers::engagement_score(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_mastery_progress(
        &self,
        request: Request<pb::GetMasteryProgressRequest>,
    ) -> Result<Response<pb::GetMasteryProgressResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = handlers::mastery_progress(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_assessment_performance(
        &self,
        request: Request<pb::GetAssessmentPerformanceRequest>,
    ) -> Result<Response<pb::GetAssessmentPerformanceResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply =
            handlers::assessment_performance(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_content_effectiveness(
        &self,
        request: Request<pb::GetContentEffectivenessRequest>,
    ) -> Result<Response<pb::GetContentEffectivenessResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply =
            handlers::content_effectiveness(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_course_performance(
        &self,
        request: Request<pb::GetCoursePerformanceRequest>,
    ) -> Result<Response<pb::GetCoursePerformanceResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = handlers::course_performance(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_course_health(
        &self,
        request: Request<pb::GetCourseHealthRequest>,
    ) -> Result<Response<pb::GetCourseHealthResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = handlers::course_health(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_student_distribution(
        &self,
        request: Request<pb::GetStudentDistributionRequest>,
    ) -> Result<Response<pb::GetStudentDistributionResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = handlers::student_distribution(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_teaching_effectiveness(
        &self,
        request: Request<pb::GetTeachingEffectivenessRequest>,
    ) -> Result<Response<pb::GetTeachingEffectivenessResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply =
            handlers::teaching_effectiveness(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_organization_velocity(
        &self,
        request: Request<pb::GetOrganizationVelocityRequest>,
    ) -> Result<Response<pb::GetOrganizationVelocityResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply =
            handlers::organization_velocity(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_strategic_alignment(
        &self,
        request: Request<pb::GetStrategicAlignmentRequest>,
    ) -> Result<Response<pb::GetStrategicAlignmentResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = handlers::strategic_alignment(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_department_analytics(
        &self,
        request: Request<pb::GetDepartmentAnalyticsRequest>,
    ) -> Result<Response<pb::GetDepartmentAnalyticsResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = handlers::department_analytics(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_learning_culture(
        &self,
        request: Request<pb::GetLearningCultureRequest>,
    ) -> Result<Response<pb::GetLearningCultureResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = handlers::learning_culture(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_drop_off_risk(
        &self,
        request: Request<pb::GetDropOffRiskRequest>,
    ) -> Result<Response<pb::GetDropOffRiskResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = handlers::drop_off_risk(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_outcome_forecast(
        &self,
        request: Request<pb::GetOutcomeForecastRequest>,
    ) -> Result<Response<pb::GetOutcomeForecastResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = handlers::outcome_forecast(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_recommendations(
        &self,
        request: Request<pb::GetRecommendationsRequest>,
    ) -> Result<Response<pb::GetRecommendationsResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = handlers::recommendations(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_skill_demand(
        &self,
        request: Request<pb::GetSkillDemandRequest>,
    ) -> Result<Response<pb::GetSkillDemandResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = handlers::skill_demand(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_peer_comparison(
        &self,
        request: Request<pb::GetPeerComparisonRequest>,
    ) -> Result<Response<pb::GetPeerComparisonResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = handlers::peer_comparison(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }
}
