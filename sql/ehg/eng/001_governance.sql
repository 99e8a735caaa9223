-- Engineering governance: strategic directives and the decisions on them.
CREATE TABLE IF NOT EXISTS eng.strategic_directives_v2 (
  id          text PRIMARY KEY,
  title       text NOT NULL,
  status      text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'completed', 'archived')),
  priority    int  NOT NULL DEFAULT 50 CHECK (priority BETWEEN 0 AND 100),
  owner       text NOT NULL DEFAULT session_user,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS eng.governance_decisions (
  id           bigserial PRIMARY KEY,
  directive_id text NOT NULL REFERENCES eng.strategic_directives_v2 (id),
  decision     text NOT NULL,
  decided_by   text NOT NULL DEFAULT session_user,
  decided_at   timestamptz NOT NULL DEFAULT now()
);

CALL audit.track('eng.strategic_directives_v2');
CALL audit.track('eng.governance_decisions');
INSERT INTO audit.migration_log (migration) VALUES ('eng/001_governance') ON CONFLICT DO NOTHING;
