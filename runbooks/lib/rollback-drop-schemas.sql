-- rollback-drop-schemas.sql -- the first half of the immediate rollback
-- (rollback-restore.sh runs it, then the backup, in one transaction).
--
-- Empties and drops the schemas eng, vh, views and audit WITHOUT CASCADE,
-- so that nothing outside them can go with them:
--   * :dependents (rollback-dependents.sql, run just before in the same
--     transaction) lists what outside depends on them: the rollback stops
--     with that list, nothing changed;
--   * every object inside is dropped on its own, plainly, tried again until
--     nothing more goes (a view before the table it reads, a table before
--     the function its trigger calls); the tables go in one statement, so
--     foreign keys between them are no obstacle;
--   * DROP SCHEMA without CASCADE then fails, naming it, if anything is
--     left -- and the whole transaction rolls back.
SELECT set_config('ehg.dependents', :'dependents', true) \g /dev/null
DO $$
DECLARE
  outside text := current_setting('ehg.dependents');
  r record;
  tried int;
  dropped int;
BEGIN
  IF outside <> '' THEN
    RAISE EXCEPTION 'rollback stopped, nothing changed: objects outside the EHG schemas depend on them '
                    'and would be dropped with them: %', replace(outside, E'\n', '; ')
      USING HINT = 'they are not in the backup: save and drop them by hand (or point them elsewhere), then run the rollback again';
  END IF;
  LOOP
    tried := 0;
    dropped := 0;
    FOR r IN
      SELECT 'DROP TABLE ' || string_agg(c.oid::regclass::text, ', ') AS stmt
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname IN ('eng', 'vh', 'views', 'audit') AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      HAVING count(*) > 0
      UNION ALL
      SELECT format('DROP %s %s', CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                                 WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'SEQUENCE' END, c.oid::regclass)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname IN ('eng', 'vh', 'views', 'audit') AND c.relkind IN ('v', 'm', 'f', 'S')
        -- a sequence owned by a column goes with its table
        AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
      UNION ALL
      SELECT format('DROP %s %s', CASE p.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
                    p.oid::regprocedure)
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname IN ('eng', 'vh', 'views', 'audit')
      UNION ALL
      SELECT format('DROP %s %s', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype)
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname IN ('eng', 'vh', 'views', 'audit') AND t.typtype IN ('b', 'c', 'd', 'e', 'r')
        -- a table's row type and an array type go with their table or element type
        AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
        AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
    LOOP
      tried := tried + 1;
      BEGIN
        EXECUTE r.stmt;
        dropped := dropped + 1;
      EXCEPTION WHEN dependent_objects_still_exist OR undefined_table OR undefined_object OR undefined_function THEN
        NULL;  -- something still needs it: next round
      END;
    END LOOP;
    EXIT WHEN tried = 0 OR dropped = 0;
  END LOOP;
END $$;
-- No CASCADE: whatever is still in a schema makes this fail, naming it.
DROP SCHEMA eng, vh, views, audit;
