-- What analysts may see of the venture hub: linkage coverage per venture.
CREATE OR REPLACE VIEW views.vh_linkage_status WITH (security_barrier) AS
SELECT v.name       AS venture,
       v.stage,
       count(l.id)  AS linked_directives,
       max(l.linked_at) AS last_linked
FROM vh.ventures v
LEFT JOIN vh.venture_directive_links l ON l.venture_id = v.id
GROUP BY v.name, v.stage;
ALTER VIEW views.vh_linkage_status OWNER TO ehg_admin;
INSERT INTO audit.migration_log (migration) VALUES ('views/vh_readonly_views') ON CONFLICT DO NOTHING;
