//! Handlers of `EventService`. Methods not written yet fall back to the
//! generated default, which answers UNIMPLEMENTED.

use crate::api::AppState;
use crate::proto::events::v1::event_service_server::EventService;

/// The `EventService` implementation.
#[derive(Clone)]
pub struct EventApi {
    #[allow(dead_code)] // used as the service's RPCs are implemented
    state: AppState,
}

impl EventApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl EventService for EventApi {}
