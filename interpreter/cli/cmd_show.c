/*
 * cmd_show.c - `runbook show [RUN]`: the record of one run (record.md, and
 * the resume chain it belongs to; or record.json), as stored, with nothing
 * hidden: the record quotes the document and its output. RUN is what
 * rb_audit_load_opts takes (a run id, its directory, a commit, latest,
 * HEAD~N); without it, the newest run. The library finds and reads it
 * (rb_audit_load_run); this file only prints.
 */
#include <stddef.h>
#include <string.h>

#include "audit.h"
#include "cli/cli.h"
#include "cli/runreport.h"
#include "output.h"
#include "util.h"
#include "visible.h"

typedef struct {
	int json;
	const char *audit_repo;
	int html;
	const char *output;
} show_args;

static const cli_opt show_opts[] = {
	{"json", NULL, CLI_OPT_FLAG, offsetof(show_args, json), NULL,
	 "JSON output (the plan; show: record.json; check: the diagnostics)"},
	{"audit-repo", "DIR", CLI_OPT_STRING, offsetof(show_args, audit_repo), NULL,
	 "the git repository of audit records"},
	{"html", NULL, CLI_OPT_FLAG, offsetof(show_args, html), NULL,
	 "the run's HTML report: the runbook as executed (one self-contained page)"},
	{"output", "FILE", CLI_OPT_STRING, offsetof(show_args, output), NULL, "with --html: write it to FILE"},
	{NULL, NULL, CLI_OPT_FLAG, 0, NULL, NULL}
};

const cli_spec cmd_show_spec = {
	"show", "runbook show [RUN] [--json | --html [--output FILE]] [--audit-repo DIR]",
	"print the record of one run (RUN: run id, its directory, a commit, latest, HEAD~N; none: the newest)", CLI_OPERAND_OPTIONAL, show_opts
};

/* JSON with every hidden character inside its strings as a \uXXXX escape (same value, nothing hidden). */
static void json_visible(const char *text, size_t n, rb_buf *out)
{
	size_t from = 0, len = 0;
	const char *name;
	long at;
	while ((at = rb_visible_next(text, from, &len, &name)) >= 0 && (size_t)at < n) {
		const unsigned char *p = (const unsigned char *)text + at;
		unsigned cp = len == 1 ? p[0] : len == 2 ? (unsigned)(((p[0] & 0x1f) << 6) | (p[1] & 0x3f))
				      : (unsigned)(((p[0] & 0x0f) << 12) | ((p[1] & 0x3f) << 6) | (p[2] & 0x3f));
		rb_buf_add(out, text + from, (size_t)at - from);
		rb_buf_printf(out, "\\u%04x", cp);
		from = (size_t)at + len;
	}
	rb_buf_add(out, text + from, n - from);
}

/* "Reverted by run RUN" for each later run that reverted this one (its Reverts: trailer names it). */
static void reverted_by(const rb_audit_loaded *rec, rb_buf *shown)
{
	for (size_t i = 0; i < rec->nreverted_by; i++)
		rb_buf_printf(shown, "\nReverted by run %s (runbook revert).\n", rec->reverted_by[i]);
}

/*
 * The run's report from its journal and the runbook it ran (runbook.md,
 * stored beside it; older runs have none), naming the commit that holds it.
 */
static int show_html(const show_args *a, const char *run)
{
	rb_audit_load_opts o = {a->audit_repo, NULL, run, 0, "journal.log"};
	rb_audit_load_opts d = {a->audit_repo, NULL, run, 0, "runbook.md"};
	rb_audit_loaded journal, doc;
	rb_record rec;
	rb_error err = RB_ERROR_INIT;
	int rc = RB_EXIT_OK, have_doc = 0;
	memset(&rec, 0, sizeof rec);
	rec.fd = -1;
	if (rb_audit_load_run(&o, &journal, &err) < 0) {
		rb_out_err("runbook show: %s\n", err.message);
		rc = err.code;
		goto done;
	}
	rb_error_clear(&err);
	have_doc = rb_audit_load_run(&d, &doc, &err) == 0;
	rb_record_parse(&rec, journal.data, journal.len);
	if (cli_report_write(a->output, &rec, have_doc ? doc.data : NULL, journal.commit, NULL) < 0)
		rc = RB_EXIT_ENV;
	rb_audit_loaded_free(&journal);
	if (have_doc)
		rb_audit_loaded_free(&doc);
done:
	rb_record_close(&rec);
	rb_error_clear(&err);
	return rc;
}

/* Prints the record of run. Returns the exit code. */
static int show(const show_args *a, const char *run)
{
	rb_audit_load_opts o = {a->audit_repo, NULL, run, a->json, NULL};
	rb_audit_loaded rec;
	rb_error err = RB_ERROR_INIT;
	rb_buf shown = RB_BUF_INIT;
	int rc = RB_EXIT_OK;
	if (rb_audit_load_run(&o, &rec, &err) < 0) {
		rb_out_err("runbook show: %s\n", err.message);
		rc = err.code;
		goto done;
	}
	if (a->json) {
		json_visible(rec.data, rec.len, &shown);
	} else {
		rb_visible_into(rec.data, rec.len, &shown);
		if (rec.chain)
			rb_visible_into(rec.chain, strlen(rec.chain), &shown);
		reverted_by(&rec, &shown);
	}
	rb_out_write(1, rb_buf_cstr(&shown), shown.len);
	rb_audit_loaded_free(&rec);
done:
	rb_buf_free(&shown);
	rb_error_clear(&err);
	return rc;
}

int cmd_show(int argc, char **argv)
{
	int rc = RB_EXIT_USAGE;
	show_args a = {0, NULL, 0, NULL};
	cli_parsed p;
	if (cli_parse(&cmd_show_spec, argc, argv, &a, &p) < 0 || cli_need_operand(&cmd_show_spec, &p) < 0)
		goto done;
	if (p.help) {
		cli_help(&cmd_show_spec);
		rc = RB_EXIT_OK;
		goto done;
	}
	if (a.output && !a.html) {
		rb_out_err("runbook show: --output goes with --html\n");
		goto done;
	}
	if (a.html && a.json) {
		rb_out_err("runbook show: --html and --json exclude each other\n");
		goto done;
	}
	const char *run = p.count ? p.operands[0] : NULL; /* NULL: the newest */
	rc = a.html ? show_html(&a, run) : show(&a, run);
done:
	cli_parsed_free(&p);
	return rc;
}
