/*
 * sinks.c - the outputs of a run from its options (sinks.h).
 */
#define _DEFAULT_SOURCE
#include "cli/sinks.h"

#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "util.h"

int cli_github_mode(const cli_output_opts *o)
{
	const char *gh = getenv("GITHUB_ACTIONS");
	return o->github || (gh && !strcmp(gh, "true"));
}

static int color_mode(const char *s, rb_color_mode *m)
{
	if (!s || !strcmp(s, "auto"))
		*m = RB_COLOR_AUTO;
	else if (!strcmp(s, "always"))
		*m = RB_COLOR_ALWAYS;
	else if (!strcmp(s, "never"))
		*m = RB_COLOR_NEVER;
	else
		return -1;
	return 0;
}

static void add(cli_sinks *s, rb_sink *k)
{
	if (k && s->count < sizeof s->list / sizeof *s->list)
		s->list[s->count++] = k;
}

int cli_sinks_open(cli_sinks *s, const cli_output_opts *o, const rb_redactor *redactor, int *code)
{
	rb_terminal_opts t;
	rb_error err = RB_ERROR_INIT;
	int rc = -1;
	memset(s, 0, sizeof *s);
	memset(&t, 0, sizeof t);
	*code = RB_EXIT_USAGE;
	if (color_mode(o->color, &t.color) < 0) {
		rb_out_err("runbook run: --color %s: expected auto, always or never\n", o->color);
		goto done;
	}
	if (o->quiet && o->verbose) {
		rb_out_err("runbook run: --quiet and --verbose exclude each other\n");
		goto done;
	}
	if (o->events_output && !o->events) {
		rb_out_err("runbook run: --events-output needs --events FILE\n");
		goto done;
	}
	t.quiet = o->quiet;
	t.verbose = o->verbose;
	t.to_stderr = o->events && !strcmp(o->events, "-");
	rb_out_messages_to_stderr(t.to_stderr);
	*code = RB_EXIT_ENV;
	if (o->github && t.to_stderr) {
		rb_out_err("runbook run: --github writes workflow commands on stdout, where --events - writes "
			   "JSON: give --events a file\n");
		*code = RB_EXIT_USAGE;
		goto done;
	}
	if (cli_github_mode(o) && !t.to_stderr) { /* stdout is the JSON's with --events - */
		/* First: the masks before anything else is written, a step's group before its header. */
		rb_github_opts g = {getenv("GITHUB_WORKSPACE"), getenv("GITHUB_STEP_SUMMARY"), redactor};
		add(s, rb_sink_github_new(&g));
		t.plain = 1;
	}
	if (o->events) {
		rb_sink *k = rb_sink_json_new(o->events, o->events_output, o->events_append, &err);
		if (!k) {
			rb_out_err("runbook run: --events %s: %s\n", o->events, err.message);
			goto done;
		}
		add(s, k);
	}
	if (o->junit) {
		rb_sink *k = rb_sink_junit_new(o->junit, &err);
		if (!k) {
			rb_out_err("runbook run: --junit %s: %s\n", o->junit, err.message);
			goto done;
		}
		add(s, k);
	}
	add(s, rb_sink_terminal_new(&t));
	rc = 0;
done:
	if (rc < 0)
		cli_sinks_close(s);
	rb_error_clear(&err);
	return rc;
}

int cli_sinks_close(cli_sinks *s)
{
	int rc = 0;
	for (size_t i = 0; i < s->count; i++) {
		rb_error err = RB_ERROR_INIT;
		if (rb_sink_close(s->list[i], &err) < 0) {
			rb_out_err("runbook: %s\n", err.message ? err.message : "an output could not be written");
			rc = -1;
		}
		rb_error_clear(&err);
	}
	s->count = 0;
	return rc;
}
