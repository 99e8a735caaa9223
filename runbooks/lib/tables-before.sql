-- tables-before.sql -- the snapshot drop-created.sql undoes to: the tables
-- of eng and vh and the migrations logged, now, as one JSON value.
SELECT jsonb_build_object(
  'tables', (SELECT coalesce(jsonb_agg(schemaname || '.' || tablename ORDER BY schemaname, tablename), '[]')
             FROM pg_tables WHERE schemaname IN ('eng', 'vh')),
  'migrations', (SELECT coalesce(jsonb_agg(migration ORDER BY migration), '[]') FROM audit.migration_log)
)::text AS before;
