//! Handlers of `GamificationService`: caller -> checks -> one transaction
//! (in `profile`, `leaderboard`, `recompute`) -> mapping.

use tonic::{Request, Response, Status};

use super::hub::BoardHub;
use super::{leaderboard, profile, recompute};
use crate::api::{AppState, caller};
use crate::proto::gamification::v1 as pb;
use crate::proto::gamification::v1::gamification_service_server::GamificationService;

/// The `GamificationService` implementation.
#[derive(Clone)]
pub struct GamificationApi {
    state: AppState,
    hub: BoardHub,
}

impl GamificationApi {
    pub fn new(state: AppState, hub: BoardHub) -> Self {
        Self { state, hub }
    }
}

type Updates = std::pin::Pin<
    Box<dyn futures::Stream<Item = Result<pb::WatchLeaderboardResponse, Status>> + Send>,
>;

#[tonic::async_trait]
impl GamificationService for GamificationApi {
    async fn get_profile(
        &self,
        request: Request<pb::GetProfileRequest>,
    ) -> Result<Response<pb::GetProfileResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = profile::get_profile(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn list_ledger(
        &self,
        request: Request<pb::ListLedgerRequest>,
    ) -> Result<Response<pb::ListLedgerResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = profile::list_ledger(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_leaderboard(
        &self,
        request: Request<pb::GetLeaderboardRequest>,
    ) -> Result<Response<pb::GetLeaderboardResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply =
            leaderboard::get(&self.state, &self.hub.snapshots, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn watch_leaderboard(
        &self,
        request: Request<pb::WatchLeaderboardRequest>,
    ) -> Result<Response<Updates>, Status> {
        let ctx = caller(&request)?.clone();
        let updates = self
            .hub
            .watches
            .watch(&self.state, ctx, request.into_inner())?;
        Ok(Response::new(updates))
    }

    async fn list_achievements(
        &self,
        request: Request<pb::ListAchievementsRequest>,
    ) -> Result<Response<pb::ListAchievementsResponse>, Status> {
        let ctx = caller(&request)?.clone();
        Ok(Response::new(
            profile::list_achievements(&self.state, &ctx).await?,
        ))
    }

    async fn create_achievement(
        &self,
        request: Request<pb::CreateAchievementRequest>,
    ) -> Result<Response<pb::CreateAchievementResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = profile::create_achievement(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn recompute_gamification(
        &self,
        request: Request<pb::RecomputeGamificationRequest>,
    ) -> Result<Response<pb::RecomputeGamificationResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = recompute::run(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }
}
