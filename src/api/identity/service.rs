//! Handlers of `IdentityService`. Methods not written yet fall back to the
//! generated default, which answers UNIMPLEMENTED.

use tonic::{Request, Response, Status};

use super::mapping;
use crate::api::{AppState, caller};
use crate::proto::identity::v1::identity_service_server::IdentityService;
use crate::proto::identity::v1::{WhoAmIRequest, WhoAmIResponse};

/// The `IdentityService` implementation.
#[derive(Clone)]
pub struct IdentityApi {
    #[allow(dead_code)] // used as the service's RPCs are implemented
    state: AppState,
}

impl IdentityApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl IdentityService for IdentityApi {
    async fn who_am_i(
        &self,
        request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        let ctx = caller(&request)?;
        Ok(Response::new(mapping::who_am_i(ctx)))
    }
}
