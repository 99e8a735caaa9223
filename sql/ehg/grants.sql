-- Who may do what. Everything not granted here is denied.
GRANT USAGE ON SCHEMA eng TO eng_service, codex_staging;
GRANT USAGE ON SCHEMA vh TO vh_service, codex_staging;
GRANT USAGE ON SCHEMA views TO analyst_ro, codex_staging, eng_service, vh_service;
GRANT USAGE ON SCHEMA audit TO codex_staging, eng_service, vh_service;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA eng TO eng_service;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA eng TO eng_service, codex_staging;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA vh TO vh_service;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA vh TO vh_service, codex_staging;

-- codex_staging: SELECT/INSERT/UPDATE governance, SELECT venture tables,
-- INSERT/UPDATE the linkage targets, SELECT the views. Who may write the
-- audit log, and how, is set beside it in 01_schemas.sql.
GRANT SELECT, INSERT, UPDATE ON eng.strategic_directives_v2, eng.governance_decisions TO codex_staging;
GRANT SELECT ON vh.ventures, vh.ingest_runs TO codex_staging;
GRANT SELECT, INSERT, UPDATE ON vh.venture_directive_links TO codex_staging;
GRANT SELECT ON ALL TABLES IN SCHEMA views TO codex_staging, analyst_ro;
GRANT SELECT ON audit.bootstrap_status TO codex_staging;

-- analyst_ro reads only through views: no table in eng or vh.
REVOKE ALL ON ALL TABLES IN SCHEMA eng, vh FROM analyst_ro;
INSERT INTO audit.migration_log (migration) VALUES ('grants') ON CONFLICT DO NOTHING;
