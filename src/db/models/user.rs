//! `users` and `user_roles`.

use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{user_roles, users};

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: &'a str,
    pub full_name: &'a str,
    pub time_zone: &'a str,
    pub department_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub job_role: Option<&'a str>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = user_roles)]
pub struct NewUserRole<'a> {
    pub user_id: Uuid,
    pub role: &'a str,
    pub organization_id: Uuid,
}
