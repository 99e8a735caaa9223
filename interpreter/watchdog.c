/*
 * watchdog.c - the supervisor that outlives runbook just long enough.
 */
#define _GNU_SOURCE
#include "watchdog.h"
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct rb_watchdog {
	rb_process *proc;
	int fd;       /* write end: one wd_msg a change */
};

/* What runbook tells the supervisor: the running step, or a background step's group come or gone. */
enum { WD_STEP = 0, WD_BACKGROUND_ADD, WD_BACKGROUND_DROP, WD_FORGET };

typedef struct {
	int32_t what;
	int32_t pgid;
} wd_msg;

static void nap_ms(int ms)
{
	struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

/* What the supervisor ignores: the terminal's signals are runbook's to handle. */
static const int ignored[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, 0};

/* Adds (on) or removes pgid from the background groups *bg[0..*n). */
static void track(int32_t **bg, size_t *n, int32_t pgid, int on)
{
	for (size_t i = 0; i < *n; i++)
		if ((*bg)[i] == pgid) {
			if (!on)
				(*bg)[i] = (*bg)[--*n];
			return;
		}
	if (on && pgid > 0) {
		int32_t *grown = realloc(*bg, (*n + 1) * sizeof **bg);
		if (!grown)
			return; /* not watched: the run's own end still stops it */
		*bg = grown;
		(*bg)[(*n)++] = pgid;
	}
}

/* 1 while one of the groups has members. */
static int any_alive(const int32_t *groups, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (groups[i] > 0 && kill(-groups[i], 0) == 0)
			return 1;
	return 0;
}

/*
 * The supervisor's loop, in the child: fd 3 is the pipe's read end, 0-2
 * are /dev/null and nothing else of runbook's is open (process.h did that).
 * It knows the running step's group and the groups of the background steps
 * still running; at end of file it stops them all together.
 */
static int supervise(void *ctx)
{
	int64_t grace_ms = *(const int64_t *)ctx;
	int32_t pgid = 0, *groups = NULL;
	size_t n = 0;
	wd_msg msg;
	for (;;) {
		ssize_t got = read(3, &msg, sizeof msg);
		if (got == (ssize_t)sizeof msg) {
			if (msg.what == WD_STEP) {
				pgid = msg.pgid;
			} else if (msg.what == WD_FORGET) {
				pgid = 0;
				n = 0;
			} else {
				track(&groups, &n, msg.pgid, msg.what == WD_BACKGROUND_ADD);
			}
			continue;
		}
		if (got < 0 && errno == EINTR)
			continue;
		break; /* end of file: runbook is gone (or said goodbye with WD_FORGET) */
	}
	if (pgid > 0)
		track(&groups, &n, pgid, 1);
	int sent = 0;
	for (size_t i = 0; i < n; i++)
		sent |= kill(-groups[i], SIGTERM) == 0;
	if (sent) {
		for (int64_t waited = 0; waited < grace_ms && any_alive(groups, n); waited += 50)
			nap_ms(50);
		for (size_t i = 0; i < n; i++)
			kill(-groups[i], SIGKILL);
	}
	free(groups);
	return 0;
}

int rb_watchdog_start(int64_t grace_ms, rb_watchdog **out, rb_error *err)
{
	int rc = -1;
	int p[2] = {-1, -1};
	int64_t grace = grace_ms > 0 ? grace_ms : 2000;
	rb_process *proc = NULL;
	rb_process_opts o;
	rb_error e = RB_ERROR_INIT;
	const char *off = getenv("RUNBOOK_WATCHDOG");
	*out = NULL;
	if (off && !strcmp(off, "0"))
		return 0;
	if (pipe2(p, O_CLOEXEC) < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot start the step watchdog: %s", strerror(errno));
		goto done;
	}
	/* Nothing of runbook's but the pipe: no socket, journal or terminal kept open. */
	memset(&o, 0, sizeof o);
	o.in.kind = o.out.kind = o.err.kind = RB_STDIO_NULL;
	o.close_fds = 1;
	o.keep_fd = p[0];
	o.ignore_signals = ignored;
	if (rb_process_start_fn(supervise, &grace, &o, &proc, &e) < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot start the step watchdog: %s", e.message);
		goto done;
	}
	close(p[0]);
	p[0] = -1;
	rb_watchdog *w = rb_xcalloc(1, sizeof *w);
	w->proc = proc;
	w->fd = p[1];
	p[1] = -1;
	*out = w;
	rc = 0;
done:
	rb_error_clear(&e);
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return rc;
}

/* One message; a pipe write this small is atomic. */
static void tell(rb_watchdog *w, int what, pid_t pgid)
{
	if (!w)
		return;
	wd_msg msg = {what, (int32_t)pgid};
	ssize_t n;
	do
		n = write(w->fd, &msg, sizeof msg);
	while (n < 0 && errno == EINTR);
}

void rb_watchdog_watch(rb_watchdog *w, pid_t pgid)
{
	tell(w, WD_STEP, pgid);
}

void rb_watchdog_watch_background(rb_watchdog *w, pid_t pgid, int on)
{
	tell(w, on ? WD_BACKGROUND_ADD : WD_BACKGROUND_DROP, pgid);
}

void rb_watchdog_stop(rb_watchdog *w)
{
	if (!w)
		return;
	tell(w, WD_FORGET, 0);
	close(w->fd);
	rb_process_wait(w->proc, -1, NULL);
	rb_process_free(w->proc);
	free(w);
}
