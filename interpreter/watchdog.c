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
	int fd;       /* write end: one int32 message a step change */
};

static void nap_ms(int ms)
{
	struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

/* What the supervisor ignores: the terminal's signals are runbook's to handle. */
static const int ignored[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, 0};

/*
 * The supervisor's loop, in the child: fd 3 is the pipe's read end, 0-2
 * are /dev/null and nothing else of runbook's is open (process.h did that).
 */
static int supervise(void *ctx)
{
	int64_t grace_ms = *(const int64_t *)ctx;
	int32_t pgid = 0, msg;
	for (;;) {
		ssize_t n = read(3, &msg, sizeof msg);
		if (n == (ssize_t)sizeof msg) {
			pgid = msg;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break; /* end of file: runbook is gone (or said goodbye with pgid 0) */
	}
	if (pgid > 0 && kill(-pgid, SIGTERM) == 0) {
		for (int64_t waited = 0; waited < grace_ms && kill(-pgid, 0) == 0; waited += 50)
			nap_ms(50);
		kill(-pgid, SIGKILL);
	}
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

void rb_watchdog_watch(rb_watchdog *w, pid_t pgid)
{
	if (!w)
		return;
	int32_t msg = (int32_t)pgid;
	ssize_t n;
	do
		n = write(w->fd, &msg, sizeof msg);
	while (n < 0 && errno == EINTR);
}

void rb_watchdog_stop(rb_watchdog *w)
{
	if (!w)
		return;
	rb_watchdog_watch(w, 0);
	close(w->fd);
	rb_process_wait(w->proc, -1, NULL);
	rb_process_free(w->proc);
	free(w);
}
