/*
 * watchdog.c - the supervisor that outlives runbook just long enough.
 */
#define _GNU_SOURCE
#include "watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct rb_watchdog {
	pid_t pid;
	int fd;       /* write end: one int32 message a step change */
};

static void nap_ms(int ms)
{
	struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

/* The supervisor's loop: never returns. */
static void supervise(int fd, int64_t grace_ms)
{
	int32_t pgid = 0, msg;
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	/* Nothing of runbook's but the pipe: no socket, journal or terminal kept open. */
	if (fd != 3) {
		dup2(fd, 3);
		fd = 3;
	}
	close_range(4, ~0U, 0);
	int null = open("/dev/null", O_RDWR);
	for (int k = 0; k < 3 && null >= 0; k++)
		dup2(null, k);
	if (null > 3)
		close(null);
	for (;;) {
		ssize_t n = read(fd, &msg, sizeof msg);
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
	_exit(0);
}

int rb_watchdog_start(int64_t grace_ms, rb_watchdog **out, rb_error *err)
{
	int rc = -1;
	int p[2] = {-1, -1};
	const char *off = getenv("RUNBOOK_WATCHDOG");
	*out = NULL;
	if (off && !strcmp(off, "0"))
		return 0;
	if (pipe2(p, O_CLOEXEC) < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot start the step watchdog: %s", strerror(errno));
		goto done;
	}
	pid_t pid = fork();
	if (pid < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot start the step watchdog: %s", strerror(errno));
		goto done;
	}
	if (pid == 0) {
		close(p[1]);
		supervise(p[0], grace_ms > 0 ? grace_ms : 2000);
	}
	close(p[0]);
	p[0] = -1;
	rb_watchdog *w = rb_xcalloc(1, sizeof *w);
	w->pid = pid;
	w->fd = p[1];
	p[1] = -1;
	*out = w;
	rc = 0;
done:
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
	int st;
	while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
		;
	free(w);
}
