/*
 * shell.c - one shell step as a process group; see shell.h for the protocol.
 */
#define _GNU_SOURCE
#include "shell.h"
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define READ_CHUNK (256 * 1024)

extern char **environ;

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return; /* a closed terminal must not stop the step */
		}
		p += w;
		n -= (size_t)w;
	}
}

static void keep(char **dst, size_t *len, size_t *total, size_t max, const char *p, size_t n)
{
	*total += n;
	if (*len >= max)
		return;
	size_t take = n < max - *len ? n : max - *len;
	*dst = rb_xrealloc(*dst, *len + take + 1);
	memcpy(*dst + *len, p, take);
	*len += take;
	(*dst)[*len] = '\0';
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Never returns: the child side of the protocol. */
static void child(const rb_shell_opts *o, int out_w, int err_w, int use_tty)
{
	setpgid(0, 0);
	if (use_tty) {
		signal(SIGTTOU, SIG_IGN);
		tcsetpgrp(0, getpid());
	}
	rb_signals_child_defaults();
	if (!o->interactive) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0 && devnull != 0) {
			dup2(devnull, 0);
			close(devnull);
		}
		dup2(out_w, 1);
		dup2(err_w, 2);
	}
	if (o->cwd && chdir(o->cwd) < 0) {
		dprintf(2, "runbook: cannot change directory to %s: %s\n", o->cwd, strerror(errno));
		_exit(126);
	}
	if (o->envp)
		environ = (char **)o->envp;
	const char *label = o->label ? o->label : "runbook";
	if (o->shell && !strcmp(o->shell, "sh")) {
		char *argv[] = {"sh", "-e", "-c", (char *)o->script, (char *)label, NULL};
		execvp("sh", argv);
	} else {
		char *argv[] = {"bash", "-e", "-o", "pipefail", "-c", (char *)o->script, (char *)label, NULL};
		execvp("bash", argv);
	}
	dprintf(2, "runbook: cannot run %s: %s\n", o->shell ? o->shell : "bash", strerror(errno));
	_exit(127);
}

int rb_shell_run(const rb_shell_opts *o, rb_shell_result *res, rb_error *err)
{
	int rc = -1;
	int outp[2] = {-1, -1}, errp[2] = {-1, -1};
	char *buf = NULL;
	pid_t pid = -1;
	int use_tty = 0;
	int64_t grace = o->grace_ms > 0 ? o->grace_ms : 2000;

	memset(res, 0, sizeof *res);
	res->out = rb_xstrdup("");
	res->err = rb_xstrdup("");
	if (!o->interactive) {
		if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot create pipes: %s", strerror(errno));
			goto done;
		}
		/* A larger pipe means fewer wake-ups for chatty steps. */
		fcntl(outp[0], F_SETPIPE_SZ, 1 << 20);
	} else {
		use_tty = isatty(0);
	}

	int64_t start = rb_now_ms();
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot start a process: %s", strerror(errno));
		goto done;
	}
	if (pid == 0)
		child(o, outp[1], errp[1], use_tty);

	setpgid(pid, pid); /* also in the child: whichever runs first wins the race */
	if (o->on_start)
		o->on_start(o->on_start_ctx, (int)pid);
	if (use_tty) {
		void (*old)(int) = signal(SIGTTOU, SIG_IGN);
		tcsetpgrp(0, pid);
		signal(SIGTTOU, old);
	}
	if (!o->interactive) {
		close(outp[1]);
		close(errp[1]);
		outp[1] = errp[1] = -1;
		buf = rb_xmalloc(READ_CHUNK);
	}

	int child_done = 0, term_sent = 0, kill_sent = 0, st = 0;
	int64_t drain_until = INT64_MAX; /* pipes held by a process that left the group */
	int64_t deadline = o->timeout_ms > 0 ? start + o->timeout_ms : INT64_MAX;
	int64_t kill_at = INT64_MAX;
	int64_t next_poll = o->poll && o->poll_every_ms > 0 ? start + o->poll_every_ms : INT64_MAX;
	int sigfd = rb_signals_fd();

	for (;;) {
		int64_t now = rb_now_ms();
		/* The shell and, once orphaned, the members of its group come back to
		 * us (runbook is a child subreaper): reap them all here. */
		pid_t w;
		int wst;
		while ((w = waitpid(-pid, &wst, WNOHANG)) > 0) {
			if (w == pid && !child_done) {
				child_done = 1;
				st = wst;
				res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
				res->duration_ms = now - start;
			}
		}
		int group_alive = kill(-pid, 0) == 0;
		if (child_done && group_alive && !term_sent) {
			res->leftovers = 1;
			kill(-pid, SIGTERM);
			term_sent = 1;
			kill_at = now + grace;
		}
		if (child_done && outp[0] < 0 && errp[0] < 0 && !group_alive)
			break;
		/* The group is gone but a process that left it (setsid) still holds our
		 * pipes: take what is already there, then stop waiting for it. */
		if (child_done && !group_alive && drain_until == INT64_MAX)
			drain_until = now + 200;
		if (now >= drain_until) {
			for (int i = 0; i < 2; i++) {
				int *fd = i == 0 ? &outp[0] : &errp[0];
				if (*fd >= 0) {
					close(*fd);
					*fd = -1;
				}
			}
			continue;
		}
		if (!term_sent) {
			rb_end_reason why = RB_END_EXITED;
			if (rb_signals_interrupted())
				why = RB_END_INTERRUPTED;
			else if (now >= deadline)
				why = RB_END_TIMEOUT;
			else if (now >= next_poll) {
				next_poll = now + o->poll_every_ms;
				if (o->poll(o->poll_ctx))
					why = RB_END_CANCELLED;
			}
			if (why != RB_END_EXITED && !child_done) {
				res->reason = why;
				kill(-pid, SIGTERM);
				term_sent = 1;
				kill_at = now + grace;
			}
		}
		if (term_sent && !kill_sent && now >= kill_at) {
			kill(-pid, SIGKILL);
			kill_sent = 1;
		}

		int64_t wake = min64(min64(min64(deadline, next_poll), kill_sent ? INT64_MAX : kill_at), drain_until);
		int timeout = wake == INT64_MAX ? 1000 : (int)min64(1000, wake - now < 0 ? 0 : wake - now);
		if (child_done && outp[0] < 0 && errp[0] < 0)
			timeout = timeout > 20 ? 20 : timeout; /* waiting for stopped leftovers to go */

		struct pollfd pf[3];
		int nf = 0, io_out = -1, io_err = -1;
		if (outp[0] >= 0) {
			pf[nf].fd = outp[0];
			pf[nf].events = POLLIN;
			io_out = nf++;
		}
		if (errp[0] >= 0) {
			pf[nf].fd = errp[0];
			pf[nf].events = POLLIN;
			io_err = nf++;
		}
		pf[nf].fd = sigfd;
		pf[nf].events = POLLIN;
		nf += sigfd >= 0;
		int pr = poll(pf, (nfds_t)nf, timeout);
		if (pr < 0 && errno != EINTR) {
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "poll failed: %s", strerror(errno));
			kill(-pid, SIGKILL);
			goto done;
		}
		if (pr <= 0)
			continue;
		if (sigfd >= 0 && (pf[nf - 1].revents & POLLIN))
			rb_signals_drain();
		for (int which = 0; which < 2; which++) {
			int idx = which == 0 ? io_out : io_err;
			int *fd = which == 0 ? &outp[0] : &errp[0];
			if (idx < 0 || !(pf[idx].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(*fd, buf, READ_CHUNK);
			if (n > 0) {
				if (which == 0)
					keep(&res->out, &res->out_len, &res->out_total, o->keep_max, buf, (size_t)n);
				else
					keep(&res->err, &res->err_len, &res->err_total, o->keep_max, buf, (size_t)n);
				if (o->sink)
					o->sink(o->sink_ctx, which + 1, buf, (size_t)n);
				else
					write_all(which + 1, buf, (size_t)n);
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				close(*fd);
				*fd = -1;
			}
		}
	}
	if (!res->duration_ms)
		res->duration_ms = rb_now_ms() - start;
	rc = 0;
done:
	if (use_tty) {
		void (*old)(int) = signal(SIGTTOU, SIG_IGN);
		tcsetpgrp(0, getpgrp());
		signal(SIGTTOU, old);
	}
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	free(buf);
	return rc;
}

void rb_shell_result_free(rb_shell_result *res)
{
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
}
