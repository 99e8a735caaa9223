/*
 * sink_json.c - the run as JSON lines (docs/events.md): one object an
 * event, for programs (CI systems, chat bots, dashboards). Each line is
 * built whole and written with one checked write, to a file or to stdout
 * through output.c. Strings are made valid UTF-8 (a byte that is not:
 * U+FFFD) before the JSON writer escapes them; a step's output is written
 * chunk by chunk as it comes, never accumulated, and a character cut in two
 * by a chunk boundary is carried to the next chunk of its stream. Every
 * value comes from the event, already redacted by the emitter.
 */
#define _GNU_SOURCE
#include "events.h"
#include "json.h"
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Buffers grown past this by one large chunk are given back after its line. */
#define KEEP_MAX (1 << 20)

typedef struct {
	rb_sink base;
	int fd;                      /* -1: stdout, through output.c */
	char *path;
	int werr;                    /* errno of the first failed write; nothing is written after it */
	rb_buf line;                 /* the line being built */
	rb_buf text;                 /* a string made valid UTF-8 */
	rb_buf joined;               /* a carried character and the chunk that follows it */
	rb_json j;
	const rb_step *carry_step;   /* the step whose output left a character unfinished */
	char carry[2][4];            /* per stream (stdout, stderr): its first bytes */
	size_t ncarry[2];
} json_sink;

static const char *const roles[] = {"main", "on_failure", "manual", "undo"};

/* The length of the UTF-8 sequence that lead byte c starts, 0 when c cannot start one. */
static size_t seq_len(unsigned char c)
{
	return c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
}

/* 1 when s[0..n) is the start of a sequence that the next bytes may finish. */
static int unfinished(const unsigned char *s, size_t n)
{
	size_t need = seq_len(s[0]);
	if (!need || n >= need)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return 1;
}

/*
 * Appends s[0..n) to out as valid UTF-8 without NUL: each byte that is not
 * part of a valid character becomes U+FFFD. With tail, an unfinished
 * character at the very end is not appended: its length is stored there.
 */
static void make_valid(rb_buf *out, const char *s, size_t n, size_t *tail)
{
	size_t i = 0, bad;
	if (tail)
		*tail = 0;
	while (i < n) {
		if (rb_utf8_valid(s + i, n - i, &bad)) {
			rb_buf_add(out, s + i, n - i);
			break;
		}
		rb_buf_add(out, s + i, bad);
		i += bad;
		if (tail && unfinished((const unsigned char *)s + i, n - i)) {
			*tail = n - i;
			break;
		}
		rb_buf_puts(out, "\xEF\xBF\xBD");
		i++;
	}
}

/* A string value (NULL: null), valid UTF-8. */
static void jstr(json_sink *k, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (!s || rb_utf8_valid(s, n, NULL)) {
		rb_json_string(&k->j, s);
		return;
	}
	rb_buf_clear(&k->text);
	make_valid(&k->text, s, n, NULL);
	rb_json_string(&k->j, rb_buf_cstr(&k->text));
}

/* "key": "s", left out when s is NULL. */
static void kstr(json_sink *k, const char *key, const char *s)
{
	if (!s)
		return;
	rb_json_key(&k->j, key);
	jstr(k, s);
}

static void kint(json_sink *k, const char *key, int64_t v)
{
	rb_json_key(&k->j, key);
	rb_json_int(&k->j, v);
}

static void kbool(json_sink *k, const char *key, int v)
{
	rb_json_key(&k->j, key);
	rb_json_bool(&k->j, v);
}

/* Writes the line built so far, whole, with its newline; starts the next. */
static void flush_line(json_sink *k)
{
	rb_buf_putc(&k->line, '\n');
	if (k->fd < 0) {
		rb_out_write(1, k->line.data, k->line.len);
	} else if (!k->werr) {
		int e = rb_write_all(k->fd, k->line.data, k->line.len, NULL);
		if (e)
			k->werr = e;
	}
	rb_buf_clear(&k->line);
	if (k->line.cap > KEEP_MAX)
		rb_buf_free(&k->line);
	if (k->text.cap > KEEP_MAX)
		rb_buf_free(&k->text);
	if (k->joined.cap > KEEP_MAX)
		rb_buf_free(&k->joined);
}

/* Opens the line: the fields every event has. */
static void begin(json_sink *k, const rb_ev *ev, rb_ev_type type)
{
	char t[48];
	rb_format_iso(ev->time_ms, 1, t, sizeof t);
	rb_json_init(&k->j, &k->line, 0);
	rb_json_object_begin(&k->j);
	kint(k, "schema", RB_EVENTS_SCHEMA);
	kstr(k, "event", rb_ev_name(type));
	kstr(k, "time", t);
	rb_json_key(&k->j, "run_id");
	jstr(k, ev->run_id);
	if (ev->target) {
		kstr(k, "target", ev->target);
		if (ev->rollout)
			kstr(k, "rollout", ev->rollout);
	}
}

/* "step": {id, number, kind, line, section: [titles], role, undoes}, and the counter. */
static void step_fields(json_sink *k, const rb_ev *ev, const rb_step *s)
{
	const rb_runbook *rb = ev->runbook;
	int chain[16], n = 0;
	rb_json_key(&k->j, "step");
	rb_json_object_begin(&k->j);
	kstr(k, "id", s->id);
	if (s->number > 0)
		kint(k, "number", s->number);
	kstr(k, "kind", rb_step_kind_name(s->kind));
	kint(k, "line", s->line);
	rb_json_key(&k->j, "section");
	rb_json_array_begin(&k->j);
	for (int i = s->section; rb && i > 0 && (size_t)i < rb->nsections && n < 16; i = rb->sections[i].parent)
		chain[n++] = i;
	while (n > 0)
		jstr(k, rb->sections[chain[--n]].title);
	rb_json_end(&k->j, ']');
	kstr(k, "role", s->role <= RB_ROLE_UNDO ? roles[s->role] : "main");
	if (rb && s->undoes >= 0 && (size_t)s->undoes < rb->nsteps)
		kstr(k, "undoes", rb->steps[s->undoes].id);
	rb_json_end(&k->j, '}');
	if (ev->step == s)
		kstr(k, "counter", ev->counter);
}

/* One step_output line: the chunk s[0..n) of stream 1 or 2, valid UTF-8; none when nothing is left of it. */
static void output_line(json_sink *k, const rb_ev *ev, const rb_step *s, int stream, const char *data, size_t n,
			size_t *tail)
{
	rb_buf_clear(&k->text);
	make_valid(&k->text, data, n, tail);
	if (!k->text.len)
		return;
	begin(k, ev, RB_EV_STEP_OUTPUT);
	if (s)
		step_fields(k, ev, s);
	kstr(k, "stream", stream == 2 ? "stderr" : "stdout");
	rb_json_key(&k->j, "data");
	rb_json_string(&k->j, k->text.data);
	rb_json_end(&k->j, '}');
	flush_line(k);
}

/* The bytes of an unfinished character that nothing finished: U+FFFD each, on their own line. */
static void drop_carry(json_sink *k, const rb_ev *ev)
{
	for (int i = 0; i < 2; i++)
		if (k->ncarry[i]) {
			size_t n = k->ncarry[i];
			k->ncarry[i] = 0;
			output_line(k, ev, k->carry_step, i + 1, k->carry[i], n, NULL);
		}
	k->carry_step = NULL;
}

/* A chunk of a step's output; a character it leaves unfinished waits for the next chunk of its stream. */
static void output_chunk(json_sink *k, const rb_ev *ev)
{
	int i = ev->stream == 2 ? 1 : 0;
	const char *data = ev->data;
	size_t n = ev->len, tail = 0;
	if (k->carry_step && k->carry_step != ev->step)
		drop_carry(k, ev);
	if (k->ncarry[i]) {
		rb_buf_clear(&k->joined);
		rb_buf_add(&k->joined, k->carry[i], k->ncarry[i]);
		rb_buf_add(&k->joined, data, n);
		data = k->joined.data;
		n = k->joined.len;
		k->ncarry[i] = 0;
	}
	output_line(k, ev, ev->step, ev->stream, data, n, &tail);
	if (tail) {
		memcpy(k->carry[i], data + n - tail, tail);
		k->ncarry[i] = tail;
		k->carry_step = ev->step;
	}
}

/* "fields": {key: value, ...} of a note, a variable, a database (NULL values left out). */
static void fields(json_sink *k, const char *const *f)
{
	if (!f || !f[0])
		return;
	rb_json_key(&k->j, "fields");
	rb_json_object_begin(&k->j);
	for (size_t i = 0; f[i]; i += 2)
		kstr(k, f[i], f[i + 1]);
	rb_json_end(&k->j, '}');
}

static void run_end(json_sink *k, const rb_ev *ev)
{
	kint(k, "exit_code", ev->exit_code);
	if (ev->counts) {
		kint(k, "total", (int64_t)ev->total);
		rb_json_key(&k->j, "counts");
		rb_json_object_begin(&k->j);
		kint(k, "ok", (int64_t)ev->counts->ok);
		kint(k, "failed", (int64_t)ev->counts->failed);
		kint(k, "skipped", (int64_t)ev->counts->skipped);
		kint(k, "not_run", (int64_t)ev->counts->not_run);
		kint(k, "undone", (int64_t)ev->counts->undone);
		rb_json_end(&k->j, '}');
	}
	kstr(k, "summary", ev->text);
}

static void step_end(json_sink *k, const rb_ev *ev)
{
	kstr(k, "status", rb_status_name(ev->status));
	if (ev->exit_code >= 0)
		kint(k, "exit_code", ev->exit_code);
	if (ev->sqlstate && *ev->sqlstate)
		kstr(k, "sqlstate", ev->sqlstate);
	if (ev->duration_ms >= 0)
		kint(k, "duration_ms", ev->duration_ms);
	if (ev->attempts > 0)
		kint(k, "attempts", ev->attempts);
	if (ev->status != RB_STATUS_OK) {
		kstr(k, "message", ev->text);
		if (ev->data && *ev->data)
			kstr(k, "output", ev->data);
	}
	if (ev->name && ev->value) {
		rb_json_key(&k->j, "capture");
		rb_json_object_begin(&k->j);
		kstr(k, "name", ev->name);
		kstr(k, "value", ev->value);
		rb_json_end(&k->j, '}');
	}
}

/* The location of an error: a step's defaults to the step's place in the runbook. */
static void error_fields(json_sink *k, const rb_ev *ev)
{
	const char *file = ev->file;
	int line = ev->line, col = ev->col;
	if (ev->step && !file)
		file = ev->runbook ? ev->runbook->path : NULL;
	if (ev->step && !line) {
		line = ev->step->line;
		col = ev->step->col;
	}
	kstr(k, "file", file);
	if (line > 0)
		kint(k, "line", line);
	if (line > 0 && col > 0)
		kint(k, "col", col);
	kstr(k, "message", ev->text);
}

static void process(json_sink *k, const rb_ev *ev)
{
	char *end = NULL;
	long long pid = ev->name ? strtoll(ev->name, &end, 10) : 0;
	kstr(k, "process", ev->value);
	if (ev->name && *ev->name && end && !*end)
		kint(k, "pid", pid);
	else
		kstr(k, "pid", ev->name);
}

/* A statement: once when sent ("sent"), once when done ("ok" or "failed", with its time and tag). */
static void sql(json_sink *k, const rb_ev *ev)
{
	kstr(k, "status", ev->duration_ms < 0 ? "sent" : rb_status_name(ev->status));
	kstr(k, "statement", ev->text);
	kstr(k, "file", ev->file ? ev->file : ev->runbook ? ev->runbook->path : NULL);
	if (ev->line > 0)
		kint(k, "line", ev->line);
	if (ev->duration_ms >= 0) {
		kint(k, "duration_ms", ev->duration_ms);
		kstr(k, "tag", ev->value);
	}
}

static void approval(json_sink *k, const rb_ev *ev)
{
	if (!ev->step)
		kstr(k, "option", ev->text);
	kstr(k, "item", ev->name);
	kbool(k, "approved", ev->approved);
	kstr(k, "how", ev->value);
	kstr(k, "who", ev->who);
}

static void handler_end(json_sink *k, const rb_ev *ev)
{
	kstr(k, "status", rb_status_name(ev->status));
	if (ev->status != RB_STATUS_OK) {
		kstr(k, "abort_condition", ev->name);
		kstr(k, "reason", ev->text);
	}
}

/* The fields particular to each event (step_output and those left out are not here). */
static void body(json_sink *k, const rb_ev *ev)
{
	switch (ev->type) {
	case RB_EV_RUN_START:
		kstr(k, "title", ev->text);
		kstr(k, "runbook", ev->runbook ? ev->runbook->path : NULL);
		kint(k, "total", (int64_t)ev->total);
		break;
	case RB_EV_RUN_END: run_end(k, ev); break;
	case RB_EV_STEP_END: step_end(k, ev); break;
	case RB_EV_STEP_SKIPPED:
		kstr(k, "status", rb_status_name(RB_STATUS_SKIPPED));
		kstr(k, "reason", ev->text);
		break;
	case RB_EV_RETRY:
		kint(k, "attempt", ev->attempt);
		kint(k, "attempts", ev->attempts);
		kint(k, "delay_ms", ev->delay_ms);
		break;
	case RB_EV_GATE:
		kbool(k, "open", ev->status == RB_STATUS_OK);
		kstr(k, "message", ev->text);
		break;
	case RB_EV_APPROVAL: approval(k, ev); break;
	case RB_EV_ABORT_ARMED: kint(k, "every_ms", ev->delay_ms); break;
	case RB_EV_ABORT_FIRED: kstr(k, "reason", ev->text); break;
	case RB_EV_HANDLER_START: kstr(k, "section", ev->text); break;
	case RB_EV_HANDLER_END: handler_end(k, ev); break;
	case RB_EV_CAPTURE:
		kstr(k, "name", ev->name);
		kstr(k, "value", ev->value);
		break;
	case RB_EV_SQL: sql(k, ev); break;
	case RB_EV_ERROR: error_fields(k, ev); break;
	case RB_EV_NOTE: kstr(k, "text", ev->text); break;
	case RB_EV_LOG: kstr(k, "message", ev->text); break;
	case RB_EV_PROCESS: process(k, ev); break;
	case RB_EV_DATABASE:
		kstr(k, "name", ev->name);
		kstr(k, "target", ev->value);
		break;
	case RB_EV_VAR:
		kstr(k, "name", ev->name);
		kstr(k, "value", ev->value);
		break;
	default:
		break;
	}
}

static void json_event(rb_sink *self, const rb_ev *ev)
{
	json_sink *k = (json_sink *)self;
	if (ev->type == RB_EV_STEP_OUTPUT) {
		if (ev->len)
			output_chunk(k, ev);
		return;
	}
	if (k->carry_step && (ev->type == RB_EV_STEP_END || ev->type == RB_EV_STEP_START || ev->type == RB_EV_RUN_END))
		drop_carry(k, ev);
	/* For people: result lines repeat step_end, messages say what the events say. */
	if (ev->type == RB_EV_STEP_RESULT || ev->type == RB_EV_MESSAGE || ev->type >= RB_EV__COUNT)
		return;
	begin(k, ev, ev->type);
	if (ev->step)
		step_fields(k, ev, ev->step);
	body(k, ev);
	if (ev->type == RB_EV_NOTE || ev->type == RB_EV_VAR || ev->type == RB_EV_DATABASE)
		fields(k, ev->fields);
	rb_json_end(&k->j, '}');
	flush_line(k);
}

static int json_close(rb_sink *self, rb_error *err)
{
	json_sink *k = (json_sink *)self;
	int rc = 0;
	if (k->fd >= 0 && close(k->fd) < 0 && !k->werr)
		k->werr = errno;
	if (k->werr) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "--events %s: the events could not be written: %s", k->path,
			     strerror(k->werr));
		rc = -1;
	}
	rb_buf_free(&k->line);
	rb_buf_free(&k->text);
	rb_buf_free(&k->joined);
	free(k->path);
	free(k);
	return rc;
}

rb_sink *rb_sink_json_new(const char *path, int with_output, int append, rb_error *err)
{
	json_sink *k = NULL;
	int fd = -1;
	if (strcmp(path, "-") != 0) {
		fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC) | O_CLOEXEC, 0644);
		if (fd < 0) {
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot create %s: %s", path, strerror(errno));
			goto done;
		}
	}
	k = rb_xcalloc(1, sizeof *k);
	k->base.name = "json";
	k->base.wants = with_output ? RB_SINK_OUTPUT : 0;
	k->base.event = json_event;
	k->base.close = json_close;
	k->fd = fd;
	k->path = rb_xstrdup(path);
done:
	return k ? &k->base : NULL;
}
