//! `organizations`: tenants.

use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::organizations;

#[derive(Debug, Insertable)]
#[diesel(table_name = organizations)]
pub struct NewOrganization<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub domain: Option<&'a str>,
    pub time_zone: &'a str,
}
