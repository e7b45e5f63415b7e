//! Handlers of `AnalyticsService`. Methods not written yet fall back to the
//! generated default, which answers UNIMPLEMENTED.

use crate::api::AppState;
use crate::proto::analytics::v1::analytics_service_server::AnalyticsService;

/// The `AnalyticsService` implementation.
#[derive(Clone)]
pub struct AnalyticsApi {
    #[allow(dead_code)] // used as the service's RPCs are implemented
    state: AppState,
}

impl AnalyticsApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl AnalyticsService for AnalyticsApi {}
