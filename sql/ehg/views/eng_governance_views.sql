-- What analysts may see of engineering governance: counts, no sensitive data.
CREATE OR REPLACE VIEW views.eng_governance_summary WITH (security_barrier) AS
SELECT d.status,
       count(*)               AS directives,
       count(g.id)            AS decisions,
       max(d.updated_at)      AS last_change
FROM eng.strategic_directives_v2 d
LEFT JOIN eng.governance_decisions g ON g.directive_id = d.id
GROUP BY d.status;
ALTER VIEW views.eng_governance_summary OWNER TO ehg_admin;
INSERT INTO audit.migration_log (migration) VALUES ('views/eng_governance_views') ON CONFLICT DO NOTHING;
