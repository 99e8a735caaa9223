/*
 * step_shell.c - the shell step: a process per block (shell.h), its output
 * streamed redacted, or held back while it captures a secret.
 */
#define _GNU_SOURCE
#include "run.h"
#include "attrs.h"
#include "interp.h"
#include "run_background.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	rb_run *r;
	rb_redact_stream streams[2];
	int hold;             /* the step captures a secret: keep output until it is known */
	rb_buf held[2];       /* at most HOLD_MAX bytes a stream */
	size_t dropped[2];
} term_sink;

#define HOLD_MAX (256 * 1024)

static char *join_dir(const char *dir, const char *path)
{
	if (path[0] == '/')
		return rb_xstrdup(path);
	return rb_xasprintf("%s/%s", dir, path);
}

/* Step output to the terminal as it comes, secrets hidden. */
static void to_terminal(void *ctx, int stream, const char *data, size_t len)
{
	term_sink *t = ctx;
	if (t->hold) {
		rb_buf *h = &t->held[stream - 1];
		size_t room = h->len < HOLD_MAX ? HOLD_MAX - h->len : 0;
		rb_buf_add(h, data, len < room ? len : room);
		t->dropped[stream - 1] += len > room ? len - room : 0;
		return;
	}
	if (!t->r->redactor->count) {
		rb_run_output(t->r, stream, data, len);
		return;
	}
	rb_buf b = RB_BUF_INIT;
	rb_redact_stream_feed(&t->streams[stream - 1], data, len, &b);
	rb_run_output(t->r, stream, b.data, b.len);
	rb_buf_free(&b);
}

/* Shows what a secret-capturing step held back, now that its secret is known. */
static void release_held(term_sink *t)
{
	for (int i = 0; i < 2 && t->hold; i++) {
		if (t->held[i].len) {
			char *c = rb_redact(t->r->redactor, rb_buf_cstr(&t->held[i]));
			rb_run_output(t->r, i + 1, c, strlen(c));
			free(c);
		}
		if (t->dropped[i]) {
			char *note = rb_xasprintf("[... %zu more bytes held back and not shown]\n", t->dropped[i]);
			rb_run_output(t->r, i + 1, note, strlen(note));
			free(note);
		}
		rb_buf_free(&t->held[i]);
	}
}

/* While the step runs: the background steps' output, then the abort conditions and the ticks. */
static int shell_poll(void *ctx)
{
	rb_run_background_pump(ctx);
	return rb_run_abort_poll(ctx);
}

/* Runs a shell step; returns the step's status and sets *env on environment failures. */
static rb_status run_shell(rb_run *r, const rb_step *s, rb_step_result *res, int *env)
{
	rb_status st = RB_STATUS_FAILED;
	rb_error err = RB_ERROR_INIT;
	rb_shell_result sr;
	rb_outcome oc;
	term_sink sink;
	char *cwd = join_dir(r->rb->dir, s->cwd ? s->cwd : ".");
	char *label = rb_xasprintf("%s:%d", r->rb->path, s->line);
	rb_vars_set(&r->vars, "RUNBOOK_STEP", s->id, RB_VAR_RUNBOOK);
	char **envp = rb_vars_envp(&r->vars);

	rb_shell_opts o;
	memset(&o, 0, sizeof o);
	memset(&oc, 0, sizeof oc);
	memset(&sr, 0, sizeof sr);
	memset(&sink, 0, sizeof sink);
	sink.r = r;
	sink.hold = s->capture.value && rb_runbook_is_secret(r->rb, s->capture.value);
	rb_redact_stream_init(&sink.streams[0], r->redactor);
	rb_redact_stream_init(&sink.streams[1], r->redactor);
	o.shell = rb_step_interpreter(r->rb, s);
	o.script = s->script ? s->script : s->body; /* prompted: the commands, not the documented output */
	o.label = label;
	o.cwd = cwd;
	o.envp = envp;
	o.timeout_ms = rb_run_step_timeout(r, s);
	o.grace_ms = r->opts->grace_ms;
	o.interactive = s->interactive;
	o.out_to_stderr = r->opts->data_on_stdout;
	o.keep_max = r->opts->keep_max ? r->opts->keep_max : 1 << 20;
	o.sink = to_terminal;
	o.sink_ctx = &sink;
	if (rb_run_aborts_live(r) || rb_run_wants_ticks(r) || rb_run_background_running(r)) {
		o.poll = shell_poll;
		o.poll_ctx = r;
		o.poll_every_ms = 100;
	}

	o.on_start = rb_run_on_process;
	o.on_start_ctx = r;
	int ran = rb_shell_run(&o, &sr, &err);
	rb_watchdog_watch(r->watchdog, 0);
	if (ran < 0) {
		rb_run_step_error(r, s, "%s", err.message);
		*env = 1;
		goto done;
	}
	for (int i = 0; i < 2; i++) {
		rb_buf tail = RB_BUF_INIT;
		rb_redact_stream_flush(&sink.streams[i], &tail);
		rb_run_output(r, i + 1, tail.data, tail.len);
		rb_buf_free(&tail);
	}
	if (sink.hold && sr.status == 0 && sr.reason == RB_END_EXITED && sr.out_total <= sr.out_len) {
		char *v = rb_trim_dup(sr.out);
		rb_run_set_var(r, s->capture.value, v, RB_VAR_CAPTURE);
		free(v);
	}
	release_held(&sink);
	res->exit_code = sr.status;
	res->duration_ms = sr.duration_ms;
	rb_run_keep_text(&res->out, sr.out);
	rb_run_keep_text(&res->err, sr.err);
	oc.reason = sr.reason;
	oc.exit_code = sr.status;
	oc.failed = sr.status != 0;
	oc.message = sr.err;
	oc.output = sr.out;
	oc.duration_ms = sr.duration_ms;
	if (sr.leftovers) {
		char n[48];
		rb_run_say(r, "%s note: background processes left by the step were stopped\n", rb_run_counter(r, s, n, sizeof n));
	}
	st = rb_run_conclude(r, s, &oc);
	if (st == RB_STATUS_OK && s->capture.value && !oc.failed) {
		if (sr.out_total > sr.out_len) {
			rb_run_step_error(r, s, "capture=%s: output of %zu bytes is larger than the %zu kept",
				   s->capture.value, sr.out_total, sr.out_len);
			st = RB_STATUS_FAILED;
			goto done;
		}
		char *v = rb_trim_dup(sr.out);
		rb_run_set_var(r, s->capture.value, v, RB_VAR_CAPTURE);
		free(v);
	}
done:
	release_held(&sink);
	rb_redact_stream_free(&sink.streams[0]);
	rb_redact_stream_free(&sink.streams[1]);
	rb_shell_result_free(&sr);
	rb_error_clear(&err);
	rb_vars_envp_free(envp);
	free(label);
	free(cwd);
	return st;
}

static rb_status shell_step(rb_run *r, const rb_step *s, rb_step_result *res, int *rc)
{
	if (rb_step_background(s) && s->role != RB_ROLE_UNDO) /* Runme's background=true: not waited for; an undo is */
		return rb_run_background_start(r, s, res, rc);
	int env = 0;
	rb_status st = run_shell(r, s, res, &env);
	*rc = env ? RB_EXIT_ENV : RB_EXIT_STEP;
	return st;
}

/* Console transcripts and other languages become shell steps in the parser (run=, interpreter=). */
static const char *const shell_languages[] = {"bash", "sh", "shell", "zsh", "ksh", "dash", "fish", NULL};

const rb_step_ops rb_step_shell_ops = {
	.kind = RB_STEP_SHELL, .name = "shell", .languages = shell_languages, .process = 1, .run = shell_step};
