//! Code generated from proto/ by build.rs.
#![allow(clippy::all, clippy::pedantic, missing_docs)]

pub mod common {
    pub mod v1 {
        tonic::include_proto!("stride.common.v1");
    }
}

pub mod identity {
    pub mod v1 {
        tonic::include_proto!("stride.identity.v1");
    }
}

pub mod events {
    pub mod v1 {
        tonic::include_proto!("stride.events.v1");
    }
}

pub mod gamification {
    pub mod v1 {
        tonic::include_proto!("stride.gamification.v1");
    }
}

pub mod analytics {
    pub mod v1 {
        tonic::include_proto!("stride.analytics.v1");
    }
}

/// Descriptors of every Stride proto, served by reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("stride_descriptor");
