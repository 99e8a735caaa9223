-- Engineering data that only the engineering service may see.
CREATE TABLE IF NOT EXISTS eng.sensitive_credentials_registry (
  id         bigserial PRIMARY KEY,
  system     text NOT NULL,
  owner      text NOT NULL DEFAULT session_user,
  rotated_at timestamptz
);
CALL audit.track('eng.sensitive_credentials_registry');
INSERT INTO audit.migration_log (migration) VALUES ('eng/002_sensitive') ON CONFLICT DO NOTHING;
