/*
 * revert.c - preparing the revert of a finished run (revert.h).
 */
#include "revert.h"
#include "audit.h"
#include "diag.h"
#include "gitstore.h"
#include "parse.h"

#include <stdlib.h>
#include <string.h>

/* The runbook the record names, read now; its content hash in hash_now. */
static int load_runbook(rb_revert *rv, rb_error *err)
{
	rb_diags d = RB_DIAGS_INIT;
	int rc = -1;
	rv->rb = rb_parse_file(rv->runbook_path, &d);
	if (!rv->rb || d.errors) {
		rb_error_set(err, RB_EXIT_USAGE, rv->runbook_path, 0, 0, "revert: the runbook of run %s %s", rv->run,
			     rv->rb ? "has errors now (see runbook check)" : "cannot be read");
		goto done;
	}
	rb_gitstore_hash(rv->rb->source, rv->rb->source_len, rv->hash_now);
	rv->changed = strcmp(rv->hash_now, rv->hash_then) != 0;
	rc = 0;
done:
	rb_diags_free(&d);
	return rc;
}

/* What the stack and the run's undo state allow; -1 with err when there is nothing to revert. */
static int check_stack(const rb_revert *rv, rb_error *err)
{
	const char *state = rv->stack.state;
	int rc = 0;
	if (state && (!strcmp(state, RB_UNDO_FINISHED) || !strcmp(state, RB_UNDO_INCOMPLETE)))
		rc = rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "revert: run %s failed and its undo already ran "
				  "(%s): nothing to revert", rv->run, state);
	else if (!rv->stack.count)
		rc = rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "revert: run %s completed no step that has an undo: "
				  "nothing to revert", rv->run);
	return rc;
}

int rb_revert_prepare(const char *repo, const char *run, int allow_changed, rb_revert *out, rb_error *err)
{
	rb_audit_load_opts o = {repo, NULL, run, 0, "journal.log"};
	rb_audit_loaded journal;
	char *by = NULL;
	int rc = -1;
	memset(out, 0, sizeof *out);
	out->rec.fd = -1;
	memset(&journal, 0, sizeof journal);
	if (rb_audit_load_run(&o, &journal, err) < 0)
		goto done;
	out->run = rb_xstrdup(journal.id);
	rb_record_parse(&out->rec, journal.data, journal.len);
	const char *abs = rb_record_get(&out->rec, "run", NULL, "runbook_abs");
	const char *hash = rb_record_get(&out->rec, "run", NULL, "hash");
	if (!abs || !hash || strlen(hash) != 40) {
		rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "revert: the record of run %s names no runbook", out->run);
		goto done;
	}
	out->runbook_path = rb_xstrdup(abs);
	memcpy(out->hash_then, hash, 41);
	/* The runs that revert it are newer: load_run read back to it past them. */
	by = journal.nreverted_by ? rb_xstrdup(journal.reverted_by[0]) : NULL;
	if (by) {
		rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "revert: run %s was reverted already, by run %s", out->run, by);
		goto done;
	}
	if (load_runbook(out, err) < 0)
		goto done;
	if (out->changed && !allow_changed) {
		rb_error_set(err, RB_EXIT_USAGE, out->runbook_path, 0, 0, "revert: the runbook changed since run %s (content "
			     "%.7s then, %.7s now): its undo blocks may not be the ones that ran; --allow-changed reverts "
			     "with today's (recorded)", out->run, out->hash_then, out->hash_now);
		goto done;
	}
	const rb_record *runs[1] = {&out->rec};
	rb_undo_stack_read(out->rb, runs, 1, &out->stack);
	if (check_stack(out, err) < 0)
		goto done;
	rc = 0;
done:
	if (rc < 0)
		rb_revert_free(out);
	rb_audit_loaded_free(&journal);
	free(by);
	return rc;
}

char *rb_revert_describe(const rb_revert *rv)
{
	rb_buf b = RB_BUF_INIT;
	rb_buf_printf(&b, "Revert of run %s\n  runbook: %s (content %.7s in the run, %.7s now%s)\n", rv->run,
		      rv->runbook_path, rv->hash_then, rv->hash_now, rv->changed ? ": CHANGED" : "");
	rb_buf_puts(&b, "  undos, newest first:\n");
	for (size_t i = rv->stack.count; i-- > 0;) {
		const rb_step *s = rb_runbook_find_step(rv->rb, rv->stack.items[i].step);
		const rb_step *u = s ? rb_undo_of(rv->rb, s) : NULL;
		rb_buf_printf(&b, "    %s  (undoes %s, %s:%d)\n", u ? u->id : "?", rv->stack.items[i].step,
			      rv->rb->path, u ? u->line : 0);
	}
	if (rv->stack.count) {
		const rb_undo_item *last = &rv->stack.items[rv->stack.count - 1];
		rb_buf_printf(&b, "  variables as recorded (secrets are *** and must be given again):");
		for (size_t v = 0; v < last->nvars; v++)
			rb_buf_printf(&b, " %s", last->vars[v]);
		rb_buf_putc(&b, '\n');
	}
	return rb_buf_detach(&b);
}

void rb_revert_free(rb_revert *rv)
{
	free(rv->run);
	free(rv->runbook_path);
	rb_runbook_free(rv->rb);
	rb_record_close(&rv->rec);
	rb_undo_stack_free(&rv->stack);
	memset(rv, 0, sizeof *rv);
}
