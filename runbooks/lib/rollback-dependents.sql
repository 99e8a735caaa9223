-- rollback-dependents.sql -- what a rollback of ehg-promotion-rollback.md
-- would have to drop along with the objects it replaces, as one text value
-- in the psql variable :dependents (empty: nothing), one object a line:
--   view public.directive_titles depends on table eng.strategic_directives_v2
--
--   psql -v scope=immediate -v components= -f rollback-dependents.sql
--     objects outside eng, vh, views and audit that depend on anything
--     inside them (the immediate rollback drops and restores all four);
--   psql -v scope=partial -v components='vh eng' -f rollback-dependents.sql
--     objects that depend on the views views.<component>_* (the partial
--     rollback drops or replaces them), other than those views themselves.
--
-- An object of a kind this does not know the schema of (a publication, a
-- cast, an extension) counts as outside: it is reported, never dropped.
SET search_path = pg_catalog;  -- so that every name below is printed with its schema
WITH ehg AS (
  SELECT oid FROM pg_namespace WHERE nspname IN ('eng', 'vh', 'views', 'audit')
),
-- Every object that lives in a schema: its schema, and the relation it is
-- part of (a view's rule, a table's trigger, constraint, default or policy).
obj (classid, objid, nsp, rel) AS (
  SELECT 'pg_class'::regclass, c.oid, c.relnamespace, c.oid FROM pg_class c
  UNION ALL SELECT 'pg_proc'::regclass, p.oid, p.pronamespace, NULL::oid FROM pg_proc p
  UNION ALL SELECT 'pg_type'::regclass, t.oid, t.typnamespace, NULLIF(t.typrelid, 0) FROM pg_type t
  UNION ALL SELECT 'pg_rewrite'::regclass, r.oid, c.relnamespace, c.oid
            FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
  UNION ALL SELECT 'pg_trigger'::regclass, g.oid, c.relnamespace, c.oid
            FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
  UNION ALL SELECT 'pg_constraint'::regclass, k.oid, k.connamespace, NULLIF(k.conrelid, 0) FROM pg_constraint k
  UNION ALL SELECT 'pg_attrdef'::regclass, a.oid, c.relnamespace, c.oid
            FROM pg_attrdef a JOIN pg_class c ON c.oid = a.adrelid
  UNION ALL SELECT 'pg_policy'::regclass, p.oid, c.relnamespace, c.oid
            FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
  UNION ALL SELECT 'pg_statistic_ext'::regclass, s.oid, s.stxnamespace, s.stxrelid FROM pg_statistic_ext s
  UNION ALL SELECT 'pg_default_acl'::regclass, d.oid, d.defaclnamespace, NULL::oid FROM pg_default_acl d
  UNION ALL SELECT 'pg_collation'::regclass, o.oid, o.collnamespace, NULL::oid FROM pg_collation o
  UNION ALL SELECT 'pg_operator'::regclass, o.oid, o.oprnamespace, NULL::oid FROM pg_operator o
  UNION ALL SELECT 'pg_opclass'::regclass, o.oid, o.opcnamespace, NULL::oid FROM pg_opclass o
  UNION ALL SELECT 'pg_opfamily'::regclass, o.oid, o.opfnamespace, NULL::oid FROM pg_opfamily o
  UNION ALL SELECT 'pg_conversion'::regclass, o.oid, o.connamespace, NULL::oid FROM pg_conversion o
  UNION ALL SELECT 'pg_ts_config'::regclass, o.oid, o.cfgnamespace, NULL::oid FROM pg_ts_config o
  UNION ALL SELECT 'pg_ts_dict'::regclass, o.oid, o.dictnamespace, NULL::oid FROM pg_ts_dict o
  UNION ALL SELECT 'pg_namespace'::regclass, n.oid, n.oid, NULL::oid FROM pg_namespace n
),
-- What the rollback drops or replaces.
target (classid, objid) AS (
  SELECT o.classid, o.objid FROM obj o
  WHERE :'scope' = 'immediate' AND o.nsp IN (SELECT oid FROM ehg)
  UNION ALL
  SELECT 'pg_class'::regclass, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE :'scope' = 'partial' AND n.nspname = 'views' AND c.relkind IN ('v', 'm')
    AND split_part(c.relname, '_', 1) = ANY (string_to_array(:'components', ' '))
),
found AS (
  SELECT regexp_replace(pg_describe_object(d.classid, d.objid, 0), '^rule _RETURN on ', '')
         || ' depends on ' || pg_describe_object(d.refclassid, d.refobjid, 0) AS line
  FROM pg_depend d
  JOIN target t ON t.classid = d.refclassid AND t.objid = d.refobjid
  LEFT JOIN obj o ON o.classid = d.classid AND o.objid = d.objid
  WHERE d.deptype IN ('n', 'a')
    AND CASE :'scope'
          WHEN 'immediate' THEN o.nsp IS NULL OR o.nsp NOT IN (SELECT oid FROM ehg)
          ELSE NOT EXISTS (SELECT 1 FROM target t2
                           WHERE (t2.classid = d.classid AND t2.objid = d.objid)
                              OR (t2.classid = 'pg_class'::regclass AND t2.objid = o.rel))
        END
)
SELECT coalesce(string_agg(DISTINCT line, E'\n' ORDER BY line), '') AS dependents FROM found
\gset
