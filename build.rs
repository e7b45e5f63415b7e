//! Compiles proto/ into Rust with tonic-prost-build, using the vendored protoc
//! so no system protoc is needed, and writes the descriptor set that the
//! reflection service serves.

use std::path::PathBuf;

/// The answers of AnalyticsService: each carries a per-call meta.
const ANALYTICS_RESPONSES: [&str; 19] = [
    "GetLearningVelocityResponse",
    "GetSkillGapMatrixResponse",
    "GetEngagementScoreResponse",
    "GetMasteryProgressResponse",
    "GetAssessmentPerformanceResponse",
    "GetContentEffectivenessResponse",
    "GetCoursePerformanceResponse",
    "GetCourseHealthResponse",
    "GetStudentDistributionResponse",
    "GetTeachingEffectivenessResponse",
    "GetOrganizationVelocityResponse",
    "GetStrategicAlignmentResponse",
    "GetDepartmentAnalyticsResponse",
    "GetLearningCultureResponse",
    "GetDropOffRiskResponse",
    "GetOutcomeForecastResponse",
    "GetRecommendationsResponse",
    "GetSkillDemandResponse",
    "GetPeerComparisonResponse",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let well_known = protoc_bin_vendored::include_path()?;
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC.
    unsafe { std::env::set_var("PROTOC", protoc) };

    let protos: [PathBuf; 5] = [
        "proto/stride/common/v1/common.proto".into(),
        "proto/stride/identity/v1/identity.proto".into(),
        "proto/stride/events/v1/events.proto".into(),
        "proto/stride/gamification/v1/gamification.proto".into(),
        "proto/stride/analytics/v1/analytics.proto".into(),
    ];
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut builder = tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("stride_descriptor.bin"))
        // Unwritten handlers answer UNIMPLEMENTED instead of pretending.
        .generate_default_stubs(true)
        // A request that does not decode answers INVALID_ARGUMENT, not
        // tonic's INTERNAL (src/codec.rs).
        .codec_path("crate::codec::StrideCodec")
        // Analytics answers are cached as JSON (readable in analytics_cache);
        // their meta is per answer, never cached.
        .type_attribute(
            ".stride.analytics.v1",
            "#[derive(serde::Serialize, serde::Deserialize)]",
        );
    for response in ANALYTICS_RESPONSES {
        builder = builder.field_attribute(
            format!(".stride.analytics.v1.{response}.meta"),
            "#[serde(skip)]",
        );
    }
    builder.compile_protos(&protos, &[PathBuf::from("proto"), well_known])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
