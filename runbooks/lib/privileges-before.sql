-- privileges-before.sql -- the snapshot restore-privileges.sql undoes to:
-- the privileges on the EHG schemas and their relations, now, as JSON.
SELECT jsonb_build_object(
  'rel', (SELECT coalesce(jsonb_object_agg(c.oid::regclass::text, c.relacl::text), '{}')
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname IN ('eng', 'vh', 'views', 'audit') AND c.relkind IN ('r', 'p', 'v', 'm', 'S')),
  'nsp', (SELECT coalesce(jsonb_object_agg(nspname, nspacl::text), '{}')
          FROM pg_namespace WHERE nspname IN ('eng', 'vh', 'views', 'audit'))
)::text AS privileges;
