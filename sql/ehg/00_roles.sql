-- The EHG roles. Idempotent, and meant to run inside one transaction (a
-- runbook `sql` step, or psql --single-transaction) as a superuser.
--   ehg_admin           owns the schemas
--   eng_service         writes the engineering (eng) tables
--   vh_service          writes the venture-hub (vh) tables
--   analyst_ro          reads only through the views
--   codex_staging       housekeeping: time-boxed, no DDL, no DELETE, no catalogs
--   ehg_catalog_reader  (no login) may read pg_catalog and information_schema
--
-- Passwords (never written here: they come from the runbook's secret
-- variables) are set when a role is created, or has none. An existing
-- password is kept -- services keep working after a re-run -- unless the
-- transaction's setting ehg.rotate_passwords is 1 (the staging runbook sets
-- it from --set ROTATE_PASSWORDS=1).
-- The passwords live in a temporary table that goes with the transaction.
CREATE TEMP TABLE ehg_role_passwords (role name PRIMARY KEY, password text NOT NULL) ON COMMIT DROP;
INSERT INTO ehg_role_passwords (role, password) VALUES
  ('ehg_admin', :'EHG_ADMIN_PASSWORD'),
  ('eng_service', :'ENG_SERVICE_PASSWORD'),
  ('vh_service', :'VH_SERVICE_PASSWORD'),
  ('analyst_ro', :'ANALYST_RO_PASSWORD'),
  ('codex_staging', :'CODEX_STAGING_PASSWORD');

DO $$
DECLARE
  r record;
  rotate boolean := lower(coalesce(current_setting('ehg.rotate_passwords', true), '')) IN ('1', 'true', 'yes', 'on');
BEGIN
  FOR r IN SELECT p.role, p.password, a.oid IS NULL AS is_new, a.rolpassword IS NULL AS has_none
           FROM ehg_role_passwords p LEFT JOIN pg_catalog.pg_authid a ON a.rolname = p.role
           ORDER BY p.role LOOP
    IF r.is_new THEN
      EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', r.role, r.password);
      RAISE NOTICE 'role %: created, with its password', r.role;
    ELSIF rotate THEN
      EXECUTE format('ALTER ROLE %I PASSWORD %L', r.role, r.password);
      RAISE NOTICE 'role %: password rotated (ROTATE_PASSWORDS=1)', r.role;
    ELSIF r.has_none THEN
      EXECUTE format('ALTER ROLE %I PASSWORD %L', r.role, r.password);
      RAISE NOTICE 'role %: had no password, given one', r.role;
    ELSE
      RAISE NOTICE 'role %: existing password kept (ROTATE_PASSWORDS=1 sets new ones)', r.role;
    END IF;
  END LOOP;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'ehg_catalog_reader') THEN
    CREATE ROLE ehg_catalog_reader NOLOGIN;
  END IF;
END $$;

-- Attributes are set on every run.
ALTER ROLE ehg_admin WITH LOGIN CREATEROLE;
ALTER ROLE eng_service WITH LOGIN;
ALTER ROLE vh_service WITH LOGIN;
ALTER ROLE analyst_ro WITH LOGIN;
ALTER ROLE codex_staging WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE ehg_catalog_reader WITH NOLOGIN;

-- Time-boxed: codex_staging expires 8 hours from now (VALID UNTIL takes a literal).
DO $$ BEGIN
  EXECUTE format('ALTER ROLE codex_staging VALID UNTIL %L', now() + interval '8 hours');
END $$;

-- PostgreSQL lets every role set its own session defaults for the settings
-- any user may change (ALTER ROLE self SET work_mem/search_path/...); no
-- privilege takes that away. What codex_staging set for itself is cleared on
-- every run, in every database.
ALTER ROLE codex_staging RESET ALL;
DO $$
DECLARE d name;
BEGIN
  FOR d IN SELECT db.datname FROM pg_catalog.pg_db_role_setting s
           JOIN pg_catalog.pg_database db ON db.oid = s.setdatabase
           JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
           WHERE r.rolname = 'codex_staging' LOOP
    EXECUTE format('ALTER ROLE codex_staging IN DATABASE %I RESET ALL', d);
  END LOOP;
END $$;

-- The system catalogs. PostgreSQL grants SELECT on most of pg_catalog and
-- information_schema to PUBLIC, so every role -- codex_staging too -- reads
-- them, and a role cannot be denied what PUBLIC has. In this database that
-- SELECT (on relations, and on the columns of pg_subscription) is taken
-- from PUBLIC and given to ehg_catalog_reader, of which every EHG role but
-- codex_staging is a member (a superuser reads them anyway). A second run
-- finds the same relations: those PUBLIC or ehg_catalog_reader may read.
DO $$
DECLARE
  t regclass;
  col name;
  m name;
  reader oid := (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'ehg_catalog_reader');
BEGIN
  FOREACH m IN ARRAY ARRAY['ehg_admin', 'eng_service', 'vh_service', 'analyst_ro'] LOOP
    IF NOT pg_catalog.pg_has_role(m, 'ehg_catalog_reader', 'MEMBER') THEN
      EXECUTE format('GRANT ehg_catalog_reader TO %I', m);
    END IF;
  END LOOP;
  FOR t IN SELECT c.oid::regclass FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname IN ('pg_catalog', 'information_schema')
             AND EXISTS (SELECT FROM pg_catalog.aclexplode(c.relacl) a
                         WHERE a.grantee IN (0, reader) AND a.privilege_type = 'SELECT')
           ORDER BY 1 LOOP
    EXECUTE format('REVOKE SELECT ON %s FROM PUBLIC', t);
    EXECUTE format('GRANT SELECT ON %s TO ehg_catalog_reader', t);
  END LOOP;
  FOR t, col IN SELECT c.oid::regclass, att.attname FROM pg_catalog.pg_attribute att
                JOIN pg_catalog.pg_class c ON c.oid = att.attrelid
                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname IN ('pg_catalog', 'information_schema')
                  AND EXISTS (SELECT FROM pg_catalog.aclexplode(att.attacl) a
                              WHERE a.grantee IN (0, reader) AND a.privilege_type = 'SELECT')
                ORDER BY 1, att.attnum LOOP
    EXECUTE format('REVOKE SELECT (%I) ON %s FROM PUBLIC', col, t);
    EXECUTE format('GRANT SELECT (%I) ON %s TO ehg_catalog_reader', col, t);
  END LOOP;
END $$;
