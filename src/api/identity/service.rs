//! Handlers of `IdentityService`: caller -> access rule -> one transaction
//! under the caller's identity -> mapping. Methods not written yet fall back
//! to the generated default, which answers UNIMPLEMENTED.

use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{mapping, sessions};
use crate::api::{ApiError, AppState, caller, caller_user, enforce, paging, uuid_or};
use crate::auth::{Principal, Role};
use crate::db::models::organization::{NewOrganization, Organization};
use crate::db::models::preferences::Preferences;
use crate::db::models::user::{NewUser, User, UserFilter};
use crate::domain::access;
use crate::proto::identity::v1 as pb;
use crate::proto::identity::v1::identity_service_server::IdentityService;

/// Users per page: default and maximum.
const USERS_PAGE: (u32, u32) = (50, 200);

/// The `IdentityService` implementation.
#[derive(Clone)]
pub struct IdentityApi {
    state: AppState,
}

impl IdentityApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

fn is_platform_admin(principal: &Principal) -> bool {
    matches!(
        principal,
        Principal::User {
            role: Role::PlatformAdmin,
            ..
        }
    )
}

/// The chunks of an export, in order.
type ExportChunks = std::pin::Pin<
    Box<dyn futures::Stream<Item = Result<pb::ExportUserDataResponse, Status>> + Send>,
>;

#[tonic::async_trait]
impl IdentityService for IdentityApi {
    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        Ok(Response::new(
            sessions::login(&self.state, request.into_inner()).await?,
        ))
    }

    async fn refresh_token(
        &self,
        request: Request<pb::RefreshTokenRequest>,
    ) -> Result<Response<pb::RefreshTokenResponse>, Status> {
        Ok(Response::new(
            sessions::refresh(&self.state, request.into_inner()).await?,
        ))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let ctx = caller(&request)?;
        let reply = sessions::logout(&self.state, ctx, request.get_ref().clone()).await?;
        Ok(Response::new(reply))
    }

    async fn issue_service_token(
        &self,
        request: Request<pb::IssueServiceTokenRequest>,
    ) -> Result<Response<pb::IssueServiceTokenResponse>, Status> {
        caller(&request)?;
        Ok(Response::new(sessions::issue_service_token(
            &self.state,
            request.get_ref(),
        )?))
    }

    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let ctx = caller(&request)?;
        Ok(Response::new(mapping::who_am_i(ctx)))
    }

    async fn create_organization(
        &self,
        request: Request<pb::CreateOrganizationRequest>,
    ) -> Result<Response<pb::CreateOrganizationResponse>, Status> {
        let ctx = caller(&request)?;
        let new = mapping::new_org(request.get_ref())?;
        let org = self
            .state
            .tx(ctx, |conn| {
                Box::pin(async move {
                    let row = NewOrganization {
                        id: new.id,
                        name: &new.name,
                        domain: new.domain.as_deref(),
                        time_zone: &new.time_zone,
                        settings: Some(&new.settings),
                    };
                    Ok(Organization::create(conn, &row).await?)
                })
            })
            .await?;
        Ok(Response::new(pb::CreateOrganizationResponse {
            organization: Some(mapping::organization(&org)),
        }))
    }

    async fn update_organization(
        &self,
        request: Request<pb::UpdateOrganizationRequest>,
    ) -> Result<Response<pb::UpdateOrganizationResponse>, Status> {
        let ctx = caller(&request)?;
        let (id, changes) = mapping::org_changes(request.get_ref())?;
        let org = self
            .state
            .tx(ctx, |conn| {
                Box::pin(async move { Ok(Organization::update(conn, id, &changes).await?) })
            })
            .await?
            .ok_or_else(|| ApiError::NotFound("organization".into()))?;
        Ok(Response::new(pb::UpdateOrganizationResponse {
            organization: Some(mapping::organization(&org)),
        }))
    }

    async fn list_organizations(
        &self,
        request: Request<pb::ListOrganizationsRequest>,
    ) -> Result<Response<pb::ListOrganizationsResponse>, Status> {
        let ctx = caller(&request)?;
        let page = request.get_ref().page.as_ref();
        let size = paging::page_size(page, 50, 200)?;
        let after = paging::after(page)?;
        let orgs = self
            .state
            .tx(ctx, |conn| {
                Box::pin(async move { Ok(Organization::list(conn, after, size).await?) })
            })
            .await?;
        let next = paging::next_token(orgs.last().map(|o| o.id), orgs.len(), size);
        Ok(Response::new(pb::ListOrganizationsResponse {
            organizations: orgs.iter().map(mapping::organization).collect(),
            page: Some(crate::proto::common::v1::PageResponse {
                next_page_token: next,
                total_size: None,
            }),
        }))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::UpdateUserResponse>, Status> {
        let ctx = caller(&request)?;
        let (target, mut changes, password) = mapping::user_changes(request.get_ref())?;
        if let Some(password) = password {
            changes.password_hash = Some(Some(
                crate::auth::password::hash(password)
                    .await
                    .map_err(ApiError::from)?,
            ));
        }
        let principal = ctx.principal.clone();
        let user = self
            .state
            .tx(ctx, |conn| {
                Box::pin(async move {
                    let user = visible_user(conn, target).await?;
                    enforce(access::administer_org(&principal, user.organization_id))?;
                    let user = User::update(conn, target, &changes)
                        .await?
                        .ok_or_else(|| ApiError::NotFound("user".into()))?;
                    user_reply(conn, user).await
                })
            })
            .await?;
        Ok(Response::new(pb::UpdateUserResponse { user: Some(user) }))
    }

    async fn get_organization(
        &self,
        request: Request<pb::GetOrganizationRequest>,
    ) -> Result<Response<pb::GetOrganizationResponse>, Status> {
        let ctx = caller(&request)?;
        let id = uuid_or("id", &request.get_ref().id, ctx.org_id())?;
        if Some(id) != ctx.org_id() && !is_platform_admin(&ctx.principal) {
            return Err(ApiError::PermissionDenied(
                "only platform admins read other organizations".into(),
            )
            .into());
        }
        let org = self
            .state
            .tx(ctx, |conn| {
                Box::pin(async move { Ok(Organization::find(conn, id).await?) })
            })
            .await?
            .ok_or_else(|| ApiError::NotFound("organization".into()))?;
        Ok(Response::new(pb::GetOrganizationResponse {
            organization: Some(mapping::organization(&org)),
        }))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let ctx = caller(&request)?;
        let target = uuid_or(
            "user_id",
            &request.get_ref().user_id,
            caller_user(&ctx.principal),
        )?;
        enforce(access::read_person(&ctx.principal, target))?;
        let user = self
            .state
            .tx(ctx, |conn| {
                Box::pin(async move {
                    let user = visible_user(conn, target).await?;
                    user_reply(conn, user).await
                })
            })
            .await?;
        Ok(Response::new(pb::GetUserResponse { user: Some(user) }))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let ctx = caller(&request)?;
        let req = request.get_ref();
        let org = uuid_or("organization_id", &req.organization_id, ctx.org_id())?;
        if Some(org) != ctx.org_id() && !is_platform_admin(&ctx.principal) {
            return Err(ApiError::PermissionDenied(
                "only platform admins list other organizations".into(),
            )
            .into());
        }
        let size = paging::page_size(req.page.as_ref(), USERS_PAGE.0, USERS_PAGE.1)?;
        let filter = UserFilter {
            organization_id: Some(org),
            role: match req.role {
                0 => None,
                r => Some(mapping::role_from_proto("role", r)?.as_str()),
            },
            department_id: match req.department_id.as_str() {
                "" => None,
                d => Some(uuid_or("department_id", d, None)?),
            },
            include_inactive: req.include_inactive,
            after: paging::after(req.page.as_ref())?,
        };
        let (users, next) = self
            .state
            .tx(ctx, |conn| {
                Box::pin(async move {
                    let list = User::list(conn, &filter, size).await?;
                    let ids: Vec<Uuid> = list.iter().map(|u| u.id).collect();
                    let roles = User::roles_of(conn, &ids).await?;
                    let next = paging::next_token(ids.last().copied(), ids.len(), size);
                    Ok((mapping::users(&list, &roles), next))
                })
            })
            .await?;
        Ok(Response::new(pb::ListUsersResponse {
            users,
            page: Some(crate::proto::common::v1::PageResponse {
                next_page_token: next,
                total_size: None,
            }),
        }))
    }

    async fn deactivate_user(
        &self,
        request: Request<pb::DeactivateUserRequest>,
    ) -> Result<Response<pb::DeactivateUserResponse>, Status> {
        let ctx = caller(&request)?;
        let target = uuid_or("user_id", &request.get_ref().user_id, None)?;
        let principal = ctx.principal.clone();
        let user = self
            .state
            .tx(ctx, |conn| {
                Box::pin(async move {
                    let user = visible_user(conn, target).await?;
                    enforce(access::administer_org(&principal, user.organization_id))?;
                    let user = User::deactivate(conn, target)
                        .await?
                        .ok_or_else(|| ApiError::NotFound("user".into()))?;
                    user_reply(conn, user).await
                })
            })
            .await?;
        Ok(Response::new(pb::DeactivateUserResponse {
            user: Some(user),
        }))
    }

    async fn grant_role(
        &self,
        request: Request<pb::GrantRoleRequest>,
    ) -> Result<Response<pb::GrantRoleResponse>, Status> {
        let ctx = caller(&request)?;
        let req = request.get_ref();
        let user = self.change_role(ctx, &req.user_id, req.role, true).await?;
        Ok(Response::new(pb::GrantRoleResponse { user: Some(user) }))
    }

    async fn revoke_role(
        &self,
        request: Request<pb::RevokeRoleRequest>,
    ) -> Result<Response<pb::RevokeRoleResponse>, Status> {
        let ctx = caller(&request)?;
        let req = request.get_ref();
        let user = self.change_role(ctx, &req.user_id, req.role, false).await?;
        Ok(Response::new(pb::RevokeRoleResponse { user: Some(user) }))
    }

    async fn export_user_data(
        &self,
        request: Request<pb::ExportUserDataRequest>,
    ) -> Result<Response<ExportChunks>, Status> {
        let ctx = caller(&request)?.clone();
        let chunks = super::data_rights::export(&self.state, &ctx, request.into_inner()).await?;
        let stream = tokio_stream::iter(chunks.into_iter().map(Ok));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn erase_user(
        &self,
        request: Request<pb::EraseUserRequest>,
    ) -> Result<Response<pb::EraseUserResponse>, Status> {
        let ctx = caller(&request)?.clone();
        let reply = super::data_rights::erase(&self.state, &ctx, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn get_preferences(
        &self,
        request: Request<pb::GetPreferencesRequest>,
    ) -> Result<Response<pb::GetPreferencesResponse>, Status> {
        let ctx = caller(&request)?;
        let target = uuid_or(
            "user_id",
            &request.get_ref().user_id,
            caller_user(&ctx.principal),
        )?;
        enforce(access::read_person(&ctx.principal, target))?;
        let prefs = self
            .state
            .tx(ctx, |conn| {
                Box::pin(async move { stored_preferences(conn, target).await })
            })
            .await?;
        Ok(Response::new(pb::GetPreferencesResponse {
            preferences: Some(mapping::preferences(&prefs)),
        }))
    }

    async fn update_preferences(
        &self,
        request: Request<pb::UpdatePreferencesRequest>,
    ) -> Result<Response<pb::UpdatePreferencesResponse>, Status> {
        let ctx = caller(&request)?;
        let req = request.get_ref();
        let target = uuid_or("user_id", &req.user_id, caller_user(&ctx.principal))?;
        enforce(access::change_person_settings(&ctx.principal, target))?;
        let wanted = req
            .preferences
            .clone()
            .ok_or_else(|| ApiError::invalid("preferences", "is required"))?;
        let mask = req.update_mask.clone().map(|m| m.paths).unwrap_or_default();
        let prefs = self
            .state
            .tx(ctx, |conn| {
                Box::pin(async move {
                    let mut prefs = stored_preferences(conn, target).await?;
                    mapping::apply_preferences(&mut prefs, &wanted, &mask)?;
                    Ok(prefs.save(conn).await?)
                })
            })
            .await?;
        Ok(Response::new(pb::UpdatePreferencesResponse {
            preferences: Some(mapping::preferences(&prefs)),
        }))
    }

    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        let ctx = caller(&request)?;
        let req = request.get_ref();
        let org = uuid_or("organization_id", &req.organization_id, ctx.org_id())?;
        enforce(access::administer_org(&ctx.principal, org))?;
        let new = mapping::new_user(req)?;
        for role in &new.roles {
            enforce(access::manage_role(&ctx.principal, *role))?;
        }
        let hash = match new.password.clone() {
            Some(password) => Some(
                crate::auth::password::hash(password)
                    .await
                    .map_err(ApiError::from)?,
            ),
            None => None,
        };
        let user = self
            .state
            .tx(ctx, |conn| {
                Box::pin(async move {
                    let time_zone = match &new.time_zone {
                        Some(tz) => tz.clone(),
                        None => {
                            Organization::find(conn, org)
                                .await?
                                .ok_or_else(|| ApiError::NotFound("organization".into()))?
                                .time_zone
                        }
                    };
                    let row = NewUser {
                        id: new.id,
                        organization_id: org,
                        email: &new.email,
                        full_name: &new.full_name,
                        time_zone: &time_zone,
                        department_id: new.department_id,
                        team_id: new.team_id,
                        job_role: new.job_role.as_deref(),
                        password_hash: hash.as_deref(),
                        avatar_url: new.avatar_url.as_deref(),
                    };
                    let roles: Vec<&str> = new.roles.iter().map(|r| r.as_str()).collect();
                    let user = User::create(conn, &row, &roles).await?;
                    user_reply(conn, user).await
                })
            })
            .await?;
        Ok(Response::new(pb::CreateUserResponse { user: Some(user) }))
    }
}

impl IdentityApi {
    /// Grants (`grant`) or revokes a role, within the caller's powers.
    async fn change_role(
        &self,
        ctx: &crate::auth::AuthContext,
        user_id: &str,
        role: i32,
        grant: bool,
    ) -> Result<pb::User, ApiError> {
        let target = uuid_or("user_id", user_id, None)?;
        let role = mapping::role_from_proto("role", role)?;
        enforce(access::manage_role(&ctx.principal, role))?;
        let principal = ctx.principal.clone();
        self.state
            .tx(ctx, |conn| {
                Box::pin(async move {
                    let user = visible_user(conn, target).await?;
                    enforce(access::administer_org(&principal, user.organization_id))?;
                    if grant {
                        User::grant(conn, &user, role.as_str()).await?;
                    } else {
                        User::revoke(conn, target, role.as_str()).await?;
                    }
                    user_reply(conn, user).await
                })
            })
            .await
    }
}

/// The user `id` if the transaction's identity may see it, else NOT_FOUND.
pub(super) async fn visible_user(
    conn: &mut diesel_async::AsyncPgConnection,
    id: Uuid,
) -> Result<User, ApiError> {
    User::find(conn, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("user".into()))
}

/// `user` with the roles it holds now, as the API returns it.
pub(super) async fn user_reply(
    conn: &mut diesel_async::AsyncPgConnection,
    user: User,
) -> Result<pb::User, ApiError> {
    let roles = User::roles_of(conn, &[user.id]).await?;
    Ok(mapping::users(&[user], &roles).remove(0))
}

/// The stored preferences of a visible user, or the defaults.
async fn stored_preferences(
    conn: &mut diesel_async::AsyncPgConnection,
    user_id: Uuid,
) -> Result<Preferences, ApiError> {
    let user = visible_user(conn, user_id).await?;
    Ok(Preferences::find(conn, user_id)
        .await?
        .unwrap_or_else(|| Preferences::defaults(user_id, user.organization_id)))
}
