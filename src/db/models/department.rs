//! `departments`: departments and their teams.

use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::departments;

#[derive(Debug, Insertable)]
#[diesel(table_name = departments)]
pub struct NewDepartment<'a> {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub kind: &'a str,
    pub name: &'a str,
}
