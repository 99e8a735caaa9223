-- restore-privileges.sql -- an undo of the EHG runbooks (psql -v acl=...).
--
-- Puts the privileges on the EHG schemas and on their tables, views and
-- sequences back to a snapshot taken before the change (:'acl', a JSON
-- object {"rel": {name: acl}, "nsp": {name: acl}}, as a runbook captures it):
-- whatever was granted since is revoked, whatever was revoked since is
-- granted again. Owners' own rights and objects created since are left.

-- Never wait forever for a lock (the application would queue behind the wait):
-- 10 s, as the runbooks' steps, unless the caller set a limit already.
SELECT set_config('lock_timeout', '10s', false) WHERE current_setting('lock_timeout') IN ('0', '0ms') \g /dev/null
SELECT set_config('ehg.acl', :'acl', false) \g /dev/null

CREATE FUNCTION pg_temp.acl_changes(now_acl aclitem[], then_acl aclitem[], owner oid)
RETURNS TABLE (op text, grantee oid, privilege text) LANGUAGE sql AS $$
  SELECT 'REVOKE', n.grantee, n.privilege_type FROM aclexplode(now_acl) n
  WHERE n.grantee <> owner
    AND NOT EXISTS (SELECT 1 FROM aclexplode(then_acl) t
                    WHERE t.grantee = n.grantee AND t.privilege_type = n.privilege_type)
  UNION ALL
  SELECT 'GRANT', t.grantee, t.privilege_type FROM aclexplode(then_acl) t
  WHERE t.grantee <> owner
    AND NOT EXISTS (SELECT 1 FROM aclexplode(now_acl) n
                    WHERE n.grantee = t.grantee AND n.privilege_type = t.privilege_type)
$$;

DO $$
DECLARE
  snap jsonb := current_setting('ehg.acl')::jsonb;
  r record;
BEGIN
  FOR r IN
    SELECT x.op, x.privilege, x.grantee,
           CASE c.relkind WHEN 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || c.oid::regclass::text AS target
    FROM pg_class c,
         pg_temp.acl_changes(c.relacl, (snap->'rel'->>(c.oid::regclass::text))::aclitem[], c.relowner) x
    WHERE snap->'rel' ? (c.oid::regclass::text)
    UNION ALL
    SELECT x.op, x.privilege, x.grantee, 'SCHEMA ' || quote_ident(n.nspname)
    FROM pg_namespace n,
         pg_temp.acl_changes(n.nspacl, (snap->'nsp'->>n.nspname)::aclitem[], n.nspowner) x
    WHERE snap->'nsp' ? n.nspname
  LOOP
    EXECUTE format('%s %s ON %s %s %s', r.op, r.privilege, r.target,
                   CASE r.op WHEN 'GRANT' THEN 'TO' ELSE 'FROM' END,
                   CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r.grantee)) END);
  END LOOP;
END $$;
