-- Linkage between ventures and engineering directives: the hydration
-- targets codex_staging may insert into and update.
CREATE TABLE IF NOT EXISTS vh.venture_directive_links (
  id           bigserial PRIMARY KEY,
  venture_id   bigint NOT NULL REFERENCES vh.ventures (id),
  directive_id text   NOT NULL,
  linked_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (venture_id, directive_id)
);
CALL audit.track('vh.venture_directive_links');
INSERT INTO audit.migration_log (migration) VALUES ('vh/002_linkage') ON CONFLICT DO NOTHING;
