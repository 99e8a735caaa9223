/*
 * record.c - events, the journal, and the two renderings of a record.
 *
 * The journal is written with its failures checked: the first one is kept
 * (rec->failed, rec->error) and ends the journaling, so a journal is always
 * a prefix of the run, never a run with holes in it.
 */
#define _GNU_SOURCE
#include "record.h"
#include "json.h"
#include "visible.h"

#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <fcntl.h>
#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static void encode(rb_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '%' || *s == '\t' || *s == '\n' || *s == '\r')
			rb_buf_printf(b, "%%%02X", (unsigned char)*s);
		else
			rb_buf_putc(b, *s);
	}
}

static char *decode(const char *s, size_t n)
{
	rb_buf b = RB_BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n) {
			char hex[3] = {s[i + 1], s[i + 2], 0};
			rb_buf_putc(&b, (char)strtol(hex, NULL, 16));
			i += 2;
		} else {
			rb_buf_putc(&b, s[i]);
		}
	}
	return rb_buf_detach(&b);
}

static int mkdirs(const char *path)
{
	char *p = rb_xstrdup(path);
	int rc = 0;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	free(p);
	return rc;
}

int rb_record_open(rb_record *rec, const char *journal_path, const rb_redactor *redactor,
		   rb_error *err)
{
	memset(rec, 0, sizeof *rec);
	rec->fd = -1;
	rec->redactor = redactor;
	if (!journal_path)
		return 0;
	mkdirs(journal_path);
	rec->fd = open(journal_path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (rec->fd < 0 && errno == ENOENT) {
		/*
		 * A new journal appears locked: made and locked under another name, then
		 * renamed, so that another runbook recovering the interrupted runs of the
		 * same repository never finds it unlocked and empty, and takes it.
		 */
		char *tmp = rb_xasprintf("%s.XXXXXX", journal_path);
		rec->fd = mkostemp(tmp, O_APPEND | O_CLOEXEC);
		if (rec->fd >= 0 && (flock(rec->fd, LOCK_EX | LOCK_NB) < 0 || rename(tmp, journal_path) < 0)) {
			int e = errno;
			close(rec->fd);
			unlink(tmp);
			rec->fd = -1;
			errno = e;
		}
		free(tmp);
	} else if (rec->fd >= 0 && flock(rec->fd, LOCK_EX | LOCK_NB) < 0) {
		close(rec->fd);
		rec->fd = -1;
		return rb_error_set(err, RB_EXIT_ENV, journal_path, 0, 0, "the run journal is in use");
	}
	if (rec->fd < 0)
		return rb_error_set(err, RB_EXIT_ENV, journal_path, 0, 0, "cannot create the run journal: %s",
				    strerror(errno));
	rec->journal_path = rb_xstrdup(journal_path);
	struct stat st;
	if (fstat(rec->fd, &st) == 0)
		rec->size = rec->reserved = (uint64_t)st.st_size;
	rec->can_reserve = 1;
	return 0;
}

static rb_event *push(rb_record *rec, const char *type)
{
	if (rec->count == rec->cap) {
		rec->cap = rec->cap ? rec->cap * 2 : 32;
		rec->events = rb_xrealloc(rec->events, rec->cap * sizeof *rec->events);
	}
	rb_event *e = &rec->events[rec->count++];
	e->type = rb_xstrdup(type);
	e->fields = NULL;
	e->nfields = 0;
	return e;
}

static void add_field(rb_event *e, const char *key, char *value)
{
	e->fields = rb_xrealloc(e->fields, (e->nfields + 1) * sizeof *e->fields);
	e->fields[e->nfields].key = rb_xstrdup(key);
	e->fields[e->nfields].value = value;
	e->nfields++;
}

static int sync_fd(int fd)
{
	while (fsync(fd) < 0) {
		if (errno != EINTR)
			return errno;
	}
	return 0;
}

/* Remembers the first failure; the journal is written no more. */
static void journal_failed(rb_record *rec, int e, const char *what)
{
	if (rec->failed)
		return;
	rec->failed = e;
	rec->error = rb_xasprintf("cannot %s the run journal %s: %s", what, rec->journal_path, strerror(e));
}

/*
 * Keeps RB_JOURNAL_RESERVE bytes allocated beyond the next n bytes. 0 when
 * they are, or when the filesystem cannot allocate ahead (then plain writes
 * are all there is); else the errno (no space).
 */
static int reserve(rb_record *rec, size_t n)
{
#ifdef FALLOC_FL_KEEP_SIZE
	uint64_t need = rec->size + n + RB_JOURNAL_RESERVE;
	if (!rec->can_reserve || need <= rec->reserved)
		return 0;
	need = (need + 4095) & ~(uint64_t)4095;
	int r;
	while ((r = fallocate(rec->fd, FALLOC_FL_KEEP_SIZE, (off_t)rec->reserved,
			      (off_t)(need - rec->reserved))) < 0 && errno == EINTR)
		;
	if (r == 0) {
		rec->reserved = need;
		return 0;
	}
	if (errno == ENOSPC || errno == EDQUOT || errno == EFBIG || errno == EIO)
		return errno;
	rec->can_reserve = 0; /* EOPNOTSUPP and the like: this filesystem does not */
	return 0;
#else
	(void)n;
	rec->can_reserve = 0;
	return 0;
#endif
}

/* Values longer than this are cut in the shortened event written into the reserve. */
#define SHORT_VALUE_MAX 200

/*
 * The last lines of a journal that could not grow, written into the space
 * reserved for them: the event that did not fit, shortened (long values such
 * as a step's output cut, so that what the step did is still known), and a
 * note saying the journal was cut there and why.
 */
static void write_cut_marker(rb_record *rec, const rb_event *e, size_t lost, int why)
{
	const char *id = rb_event_get(e, "id");
	rb_buf shortened = RB_BUF_INIT, line = RB_BUF_INIT;
	rb_buf_puts(&shortened, e->type);
	for (size_t k = 0; k < e->nfields; k++) {
		const char *v = e->fields[k].value;
		size_t n = strlen(v);
		rb_buf_printf(&shortened, "\t%s=", e->fields[k].key);
		if (n <= SHORT_VALUE_MAX) {
			encode(&shortened, v);
			continue;
		}
		size_t cut = SHORT_VALUE_MAX;
		while (cut > 0 && ((unsigned char)v[cut] & 0xC0) == 0x80)
			cut--;
		char *head = rb_xstrndup(v, cut);
		char *tail = rb_xasprintf("\n[... %zu more bytes not journaled: %s]", n - cut, strerror(why));
		encode(&shortened, head);
		encode(&shortened, tail);
		free(head);
		free(tail);
	}
	rb_buf_putc(&shortened, '\n');
	uint64_t room = rec->reserved - rec->size;
	int whole = shortened.len + 512 <= room; /* the note stays well under 512 bytes */
	char *text = rb_xasprintf("the run journal was cut here (%s): the '%s' event%s%s%s (%zu bytes) %s, and no "
				  "later event could be written", strerror(why), e->type, id ? " of step '" : "",
				  id ? id : "", id ? "'" : "", lost,
				  whole ? "is above with its long values shortened" : "could not be written");
	if (whole)
		rb_buf_add(&line, shortened.data, shortened.len);
	rb_buf_puts(&line, "note\ttext=");
	encode(&line, text);
	rb_buf_puts(&line, "\tjournal=cut\terror=");
	encode(&line, strerror(why));
	rb_buf_putc(&line, '\n');
	size_t done = 0;
	if (line.len <= room && rb_write_all(rec->fd, line.data, line.len, &done) == 0)
		sync_fd(rec->fd);
	rec->size += done;
	free(text);
	rb_buf_free(&shortened);
	rb_buf_free(&line);
}

/* Appends one encoded event to the journal, checking everything. */
static void journal_append(rb_record *rec, const rb_event *e, const rb_buf *line)
{
	size_t done = 0;
	int r;
	if (rec->fd < 0 || rec->failed)
		return;
	if ((r = reserve(rec, line->len)) != 0) {
		write_cut_marker(rec, e, line->len, r);
		journal_failed(rec, r, "write");
		return;
	}
	r = rb_write_all(rec->fd, line->data, line->len, &done);
	rec->size += done;
	if (r != 0) {
		journal_failed(rec, r, "write");
		return;
	}
	if ((r = sync_fd(rec->fd)) != 0)
		journal_failed(rec, r, "fsync");
}

/*
 * Test-only: RUNBOOK_TEST_KILL_AFTER_EVENTS=N makes runbook kill itself
 * (SIGKILL) right after the Nth event reached the journal, so the fault
 * suite can stop a run at every journal boundary.
 */
static void test_kill_point(const rb_record *rec)
{
	static long after = -2;
	if (after == -2) {
		const char *v = getenv("RUNBOOK_TEST_KILL_AFTER_EVENTS");
		after = v && *v ? atol(v) : -1;
	}
	if (after > 0 && rec->fd >= 0 && (long)rec->count == after)
		raise(SIGKILL);
}

void rb_record_fields(rb_record *rec, const char *type, const char *const *kv)
{
	rb_event *e = push(rec, type);
	rb_buf line = RB_BUF_INIT;
	rb_buf_puts(&line, type);
	for (size_t i = 0; kv && kv[i]; i += 2) {
		const char *key = kv[i], *value = kv[i + 1];
		if (!value)
			continue;
		char *clean = rec->redactor ? rb_redact(rec->redactor, value) : rb_xstrdup(value);
		rb_buf_putc(&line, '\t');
		rb_buf_puts(&line, key);
		rb_buf_putc(&line, '=');
		encode(&line, clean);
		add_field(e, key, clean);
	}
	rb_buf_putc(&line, '\n');
	journal_append(rec, e, &line);
	rb_buf_free(&line);
	test_kill_point(rec);
}

void rb_record_event(rb_record *rec, const char *type, ...)
{
	va_list ap;
	const char *kv[64];
	size_t n = 0;
	va_start(ap, type);
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (!key)
			break;
		const char *value = va_arg(ap, const char *);
		assert(n + 3 <= sizeof kv / sizeof *kv); /* more pairs than any event has */
		kv[n++] = key;
		kv[n++] = value;
	}
	va_end(ap);
	kv[n] = NULL;
	rb_record_fields(rec, type, kv);
}

int rb_record_failed(const rb_record *rec)
{
	return rec->failed;
}

const char *rb_record_error(const rb_record *rec)
{
	return rec->error;
}

const char *rb_event_get(const rb_event *e, const char *key)
{
	for (size_t i = 0; i < e->nfields; i++)
		if (!strcmp(e->fields[i].key, key))
			return e->fields[i].value;
	return NULL;
}

const char *rb_record_get(const rb_record *rec, const char *type, const char *id, const char *key)
{
	for (size_t i = rec->count; i-- > 0;) {
		const rb_event *e = &rec->events[i];
		if (strcmp(e->type, type))
			continue;
		if (id) {
			const char *eid = rb_event_get(e, "id");
			if (!eid || strcmp(eid, id))
				continue;
		}
		return rb_event_get(e, key);
	}
	return NULL;
}

void rb_record_parse(rb_record *rec, const char *text, size_t len)
{
	memset(rec, 0, sizeof *rec);
	rec->fd = -1;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			rec->torn = (size_t)(end - p); /* the kill, or a full disk, came mid-write */
			break;
		}
		const char *tab = memchr(p, '\t', (size_t)(nl - p));
		const char *tend = tab ? tab : nl;
		char *type = rb_xstrndup(p, (size_t)(tend - p));
		rb_event *e = push(rec, type);
		free(type);
		while (tab && tab < nl) {
			const char *f = tab + 1;
			const char *next = memchr(f, '\t', (size_t)(nl - f));
			const char *fend = next ? next : nl;
			const char *eq = memchr(f, '=', (size_t)(fend - f));
			if (eq) {
				char *key = rb_xstrndup(f, (size_t)(eq - f));
				add_field(e, key, decode(eq + 1, (size_t)(fend - eq - 1)));
				free(key);
			}
			tab = next;
		}
		p = nl + 1;
	}
}

int rb_record_load(rb_record *rec, const char *journal_path, rb_error *err)
{
	char *text = NULL;
	size_t len = 0;
	memset(rec, 0, sizeof *rec);
	rec->fd = -1;
	if (rb_read_file(journal_path, &text, &len, err) < 0)
		return -1;
	rb_record_parse(rec, text, len);
	free(text);
	return 0;
}

char *rb_record_text(const rb_record *rec)
{
	rb_buf b = RB_BUF_INIT;
	for (size_t i = 0; i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		rb_buf_puts(&b, e->type);
		for (size_t k = 0; k < e->nfields; k++) {
			rb_buf_putc(&b, '\t');
			rb_buf_puts(&b, e->fields[k].key);
			rb_buf_putc(&b, '=');
			encode(&b, e->fields[k].value);
		}
		rb_buf_putc(&b, '\n');
	}
	return rb_buf_detach(&b);
}

int rb_record_journal_busy(const char *journal_path)
{
	int fd = open(journal_path, O_RDONLY | O_CLOEXEC);
	int busy = 0;
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		busy = errno == EWOULDBLOCK;
	close(fd);
	return busy;
}

void rb_record_close(rb_record *rec)
{
	if (rec->fd >= 0)
		close(rec->fd);
	for (size_t i = 0; i < rec->count; i++) {
		rb_event *e = &rec->events[i];
		for (size_t k = 0; k < e->nfields; k++) {
			free(e->fields[k].key);
			free(e->fields[k].value);
		}
		free(e->fields);
		free(e->type);
	}
	free(rec->events);
	free(rec->journal_path);
	free(rec->error);
	memset(rec, 0, sizeof *rec);
	rec->fd = -1;
}

/* --- rendering ---------------------------------------------------------- */

static const char *or(const char *v, const char *dflt)
{
	return v && *v ? v : dflt;
}

/* The "end" event of step id, or NULL when it never ended. */
static const rb_event *step_end(const rb_record *rec, const char *id)
{
	for (size_t i = rec->count; i-- > 0;) {
		const rb_event *e = &rec->events[i];
		if (!strcmp(e->type, "end") && !strcmp(or(rb_event_get(e, "id"), ""), id))
			return e;
	}
	return NULL;
}

static const char *result_of(const rb_record *rec)
{
	return or(rb_record_get(rec, "finish", NULL, "result"), "interrupted");
}

char *rb_record_one_line(const char *text, size_t max)
{
	rb_buf flat = RB_BUF_INIT, vis = RB_BUF_INIT;
	int space = 0;
	for (const char *p = text ? text : ""; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f') {
			space = flat.len > 0;
			continue;
		}
		if (space)
			rb_buf_putc(&flat, ' ');
		space = 0;
		rb_buf_putc(&flat, *p);
	}
	rb_visible_into(flat.data ? flat.data : "", flat.len, &vis);
	if (vis.len > max) {
		size_t cut = max;
		while (cut > 0 && ((unsigned char)vis.data[cut] & 0xC0) == 0x80)
			cut--; /* not inside a UTF-8 sequence */
		vis.len = cut;
		rb_buf_puts(&vis, "...");
	}
	rb_buf_free(&flat);
	return rb_buf_detach(&vis);
}

/* The step the run stopped at: the one that failed or was cancelled, else the one the kill came during. */
static const char *stopped_at(const rb_record *rec)
{
	const char *at = rb_record_get(rec, "finish", NULL, "failed_step");
	for (size_t i = 0; !at && i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		const char *st = rb_event_get(e, "status");
		if (!strcmp(e->type, "end") && st && (!strcmp(st, "failed") || !strcmp(st, "cancelled")))
			at = rb_event_get(e, "id");
	}
	for (size_t i = 0; !at && i < rec->count; i++) {
		/* a step started and never ended: the kill came during it */
		const rb_event *e = &rec->events[i];
		if (!strcmp(e->type, "step") && !step_end(rec, or(rb_event_get(e, "id"), "")))
			at = rb_event_get(e, "id");
	}
	return at;
}

/* "succeeded (5 steps, 1.2s)", "failed at four (exit 1)", "interrupted (exit none)"; not bounded. */
static char *outcome(const rb_record *rec)
{
	const char *result = result_of(rec);
	const char *exit_code = or(rb_record_get(rec, "finish", NULL, "exit"), "?");
	const char *failed_at = stopped_at(rec);
	const char *duration = or(rb_record_get(rec, "finish", NULL, "duration"), "");
	size_t steps = 0;
	for (size_t i = 0; i < rec->count; i++) /* a background step's result is its second end: not a step */
		steps += !strcmp(rec->events[i].type, "end") && !rb_event_get(&rec->events[i], "background");
	if (!strcmp(result, "succeeded"))
		return rb_xasprintf("succeeded (%zu step%s, %s)", steps, steps == 1 ? "" : "s", duration);
	if (failed_at)
		return rb_xasprintf("%s at %s (exit %s)", result, failed_at, exit_code);
	return rb_xasprintf("%s (exit %s)", result, exit_code);
}

char *rb_record_outcome(const rb_record *rec)
{
	char *o = outcome(rec);
	char *one = rb_record_one_line(o, RB_SUMMARY_MAX);
	free(o);
	return one;
}

char *rb_record_summary(const rb_record *rec)
{
	char *title = rb_record_one_line(or(rb_record_get(rec, "run", NULL, "title"), "runbook"),
					 RB_SUMMARY_TITLE_MAX);
	char *o = outcome(rec);
	char *line = rb_xasprintf("%s: %s", title, o);
	/* Every part is one line and bounded, whatever the document or the journal says. */
	char *one = rb_record_one_line(line, RB_SUMMARY_MAX);
	free(line);
	free(o);
	free(title);
	return one;
}

static void md_cell(rb_buf *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			rb_buf_puts(b, "\\|");
		else if (*s == '\n')
			rb_buf_putc(b, ' ');
		else
			rb_buf_putc(b, *s);
	}
}

/* A table of every event of one type, a column per key, the first in backticks. */
static void md_table(rb_buf *b, const rb_record *rec, const char *type, const char *title,
		     const char *const *keys, const char *header)
{
	int any = 0;
	for (size_t i = 0; i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		if (strcmp(e->type, type))
			continue;
		if (!any) {
			rb_buf_printf(b, "\n## %s\n\n%s\n|", title, header);
			for (size_t k = 0; keys[k]; k++)
				rb_buf_puts(b, "---|");
			rb_buf_putc(b, '\n');
		}
		any = 1;
		for (size_t k = 0; keys[k]; k++) {
			rb_buf_puts(b, k ? " | " : "| `");
			md_cell(b, rb_event_get(e, keys[k]));
			if (!k)
				rb_buf_putc(b, '`');
		}
		rb_buf_puts(b, " |\n");
	}
}

/* The database each connection reached ("database" events: password-free targets). */
static void md_databases(rb_buf *b, const rb_record *rec)
{
	int any = 0;
	for (size_t i = 0; i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		if (strcmp(e->type, "database"))
			continue;
		if (!any)
			rb_buf_puts(b, "\n## Databases\n\n| connection | target | server version |\n|---|---|---|\n");
		any = 1;
		rb_buf_puts(b, "| ");
		md_cell(b, or(rb_event_get(e, "name"), "default"));
		rb_buf_puts(b, " | `");
		md_cell(b, rb_event_get(e, "target"));
		rb_buf_puts(b, "` | ");
		md_cell(b, rb_event_get(e, "server_version"));
		rb_buf_puts(b, " |\n");
	}
}

/* The process groups and backends the step ran in ("process" events), for finding survivors. */
static void md_processes(rb_buf *b, const rb_record *rec, const char *id)
{
	for (size_t i = 0; i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		const char *pgid = rb_event_get(e, "pgid"), *backend = rb_event_get(e, "backend");
		if (strcmp(e->type, "process") || strcmp(or(rb_event_get(e, "step"), ""), id))
			continue;
		if (pgid)
			rb_buf_printf(b, "- **Process group:** %s\n", pgid);
		if (backend)
			rb_buf_printf(b, "- **Database backend pid:** %s\n", backend);
	}
}

/* A fence longer than any run of backticks in text, so output cannot close it. */
static void md_fence(rb_buf *b, const char *text)
{
	size_t longest = 0, run = 0;
	for (const char *p = text; *p; p++) {
		run = *p == '`' ? run + 1 : 0;
		if (run > longest)
			longest = run;
	}
	for (size_t i = 0; i < (longest < 3 ? 3 : longest + 1); i++)
		rb_buf_putc(b, '`');
}

/* A step's text output as a fenced block (after a title, when given); nothing when there is none. */
static void md_text(rb_buf *b, const char *title, const char *out)
{
	if (!out || !*out)
		return;
	rb_buf_putc(b, '\n');
	if (title)
		rb_buf_printf(b, "%s\n", title);
	md_fence(b, out);
	rb_buf_puts(b, "text\n");
	rb_buf_puts(b, out);
	if (out[strlen(out) - 1] != '\n')
		rb_buf_putc(b, '\n');
	md_fence(b, out);
	rb_buf_putc(b, '\n');
}

char *rb_record_markdown(const rb_record *rec)
{
	rb_buf b = RB_BUF_INIT;
	char *summary = rb_record_summary(rec);
	rb_buf_printf(&b, "# %s\n\n", summary);
	free(summary);
	static const char *const run_keys[][2] = {
		{"runbook", "Runbook"}, {"hash", "Content (git blob)"}, {"commit", "Runbook repository at"},
		{"operator", "Operator"}, {"host", "Host"}, {"start", "Started"}, {"command", "Command"},
		{"resumes", "Resumes run"}, {"chain", "Resume chain started by"}, {NULL, NULL}
	};
	for (int i = 0; run_keys[i][0]; i++) {
		const char *v = rb_record_get(rec, "run", NULL, run_keys[i][0]);
		if (v) {
			char *one = rb_record_one_line(v, 4096);
			rb_buf_printf(&b, "- **%s:** `%s`\n", run_keys[i][1], one);
			free(one);
		}
	}
	const char *end = rb_record_get(rec, "finish", NULL, "end");
	rb_buf_printf(&b, "- **Ended:** `%s`\n", or(end, "never: the run was interrupted"));
	rb_buf_printf(&b, "- **Duration:** %s\n", or(rb_record_get(rec, "finish", NULL, "duration"), "unknown"));
	rb_buf_printf(&b, "- **Result:** %s (exit %s)\n", result_of(rec),
		      or(rb_record_get(rec, "finish", NULL, "exit"), "none"));

	static const char *const var_keys[] = {"name", "value", "source", NULL};
	md_table(&b, rec, "var", "Variables", var_keys, "| name | value | from |");

	md_databases(&b, rec);

	rb_buf_puts(&b, "\n## Steps\n\n| # | step | kind | status | exit / SQLSTATE | duration |\n"
			"|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		if (strcmp(e->type, "step"))
			continue;
		const char *id = or(rb_event_get(e, "id"), "?");
		const rb_event *x = step_end(rec, id);
		const char *code = x ? or(rb_event_get(x, "sqlstate"), rb_event_get(x, "exit")) : NULL;
		const char *undoes = rb_event_get(e, "undoes");
		rb_buf_printf(&b, "| %s | `%s`%s%s%s | %s | %s | %s | %s |\n", or(rb_event_get(e, "number"), ""),
			      id, undoes ? " (undoes `" : "", undoes ? undoes : "", undoes ? "`)" : "",
			      or(rb_event_get(e, "kind"), ""),
			      x ? or(rb_event_get(x, "status"), "?") : "interrupted", or(code, ""),
			      x ? or(rb_event_get(x, "duration"), "") : "");
	}
	for (size_t i = 0; i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		if (strcmp(e->type, "step"))
			continue;
		const char *id = or(rb_event_get(e, "id"), "?");
		const rb_event *x = step_end(rec, id);
		rb_buf_printf(&b, "\n### %s `%s`\n\n", or(rb_event_get(e, "number"), "-"), id);
		rb_buf_printf(&b, "- **Where:** %s:%s%s%s\n", or(rb_record_get(rec, "run", NULL, "runbook"), "?"),
			      or(rb_event_get(e, "line"), "?"), rb_event_get(e, "section") ? " — " : "",
			      or(rb_event_get(e, "section"), ""));
		md_processes(&b, rec, id);
		if (!x) {
			rb_buf_puts(&b, "- **Status:** interrupted while running\n");
			continue;
		}
		rb_buf_printf(&b, "- **Status:** %s\n", or(rb_event_get(x, "status"), "?"));
		static const char *const keys[][2] = {
			{"exit", "Exit code"}, {"sqlstate", "SQLSTATE"}, {"duration", "Duration"},
			{"message", "Message"}, {"capture", "Captured into"}, {"value", "Captured value"},
			{"approved_by", "Approved by"}, {NULL, NULL}
		};
		for (int k = 0; keys[k][0]; k++) {
			const char *v = rb_event_get(x, keys[k][0]);
			if (v && *v)
				rb_buf_printf(&b, "- **%s:** %s\n", keys[k][1], v);
		}
		md_text(&b, NULL, rb_event_get(x, "output"));
		/* a prompted block's output as the runbook shows it, beside the real one */
		md_text(&b, "Documented output (from the runbook, not run):\n", rb_event_get(x, "documented_output"));
	}

	static const char *const approval_keys[] = {"step", "item", "who", "how", NULL};
	md_table(&b, rec, "approval", "Approvals", approval_keys, "| step | item | who | how |");
	for (size_t i = 0; i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		if (!strcmp(e->type, "abort"))
			rb_buf_printf(&b, "\n## Abort condition fired\n\n`%s`: %s\n", or(rb_event_get(e, "step"), "?"),
				      or(rb_event_get(e, "reason"), ""));
		else if (!strcmp(e->type, "note"))
			rb_buf_printf(&b, "\n> %s\n", or(rb_event_get(e, "text"), ""));
	}
	return rb_buf_detach(&b);
}

/* Fields of e as members of the current JSON object, but `skip`. */
static void json_fields(rb_json *j, const rb_event *e, const char *skip)
{
	for (size_t k = 0; k < e->nfields; k++) {
		if (skip && !strcmp(e->fields[k].key, skip))
			continue;
		rb_json_key(j, e->fields[k].key);
		rb_json_string(j, e->fields[k].value);
	}
}

char *rb_record_json(const rb_record *rec)
{
	rb_buf b = RB_BUF_INIT;
	rb_json j;
	rb_json_init(&j, &b, 1);
	rb_json_object_begin(&j);
	rb_json_key(&j, "format");
	rb_json_string(&j, "runbook-record/1");
	rb_json_key(&j, "result");
	rb_json_string(&j, result_of(rec));
	const char *code = rb_record_get(rec, "finish", NULL, "exit");
	rb_json_key(&j, "exit_code");
	if (code)
		rb_json_int(&j, atoll(code));
	else
		rb_json_null(&j);
	const char *resumes = rb_record_get(rec, "run", NULL, "resumes");
	rb_json_key(&j, "resumes");
	if (resumes)
		rb_json_string(&j, resumes);
	else
		rb_json_null(&j);
	/* Every event, in order, with its fields: nothing is lost between journal and record. */
	static const char *const singles[] = {"run", "finish", NULL};
	for (int s = 0; singles[s]; s++) {
		rb_json_key(&j, singles[s]);
		const rb_event *found = NULL;
		for (size_t i = 0; i < rec->count; i++)
			if (!strcmp(rec->events[i].type, singles[s]))
				found = &rec->events[i];
		if (!found) {
			rb_json_null(&j);
			continue;
		}
		rb_json_object_begin(&j);
		json_fields(&j, found, NULL);
		rb_json_end(&j, '}');
	}
	rb_json_key(&j, "steps");
	rb_json_array_begin(&j);
	for (size_t i = 0; i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		if (strcmp(e->type, "step"))
			continue;
		const rb_event *x = step_end(rec, or(rb_event_get(e, "id"), ""));
		rb_json_object_begin(&j);
		json_fields(&j, e, NULL);
		if (!x) {
			rb_json_key(&j, "status");
			rb_json_string(&j, "interrupted");
		}
		if (x)
			json_fields(&j, x, "id");
		rb_json_end(&j, '}');
	}
	rb_json_end(&j, ']');
	static const char *const lists[] = {"var", "approval", "abort", "note", "process", "database", NULL};
	static const char *const names[] = {"variables", "approvals", "aborts", "notes", "processes", "databases",
					    NULL};
	for (int l = 0; lists[l]; l++) {
		rb_json_key(&j, names[l]);
		rb_json_array_begin(&j);
		for (size_t i = 0; i < rec->count; i++) {
			const rb_event *e = &rec->events[i];
			if (strcmp(e->type, lists[l]))
				continue;
			rb_json_object_begin(&j);
			json_fields(&j, e, NULL);
			rb_json_end(&j, '}');
		}
		rb_json_end(&j, ']');
	}
	rb_json_end(&j, '}');
	rb_buf_putc(&b, '\n');
	return rb_buf_detach(&b);
}

/* The step a partial run started at (--from, or the step --resume continued at), or NULL. */
static const char *selected_from(const rb_record *rec)
{
	for (size_t i = 0; i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		const char *from = rb_event_get(e, "from");
		if (!strcmp(e->type, "note") && from)
			return from;
	}
	return NULL;
}

char *rb_record_chain_markdown(const rb_chain_entry *runs, size_t n, size_t current)
{
	rb_buf b = RB_BUF_INIT;
	rb_buf_puts(&b, "\n## Resume chain\n\n| # | run | result | steps run |\n|---|---|---|---|\n");
	for (size_t r = 0; r < n; r++) {
		const rb_record *rec = runs[r].rec;
		const char *from = selected_from(rec);
		long from_number = -1;
		char *o = rb_record_outcome(rec);
		for (size_t i = 0; from && i < rec->count && from_number < 0; i++) {
			const rb_event *e = &rec->events[i];
			if (!strcmp(e->type, "step") && !strcmp(or(rb_event_get(e, "id"), ""), from))
				from_number = atol(or(rb_event_get(e, "number"), "-1"));
		}
		rb_buf_printf(&b, "| %zu | `", r + 1);
		md_cell(&b, runs[r].id);
		rb_buf_printf(&b, "`%s | ", r == current ? " (this run)" : "");
		md_cell(&b, o);
		rb_buf_puts(&b, " | ");
		int any = 0;
		for (size_t i = 0; i < rec->count; i++) {
			const rb_event *e = &rec->events[i];
			if (strcmp(e->type, "step"))
				continue;
			const char *id = or(rb_event_get(e, "id"), "?");
			const rb_event *x = step_end(rec, id);
			long number = atol(or(rb_event_get(e, "number"), "0"));
			const char *role = or(rb_event_get(e, "role"), "main");
			rb_buf_puts(&b, any ? ", " : "");
			md_cell(&b, id);
			rb_buf_putc(&b, ' ');
			md_cell(&b, x ? or(rb_event_get(x, "status"), "?") : "interrupted");
			if (!strcmp(role, "on_failure"))
				rb_buf_puts(&b, " (on_failure)");
			else if (from_number >= 0 && number < from_number)
				rb_buf_puts(&b, " (checked again)");
			any = 1;
		}
		rb_buf_puts(&b, any ? " |\n" : "none |\n");
		free(o);
	}
	return rb_buf_detach(&b);
}
