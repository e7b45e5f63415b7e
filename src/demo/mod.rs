//! `stride demo`: a realistic demo organization (trainers, 240 learners,
//! courses, skills, four months of events) so every RPC has data to show.

pub mod plan;

/// Fills the database at `url` with the demo organization.
pub async fn fill(_url: &str, _learners: usize, _seed: u64) -> anyhow::Result<String> {
    anyhow::bail!("demo data is not written yet")
}
