-- One cache for all 19 analytics (and the gamification profile), the
-- long-lived aggregates, and the bookkeeping of background jobs and erasures.

CREATE TABLE analytics_cache (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN (
                        'learning_velocity', 'skill_gap_matrix', 'engagement_score',
                        'mastery_progress', 'assessment_performance', 'content_effectiveness',
                        'course_performance', 'course_health', 'student_distribution',
                        'teaching_effectiveness', 'organization_velocity', 'strategic_alignment',
                        'department_analytics', 'learning_culture', 'drop_off_risk',
                        'outcome_forecast', 'recommendations', 'skill_demand', 'peer_comparison',
                        'gamification_profile')),
    audience        text NOT NULL CHECK (audience IN (
                        'learner', 'trainer', 'organization', 'predictive', 'comparison', 'gamification')),
    subject_type    text NOT NULL CHECK (subject_type IN ('user', 'course', 'organization', 'department', 'platform')),
    subject_id      uuid,
    params_hash     text NOT NULL DEFAULT '' CHECK (length(params_hash) <= 128),
    user_id         uuid,
    result          jsonb NOT NULL,
    confidence      double precision CHECK (confidence BETWEEN 0 AND 1),
    model_version   text CHECK (length(model_version) BETWEEN 1 AND 64),
    computed_at     timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    CONSTRAINT analytics_cache_ttl CHECK (expires_at > computed_at),
    -- The audience is a function of the kind (SPEC "Analytics (19), by
    -- audience"); it picks the TTL and the predictive view.
    CONSTRAINT analytics_cache_audience CHECK (audience = CASE
        WHEN kind IN ('learning_velocity', 'skill_gap_matrix', 'engagement_score', 'mastery_progress',
                      'assessment_performance', 'content_effectiveness') THEN 'learner'
        WHEN kind IN ('course_performance', 'course_health', 'student_distribution',
                      'teaching_effectiveness') THEN 'trainer'
        WHEN kind IN ('organization_velocity', 'strategic_alignment', 'department_analytics',
                      'learning_culture') THEN 'organization'
        WHEN kind IN ('drop_off_risk', 'outcome_forecast', 'recommendations') THEN 'predictive'
        WHEN kind IN ('skill_demand', 'peer_comparison') THEN 'comparison'
        ELSE 'gamification' END),
    -- Subjects: platform rows have no subject and no tenant; every other row
    -- has both; an organization row is about its own organization.
    CONSTRAINT analytics_cache_platform_subject CHECK ((subject_type = 'platform') = (subject_id IS NULL)),
    CONSTRAINT analytics_cache_platform_tenant CHECK ((subject_type = 'platform') = (organization_id IS NULL)),
    CONSTRAINT analytics_cache_org_subject CHECK (subject_type <> 'organization' OR subject_id = organization_id),
    -- user_id names the person a row is about, exactly for person subjects:
    -- invalidation on their events, opt-out deletion, erasure, and RLS.
    CONSTRAINT analytics_cache_person CHECK ((subject_type = 'user') = (user_id IS NOT NULL)),
    CONSTRAINT analytics_cache_person_subject CHECK (subject_type <> 'user' OR user_id = subject_id),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE analytics_cache IS 'Cached results of every analytic, keyed by kind + subject + parameters, with a TTL per audience (learner 4 h, trainer 2 h, organization 6 h, predictive 48 h, skill demand 24 h, gamification 1 h). The result does not depend on who asks: access is checked before reading.';
COMMENT ON COLUMN analytics_cache.params_hash IS 'Hash of the parameters beyond the subject (window, comparison group...); empty when there are none.';
COMMENT ON COLUMN analytics_cache.user_id IS 'The person the row is about (= subject_id for person subjects, else NULL).';
-- The cache key and its lookup. NULLS NOT DISTINCT: platform rows (no
-- subject) are unique too, so an upsert can target the key.
CREATE UNIQUE INDEX analytics_cache_key ON analytics_cache (kind, subject_type, subject_id, params_hash) NULLS NOT DISTINCT;
-- Retention sweeps expired rows (and personal rows past 7 days, predictive past 48 h).
CREATE INDEX analytics_cache_expiry ON analytics_cache (expires_at);
-- Invalidate, opt out (one kind) or erase everything about one person.
CREATE INDEX analytics_cache_user ON analytics_cache (user_id, kind) WHERE user_id IS NOT NULL;
-- Invalidate an organization's aggregates (catalogue change); organization deletion.
CREATE INDEX analytics_cache_org ON analytics_cache (organization_id, kind) WHERE organization_id IS NOT NULL;

CREATE VIEW predictive_analytics_cache WITH (security_invoker = true) AS
SELECT id, organization_id, user_id, subject_type, subject_id, kind AS analytics_type,
       result AS data, confidence AS confidence_score, model_version, computed_at, expires_at
  FROM analytics_cache
 WHERE audience = 'predictive';
COMMENT ON VIEW predictive_analytics_cache IS 'The seed''s predictive cache, as a view over the one analytics cache (security_invoker: the caller''s row-level security applies).';

CREATE TABLE analytics_history (
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN (
                        'course_performance', 'course_health', 'student_distribution',
                        'teaching_effectiveness', 'organization_velocity', 'strategic_alignment',
                        'department_analytics', 'learning_culture', 'skill_demand')),
    granularity     text NOT NULL DEFAULT 'week' CHECK (granularity IN ('day', 'week', 'month', 'quarter', 'year')),
    bucket_start    date NOT NULL,
    department_id   uuid,
    result          jsonb NOT NULL,
    computed_at     timestamptz NOT NULL DEFAULT now(),
    -- A unique key of a partitioned table must contain the partition key.
    PRIMARY KEY (id, bucket_start),
    -- Buckets start where their period starts (weeks on Monday).
    CONSTRAINT analytics_history_bucket_start CHECK (CASE granularity
               WHEN 'week' THEN extract(isodow FROM bucket_start) = 1
               WHEN 'month' THEN extract(day FROM bucket_start) = 1
               WHEN 'quarter' THEN extract(day FROM bucket_start) = 1 AND extract(month FROM bucket_start) IN (1, 4, 7, 10)
               WHEN 'year' THEN extract(doy FROM bucket_start) = 1
               ELSE true END)
) PARTITION BY RANGE (bucket_start);
COMMENT ON TABLE analytics_history IS 'Aggregated analytics (never about one person; groups under 10 already suppressed) per organization, optional department/team, kind and period bucket, kept 7 years. Partitioned by month of bucket_start. department_id is not a foreign key: the history of a dissolved department stays.';
-- One row per (organization, kind, granularity, bucket, department); NULLS
-- NOT DISTINCT makes organization-wide rows (no department) unique too. It
-- includes the partition key bucket_start, as it must, at no cost: a bucket
-- lies in exactly one month. Also the lookup of a series over time.
CREATE UNIQUE INDEX analytics_history_key ON analytics_history (organization_id, kind, granularity, bucket_start, department_id) NULLS NOT DISTINCT;

SELECT stride_ensure_monthly_partitions('analytics_history', (now() - interval '13 months')::date, (now() + interval '3 months')::date);
-- Safety net for buckets outside the prepared months (older history is
-- backfilled by creating its months first).
CREATE TABLE analytics_history_default PARTITION OF analytics_history DEFAULT;

CREATE TABLE job_runs (
    job_name         text PRIMARY KEY CHECK (job_name ~ '^[a-z0-9_.:-]{1,100}$'),
    last_started_at  timestamptz,
    last_finished_at timestamptz,
    last_success_at  timestamptz,
    last_error       text,
    last_error_at    timestamptz,
    last_duration_ms bigint CHECK (last_duration_ms >= 0),
    rows_affected    bigint CHECK (rows_affected >= 0)
);
COMMENT ON TABLE job_runs IS 'Last run of each background job (leaderboard and skill-demand refresh, retention, partition upkeep): for the last-success metric and operators. No personal data.';

CREATE TABLE erasure_audit (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    erased_at       timestamptz NOT NULL DEFAULT now(),
    organization_id uuid,
    subject_digest  text NOT NULL CHECK (length(subject_digest) BETWEEN 32 AND 128),
    actor_role      text NOT NULL CHECK (actor_role IN ('learner', 'trainer', 'org_admin', 'platform_admin', 'service', 'operator')),
    counts          jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(counts) = 'object')
);
COMMENT ON TABLE erasure_audit IS 'Proof that an erasure happened, without personal data: a salted digest of the person''s id, who asked (role), and rows removed per table. organization_id is deliberately not a foreign key: the audit outlives the tenant.';
-- An organization's erasure log, newest last.
CREATE INDEX erasure_audit_org_time ON erasure_audit (organization_id, erased_at);
