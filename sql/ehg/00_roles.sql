-- The EHG roles. Idempotent: roles are created once and their passwords
-- (never written here: they come from the runbook's secret variables) and
-- attributes set on every run.
--   ehg_admin      owns the schemas
--   eng_service    writes the engineering (eng) tables
--   vh_service     writes the venture-hub (vh) tables
--   analyst_ro     reads only through the views
--   codex_staging  housekeeping: time-boxed, no DDL, no DELETE
DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['ehg_admin', 'eng_service', 'vh_service', 'analyst_ro', 'codex_staging'] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I LOGIN', r);
    END IF;
  END LOOP;
END $$;

ALTER ROLE ehg_admin WITH LOGIN CREATEROLE PASSWORD :'EHG_ADMIN_PASSWORD';
ALTER ROLE eng_service WITH LOGIN PASSWORD :'ENG_SERVICE_PASSWORD';
ALTER ROLE vh_service WITH LOGIN PASSWORD :'VH_SERVICE_PASSWORD';
ALTER ROLE analyst_ro WITH LOGIN PASSWORD :'ANALYST_RO_PASSWORD';
ALTER ROLE codex_staging WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'CODEX_STAGING_PASSWORD';

-- Time-boxed: codex_staging expires 8 hours from now (VALID UNTIL takes a literal).
DO $$ BEGIN
  EXECUTE format('ALTER ROLE codex_staging VALID UNTIL %L', now() + interval '8 hours');
END $$;
