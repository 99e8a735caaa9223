-- Venture hub: ingest runs and venture records.
CREATE TABLE IF NOT EXISTS vh.ventures (
  id         bigserial PRIMARY KEY,
  name       text NOT NULL UNIQUE,
  stage      text NOT NULL DEFAULT 'idea',
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS vh.ingest_runs (
  id          bigserial PRIMARY KEY,
  source      text NOT NULL,
  status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
  rows_loaded int  NOT NULL DEFAULT 0,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);

CREATE TABLE IF NOT EXISTS vh.sensitive_founder_contacts (
  id         bigserial PRIMARY KEY,
  venture_id bigint NOT NULL REFERENCES vh.ventures (id),
  email      text NOT NULL,
  phone      text
);

CALL audit.track('vh.ventures');
CALL audit.track('vh.ingest_runs');
CALL audit.track('vh.sensitive_founder_contacts');
INSERT INTO audit.migration_log (migration) VALUES ('vh/001_ventures') ON CONFLICT DO NOTHING;
