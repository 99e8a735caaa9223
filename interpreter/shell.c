/*
 * shell.c - one shell step as a process group; see shell.h for the protocol.
 */
#define _GNU_SOURCE
#include "shell.h"
#include "process.h"
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (256 * 1024)

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

int rb_shell_run(const rb_shell_opts *o, rb_shell_result *res, rb_error *err)
{
	int rc = -1;
	rb_process *proc = NULL;
	char *buf = NULL;
	int use_tty = 0;
	int64_t grace = o->grace_ms > 0 ? o->grace_ms : 2000;
	const char *label = o->label ? o->label : "runbook";
	int sh = o->shell && !strcmp(o->shell, "sh");
	char *sh_argv[] = {"sh", "-e", "-c", (char *)o->script, (char *)label, NULL};
	char *bash_argv[] = {"bash", "-e", "-o", "pipefail", "-c", (char *)o->script, (char *)label, NULL};
	rb_process_opts po;

	memset(res, 0, sizeof *res);
	memset(&po, 0, sizeof po);
	po.argv = sh ? sh_argv : bash_argv;
	po.envp = o->envp;
	po.cwd = o->cwd;
	po.new_pgroup = 1;
	if (o->interactive) {
		use_tty = isatty(0);
		po.take_terminal = use_tty;
	} else {
		po.in.kind = RB_STDIO_NULL;
		po.out.kind = RB_STDIO_PIPE;
		po.err.kind = RB_STDIO_PIPE;
	}

	int64_t start = rb_now_ms();
	/* A failure to start (no bash, no cwd) is the environment's, not the step's. */
	if (rb_process_start(&po, &proc, err) < 0)
		goto done;
	res->out = rb_xstrdup("");
	res->err = rb_xstrdup("");
	if (o->on_start)
		o->on_start(o->on_start_ctx, (int)rb_process_pid(proc));
	if (!o->interactive) {
		/* A larger pipe means fewer wake-ups for chatty steps. */
		fcntl(rb_process_fd(proc, 1), F_SETPIPE_SZ, 1 << 20);
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
		int pipes_open = rb_process_fd(proc, 1) >= 0 || rb_process_fd(proc, 2) >= 0;
		/* The shell and, once orphaned, the members of its group come back to
		 * us (runbook is a child subreaper): reap them all here. */
		if (rb_process_reap_group(proc, &st) && !child_done) {
			child_done = 1;
			res->status = rb_process_exit_code(st);
			res->duration_ms = now - start;
		}
		int group_alive = rb_process_group_alive(proc);
		if (child_done && group_alive && !term_sent) {
			res->leftovers = 1;
			rb_process_signal(proc, SIGTERM, 1);
			term_sent = 1;
			kill_at = now + grace;
		}
		if (child_done && !pipes_open && !group_alive)
			break;
		/* The group is gone but a process that left it (setsid) still holds our
		 * pipes: take what is already there, then stop waiting for it. */
		if (child_done && !group_alive && drain_until == INT64_MAX)
			drain_until = now + 200;
		if (now >= drain_until) {
			rb_process_close_fd(proc, 1);
			rb_process_close_fd(proc, 2);
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
				rb_process_signal(proc, SIGTERM, 1);
				term_sent = 1;
				kill_at = now + grace;
			}
		}
		if (term_sent && !kill_sent && now >= kill_at) {
			rb_process_signal(proc, SIGKILL, 1);
			kill_sent = 1;
		}

		int64_t wake = min64(min64(min64(deadline, next_poll), kill_sent ? INT64_MAX : kill_at), drain_until);
		int timeout = wake == INT64_MAX ? 1000 : (int)min64(1000, wake - now < 0 ? 0 : wake - now);
		if (child_done && !pipes_open)
			timeout = timeout > 20 ? 20 : timeout; /* waiting for stopped leftovers to go */

		struct pollfd pf[3];
		int nf = 0, io[2] = {-1, -1};
		for (int which = 0; which < 2; which++) {
			if (rb_process_fd(proc, which + 1) >= 0) {
				pf[nf].fd = rb_process_fd(proc, which + 1);
				pf[nf].events = POLLIN;
				io[which] = nf++;
			}
		}
		pf[nf].fd = sigfd;
		pf[nf].events = POLLIN;
		nf += sigfd >= 0;
		int pr = poll(pf, (nfds_t)nf, timeout);
		if (pr < 0 && errno != EINTR) {
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "poll failed: %s", strerror(errno));
			rb_process_signal(proc, SIGKILL, 1);
			goto done;
		}
		if (pr <= 0)
			continue;
		if (sigfd >= 0 && (pf[nf - 1].revents & POLLIN))
			rb_signals_drain();
		for (int which = 0; which < 2; which++) {
			int idx = io[which];
			if (idx < 0 || !(pf[idx].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(pf[idx].fd, buf, READ_CHUNK);
			if (n > 0) {
				if (which == 0)
					keep(&res->out, &res->out_len, &res->out_total, o->keep_max, buf, (size_t)n);
				else
					keep(&res->err, &res->err_len, &res->err_total, o->keep_max, buf, (size_t)n);
				if (o->sink)
					o->sink(o->sink_ctx, which + 1, buf, (size_t)n);
				else
					(void)rb_write_all(which + 1, buf, (size_t)n, NULL); /* a closed terminal must not stop the step */
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				rb_process_close_fd(proc, which + 1);
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
	rb_process_free(proc); /* closes both read ends */
	free(buf);
	return rc;
}

void rb_shell_result_free(rb_shell_result *res)
{
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
}
