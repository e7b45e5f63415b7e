-- One cache for all 19 analytics, their long-lived aggregates, and the
-- bookkeeping of background jobs and erasures.

CREATE TABLE analytics_cache (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN (
                        'learning_velocity', 'skill_gap_matrix', 'engagement_score',
                        'mastery_progress', 'assessment_performance', 'content_effectiveness',
                        'course_performance', 'course_health', 'student_distribution',
                        'teaching_effectiveness', 'organization_velocity', 'strategic_alignment',
                        'department_analytics', 'learning_culture', 'drop_off_risk',
                        'outcome_forecast', 'recommendations', 'skill_demand', 'peer_comparison')),
    audience        text NOT NULL CHECK (audience IN (
                        'learner', 'trainer', 'organization', 'predictive', 'comparison', 'gamification')),
    subject_type    text NOT NULL CHECK (subject_type IN ('user', 'course', 'organization', 'department', 'platform')),
    subject_id      uuid,
    params_hash     text NOT NULL DEFAULT '',
    user_id         uuid REFERENCES users (id) ON DELETE CASCADE,
    result          jsonb NOT NULL,
    confidence      double precision CHECK (confidence BETWEEN 0 AND 1),
    model_version   text,
    computed_at     timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    CHECK (expires_at > computed_at),
    CHECK (subject_type = 'platform' OR subject_id IS NOT NULL)
);
COMMENT ON TABLE analytics_cache IS 'Cached results of every analytic, keyed by kind + subject + parameters, with a TTL per audience. user_id names the person a row is about, for invalidation on new events, opt-outs and erasure.';
-- The cache key; NULLS NOT DISTINCT so platform-wide entries (no subject) are unique too.
CREATE UNIQUE INDEX analytics_cache_key ON analytics_cache (kind, subject_type, subject_id, params_hash) NULLS NOT DISTINCT;
-- Retention sweeps expired rows.
CREATE INDEX analytics_cache_expiry ON analytics_cache (expires_at);
-- Invalidate or erase everything about one person.
CREATE INDEX analytics_cache_user ON analytics_cache (user_id, kind) WHERE user_id IS NOT NULL;

CREATE VIEW predictive_analytics_cache WITH (security_invoker = true) AS
SELECT id, organization_id, user_id, kind AS analytics_type, result AS data,
       confidence AS confidence_score, model_version, computed_at, expires_at
  FROM analytics_cache
 WHERE audience = 'predictive';
COMMENT ON VIEW predictive_analytics_cache IS 'The seed''s predictive cache, as a view over the one analytics cache (security_invoker: the caller''s row-level security applies).';

CREATE TABLE analytics_history (
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    kind            text NOT NULL,
    bucket_start    date NOT NULL,
    department_id   uuid,
    result          jsonb NOT NULL,
    computed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, bucket_start)
) PARTITION BY RANGE (bucket_start);
COMMENT ON TABLE analytics_history IS 'Aggregated (never personal) analytics per organization, department and period bucket, kept 7 years. Partitioned by month of bucket_start.';
-- One row per (org, kind, bucket, department); bucket_start is the partition key.
CREATE UNIQUE INDEX analytics_history_key ON analytics_history (organization_id, kind, bucket_start, department_id) NULLS NOT DISTINCT;

SELECT stride_ensure_monthly_partitions('analytics_history', (now() - interval '13 months')::date, (now() + interval '3 months')::date);
CREATE TABLE analytics_history_default PARTITION OF analytics_history DEFAULT;

CREATE TABLE job_runs (
    job_name         text PRIMARY KEY,
    last_started_at  timestamptz,
    last_success_at  timestamptz,
    last_error       text,
    last_duration_ms bigint CHECK (last_duration_ms >= 0),
    rows_affected    bigint CHECK (rows_affected >= 0)
);
COMMENT ON TABLE job_runs IS 'Last run of each background job (refresh, retention, partition upkeep), for metrics and operators.';

CREATE TABLE erasure_audit (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    erased_at       timestamptz NOT NULL DEFAULT now(),
    organization_id uuid,
    subject_digest  text NOT NULL,
    actor_role      text NOT NULL,
    counts          jsonb NOT NULL DEFAULT '{}'::jsonb
);
COMMENT ON TABLE erasure_audit IS 'Proof that an erasure happened, without personal data: a salted digest of the user id, who asked (role), and rows removed per table.';
