//! `stride.gamification.v1.GamificationService`.

mod service;

pub use service::GamificationApi;
