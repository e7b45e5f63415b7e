-- Tenants, people, roles, preferences and token bookkeeping.

CREATE TABLE organizations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    domain      text,
    time_zone   text NOT NULL DEFAULT 'UTC',
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE organizations IS 'Tenants. time_zone (IANA) defines weeks and months of org leaderboards.';

CREATE TABLE departments (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    parent_id       uuid REFERENCES departments (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('department', 'team')),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (kind = 'department' OR parent_id IS NOT NULL)
);
COMMENT ON TABLE departments IS 'Departments and the teams inside them (a team has its department as parent), for group analytics.';
-- Names are unique among siblings; NULLS NOT DISTINCT makes top-level names unique too.
CREATE UNIQUE INDEX departments_sibling_name ON departments (organization_id, parent_id, name) NULLS NOT DISTINCT;

CREATE TABLE users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           text NOT NULL CHECK (position('@' IN email) > 1),
    password_hash   text,
    full_name       text NOT NULL DEFAULT '',
    avatar_url      text,
    time_zone       text NOT NULL DEFAULT 'UTC',
    department_id   uuid REFERENCES departments (id) ON DELETE SET NULL,
    team_id         uuid REFERENCES departments (id) ON DELETE SET NULL,
    job_role        text,
    is_active       boolean NOT NULL DEFAULT true,
    deactivated_at  timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (is_active OR deactivated_at IS NOT NULL)
);
COMMENT ON TABLE users IS 'People. password_hash (argon2id) is NULL for users only upserted by the catalogue, who cannot log in. job_role is the target role for skill gaps.';
-- Login looks users up by email, case-insensitively; one account per address platform-wide.
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));
-- Listing and counting an organization's people, by department and team.
CREATE INDEX users_org_department ON users (organization_id, department_id, team_id);

CREATE TABLE user_roles (
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('learner', 'trainer', 'org_admin', 'platform_admin')),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    granted_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role)
);
COMMENT ON TABLE user_roles IS 'Roles held; a request acts under one of them. organization_id is the user''s, copied for tenant policies.';
-- "Who are the trainers/admins of this org".
CREATE INDEX user_roles_org_role ON user_roles (organization_id, role);

CREATE TABLE user_preferences (
    user_id                 uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    organization_id         uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    leaderboard_privacy     text NOT NULL DEFAULT 'public' CHECK (leaderboard_privacy IN ('public', 'anonymous', 'hidden')),
    drop_off_risk_opt_out   boolean NOT NULL DEFAULT false,
    forecasting_opt_out     boolean NOT NULL DEFAULT false,
    recommendations_opt_out boolean NOT NULL DEFAULT false,
    notification_preferences jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at              timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE user_preferences IS 'Leaderboard privacy and predictive opt-outs (one flag per kind, checkable, unlike the seed''s JSON). A missing row means the defaults.';

CREATE TABLE refresh_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   bytea NOT NULL UNIQUE,
    family_id    uuid NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    replaced_by  uuid REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE refresh_tokens IS 'Refresh tokens by SHA-256 hash only. Rotation keeps a family: reuse of a rotated token revokes the whole family.';
-- Revoking a user''s or a family''s tokens.
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE revoked_tokens (
    jti        uuid PRIMARY KEY,
    subject    text NOT NULL,
    expires_at timestamptz NOT NULL
);
COMMENT ON TABLE revoked_tokens IS 'Access-token deny-list (logout), kept until the token would expire anyway.';
-- Purging entries past their expiry.
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);
