-- Row-level security on engineering tables: on, forced, and fail-closed
-- (a role without a policy sees nothing).
DO $$
DECLARE t regclass;
BEGIN
  FOR t IN SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'eng' AND c.relkind = 'r' LOOP
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('DROP POLICY IF EXISTS eng_service_all ON %s', t);
    EXECUTE format('CREATE POLICY eng_service_all ON %s TO eng_service, ehg_admin USING (true) WITH CHECK (true)', t);
  END LOOP;
END $$;
-- Housekeeping may read and fix governance rows, never the sensitive registry.
DROP POLICY IF EXISTS codex_housekeeping ON eng.strategic_directives_v2;
CREATE POLICY codex_housekeeping ON eng.strategic_directives_v2 TO codex_staging USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS codex_housekeeping ON eng.governance_decisions;
CREATE POLICY codex_housekeeping ON eng.governance_decisions TO codex_staging USING (true) WITH CHECK (true);
INSERT INTO audit.migration_log (migration) VALUES ('policies/eng_rls_policies') ON CONFLICT DO NOTHING;
