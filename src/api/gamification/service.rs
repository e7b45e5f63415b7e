//! Handlers of `GamificationService`. Methods not written yet fall back to the
//! generated default, which answers UNIMPLEMENTED.

use crate::api::AppState;
use crate::proto::gamification::v1::gamification_service_server::GamificationService;

/// The `GamificationService` implementation.
#[derive(Clone)]
pub struct GamificationApi {
    #[allow(dead_code)] // used as the service's RPCs are implemented
    state: AppState,
}

impl GamificationApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl GamificationService for GamificationApi {}
