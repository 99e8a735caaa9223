-- Test data for staging: a few directives, ventures and links.
INSERT INTO eng.strategic_directives_v2 (id, title, status, priority) VALUES
  ('SD-001', 'Consolidate ingest pipelines', 'active', 80),
  ('SD-002', 'Retire legacy scoring', 'draft', 40),
  ('SD-003', 'Harden audit trail', 'completed', 90)
ON CONFLICT (id) DO NOTHING;
INSERT INTO eng.governance_decisions (directive_id, decision)
SELECT 'SD-001', 'approved for Q4' WHERE NOT EXISTS (SELECT FROM eng.governance_decisions);
INSERT INTO vh.ventures (name, stage) VALUES ('harvester', 'pilot'), ('lumen', 'idea')
ON CONFLICT (name) DO NOTHING;
INSERT INTO vh.ingest_runs (source, status, rows_loaded, finished_at)
SELECT 'signals', 'succeeded', 1200, now() WHERE NOT EXISTS (SELECT FROM vh.ingest_runs);
INSERT INTO vh.venture_directive_links (venture_id, directive_id)
SELECT id, 'SD-001' FROM vh.ventures WHERE name = 'harvester'
ON CONFLICT DO NOTHING;
