-- drop-created.sql -- an undo of the EHG runbooks (psql -v before=...).
--
-- Takes the tables of eng and vh back to a snapshot taken before the change
-- (:'before', as tables-before.sql captures it: {"tables": [...],
-- "migrations": [...], "rls": {"eng.x": "ef", ...}}): drops the tables it
-- does not list, forgets the migrations logged since, and sets row-level
-- security (enabled, forced) of the others back as it was. Nothing is
-- dropped with CASCADE: an object that came to depend on a created table
-- stops the undo instead of vanishing.

-- Never wait forever for a lock (the application would queue behind the wait):
-- 10 s, as the runbooks' steps, unless the caller set a limit already.
SELECT set_config('lock_timeout', '10s', false) WHERE current_setting('lock_timeout') IN ('0', '0ms') \g /dev/null
SET LOCAL ROLE ehg_admin;
SELECT set_config('ehg.before', :'before', true) \g /dev/null
DO $$
DECLARE
  snap jsonb := current_setting('ehg.before')::jsonb;
  created text;
  r record;
BEGIN
  SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') INTO created
  FROM pg_tables
  WHERE schemaname IN ('eng', 'vh') AND NOT (snap->'tables') ? (schemaname || '.' || tablename);
  IF created IS NOT NULL THEN
    EXECUTE 'DROP TABLE ' || created;
  END IF;
  DELETE FROM audit.migration_log WHERE NOT (snap->'migrations') ? migration;
  -- Row-level security of the tables that were there, as it was.
  FOR r IN
    SELECT c.oid::regclass AS rel, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
           snap->'rls'->>(c.oid::regclass::text) AS was
    FROM pg_class c
    WHERE (snap->'rls') ? (c.oid::regclass::text)
  LOOP
    IF r.enabled <> (position('e' IN r.was) > 0) THEN
      EXECUTE format('ALTER TABLE %s %s ROW LEVEL SECURITY', r.rel,
                     CASE WHEN position('e' IN r.was) > 0 THEN 'ENABLE' ELSE 'DISABLE' END);
    END IF;
    IF r.forced <> (position('f' IN r.was) > 0) THEN
      EXECUTE format('ALTER TABLE %s %s ROW LEVEL SECURITY', r.rel,
                     CASE WHEN position('f' IN r.was) > 0 THEN 'FORCE' ELSE 'NO FORCE' END);
    END IF;
  END LOOP;
END $$;
