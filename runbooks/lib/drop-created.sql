-- drop-created.sql -- an undo of the EHG runbooks (psql -v before=...).
--
-- Drops the tables of eng and vh that a snapshot taken before the change
-- does not list, and forgets the migrations logged since: :'before' is a
-- JSON object {"tables": ["eng.x", ...], "migrations": ["eng/001_governance",
-- ...]}, as tables-before.sql captures it. Tables that were there before
-- are not touched, and nothing is dropped with CASCADE: an object that came
-- to depend on a created table stops the undo instead of vanishing.
SET LOCAL ROLE ehg_admin;
SELECT set_config('ehg.before', :'before', true) \g /dev/null
DO $$
DECLARE
  snap jsonb := current_setting('ehg.before')::jsonb;
  created text;
BEGIN
  SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') INTO created
  FROM pg_tables
  WHERE schemaname IN ('eng', 'vh') AND NOT (snap->'tables') ? (schemaname || '.' || tablename);
  IF created IS NOT NULL THEN
    EXECUTE 'DROP TABLE ' || created;
  END IF;
  DELETE FROM audit.migration_log WHERE NOT (snap->'migrations') ? migration;
END $$;
