-- Identity: tenants, departments and teams, people, roles, preferences, and
-- the bookkeeping of tokens. Also two things every later migration uses: the
-- updated_at trigger and the table of valid IANA time zones.
--
-- Tenant consistency: a table that copies a person's organization_id (for
-- row-level security) references users by (organization_id, id), so the copy
-- can never disagree with the user's real organization. The same holds for
-- course and department references. diesel print-schema emits no joinable!
-- for such composite keys; code that joins declares the relation itself.

-- Sets updated_at on every UPDATE that changes the row, unless the statement
-- set updated_at itself (same rule as diesel's diesel_manage_updated_at).
CREATE FUNCTION stride_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW IS DISTINCT FROM OLD AND NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION stride_touch_updated_at() IS 'Trigger: keeps updated_at current on tables that have it.';

CREATE TABLE time_zones (
    name text PRIMARY KEY
);
COMMENT ON TABLE time_zones IS 'Valid IANA time-zone names (from pg_timezone_names when migrated). organizations and users reference it, so an invalid or POSIX-style zone ("UTC+3", which PostgreSQL reads with the sign inverted) can never reach AT TIME ZONE in a leaderboard refresh. A new tzdata zone is one INSERT.';
-- posix/ and right/ are duplicate trees (right/ counts leap seconds);
-- localtime, posixrules and Factory are not zones a person lives in.
INSERT INTO time_zones (name)
SELECT name FROM pg_timezone_names
 WHERE name !~ '^(posix|right)/'
   AND name NOT IN ('localtime', 'posixrules', 'Factory');

CREATE TABLE organizations (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    domain     text CHECK (length(domain) BETWEEN 1 AND 255),
    time_zone  text NOT NULL DEFAULT 'UTC' REFERENCES time_zones (name),
    settings   jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(settings) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE organizations IS 'Tenants. time_zone (IANA) defines the weeks and months of the organization''s leaderboards.';
COMMENT ON COLUMN organizations.time_zone IS 'IANA zone for organization periods (weeks from Monday, months); people have their own zone for their days.';
CREATE TRIGGER organizations_touch BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION stride_touch_updated_at();

CREATE TABLE departments (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    parent_id       uuid,
    kind            text NOT NULL CHECK (kind IN ('department', 'team')),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- A team always sits inside a department (or a parent team).
    CONSTRAINT departments_team_has_parent CHECK (kind = 'department' OR parent_id IS NOT NULL),
    CONSTRAINT departments_not_own_parent CHECK (parent_id <> id),
    -- Target of the composite references below and from users: a department
    -- is only ever referenced from its own organization.
    CONSTRAINT departments_org_id UNIQUE (organization_id, id),
    FOREIGN KEY (organization_id, parent_id) REFERENCES departments (organization_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE departments IS 'Departments and the teams inside them (a team has its department as parent): the groups of organization analytics.';
-- Names are unique among siblings (NULLS NOT DISTINCT: top-level names too);
-- also serves the parent reference (children of a department, cascades).
CREATE UNIQUE INDEX departments_sibling_name ON departments (organization_id, parent_id, name) NULLS NOT DISTINCT;
CREATE TRIGGER departments_touch BEFORE UPDATE ON departments
    FOR EACH ROW EXECUTE FUNCTION stride_touch_updated_at();

CREATE TABLE users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           text NOT NULL CHECK (length(email) <= 320 AND position('@' IN email) > 1),
    password_hash   text CHECK (password_hash <> ''),
    full_name       text NOT NULL DEFAULT '' CHECK (length(full_name) <= 200),
    avatar_url      text CHECK (length(avatar_url) <= 2048),
    time_zone       text NOT NULL DEFAULT 'UTC' REFERENCES time_zones (name),
    department_id   uuid,
    team_id         uuid,
    job_role        text CHECK (length(job_role) BETWEEN 1 AND 100),
    is_active       boolean NOT NULL DEFAULT true,
    deactivated_at  timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Deactivated exactly when deactivated_at is set; reactivation clears it.
    CONSTRAINT users_deactivation CHECK (is_active = (deactivated_at IS NULL)),
    -- Target of every composite (organization_id, user) reference; also lists
    -- an organization's people in id order (keyset paging).
    CONSTRAINT users_org_id UNIQUE (organization_id, id),
    -- PG15 column lists: deleting a department clears only that column.
    FOREIGN KEY (organization_id, department_id) REFERENCES departments (organization_id, id) ON DELETE SET NULL (department_id),
    FOREIGN KEY (organization_id, team_id) REFERENCES departments (organization_id, id) ON DELETE SET NULL (team_id)
);
COMMENT ON TABLE users IS 'People; each belongs to exactly one organization. password_hash (argon2id PHC string) is NULL for people only upserted by the catalogue, who cannot log in. job_role is the target role of skill gaps.';
COMMENT ON COLUMN users.time_zone IS 'IANA zone of the person: defines their local days (streaks, daily cap, engagement).';
COMMENT ON COLUMN users.job_role IS 'Target job role (key into job_role_skills) for the skill gap matrix.';
-- Login looks people up by email, case-insensitively; one account per address platform-wide.
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));
-- Department analytics and user listing filtered by department (and team).
CREATE INDEX users_org_department ON users (organization_id, department_id, team_id);
-- Team analytics; clearing team_id when a team is deleted.
CREATE INDEX users_org_team ON users (organization_id, team_id) WHERE team_id IS NOT NULL;
-- The few deactivated people of an organization: leaderboards leave them
-- out, and rank counts subtract them.
CREATE INDEX users_org_inactive ON users (organization_id) WHERE NOT is_active;
CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION stride_touch_updated_at();

CREATE TABLE user_roles (
    user_id         uuid NOT NULL,
    role            text NOT NULL CHECK (role IN ('learner', 'trainer', 'org_admin', 'platform_admin')),
    organization_id uuid NOT NULL,
    granted_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE user_roles IS 'Roles a person holds; a request acts under one of them. organization_id is the person''s, copied for tenant policies.';
-- "Trainers / admins of this organization".
CREATE INDEX user_roles_org_role ON user_roles (organization_id, role);

CREATE TABLE user_preferences (
    user_id                  uuid PRIMARY KEY,
    organization_id          uuid NOT NULL,
    leaderboard_privacy      text NOT NULL DEFAULT 'public' CHECK (leaderboard_privacy IN ('public', 'anonymous', 'hidden')),
    drop_off_risk_opt_out    boolean NOT NULL DEFAULT false,
    forecasting_opt_out      boolean NOT NULL DEFAULT false,
    recommendations_opt_out  boolean NOT NULL DEFAULT false,
    notification_preferences jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(notification_preferences) = 'object'),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE user_preferences IS 'Leaderboard privacy and the predictive opt-outs (one boolean per kind, checkable, unlike the seed''s JSON). A missing row means the defaults: public, nothing opted out.';
-- Leaderboard reads skip hidden people; the few non-public rows are all it needs.
CREATE INDEX user_preferences_not_public ON user_preferences (organization_id, user_id) WHERE leaderboard_privacy <> 'public';
CREATE TRIGGER user_preferences_touch BEFORE UPDATE ON user_preferences
    FOR EACH ROW EXECUTE FUNCTION stride_touch_updated_at();

CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    family_id   uuid NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    replaced_by uuid REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE refresh_tokens IS 'Refresh tokens, stored as SHA-256 only. Rotation keeps a family: a rotated token has replaced_by set; presenting it again revokes the whole family (reuse detection). No organization column: only the auth functions and the owner of the token read it.';
-- token_hash UNIQUE is the lookup of a presented token.
-- Logout everywhere / deactivation revokes all of a person's tokens.
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
-- Reuse detection revokes a whole family.
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
-- Purging expired tokens.
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
-- The self-reference: without it each purged row would scan the table to clear replaced_by.
CREATE INDEX refresh_tokens_replaced_by ON refresh_tokens (replaced_by) WHERE replaced_by IS NOT NULL;

CREATE TABLE revoked_tokens (
    jti        uuid PRIMARY KEY,
    subject    text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE revoked_tokens IS 'Access-token deny-list (logout, revocation) by jti, kept until the token would expire anyway. subject is the token''s sub (a user id, or service:<name>).';
-- Purging entries past their expiry.
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);
