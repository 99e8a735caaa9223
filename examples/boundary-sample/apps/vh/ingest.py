"""Venture-hub ingest: writes venture tables only."""

def record_run(cur, source, rows):
    cur.execute("INSERT INTO vh.ingest_runs (source, status, rows_loaded) VALUES (%s, 'succeeded', %s)",
                (source, rows))


def link(cur, venture_id, directive_id):
    # Reading engineering data is allowed; writing it is not.
    cur.execute("SELECT id FROM eng.strategic_directives_v2 WHERE id = %s", (directive_id,))
    cur.execute("INSERT INTO vh.venture_directive_links (venture_id, directive_id) VALUES (%s, %s)",
                (venture_id, directive_id))
