-- tables-before.sql -- the snapshot drop-created.sql undoes to: the tables
-- of eng and vh, their row-level security (enabled, forced) and the
-- migrations logged, now, as one JSON value.
SELECT jsonb_build_object(
  'tables', (SELECT coalesce(jsonb_agg(schemaname || '.' || tablename ORDER BY schemaname, tablename), '[]')
             FROM pg_tables WHERE schemaname IN ('eng', 'vh')),
  'migrations', (SELECT coalesce(jsonb_agg(migration ORDER BY migration), '[]') FROM audit.migration_log),
  'rls', (SELECT coalesce(jsonb_object_agg(c.oid::regclass::text,
                                          CASE WHEN c.relrowsecurity THEN 'e' ELSE '' END ||
                                          CASE WHEN c.relforcerowsecurity THEN 'f' ELSE '' END), '{}')
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname IN ('eng', 'vh') AND c.relkind IN ('r', 'p'))
)::text AS before;
