-- Row-level security on venture-hub tables, like eng's.
DO $$
DECLARE t regclass;
BEGIN
  FOR t IN SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'vh' AND c.relkind = 'r' LOOP
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('DROP POLICY IF EXISTS vh_service_all ON %s', t);
    EXECUTE format('CREATE POLICY vh_service_all ON %s TO vh_service, ehg_admin USING (true) WITH CHECK (true)', t);
  END LOOP;
END $$;
DROP POLICY IF EXISTS codex_verify ON vh.ventures;
CREATE POLICY codex_verify ON vh.ventures FOR SELECT TO codex_staging USING (true);
DROP POLICY IF EXISTS codex_verify ON vh.ingest_runs;
CREATE POLICY codex_verify ON vh.ingest_runs FOR SELECT TO codex_staging USING (true);
DROP POLICY IF EXISTS codex_hydrate ON vh.venture_directive_links;
CREATE POLICY codex_hydrate ON vh.venture_directive_links TO codex_staging USING (true) WITH CHECK (true);
INSERT INTO audit.migration_log (migration) VALUES ('policies/vh_rls_policies') ON CONFLICT DO NOTHING;
