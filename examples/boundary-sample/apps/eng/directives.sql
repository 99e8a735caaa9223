-- Engineering code may write engineering tables.
UPDATE eng.strategic_directives_v2 SET status = 'active' WHERE id = 'SD-002';
