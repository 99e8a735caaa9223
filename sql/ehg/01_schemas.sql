-- Schemas and the audit trail every other object relies on.
CREATE SCHEMA IF NOT EXISTS eng AUTHORIZATION ehg_admin;
CREATE SCHEMA IF NOT EXISTS vh AUTHORIZATION ehg_admin;
CREATE SCHEMA IF NOT EXISTS views AUTHORIZATION ehg_admin;
CREATE SCHEMA IF NOT EXISTS audit AUTHORIZATION ehg_admin;

-- Nobody creates objects in these schemas but their owner.
REVOKE CREATE ON SCHEMA eng, vh, views, audit FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM codex_staging, analyst_ro;

-- The rest belongs to ehg_admin.
SET LOCAL ROLE ehg_admin;

CREATE TABLE IF NOT EXISTS audit.change_log (
  id          bigserial PRIMARY KEY,
  table_name  text        NOT NULL,
  operation   text        NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'NOTE',
                                                     'PROD_HOUSEKEEPING_COMPLETE')),
  user_name   text        NOT NULL DEFAULT current_user,
  "timestamp" timestamptz NOT NULL DEFAULT now(),
  row_data    jsonb
);
CREATE INDEX IF NOT EXISTS change_log_timestamp ON audit.change_log ("timestamp");

CREATE TABLE IF NOT EXISTS audit.bootstrap_status (
  component    text PRIMARY KEY,
  status       text NOT NULL,
  completed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS audit.service_logs (
  id      bigserial PRIMARY KEY,
  service text NOT NULL,
  level   text NOT NULL CHECK (level IN ('DEBUG', 'INFO', 'WARN', 'ERROR')),
  message text NOT NULL,
  at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS audit.migration_log (
  migration  text PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now(),
  applied_by text NOT NULL DEFAULT session_user
);

-- Every change to an audited table lands in audit.change_log with the role
-- that made it. It runs as that role (writers may INSERT the log's
-- table_name, operation and row_data columns, see below), so current_user
-- is the acting role, SET ROLE included; user_name takes its default.
CREATE OR REPLACE FUNCTION audit.log_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, audit AS $$
BEGIN
  INSERT INTO audit.change_log (table_name, operation, row_data)
  VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP,
          CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END);
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

-- Nobody but the log's owner writes a row in another role's name. Writers
-- may INSERT only table_name, operation and row_data: id, user_name and
-- the timestamp are the defaults (naming them is "permission denied").
-- The trigger below stamps user_name and the timestamp again, whatever
-- privileges are granted later, and keeps the rows of row changes
-- (INSERT, UPDATE, DELETE, TRUNCATE) for the audit trigger: a role writing
-- the log itself may add a NOTE (or a completion row), in its own name.
-- ehg_admin (the owner, who could drop the trigger anyway) and superusers
-- are exempt, so a restore keeps the rows as they were.
CREATE OR REPLACE FUNCTION audit.stamp_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, audit AS $$
BEGIN
  IF pg_has_role(current_user, 'ehg_admin', 'USAGE') THEN
    RETURN NEW;
  END IF;
  IF pg_trigger_depth() = 1 AND NEW.operation IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE') THEN
    RAISE EXCEPTION 'audit.change_log: % rows are written by the audit trigger only', NEW.operation
      USING ERRCODE = '42501', HINT = 'write a NOTE row; user_name is the acting role';
  END IF;
  NEW.user_name := current_user;
  NEW."timestamp" := now();
  RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER stamp_change BEFORE INSERT ON audit.change_log
  FOR EACH ROW EXECUTE FUNCTION audit.stamp_change();

REVOKE ALL ON audit.change_log FROM codex_staging, eng_service, vh_service;
GRANT INSERT (table_name, operation, row_data) ON audit.change_log TO codex_staging, eng_service, vh_service;
GRANT USAGE ON SEQUENCE audit.change_log_id_seq TO codex_staging, eng_service, vh_service;

-- Attaches the audit trigger to a table (idempotent).
CREATE OR REPLACE PROCEDURE audit.track(tbl regclass)
LANGUAGE plpgsql SET client_min_messages = warning AS $$
BEGIN
  EXECUTE format('DROP TRIGGER IF EXISTS audit_change ON %s', tbl);
  EXECUTE format('CREATE TRIGGER audit_change AFTER INSERT OR UPDATE OR DELETE ON %s
                  FOR EACH ROW EXECUTE FUNCTION audit.log_change()', tbl);
END $$;
