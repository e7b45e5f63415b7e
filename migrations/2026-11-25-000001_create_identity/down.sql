DROP TABLE revoked_tokens;
DROP TABLE refresh_tokens;
DROP TABLE user_preferences;
DROP TABLE user_roles;
DROP TABLE users;
DROP TABLE departments;
DROP TABLE organizations;
