/*
 * rollout.c - the fan-out of run over targets: child runs dispatched, their
 * output relayed, signals passed on, the outcome tabled and recorded.
 */
#define _GNU_SOURCE
#include "cli/rollout.h"
#include "approve.h"
#include "audit.h"
#include "cli/cli.h"
#include "json.h"
#include "output.h"
#include "pgserver.h"
#include "process.h"
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

extern char **environ;

typedef enum {
	T_WAITING = 0, /* not dispatched (yet, or ever: "not started") */
	T_RUNNING,
	T_OK,
	T_FAILED,
	T_LOCKED,      /* another run held the target's lock: nothing ran */
	T_INTERRUPTED
} tstate;

static const char *state_word(tstate s)
{
	switch (s) {
	case T_WAITING: return "not started";
	case T_RUNNING: return "running";
	case T_OK: return "succeeded";
	case T_FAILED: return "failed";
	case T_LOCKED: return "locked";
	case T_INTERRUPTED: return "interrupted";
	}
	return "?";
}

/* One target's run. */
typedef struct {
	const rb_target *target;
	int resume;         /* its run continues the target's last run (--resume): it failed or was interrupted */
	int counted;        /* its failure counted (r->failures) */
	tstate state;
	rb_process *proc;
	int fd[2];          /* its stdout and stderr (-1: closed) */
	rb_buf line[2];     /* what came after the last newline */
	int exit_code;
	int64_t start_ms, end_ms;
	int status;         /* the read end of its RUNBOOK_ROLLOUT_FD; -1: closed */
	rb_buf said;        /* what came on it */
	size_t asked;       /* how much of said was looked at for "ask STEP" lines */
	char *last;         /* live: the last line of its stdout */
	char *run_id;       /* from its status file; NULL: not recorded */
	char *failed_step;
} slot;

typedef struct {
	const rb_runbook *rb;
	cli_run_args *a;
	const cli_targets *t;
	char *id;
	slot *slots;
	size_t count, next, running;
	int jobs, canary;
	size_t failures;
	int stopped;        /* no more dispatching */
	char *why_stopped;  /* the reason, for the table and the record; NULL: none */
	int sig;            /* the first signal that interrupted the rollout; 0: none */
	const char *resumes; /* the rollout this one resumes; NULL: none */
	char *const *axes;  /* the --matrix the targets came from (recorded, for a resume); NULL: an inventory */
	size_t naxes;
	rb_pgserver *pg;    /* --ephemeral-db: the rollout's throwaway server, a database a target */
	int json;           /* --report json: stdout carries the summary as JSON alone; the rest goes to stderr */
	int live;           /* stdout is a terminal: a live line per running target, redrawn in place */
	int drawn;          /* how many live lines are on the screen now */
	int dirty;          /* a running target said something since they were drawn */
	int64_t drawn_at;
	int approvals_yes;  /* the targets' runs get --yes (approved once for the rollout) */
	char **argv;        /* the targets' command line, up to --target (NULL-terminated) */
	size_t argc;
	char **envp;        /* their environment */
	size_t envc;
} rollout;

static void push_arg(char ***v, size_t *n, char *s)
{
	*v = rb_xrealloc(*v, (*n + 2) * sizeof **v);
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

/* 1 when --name (len bytes) is an option of the rollout itself, not passed on to the targets' runs. */
static int rollout_only(const char *name, size_t len)
{
	static const char *const own[] = {"target", "targets", "jobs", "canary", "keep-going", "resume", "force",
					  "inventory", "matrix",
					  "ephemeral-db", "keep-db", "no-cache",
					  "max-failures", "rollout", "events", "events-output", "junit", "report",
					  "github", "yes", "set", "color", "step", NULL};
	for (size_t i = 0; own[i]; i++)
		if (strlen(own[i]) == len && !strncmp(own[i], name, len))
			return 1;
	return 0;
}

/*
 * The targets' command line: runbook run, the operand, every option of
 * argv the rollout does not handle itself; --set K=V becomes --set-env K
 * with K in their environment (a value never on a command line).
 */
static void child_command(rollout *r, int argc, char **argv)
{
	/* This very binary, by its path (what /proc/self/exe links to: also under valgrind, which runs it). */
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	push_arg(&r->argv, &r->argc, n > 0 ? rb_xstrndup(self, (size_t)n) : rb_xstrdup(argv[0]));
	push_arg(&r->argv, &r->argc, rb_xstrdup("run"));
	for (char **e = environ; *e; e++)
		push_arg(&r->envp, &r->envc, rb_xstrdup(*e));
	for (size_t i = 0; i < r->a->nsets; i++) {
		const char *eq = strchr(r->a->sets[i], '=');
		push_arg(&r->envp, &r->envc, rb_xstrdup(r->a->sets[i]));
		push_arg(&r->argv, &r->argc, rb_xstrdup("--set-env"));
		push_arg(&r->argv, &r->argc, rb_xstrndup(r->a->sets[i], (size_t)(eq - r->a->sets[i])));
	}
	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i];
		if (!strcmp(arg, "-j")) {
			i++; /* -j N */
			continue;
		}
		if (strncmp(arg, "--", 2) || !arg[2]) {
			push_arg(&r->argv, &r->argc, rb_xstrdup(arg)); /* the operand */
			continue;
		}
		const char *name = arg + 2, *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		const cli_opt *o = NULL;
		for (const cli_opt *p = cmd_run_spec.opts; p->name && !o; p++)
			if (strlen(p->name) == len && !strncmp(p->name, name, len))
				o = p;
		int takes = o && o->arg && !eq;
		if (!rollout_only(name, len)) {
			push_arg(&r->argv, &r->argc, rb_xstrdup(arg));
			if (takes && i + 1 < argc)
				push_arg(&r->argv, &r->argc, rb_xstrdup(argv[i + 1]));
		}
		if (takes)
			i++;
	}
	if (r->approvals_yes)
		push_arg(&r->argv, &r->argc, rb_xstrdup("--yes"));
	push_arg(&r->argv, &r->argc, rb_xstrdup("--rollout"));
	push_arg(&r->argv, &r->argc, rb_xstrdup(r->id));
}

/* Where the rollout's own lines and its targets' stdout go: stderr when stdout carries the JSON summary. */
static int out_stream(const rollout *r)
{
	return r->json ? 2 : 1;
}

/* The live lines off the screen. */
static void erase(rollout *r)
{
	if (r->live && r->drawn) {
		char seq[32];
		int n = snprintf(seq, sizeof seq, "\033[%dF\033[J", r->drawn);
		rb_out_write(1, seq, (size_t)n);
		r->drawn = 0;
	}
}

/* One live line a running target: its name and the last line it printed, cut to the terminal's width. */
static void draw(rollout *r)
{
	rb_buf b = RB_BUF_INIT;
	struct winsize ws;
	size_t cols = ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 80;
	if (!r->live)
		return;
	erase(r);
	for (size_t i = 0; i < r->count; i++) {
		const slot *s = &r->slots[i];
		if (s->state != T_RUNNING)
			continue;
		char d[32];
		rb_format_duration(rb_now_ms() - s->start_ms, d, sizeof d);
		size_t at = b.len;
		rb_buf_printf(&b, "  [%s] %s  %s", s->target->name, d, s->last ? s->last : "starting");
		/* One screen line each: cut at the width (a byte short of it), not inside a UTF-8 character. */
		size_t len = b.len - at;
		if (len > cols - 1) {
			size_t cut = at + cols - 1;
			while (cut > at && ((unsigned char)b.data[cut] & 0xC0) == 0x80)
				cut--;
			b.len = cut;
		}
		rb_buf_putc(&b, '\n');
		r->drawn++;
	}
	rb_out_write(1, b.data, b.len);
	rb_buf_free(&b);
	r->dirty = 0;
	r->drawn_at = rb_now_ms();
}

/* A line that stays (a target's stderr, the rollout's own words): above the live lines, which are drawn again. */
static void say(rollout *r, int to, const char *text, size_t n)
{
	erase(r);
	rb_out_write(to, text, n);
	draw(r);
}

/* A target's run in a child forked from the rollout (the libraries loaded and set up already). */
typedef struct {
	int argc;
	char **argv;
	char **envp;
} child_run;

static int child_main(void *ctx)
{
	child_run *c = ctx;
	rb_signals_forget(); /* the parent's self-pipe went with its descriptors */
	rb_out_forget();
	clearenv();
	for (char **e = c->envp; *e; e++)
		putenv(*e);
	return cmd_run(c->argc, c->argv);
}

/* Starts slot s: 0, or -1 (it is then failed, its reason said). */
static int dispatch(rollout *r, slot *s)
{
	size_t argc = r->argc, envc = r->envc;
	char **argv = rb_xcalloc(argc + 5, sizeof *argv), **envp = rb_xcalloc(envc + 2, sizeof *envp);
	rb_error err = RB_ERROR_INIT;
	rb_process_opts o;
	int rc = -1, status[2] = {-1, -1};
	memcpy(argv, r->argv, argc * sizeof *argv);
	argv[argc] = "--target";
	argv[argc + 1] = s->target->name;
	if (s->resume) {
		argv[argc + 2] = "--resume";
		argv[argc + 3] = r->a->force ? "--force" : NULL;
	}
	char *db_url = NULL, *db_env[3] = {NULL, NULL, NULL};
	size_t ne = 0;
	for (size_t i = 0; i < envc; i++)
		if ((!r->pg || (strncmp(r->envp[i], "PGDATABASE=", 11) && strncmp(r->envp[i], "DATABASE_URL=", 13))) &&
		    strncmp(r->envp[i], "RUNBOOK_ROLLOUT_", 16))
			envp[ne++] = r->envp[i];
	if (r->pg) {
		/* Its own database of the throwaway server: its SQL steps' and its psql's. */
		envp = rb_xrealloc(envp, (ne + 6) * sizeof *envp);
		db_url = rb_pgserver_url_of(r->pg, s->target->name);
		envp[ne++] = db_env[0] = rb_xasprintf("PGDATABASE=%s", s->target->name);
		envp[ne++] = db_env[1] = rb_xasprintf("DATABASE_URL=%s", db_url);
		envp[ne++] = db_env[2] = rb_xasprintf("RUNBOOK_ROLLOUT_DB=%s", db_url);
	}
	envp[ne] = "RUNBOOK_ROLLOUT_FD=3";
	envp[ne + 1] = NULL;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.envp = envp;
	o.new_pgroup = 1; /* the rollout passes signals on itself: a terminal's Ctrl-C reaches it alone */
	/* No terminal: a target's run asks nothing (its inputs come with --set or the environment), nor can a
	   background process group read one. */
	o.in.kind = RB_STDIO_NULL;
	o.out.kind = RB_STDIO_PIPE;
	o.err.kind = RB_STDIO_PIPE;
	o.close_fds = 1;
	o.keep_fd = -1;
	s->start_ms = rb_now_ms();
	/* A socket, not a pipe: a confirm=each step's question goes up it and its answer comes back. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, status) < 0) {
		rb_error_set(&err, RB_EXIT_ENV, NULL, 0, 0, "socketpair: %s", strerror(errno));
	} else {
		o.keep_fd = status[1];
		/*
		 * Forked, not exec'd: the run is `runbook run` all the same (cmd_run, its
		 * own argument list), without loading 37 libraries and libgit2's
		 * certificates again: 1,000 targets spent more in that than in their runs.
		 */
		int n = 0;
		while (argv[n])
			n++;
		child_run c = {n, argv, envp};
		if (rb_process_start_fn(child_main, &c, &o, &s->proc, &err) == 0)
			rc = 0;
	}
	if (status[1] >= 0)
		close(status[1]);
	if (rc < 0) {
		if (status[0] >= 0)
			close(status[0]);
		char *m = rb_xasprintf("[%s] runbook: cannot start the target's run: %s\n", s->target->name, err.message);
		say(r, 2, m, strlen(m));
		free(m);
		s->state = T_FAILED;
		s->exit_code = RB_EXIT_ENV;
		s->end_ms = rb_now_ms();
		r->failures++;
		r->stopped = 1;
		r->why_stopped = r->why_stopped ? r->why_stopped : rb_xasprintf("target '%s' could not start", s->target->name);
		goto done;
	}
	s->status = status[0];
	fcntl(s->status, F_SETFL, fcntl(s->status, F_GETFL) | O_NONBLOCK);
	for (int k = 0; k < 2; k++) {
		s->fd[k] = rb_process_fd(s->proc, k + 1);
		fcntl(s->fd[k], F_SETFL, fcntl(s->fd[k], F_GETFL) | O_NONBLOCK);
	}
	s->state = T_RUNNING;
	r->running++;
done:
	rb_error_clear(&err);
	free(argv);
	free(envp);
	free(db_url);
	for (int i = 0; i < 3; i++)
		free(db_env[i]);
	return rc;
}

/* A failure stops the dispatching (--keep-going: when --max-failures are reached). */
static void count_failure(rollout *r, slot *s)
{
	s->counted = 1;
	r->failures++;
	size_t limit = r->a->keep_going ? (size_t)r->a->max_failures : 1;
	if (!r->stopped && limit && r->failures >= limit) {
		r->stopped = 1;
		free(r->why_stopped);
		r->why_stopped = r->a->keep_going
					 ? rb_xasprintf("%zu targets failed (--max-failures %d)", r->failures, r->a->max_failures)
					 : rb_xasprintf("target '%s' failed", s->target->name);
	}
}

/*
 * A confirm=each step of s's run asks whether it may run on this target:
 * the rollout's operator answers on its terminal (the live lines put
 * aside meanwhile), or --yes does. The answer goes back on the status
 * socket (ask_rollout). While the question waits, the other targets' output
 * waits too.
 */
static void answer_each(rollout *r, slot *s, const char *step)
{
	const char *answer = "interrupted";
	if (r->a->run.yes) {
		answer = "--yes";
	} else if (!r->sig) {
		rb_approver ap;
		const char *how = NULL;
		const rb_step *st = rb_runbook_find_step(r->rb, step);
		char *q = rb_xasprintf("target '%s': run step '%s' (%s:%d)?", s->target->name, step, r->rb->path,
				       st ? st->line : 0);
		erase(r);
		rb_approver_init(&ap, 0, NULL);
		int ok = rb_approve_item(&ap, q, &how);
		free(q);
		answer = ok ? "terminal" : rb_signals_interrupted() ? "interrupted" : "refused";
		r->dirty = 1;
	}
	char *a = rb_xasprintf("%s\n", answer);
	ssize_t w = write(s->status, a, strlen(a));
	(void)w; /* the target gone: nobody to answer */
	free(a);
}

/* Reads what a target's run says on its status pipe: "failed STEP" at once, "end ..." lines at its end. */
static void hear(rollout *r, slot *s)
{
	char buf[1024];
	ssize_t n;
	while ((n = read(s->status, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			rb_buf_add(&s->said, buf, (size_t)n);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
		close(s->status);
		s->status = -1;
	}
	/* A confirm=each step of the target asks: "ask STEP" (whole lines only, each answered once). */
	for (char *nl; (nl = memchr(s->said.data + s->asked, '\n', s->said.len - s->asked)) != NULL;) {
		const char *line = s->said.data + s->asked;
		if (!strncmp(line, "ask ", 4)) {
			char *step = rb_xstrndup(line + 4, (size_t)(nl - line) - 4);
			answer_each(r, s, step);
			free(step);
		}
		s->asked = (size_t)(nl - s->said.data) + 1;
	}
	/* The failure counts once, when first heard: the dispatching stops before the target's handler runs. */
	if (!s->failed_step && strstr(rb_buf_cstr(&s->said), "failed ")) {
		const char *f = strstr(rb_buf_cstr(&s->said), "failed ") + 7;
		s->failed_step = rb_xstrndup(f, strcspn(f, "\n"));
		count_failure(r, s);
	}
}

/* Printable: the control characters of a target's line (but tab) shown as '?', for the live line. */
static char *printable(const char *p, size_t n)
{
	char *c = rb_xstrndup(p, n);
	for (char *q = c; *q; q++)
		if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
			*q = '?';
	return c;
}

/*
 * The whole lines of what came from stream k of s: each prefixed with the
 * target's name; live, a stdout line becomes the target's live line
 * instead (its run's record keeps them all).
 */
static void relay(rollout *r, slot *s, int k, const char *data, size_t n, int flush)
{
	rb_buf *b = &s->line[k];
	rb_buf out = RB_BUF_INIT;
	int to = k == 0 ? out_stream(r) : 2;
	rb_buf_add(b, data, n);
	size_t start = 0, end = b->len;
	for (size_t i = 0; i <= end; i++) {
		int whole = i < end && b->data[i] == '\n';
		if (!whole && !(i == end && flush && start < end))
			continue;
		if (r->live && k == 0) {
			free(s->last);
			s->last = printable(b->data + start, i - start);
			r->dirty = 1;
		} else {
			rb_buf_printf(&out, "[%s] %.*s\n", s->target->name, (int)(i - start), b->data + start);
		}
		start = i + 1;
	}
	start = start > end ? end : start;
	memmove(b->data, b->data + start, end - start);
	b->len = end - start;
	if (b->data)
		b->data[b->len] = '\0';
	if (out.len)
		say(r, to, out.data, out.len);
	rb_buf_free(&out);
}

/* Reads what stream k of s has now; closes it at its end. */
static void drain(rollout *r, slot *s, int k)
{
	char buf[8192];
	for (;;) {
		ssize_t n = read(s->fd[k], buf, sizeof buf);
		if (n > 0) {
			relay(r, s, k, buf, (size_t)n, 0);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			relay(r, s, k, "", 0, 1);
			rb_process_close_fd(s->proc, k + 1);
			s->fd[k] = -1;
		}
		break;
	}
}

/* What the run said at its end (cli_rollout_report). */
static void read_status(slot *s)
{
	for (const char *line = rb_buf_cstr(&s->said); line && *line;) {
		size_t n = strcspn(line, "\n");
		if (!strncmp(line, "run=", 4) && n > 4 && !s->run_id)
			s->run_id = rb_xstrndup(line + 4, n - 4);
		else if (!strncmp(line, "failed_step=", 12) && n > 12 && !s->failed_step)
			s->failed_step = rb_xstrndup(line + 12, n - 12);
		else if (!strncmp(line, "locked=1", 8))
			s->state = T_LOCKED;
		line += n + (line[n] ? 1 : 0);
	}
}

/* s's run ended: its status, and what it means for the dispatching. */
static void finished(rollout *r, slot *s)
{
	int st = 0;
	for (int k = 0; k < 2; k++)
		if (s->fd[k] >= 0)
			drain(r, s, k);
	rb_process_wait(s->proc, -1, &st);
	if (s->status >= 0)
		hear(r, s);
	s->exit_code = rb_process_exit_code(st);
	s->end_ms = rb_now_ms();
	rb_process_free(s->proc);
	s->proc = NULL;
	r->running--;
	read_status(s); /* a lock held by another run is not a failure of the runbook */
	if (s->state != T_LOCKED)
		s->state = s->exit_code == 0 ? T_OK : s->exit_code >= 128 ? T_INTERRUPTED : T_FAILED;
	/* A failure heard at once counted already; else: one before its main flow (its pre-flight check),
	   or an end by a signal the rollout did not pass on (killed, out of memory). */
	if ((s->state == T_FAILED || (s->state == T_INTERRUPTED && !r->sig)) && !s->counted)
		count_failure(r, s);
	if (r->live) {
		/* Live, its stdout was its live line only: one line says how it ended. */
		char d[32];
		rb_format_duration(s->end_ms - s->start_ms, d, sizeof d);
		char *line = rb_xasprintf("[%s] %s%s%s in %s%s%s\n", s->target->name, state_word(s->state),
					  s->state == T_FAILED && s->failed_step ? " at " : "",
					  s->state == T_FAILED && s->failed_step ? s->failed_step : "", d, s->run_id ? ", run " : "",
					  s->run_id ? s->run_id : "");
		say(r, 1, line, strlen(line));
		free(line);
	}
}

/* Passes sig on to every running target's process group. */
static void pass_on(rollout *r, int sig)
{
	for (size_t i = 0; i < r->count; i++)
		if (r->slots[i].state == T_RUNNING && r->slots[i].proc) {
			rb_process_signal(r->slots[i].proc, sig, 1);
			rb_process_signal(r->slots[i].proc, SIGCONT, 1); /* a stopped one too */
		}
}

/* Waits for output, ends and signals for a while (ms), and handles what came. */
static void step(rollout *r, int ms)
{
	size_t n = 0;
	struct pollfd *pf = rb_xcalloc(3 * r->count + 1, sizeof *pf);
	slot **who = rb_xcalloc(3 * r->count + 1, sizeof *who);
	int *stream = rb_xcalloc(3 * r->count + 1, sizeof *stream);
	for (size_t i = 0; i < r->count; i++)
		for (int k = 0; k < 3; k++) {
			int fd = k < 2 ? r->slots[i].fd[k] : r->slots[i].status;
			if (r->slots[i].state == T_RUNNING && fd >= 0) {
				pf[n].fd = fd;
				pf[n].events = POLLIN;
				who[n] = &r->slots[i];
				stream[n++] = k;
			}
		}
	pf[n].fd = rb_signals_fd();
	pf[n].events = POLLIN;
	if (poll(pf, n + 1, ms) > 0) {
		for (size_t i = 0; i < n; i++) {
			if (!pf[i].revents)
				continue;
			if (stream[i] == 2 && who[i]->status >= 0)
				hear(r, who[i]);
			else if (stream[i] < 2 && who[i]->fd[stream[i]] >= 0)
				drain(r, who[i], stream[i]);
		}
		if (pf[n].revents)
			rb_signals_drain();
	}
	/* A run whose output ended, or which exited (what it started may hold its output open). */
	for (size_t i = 0; i < r->count; i++) {
		slot *s = &r->slots[i];
		if (s->state == T_RUNNING &&
		    ((s->fd[0] < 0 && s->fd[1] < 0) || rb_process_wait(s->proc, 0, NULL) == 0))
			finished(r, s);
	}
	if (r->live && (r->dirty ? rb_now_ms() - r->drawn_at >= 100 : rb_now_ms() - r->drawn_at >= 1000))
		draw(r);
	free(pf);
	free(who);
	free(stream);
}

/* Handles a signal: the first stops the dispatching; each is passed on to the running targets. */
static void signalled(rollout *r)
{
	int sig = rb_signals_interrupted();
	if (!sig)
		return;
	rb_signals_reset(); /* so that the next one is seen: a second Ctrl-C stops the targets' handlers */
	if (!r->sig) {
		r->sig = sig;
		r->stopped = 1;
		free(r->why_stopped);
		r->why_stopped = rb_xasprintf("interrupted (signal %d)", sig);
		const char *m = "runbook: rollout interrupted: no more targets start; the running ones were told (again "
				"to stop their failure handlers)\n";
		say(r, 2, m, strlen(m));
	}
	pass_on(r, sig);
}

/* The canary succeeded: may the rollout go on? 1 or 0 (then why_stopped says why). */
static int go_on_after_canary(rollout *r)
{
	rb_approver ap;
	const char *how = NULL;
	char *q = rb_xasprintf("The canary succeeded (%d target%s). Go on with the other %zu?", r->canary,
			       r->canary == 1 ? "" : "s", r->count - (size_t)r->canary);
	rb_approver_init(&ap, r->a->run.yes, NULL);
	int ok = rb_approve_item(&ap, q, &how);
	free(q);
	rb_out_err("runbook: going on after the canary: %s (%s)\n", ok ? "approved" : "refused", how);
	if (!ok) {
		r->stopped = 1;
		r->why_stopped = rb_xasprintf("going on after the canary was not approved (%s)", how);
	}
	return ok;
}

/* The table at the end, on stdout. */
static void table(rollout *r, int rc)
{
	size_t w = 6, ok = 0, failed = 0, locked = 0, waiting = 0, interrupted = 0;
	rb_buf b = RB_BUF_INIT;
	for (size_t i = 0; i < r->count; i++) {
		size_t len = strlen(r->slots[i].target->name);
		w = len > w ? len : w;
		ok += r->slots[i].state == T_OK;
		failed += r->slots[i].state == T_FAILED;
		interrupted += r->slots[i].state == T_INTERRUPTED;
		locked += r->slots[i].state == T_LOCKED;
		waiting += r->slots[i].state == T_WAITING;
	}
	erase(r);
	r->live = 0;
	rb_buf_printf(&b, "\nRollout %s: %zu target%s, %zu succeeded, %zu failed, %zu interrupted, %zu locked, %zu not "
		      "started (exit %d)\n", r->id, r->count, r->count == 1 ? "" : "s", ok, failed, interrupted, locked, waiting, rc);
	if (r->why_stopped)
		rb_buf_printf(&b, "Stopped dispatching: %s\n", r->why_stopped);
	rb_buf_printf(&b, "  %-*s  %-11s  %9s  %-20s  %s\n", (int)w, "target", "status", "duration", "failed step", "run");
	for (size_t i = 0; i < r->count; i++) {
		const slot *s = &r->slots[i];
		char d[32] = "-";
		if (s->end_ms)
			rb_format_duration(s->end_ms - s->start_ms, d, sizeof d);
		rb_buf_printf(&b, "  %-*s  %-11s  %9s  %-20s  %s\n", (int)w, s->target->name, state_word(s->state), d,
			      s->failed_step ? s->failed_step : "-", s->run_id ? s->run_id : "-");
	}
	rb_out_write(out_stream(r), b.data, b.len);
	rb_buf_free(&b);
}

/*
 * The rollout's record: JSON and Markdown. rc < 0: the record of its start
 * (result "running", every target not started), committed before the
 * first target starts, so that a rollout killed before its end has one
 * (a resume then reads its targets' runs).
 */
static void record_texts(const rollout *r, int rc, char **json, char **md)
{
	const char *result = rc < 0 ? "running" : rb_audit_result_word(rc);
	rb_buf jb = RB_BUF_INIT, mb = RB_BUF_INIT;
	rb_json j;
	rb_json_init(&j, &jb, 1);
	rb_json_object_begin(&j);
	rb_json_key(&j, "rollout");
	rb_json_string(&j, r->id);
	rb_json_key(&j, "runbook");
	rb_json_string(&j, r->rb->path);
	rb_json_key(&j, "title");
	rb_json_string(&j, r->rb->title);
	rb_json_key(&j, "inventory");
	rb_json_string(&j, r->t->inv.abs_path);
	rb_json_key(&j, "inventory_hash");
	rb_json_string(&j, r->t->inv.hash);
	rb_json_key(&j, "selection");
	rb_json_array_begin(&j);
	for (size_t i = 0; i < r->a->ntarget_names; i++)
		rb_json_string(&j, r->a->target_names[i]);
	if (r->a->targets_spec)
		rb_json_string(&j, r->a->targets_spec);
	rb_json_end(&j, ']');
	rb_json_key(&j, "matrix");
	rb_json_array_begin(&j);
	for (size_t i = 0; i < r->naxes; i++)
		rb_json_string(&j, r->axes[i]);
	rb_json_end(&j, ']');
	rb_json_key(&j, "jobs");
	rb_json_int(&j, r->jobs);
	rb_json_key(&j, "canary");
	rb_json_int(&j, r->canary);
	rb_json_key(&j, "keep_going");
	rb_json_bool(&j, r->a->keep_going);
	rb_json_key(&j, "max_failures");
	rb_json_int(&j, r->a->max_failures);
	rb_json_key(&j, "resumes");
	rb_json_string(&j, r->resumes);
	rb_json_key(&j, "stopped");
	rb_json_string(&j, r->why_stopped);
	rb_json_key(&j, "exit_code");
	if (rc < 0)
		rb_json_null(&j);
	else
		rb_json_int(&j, rc);
	rb_json_key(&j, "result");
	rb_json_string(&j, result);
	rb_json_key(&j, "targets");
	rb_json_array_begin(&j);
	rb_buf_printf(&mb, "# Rollout %s\n\nRunbook: %s (%s)\nInventory: %s (%s)\nJobs: %d, canary: %d\nResult: %s "
		      "(exit %d)%s%s\n\n| # | target | status | exit | failed step | run |\n|---|---|---|---|---|---|\n",
		      r->id, r->rb->title, r->rb->path, r->t->inv.path ? r->t->inv.path : "--matrix", r->t->inv.hash,
		      r->jobs, r->canary, result, rc, r->why_stopped ? "\nStopped dispatching: " : "",
		      r->why_stopped ? r->why_stopped : "");
	for (size_t i = 0; i < r->count; i++) {
		const slot *s = &r->slots[i];
		rb_json_object_begin(&j);
		rb_json_key(&j, "name");
		rb_json_string(&j, s->target->name);
		rb_json_key(&j, "status");
		rb_json_string(&j, state_word(s->state));
		rb_json_key(&j, "exit_code");
		if (s->state == T_WAITING)
			rb_json_null(&j);
		else
			rb_json_int(&j, s->exit_code);
		rb_json_key(&j, "run");
		rb_json_string(&j, s->run_id);
		rb_json_key(&j, "failed_step");
		rb_json_string(&j, s->failed_step);
		rb_json_key(&j, "duration_ms");
		rb_json_int(&j, s->end_ms ? s->end_ms - s->start_ms : 0);
		rb_json_end(&j, '}');
		rb_buf_printf(&mb, "| %zu | %s | %s | %d | %s | %s |\n", i + 1, s->target->name, state_word(s->state),
			      s->exit_code, s->failed_step ? s->failed_step : "", s->run_id ? s->run_id : "");
	}
	rb_json_end(&j, ']');
	rb_json_end(&j, '}');
	rb_buf_putc(&jb, '\n');
	*json = rb_buf_detach(&jb);
	*md = rb_buf_detach(&mb);
}

/*
 * The first step of rb that asks a person once for the rollout (a task
 * list, a confirmation), or with each set, the first that asks of each
 * target (confirm=each); NULL: none.
 */
static const rb_step *asks(const rb_runbook *rb, int each)
{
	for (size_t i = 0; i < rb->nsteps; i++) {
		const rb_step *st = &rb->steps[i];
		if (rb_step_runnable(st) && st->role != RB_ROLE_MANUAL &&
		    (each ? st->confirm_each : st->kind == RB_STEP_APPROVAL || (st->confirm && !st->confirm_each)))
			return st;
	}
	return NULL;
}

static void say_out(void *ctx, const char *text)
{
	rb_out_write(out_stream(ctx), text, strlen(text));
}

/*
 * --ephemeral-db: one throwaway server for the rollout and a database on it
 * for each target, named as the target. 0, or the exit code after saying why.
 */
static int throwaway(rollout *r)
{
	int rc = RB_EXIT_ENV;
	rb_error err = RB_ERROR_INIT;
	rb_pgserver_opts po;
	PGconn *conn = NULL;
	memset(&po, 0, sizeof po);
	po.keep = r->a->run.keep_db;
	po.no_cache = r->a->run.no_db_cache;
	po.say = say_out;
	po.say_ctx = r;
	if (rb_pgserver_start(&po, &r->pg, &err) < 0) {
		rb_out_err("runbook: --ephemeral-db: %s\n", err.message);
		goto done;
	}
	rb_pgserver_export_env(r->pg);
	conn = PQconnectdb(rb_pgserver_url(r->pg));
	if (PQstatus(conn) != CONNECTION_OK) {
		rb_out_err("runbook: --ephemeral-db: %s", PQerrorMessage(conn));
		goto done;
	}
	for (size_t i = 0; i < r->count; i++) {
		char *name = PQescapeIdentifier(conn, r->slots[i].target->name, strlen(r->slots[i].target->name));
		char *sql = rb_xasprintf("CREATE DATABASE %s", name ? name : "\"?\"");
		PGresult *res = PQexec(conn, sql);
		int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			rb_out_err("runbook: --ephemeral-db: the database of target '%s': %s", r->slots[i].target->name,
				   PQresultErrorMessage(res));
		PQclear(res);
		PQfreemem(name);
		free(sql);
		if (!ok)
			goto done;
	}
	rc = 0;
done:
	PQfinish(conn);
	rb_error_clear(&err);
	return rc;
}

/* The rollout of t's targets; resume[i]: target i continues its last run; resumes: the rollout continued. */
static int run_rollout(const rb_runbook *rb, cli_run_args *a, const cli_targets *t, int argc, char **argv,
		       const int *resume, const char *resumes, char *const *axes, size_t naxes)
{
	int rc = RB_EXIT_USAGE;
	rollout r;
	rb_buf unset = RB_BUF_INIT;
	char *json = NULL, *md = NULL;
	rb_error err = RB_ERROR_INIT;
	memset(&r, 0, sizeof r);
	r.rb = rb;
	r.a = a;
	r.t = t;
	r.count = t->count;
	r.jobs = a->jobs ? a->jobs : 1;
	r.canary = a->canary > (int)t->count ? (int)t->count : a->canary;
	r.slots = rb_xcalloc(r.count + 1, sizeof *r.slots);
	r.axes = axes;
	r.naxes = naxes;
	for (size_t i = 0; i < r.count; i++) {
		r.slots[i].target = &t->inv.targets[t->sel[i]];
		r.slots[i].fd[0] = r.slots[i].fd[1] = r.slots[i].status = -1;
		r.slots[i].resume = resume ? resume[i] : 0;
		char *u = rb_target_unset_refs(r.slots[i].target, !a->run.ephemeral_db);
		if (u)
			rb_buf_printf(&unset, "  %s: %s\n", r.slots[i].target->name, u);
		free(u);
	}
	r.resumes = resumes;
	r.json = a->out.report && !strcmp(a->out.report, "json");
	const char *term = getenv("TERM");
	r.live = !r.json && isatty(1) && term && *term && strcmp(term, "dumb");
	if (a->run.step_mode || (a->out.events && !strcmp(a->out.events, "-")) || a->out.junit ||
	    (a->out.report && !r.json) || (a->resume && !resumes)) {
		rb_out_err("runbook: a rollout over targets does not take --step, --events - (stdout carries the targets' "
			   "lines: --events FILE), --junit or --report FILE (run one target, --target NAME, for those; "
			   "--report json prints the rollout's summary); --resume takes --rollout ID\n");
		goto done;
	}
	if (unset.len) {
		rb_out_err("runbook: targets refer to variables not set in the environment: nothing was run\n%s",
			   rb_buf_cstr(&unset));
		goto done;
	}
	const rb_step *each = asks(rb, 1);
	if (each && !a->run.yes && !isatty(STDIN_FILENO)) {
		rb_out_err("runbook: step '%s' (%s:%d) asks for each target (confirm=each) and there is no terminal to "
			   "ask: nothing was run (--yes approves it)\n", each->id, rb->path, each->line);
		rc = RB_EXIT_GATE;
		goto done;
	}
	if (asks(rb, 0) && !a->run.yes) {
		rb_approver ap;
		const char *how = NULL;
		char *q = rb_xasprintf("%s asks for approvals: approve them once for all %zu targets of this rollout?",
				       rb->path, r.count);
		rb_approver_init(&ap, 0, NULL);
		int ok = rb_approve_item(&ap, q, &how);
		free(q);
		if (!ok) {
			rb_out_err("runbook: the runbook's approvals were not given for the rollout (%s): nothing was run "
				   "(--yes approves them)\n", how);
			rc = RB_EXIT_GATE;
			goto done;
		}
	}
	r.approvals_yes = a->run.yes || asks(rb, 0);
	r.id = rb_audit_rollout_id(rb);
	if (a->run.ephemeral_db && (rc = throwaway(&r)) != 0)
		goto done;
	child_command(&r, argc, argv);
	/* The targets' runs read the same inventory (by its absolute path) or matrix; a resumed rollout's, those
	   of its record. */
	if (t->inv.abs_path) {
		push_arg(&r.argv, &r.argc, rb_xstrdup("--inventory"));
		push_arg(&r.argv, &r.argc, rb_xstrdup(t->inv.abs_path));
	}
	for (size_t i = 0; i < r.naxes; i++) {
		push_arg(&r.argv, &r.argc, rb_xstrdup("--matrix"));
		push_arg(&r.argv, &r.argc, rb_xstrdup(r.axes[i]));
	}
	/* --events FILE: one stream for the rollout, made empty here; each target's run adds its events, a line in
	   one write (O_APPEND keeps the lines whole), each carrying its target and the rollout. */
	if (a->out.events) {
		int fd = open(a->out.events, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		char *abs = fd >= 0 ? realpath(a->out.events, NULL) : NULL;
		if (fd >= 0)
			close(fd);
		if (!abs) {
			rb_out_err("runbook: --events %s: cannot create it: %s\n", a->out.events, strerror(errno));
			rc = RB_EXIT_ENV;
			goto done;
		}
		push_arg(&r.argv, &r.argc, rb_xstrdup("--events"));
		push_arg(&r.argv, &r.argc, abs);
		if (a->out.events_output)
			push_arg(&r.argv, &r.argc, rb_xstrdup("--events-output"));
	}
	if (!a->no_audit) {
		char oid[41] = "";
		record_texts(&r, -1, &json, &md);
		if (rb_audit_commit_rollout(rb, a->audit_repo, a->audit_remote, r.id, r.resumes, json, md, "running", oid, &err) < 0) {
			rb_out_err("runbook: the rollout's record could not be started: %s: nothing was run\n", err.message);
			rc = RB_EXIT_ENV;
			goto done;
		}
		free(json);
		free(md);
		json = md = NULL;
	}
	rb_signals_install();
	char *head = rb_xasprintf("Rollout %s: %s over %zu target%s, %d at a time%s%s%s\n", r.id, rb->title, r.count,
				  r.count == 1 ? "" : "s", r.jobs, r.canary ? ", canary first" : "",
				  resumes ? "; resumes rollout " : "", resumes ? resumes : "");
	rb_out_write(out_stream(&r), head, strlen(head));
	free(head);
	int canary_phase = r.canary > 0;
	for (;;) {
		size_t limit = canary_phase ? (size_t)r.canary : r.count;
		while (!r.stopped && r.running < (size_t)r.jobs && r.next < limit)
			dispatch(&r, &r.slots[r.next++]);
		if (r.running == 0) {
			if (canary_phase && !r.stopped && r.next == (size_t)r.canary && r.next < r.count) {
				canary_phase = 0;
				int all_ok = 1;
				for (int i = 0; i < r.canary; i++)
					all_ok = all_ok && r.slots[i].state == T_OK;
				if (all_ok && go_on_after_canary(&r) && !rb_signals_interrupted())
					continue;
				signalled(&r); /* Ctrl-C at the question */
				if (!all_ok && !r.why_stopped)
					r.why_stopped = rb_xstrdup("the canary did not succeed");
				r.stopped = 1;
			}
			if (r.stopped || r.next >= r.count)
				break;
			if (r.failures && !r.a->keep_going)
				break;
			continue;
		}
		step(&r, 200);
		signalled(&r);
	}
	size_t failed = 0, locked = 0, interrupted = 0;
	for (size_t i = 0; i < r.count; i++) {
		failed += r.slots[i].state == T_FAILED;
		locked += r.slots[i].state == T_LOCKED;
		interrupted += r.slots[i].state == T_INTERRUPTED;
	}
	rc = r.sig ? 128 + r.sig
		   : failed || interrupted ? RB_EXIT_STEP
		   : r.why_stopped && strstr(r.why_stopped, "not approved") ? RB_EXIT_GATE
		   : locked ? RB_EXIT_ENV : RB_EXIT_OK;
	table(&r, rc);
	record_texts(&r, rc, &json, &md);
	if (!a->no_audit) {
		char oid[41] = "";
		if (rb_audit_commit_rollout(rb, a->audit_repo, a->audit_remote, r.id, r.resumes, json, md, rb_audit_result_word(rc), oid, &err) < 0) {
			rb_out_err("runbook: the rollout's record could not be committed: %s\n", err.message);
			if (rc == RB_EXIT_OK)
				rc = RB_EXIT_ENV;
		} else {
			char *line = rb_xasprintf("Rollout record: %.7s (runbook log --rollout %s)\n", oid, r.id);
			rb_out_write(out_stream(&r), line, strlen(line));
			free(line);
		}
	}
	if (r.json) {
		/* Printed last, with the exit code as it ends up (a record that could not be committed changes it). */
		free(json);
		free(md);
		record_texts(&r, rc, &json, &md);
		rb_out_write(1, json, strlen(json));
	}
done:
	for (size_t i = 0; i < r.count; i++) {
		slot *s = &r.slots[i];
		if (s->proc) {
			rb_process_stop(s->proc, 2000, NULL);
			rb_process_free(s->proc);
		}
		for (int k = 0; k < 2; k++)
			rb_buf_free(&s->line[k]);
		if (s->status >= 0)
			close(s->status);
		rb_buf_free(&s->said);
		free(s->last);
		free(s->run_id);
		free(s->failed_step);
	}
	for (size_t i = 0; i < r.argc; i++)
		free(r.argv[i]);
	free(r.argv);
	for (size_t i = 0; i < r.envc; i++)
		free(r.envp[i]);
	free(r.envp);
	if (r.pg)
		rb_pgserver_stop(r.pg);
	free(r.slots);
	free(r.id);
	free(r.why_stopped);
	free(json);
	free(md);
	rb_buf_free(&unset);
	rb_error_clear(&err);
	return rc;
}

int cli_rollout_run(const rb_runbook *rb, cli_run_args *a, const cli_targets *t, int argc, char **argv)
{
	return run_rollout(rb, a, t, argc, argv, NULL, NULL, a->matrix, a->nmatrix);
}

/* What a rollout's record says: its inventory (path, hash), its matrix axes, each target's name and status. */
typedef struct {
	char *inventory, *hash;
	char **axes;
	size_t naxes;
	char **names, **states;
	int *recorded;       /* the target's run has a record (its "run" is not null) */
	size_t count;
	int running;         /* the record of its start alone: the rollout never ended (killed) */
} earlier;

static void earlier_free(earlier *e)
{
	free(e->inventory);
	free(e->hash);
	for (size_t i = 0; i < e->naxes; i++)
		free(e->axes[i]);
	free(e->axes);
	for (size_t i = 0; i < e->count; i++) {
		free(e->names[i]);
		free(e->states[i]);
	}
	free(e->names);
	free(e->states);
	free(e->recorded);
}

/* The value of key in the mapping map, when it is of type; NULL: none. */
static yaml_node_t *ynode(yaml_document_t *d, yaml_node_t *map, const char *key, yaml_node_type_t type)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key), *v = yaml_document_get_node(d, p->value);
		if (k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key) && v->type == type)
			return v;
	}
	return NULL;
}

/* A JSON string's value at key (caller frees); NULL when absent, null or not a string. */
static char *yscalar(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	yaml_node_t *v = ynode(d, map, key, YAML_SCALAR_NODE);
	return v && v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ? rb_xstrdup((const char *)v->data.scalar.value)
								     : NULL;
}

/* Reads rollout.json (JSON is YAML: libyaml reads it). 0, or -1 when it is not a rollout's record. */
static int read_earlier(const char *json, earlier *e)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc = -1;
	memset(e, 0, sizeof *e);
	if (!yaml_parser_initialize(&parser))
		return -1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)json, strlen(json));
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_parser_delete(&parser);
		return -1;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc), *targets = NULL, *sel = NULL;
	if (root && root->type == YAML_MAPPING_NODE && (targets = ynode(&doc, root, "targets", YAML_SEQUENCE_NODE))) {
		char *result = yscalar(&doc, root, "result");
		e->running = result && !strcmp(result, "running");
		free(result);
		e->inventory = yscalar(&doc, root, "inventory");
		e->hash = yscalar(&doc, root, "inventory_hash");
		if (!e->inventory && (sel = ynode(&doc, root, "matrix", YAML_SEQUENCE_NODE)))
			for (yaml_node_item_t *i = sel->data.sequence.items.start; i < sel->data.sequence.items.top; i++) {
				yaml_node_t *v = yaml_document_get_node(&doc, *i);
				if (v->type == YAML_SCALAR_NODE && strchr((const char *)v->data.scalar.value, '=')) {
					e->axes = rb_xrealloc(e->axes, (e->naxes + 1) * sizeof *e->axes);
					e->axes[e->naxes++] = rb_xstrdup((const char *)v->data.scalar.value);
				}
			}
		rc = 0;
		for (yaml_node_item_t *i = targets->data.sequence.items.start; i < targets->data.sequence.items.top; i++) {
			yaml_node_t *t = yaml_document_get_node(&doc, *i);
			char *name = t->type == YAML_MAPPING_NODE ? yscalar(&doc, t, "name") : NULL;
			char *state = t->type == YAML_MAPPING_NODE ? yscalar(&doc, t, "status") : NULL;
			if (!name || !state) {
				free(name);
				free(state);
				rc = -1;
				break;
			}
			char *run = yscalar(&doc, t, "run");
			e->names = rb_xrealloc(e->names, (e->count + 1) * sizeof *e->names);
			e->states = rb_xrealloc(e->states, (e->count + 1) * sizeof *e->states);
			e->recorded = rb_xrealloc(e->recorded, (e->count + 1) * sizeof *e->recorded);
			e->recorded[e->count] = run != NULL;
			free(run);
			e->names[e->count] = name;
			e->states[e->count++] = state;
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

typedef struct {
	earlier *e;
	const char *id;
} runs_of;

/* A run of the rollout (newest first): the first one of each target says how that target ended. */
static int run_of_rollout(void *ctx, const rb_audit_run *run)
{
	runs_of *o = ctx;
	/* The whole ref: commit times need not be in order (records made again on a remote's tip keep theirs,
	   and machines' clocks differ), so an older run above this rollout's proves nothing. */
	if (!run->rollout || strcmp(run->rollout, o->id) || !run->target)
		return 0;
	for (size_t i = 0; i < o->e->count; i++)
		if (!strcmp(o->e->names[i], run->target) && !o->e->recorded[i]) {
			o->e->recorded[i] = 1;
			free(o->e->states[i]);
			o->e->states[i] = rb_xstrdup(run->result && !strcmp(run->result, "succeeded") ? "succeeded"
						     : run->result && !strcmp(run->result, "interrupted") ? "interrupted"
						     : "failed");
		}
	return 0;
}

/*
 * A rollout killed before its end has only the record of its start (every
 * target "not started"): what each target did is in the runs recorded with
 * its id. Their runs may have outlived it; a run still going has no record
 * yet, and its target's run lock keeps the resume from running it twice.
 */
static int states_from_runs(const rb_runbook *rb, const char *repo, const char *id, earlier *e, rb_error *err)
{
	rb_audit_runs out;
	memset(&out, 0, sizeof out);
	runs_of o = {e, id};
	int rc = rb_audit_runs_walk(repo, rb, NULL, &out, run_of_rollout, &o, err);
	rb_audit_runs_free(&out);
	return rc;
}

int cli_rollout_resume(const rb_runbook *rb, cli_run_args *a, int argc, char **argv)
{
	int rc = RB_EXIT_USAGE;
	char *json = NULL;
	earlier e;
	cli_targets t;
	rb_error err = RB_ERROR_INIT;
	rb_diags d = RB_DIAGS_INIT;
	int *resume = NULL;
	char *id = rb_xstrdup(a->run.rollout);
	memset(&e, 0, sizeof e);
	memset(&t, 0, sizeof t);
	if (rb_audit_rollout_load(rb, a->audit_repo, id, &json, &err) < 0) {
		rb_out_err("runbook: --resume --rollout %s: %s\n", id, err.message);
		rc = err.code;
		goto done;
	}
	if (read_earlier(json, &e) < 0) {
		rb_out_err("runbook: --resume --rollout %s: its record cannot be read\n", id);
		rc = RB_EXIT_ENV;
		goto done;
	}
	if (e.running) {
		if (states_from_runs(rb, a->audit_repo, id, &e, &err) < 0) {
			rb_out_err("runbook: --resume --rollout %s: %s\n", id, err.message);
			rc = err.code;
			goto done;
		}
		rb_out_err("runbook: rollout %s never ended (its record is of its start): its targets' runs say how "
			   "each ended\n", id);
	}
	if (e.inventory) {
		if (rb_inventory_load(e.inventory, &t.inv, &d) < 0) {
			rb_buf b = RB_BUF_INIT;
			rb_diags_render(&d, &b);
			rb_out_err("runbook: --resume --rollout %s: its inventory %s:\n%s", id, e.inventory, rb_buf_cstr(&b));
			rb_buf_free(&b);
			goto done;
		}
		if (e.hash && strcmp(e.hash, t.inv.hash) && !a->force) {
			rb_out_err("runbook: --resume --rollout %s: the inventory %s changed since (%.12s then, %.12s now): "
				   "check it, then --force to resume with it as it is\n", id, e.inventory, e.hash, t.inv.hash);
			goto done;
		}
	} else if (rb_inventory_matrix(e.axes, e.naxes, &t.inv, &err) < 0) {
		rb_out_err("runbook: --resume --rollout %s: %s\n", id, err.message);
		goto done;
	}
	t.sel = rb_xcalloc(e.count + 1, sizeof *t.sel);
	resume = rb_xcalloc(e.count + 1, sizeof *resume);
	rb_buf gone = RB_BUF_INIT;
	for (size_t i = 0; i < e.count; i++) {
		const rb_target *tg = rb_inventory_find(&t.inv, e.names[i]);
		if (!tg) {
			rb_buf_printf(&gone, "%s%s", gone.len ? ", " : "", e.names[i]);
			continue;
		}
		if (!strcmp(e.states[i], "succeeded"))
			continue; /* done: not run again */
		/* A failed or interrupted run with a record continues; one without (it failed before it began) runs
		   afresh, not some older run of the target's. */
		resume[t.count] = e.recorded[i] && (!strcmp(e.states[i], "failed") || !strcmp(e.states[i], "interrupted"));
		t.sel[t.count++] = (size_t)(tg - t.inv.targets);
	}
	if (gone.len) {
		rb_out_err("runbook: --resume --rollout %s: targets no longer in the inventory: %s\n", id, rb_buf_cstr(&gone));
		rb_buf_free(&gone);
		goto done;
	}
	rb_buf_free(&gone);
	if (!t.count) {
		rb_out_err("runbook: --resume --rollout %s: every target succeeded: nothing to resume\n", id);
		goto done;
	}
	t.rollout = 1;
	a->run.rollout = NULL; /* the targets' runs belong to the new rollout */
	/* The targets' runs read the inventory the record names (t.inv.abs_path), or its matrix. */
	rc = run_rollout(rb, a, &t, argc, argv, resume, id, e.axes, e.naxes);
done:
	free(id);
	free(json);
	free(resume);
	earlier_free(&e);
	cli_targets_free(&t);
	rb_diags_free(&d);
	rb_error_clear(&err);
	return rc;
}

/*
 * The descriptor RUNBOOK_ROLLOUT_FD names (-1: none), read once: then the
 * variable is gone from the environment and the descriptor closes on exec,
 * so that no step inherits either.
 */
static int rollout_fd(void)
{
	static int fd = -2;
	if (fd == -2) {
		const char *v = getenv("RUNBOOK_ROLLOUT_FD");
		fd = v && *v ? atoi(v) : -1;
		if (fd > 2)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
		unsetenv("RUNBOOK_ROLLOUT_FD");
	}
	return fd;
}

static void say_to_rollout(const char *text)
{
	int fd = rollout_fd();
	if (fd > 2) {
		ssize_t w = write(fd, text, strlen(text));
		(void)w; /* the rollout gone: nobody to tell */
	}
}

static void failed_now(void *ctx, const char *step)
{
	(void)ctx;
	char *line = rb_xasprintf("failed %s\n", step && *step ? step : "?");
	say_to_rollout(line);
	free(line);
}

/* The answers a rollout gives to "ask STEP" (answer_each), and what the target's record says of each. */
static const char *const answers[][2] = {
	{"terminal", "at the rollout's terminal"},
	{"--yes", "--yes (the rollout's)"},
	{"refused", "refused at the rollout's terminal"},
	{"interrupted", "interrupted at the rollout's prompt"},
};

/* confirm=each in a target's run: asks the rollout on its descriptor and waits for the answer (or a signal). */
static int ask_rollout(void *ctx, const char *step, const char **how)
{
	(void)ctx;
	int fd = rollout_fd(), ok = 0;
	char line[64];
	size_t got = 0;
	*how = "the rollout did not answer";
	char *q = rb_xasprintf("ask %s\n", step);
	say_to_rollout(q);
	free(q);
	while (got < sizeof line - 1 && !rb_signals_interrupted()) {
		struct pollfd pf[2] = {{.fd = fd, .events = POLLIN}, {.fd = rb_signals_fd(), .events = POLLIN}};
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			break;
		if (pf[1].revents)
			rb_signals_drain();
		if (!pf[0].revents)
			continue;
		ssize_t n = read(fd, line + got, 1); /* byte by byte: nothing after the answer's newline is taken */
		if (n <= 0 && !(n < 0 && errno == EINTR))
			break;
		if (n == 1 && line[got++] == '\n') {
			line[got - 1] = '\0';
			for (size_t i = 0; i < sizeof answers / sizeof *answers; i++)
				if (!strcmp(line, answers[i][0])) {
					*how = answers[i][1];
					ok = i < 2;
				}
			break;
		}
	}
	if (rb_signals_interrupted())
		*how = "interrupted while the rollout was asked";
	return ok;
}

void cli_rollout_watch(rb_run_outcome *outcome)
{
	if (rollout_fd() > 2) {
		outcome->on_failure = failed_now;
		outcome->confirm_each = ask_rollout;
		outcome->ctx = NULL;
	}
}

void cli_rollout_report(int exit_code, const char *run_id, const rb_run_outcome *outcome)
{
	char *line = rb_xasprintf("end exit=%d\nrun=%s\nfailed_step=%s\nlocked=%d\n", exit_code, run_id ? run_id : "",
				  outcome ? outcome->failed_step : "", outcome ? outcome->locked : 0);
	say_to_rollout(line);
	free(line);
}
