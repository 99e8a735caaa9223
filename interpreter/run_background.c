/*
 * run_background.c - background shell steps: started, not waited for,
 * their output shown line by line as the run goes on, stopped and recorded
 * at its end. The protocol is in run_background.h.
 *
 * Output goes to unlinked temporary files rather than pipes: runbook has
 * one thread and reads them only at its poll points, and a pipe would
 * block a chatty server while runbook waits for an approval. What has been
 * read is punched out of the file (FALLOC_FL_PUNCH_HOLE) so that a
 * long-running process does not fill the disk with what was already shown.
 */
#define _GNU_SOURCE
#include "run_background.h"
#include "interp.h"
#include "process.h"
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)
#define LINE_MAX_SHOWN 4096     /* a longer line is shown in pieces */
#define PUNCH_AFTER (1 << 20)   /* bytes read before the file's start is given back */
#define REAP_AFTER_KILL_MS 2000 /* after SIGKILL, how long the end of the run waits for a group */

/* One stream of a background step: the file it writes, what was read of it. */
typedef struct {
	int fd;                /* read side of the unlinked file; -1 when none */
	off_t off;             /* bytes read so far */
	off_t punched;         /* bytes given back to the filesystem */
	rb_redact_stream red;
	rb_buf line;           /* the current line, redacted, not shown yet */
	rb_buf kept;           /* the first RECORD_OUTPUT_MAX bytes, for the record */
	size_t total;
} bg_stream;

typedef struct {
	const rb_step *step;
	rb_process *proc;
	pid_t pgid;
	bg_stream io[2];       /* stdout, stderr */
	int64_t started;
	int64_t ended;         /* when its shell ended (rb_now_ms); 0: not yet */
	int done;              /* its shell was reaped */
	int status;            /* its exit code, or 128 + signal */
	int stopped;           /* runbook stopped it at the end of the run */
	int term_sent, kill_sent;
	int64_t kill_at;       /* SIGKILL once term_sent */
	int gone;              /* its group has no member left */
} bg_step;

struct rb_bg_set {
	bg_step *items;
	size_t n;
};

/* An unlinked file in TMPDIR (or /tmp) that the step's stream goes to; -1 with err. */
static int output_file(rb_error *err)
{
	const char *dir = getenv("TMPDIR");
	char *path = rb_xasprintf("%s/runbook-bg-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkostemp(path, O_CLOEXEC | O_APPEND);
	if (fd < 0)
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot create a file for the output of a background step "
			     "in %s: %s", dir && *dir ? dir : "/tmp", strerror(errno));
	else
		unlink(path);
	free(path);
	return fd;
}

static int64_t grace_of(const rb_run *r)
{
	return r->opts->grace_ms > 0 ? r->opts->grace_ms : 2000;
}

/* A whole line (or a long piece of one) of step b's stream, for people: "[bg ID] text". */
static void show_line(rb_run *r, const bg_step *b, int stream, const char *text, size_t len)
{
	char *line = rb_xasprintf("[bg %s] %.*s\n", b->step->id, (int)len, text);
	rb_ev ev = {.type = RB_EV_MESSAGE, .stream = stream, .text = line, .exit_code = -1};
	rb_run_emit(r, &ev);
	free(line);
}

/* Shows the whole lines of s->line (all of it when flush), keeping the rest. */
static void show_lines(rb_run *r, const bg_step *b, int stream, bg_stream *s, int flush)
{
	size_t start = 0;
	for (;;) {
		const char *p = s->line.data ? s->line.data + start : NULL;
		size_t left = s->line.len - start;
		const char *nl = p ? memchr(p, '\n', left) : NULL;
		if (nl) {
			show_line(r, b, stream, p, (size_t)(nl - p));
			start += (size_t)(nl - p) + 1;
		} else if (left >= LINE_MAX_SHOWN || (flush && left)) {
			size_t n = left < LINE_MAX_SHOWN ? left : LINE_MAX_SHOWN;
			show_line(r, b, stream, p, n);
			start += n;
		} else {
			break;
		}
	}
	if (start) {
		memmove(s->line.data, s->line.data + start, s->line.len - start);
		s->line.len -= start;
		s->line.data[s->line.len] = '\0';
	}
}

/* Takes what stream `which` (0 stdout, 1 stderr) of b wrote since the last look. */
static void take(rb_run *r, bg_step *b, int which, int flush)
{
	bg_stream *s = &b->io[which];
	char *buf = NULL;
	struct stat st;
	if (s->fd < 0)
		return;
	/* Most looks find nothing new: no buffer for them. */
	int fresh = fstat(s->fd, &st) < 0 || st.st_size > s->off;
	while (fresh) {
		if (!buf)
			buf = rb_xmalloc(READ_CHUNK);
		ssize_t n = pread(s->fd, buf, READ_CHUNK, s->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		s->off += n;
		s->total += (size_t)n;
		if (s->kept.len < RECORD_OUTPUT_MAX) {
			size_t room = RECORD_OUTPUT_MAX - s->kept.len;
			rb_buf_add(&s->kept, buf, (size_t)n < room ? (size_t)n : room);
		}
		rb_redact_stream_feed(&s->red, buf, (size_t)n, &s->line);
		show_lines(r, b, which + 1, s, 0);
	}
	free(buf);
	if (flush) {
		rb_redact_stream_flush(&s->red, &s->line);
		show_lines(r, b, which + 1, s, 1);
	}
#ifdef FALLOC_FL_PUNCH_HOLE
	off_t upto = s->off & ~(off_t)4095;
	if (upto - s->punched >= PUNCH_AFTER &&
	    fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, upto) == 0)
		s->punched = upto;
#endif
}

/* Its shell ended by itself, while the run went on: said now, and noted for the record. */
static void ended_by_itself(rb_run *r, const bg_step *b)
{
	char code[16], d[32];
	snprintf(code, sizeof code, "%d", b->status);
	rb_format_duration(b->ended - b->started, d, sizeof d);
	const char *f[] = {"step", b->step->id, "background", "exited", "exit", code, NULL};
	char *text = rb_xasprintf("background step '%s' ended by itself after %s: exit %d", b->step->id, d, b->status);
	if (b->status == 0) {
		rb_run_note(r, 1, text, f);
	} else {
		rb_run_note(r, 0, text, f);
		rb_run_warn(r, "runbook: warning: %s; the run goes on and does not fail for it\n", text);
	}
	free(text);
}

/*
 * Reaps what of b's group has ended; once its shell has, what it left is
 * stopped as after any step. SIGKILL when the grace is over. Marks b gone
 * when nothing of it is left.
 */
static void watch(rb_run *r, bg_step *b, int64_t now)
{
	int st = 0;
	if (b->gone)
		return;
	if (rb_process_reap_group(b->proc, &st) && !b->done) {
		b->done = 1;
		b->status = rb_process_exit_code(st);
		b->ended = now;
		if (!b->stopped)
			ended_by_itself(r, b);
	}
	int alive = rb_process_group_alive(b->proc);
	if (b->done && alive && !b->term_sent) {
		rb_process_signal(b->proc, SIGTERM, 1);
		b->term_sent = 1;
		b->kill_at = now + grace_of(r);
	}
	if (alive && b->term_sent && !b->kill_sent && now >= b->kill_at) {
		rb_process_signal(b->proc, SIGKILL, 1);
		b->kill_sent = 1;
	}
	if (b->done && !alive) {
		b->gone = 1;
		rb_watchdog_watch_background(r->watchdog, b->pgid, 0);
	}
}

void rb_run_background_pump(rb_run *r)
{
	rb_bg_set *set = r->background;
	int64_t now = rb_now_ms();
	for (size_t i = 0; set && i < set->n; i++) {
		bg_step *b = &set->items[i];
		take(r, b, 0, 0);
		take(r, b, 1, 0);
		watch(r, b, now);
	}
}

int rb_run_background_running(const rb_run *r)
{
	const rb_bg_set *set = r->background;
	for (size_t i = 0; set && i < set->n; i++)
		if (!set->items[i].gone)
			return 1;
	return 0;
}

/* Starts b's shell in its own group, its output on two unlinked files. 0, or -1 with err. */
static int start(rb_run *r, const rb_step *s, bg_step *b, rb_error *err)
{
	int rc = -1;
	char *cwd = s->cwd && s->cwd[0] == '/' ? rb_xstrdup(s->cwd) : rb_xasprintf("%s/%s", r->rb->dir, s->cwd ? s->cwd : ".");
	char *label = rb_xasprintf("%s:%d", r->rb->path, s->line);
	const char *shell = rb_step_interpreter(r->rb, s);
	char **argv = NULL, **envp = NULL;
	rb_process_opts po;
	rb_vars_set(&r->vars, "RUNBOOK_STEP", s->id, RB_VAR_RUNBOOK);
	envp = rb_vars_envp(&r->vars);
	argv = rb_interp_argv(shell ? shell : "bash", s->script ? s->script : s->body, label);
	if (!argv) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "no way to run a block with '%s'", shell);
		goto done;
	}
	for (int k = 0; k < 2; k++)
		if ((b->io[k].fd = output_file(err)) < 0)
			goto done;
	memset(&po, 0, sizeof po);
	po.argv = argv;
	po.envp = envp;
	po.cwd = cwd;
	po.new_pgroup = 1;
	po.in.kind = RB_STDIO_NULL;
	po.out.kind = po.err.kind = RB_STDIO_FD;
	po.out.fd = b->io[0].fd;
	po.err.fd = b->io[1].fd;
	if (rb_process_start(&po, &b->proc, err) < 0)
		goto done;
	b->pgid = rb_process_pid(b->proc);
	b->started = rb_now_ms();
	rc = 0;
done:
	rb_interp_argv_free(argv);
	rb_vars_envp_free(envp);
	free(label);
	free(cwd);
	return rc;
}

static void bg_free(bg_step *b)
{
	for (int k = 0; k < 2; k++) {
		if (b->io[k].fd >= 0)
			close(b->io[k].fd);
		rb_redact_stream_free(&b->io[k].red);
		rb_buf_free(&b->io[k].line);
		rb_buf_free(&b->io[k].kept);
	}
	rb_process_free(b->proc);
}

rb_status rb_run_background_start(rb_run *r, const rb_step *s, rb_step_result *res, int *rc)
{
	rb_error err = RB_ERROR_INIT;
	bg_step b;
	memset(&b, 0, sizeof b);
	b.step = s;
	for (int k = 0; k < 2; k++) {
		b.io[k].fd = -1;
		rb_redact_stream_init(&b.io[k].red, r->redactor);
	}
	res->exit_code = -1; /* none yet: it is not waited for */
	res->duration_ms = 0;
	rb_run_keep_text(&res->out, "");
	rb_run_keep_text(&res->err, "");
	if (start(r, s, &b, &err) < 0) {
		rb_run_result(r, s, RB_STATUS_FAILED, "failed: could not start in the background");
		rb_run_step_error(r, s, "%s", err.message);
		rb_error_clear(&err);
		bg_free(&b);
		*rc = RB_EXIT_ENV;
		return RB_STATUS_FAILED;
	}
	/* Watched before anything else: a kill -9 from now on still stops it. */
	rb_watchdog_watch_background(r->watchdog, b.pgid, 1);
	char n[16];
	snprintf(n, sizeof n, "%d", (int)b.pgid);
	rb_ev ev = {.type = RB_EV_PROCESS, .step = s, .value = "pgid", .name = n, .exit_code = -1};
	rb_run_emit(r, &ev);
	const char *f[] = {"step", s->id, "background", "started", "pgid", n, NULL};
	rb_run_note(r, 0, "background step started: not waited for, stopped at the end of the run", f);
	if (!r->background)
		r->background = rb_xcalloc(1, sizeof *r->background);
	rb_bg_set *set = r->background;
	set->items = rb_xrealloc(set->items, (set->n + 1) * sizeof *set->items);
	set->items[set->n++] = b;
	rb_run_result_ok(r, s, "started in the background (process group %d): not waited for; stopped at the end of "
			 "the run", (int)b.pgid);
	return RB_STATUS_OK;
}

/* The kept output of b as the record shows a step's: stdout, then "--- stderr", with what was not kept counted. */
static char *record_output(const bg_step *b)
{
	rb_buf o = RB_BUF_INIT;
	const bg_stream *out = &b->io[0], *err = &b->io[1];
	rb_buf_add(&o, rb_buf_cstr(&out->kept), out->kept.len);
	if (out->total > out->kept.len)
		rb_buf_printf(&o, "\n[... %zu more bytes of stdout not kept]\n", out->total - out->kept.len);
	if (err->total) {
		rb_buf_puts(&o, out->total ? "\n--- stderr\n" : "--- stderr\n");
		rb_buf_add(&o, rb_buf_cstr(&err->kept), err->kept.len);
		if (err->total > err->kept.len)
			rb_buf_printf(&o, "\n[... %zu more bytes of stderr not kept]\n", err->total - err->kept.len);
	}
	return rb_buf_detach(&o);
}

/* b's result: a note for everyone, and its second "end" in the record, with its output. */
static void record_result(rb_run *r, const bg_step *b)
{
	char code[16], dur[32], when[80];
	const char *how = b->stopped ? "stopped" : "exited";
	char *text;
	snprintf(code, sizeof code, "%d", b->status);
	rb_format_duration((b->ended ? b->ended : rb_now_ms()) - b->started, dur, sizeof dur);
	if (!b->done)
		text = rb_xasprintf("background step '%s' was stopped at the end of the run and did not end: process "
				    "group %d may still be running", b->step->id, (int)b->pgid);
	else if (b->stopped)
		text = rb_xasprintf("background step '%s' stopped at the end of the run after %s (exit %d)", b->step->id,
				    dur, b->status);
	else
		text = rb_xasprintf("background step '%s' had ended by itself after %s (exit %d)", b->step->id, dur,
				    b->status);
	if (b->stopped) {
		const char *f[] = {"step", b->step->id, "background", how, "exit", b->done ? code : NULL, NULL};
		rb_run_note(r, 1, text, f);
	}
	rb_record *rec = r->opts->record;
	if (rec) {
		char *raw = record_output(b), *out = rb_run_clean(r, raw), *msg = rb_run_clean(r, text);
		rb_record_event(rec, "end", "id", b->step->id, "status", rb_status_name(RB_STATUS_OK), "exit",
				b->done ? code : NULL, "message", msg, "duration", dur, "output", out, "background", how,
				"at", rb_format_iso(rb_wall_ms(), 1, when, sizeof when), NULL);
		free(raw);
		free(out);
		free(msg);
	}
	free(text);
}

static void nap_ms(int64_t ms)
{
	struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

void rb_run_background_stop_all(rb_run *r)
{
	rb_bg_set *set = r->background;
	if (!set)
		return;
	rb_run_background_pump(r);
	int64_t now = rb_now_ms(), give_up = INT64_MAX;
	size_t left = 0;
	for (size_t i = 0; i < set->n; i++) {
		bg_step *b = &set->items[i];
		if (b->gone)
			continue;
		if (!b->done) {
			b->stopped = 1;
			if (!left++)
				rb_run_say(r, "Stopping the background steps still running (SIGTERM, SIGKILL after %lld ms)\n",
					   (long long)grace_of(r));
		}
		if (!b->term_sent) {
			rb_process_signal(b->proc, SIGTERM, 1);
			b->term_sent = 1;
			b->kill_at = now + grace_of(r);
		}
	}
	int interrupted = rb_signals_interrupted() != 0;
	for (;;) {
		now = rb_now_ms();
		/* An interrupt while they stop: SIGKILL now. */
		if (!interrupted && rb_signals_interrupted()) {
			for (size_t i = 0; i < set->n; i++)
				set->items[i].kill_at = now;
			interrupted = 1;
		}
		rb_run_background_pump(r);
		if (!rb_run_background_running(r))
			break;
		for (size_t i = 0; i < set->n && give_up == INT64_MAX; i++)
			if (set->items[i].kill_sent)
				give_up = now + REAP_AFTER_KILL_MS;
		if (now >= give_up)
			break;
		rb_signals_drain();
		nap_ms(20);
	}
	for (size_t i = 0; i < set->n; i++) {
		bg_step *b = &set->items[i];
		take(r, b, 0, 1);
		take(r, b, 1, 1);
		if (!b->gone)
			rb_watchdog_watch_background(r->watchdog, b->pgid, 0);
		record_result(r, b);
		bg_free(b);
	}
	free(set->items);
	free(set);
	r->background = NULL;
}
