/*
 * shell.c - one shell step as a process group; see shell.h for the protocol.
 */
#define _GNU_SOURCE
#include "shell.h"
#include "interp.h"
#include "output.h"
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

/* One step as it runs: what the supervision loop's pieces share. */
typedef struct {
	const rb_shell_opts *o;
	rb_shell_result *res;
	rb_process *proc;
	char *buf;             /* READ_CHUNK bytes for the pipes; NULL when interactive */
	int sigfd;             /* the signal self-pipe (signals.h), or -1 */
	int64_t start;
	int64_t grace;         /* between TERM and KILL */
	int64_t deadline;      /* the step's timeout; INT64_MAX: none */
	int64_t next_poll;     /* the next o->poll; INT64_MAX: none */
	int64_t kill_at;       /* SIGKILL once term_sent; INT64_MAX: not yet */
	int64_t drain_until;   /* pipes held by a process that left the group */
	int child_done, term_sent, kill_sent;
} shell_run;

/*
 * Starts the shell on o->script in a process group of its own: on the
 * terminal when interactive (*use_tty: it took the terminal), else with
 * its output on two pipes. Returns as rb_process_start.
 */
static int start_shell(const rb_shell_opts *o, int *use_tty, rb_process **proc, rb_error *err)
{
	const char *label = o->label ? o->label : "runbook";
	char **argv = rb_interp_argv(o->shell ? o->shell : "bash", o->script, label);
	rb_process_opts po;
	int rc;

	if (!argv)
		return rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "no way to run a block with '%s'", o->shell);
	memset(&po, 0, sizeof po);
	po.argv = argv;
	po.envp = o->envp;
	po.cwd = o->cwd;
	po.new_pgroup = 1;
	if (o->interactive) {
		*use_tty = isatty(0);
		po.take_terminal = *use_tty;
		if (o->out_to_stderr) {
			po.out.kind = RB_STDIO_FD;
			po.out.fd = 2;
		}
	} else {
		po.in.kind = RB_STDIO_NULL;
		po.out.kind = RB_STDIO_PIPE;
		po.err.kind = RB_STDIO_PIPE;
	}
	rc = rb_process_start(&po, proc, err);
	rb_interp_argv_free(argv);
	return rc;
}

/*
 * Reaps what of the step has ended and notes when the shell did; once it
 * has, what it left running in its group gets SIGTERM. Returns 1 while
 * the group has members.
 */
static int watch_group(shell_run *c, int64_t now)
{
	int st = 0;
	/* The shell and, once orphaned, the members of its group come back to
	 * us (runbook is a child subreaper): reap them all here. */
	if (rb_process_reap_group(c->proc, &st) && !c->child_done) {
		c->child_done = 1;
		c->res->status = rb_process_exit_code(st);
		c->res->duration_ms = now - c->start;
	}
	int group_alive = rb_process_group_alive(c->proc);
	if (c->child_done && group_alive && !c->term_sent) {
		c->res->leftovers = 1;
		rb_process_signal(c->proc, SIGTERM, 1);
		c->term_sent = 1;
		c->kill_at = now + c->grace;
	}
	return group_alive;
}

/*
 * The group is gone but a process that left it (setsid) still holds our
 * pipes: take what is already there, then stop waiting for it. Returns 1
 * when the pipes were closed now.
 */
static int drain_done(shell_run *c, int64_t now, int group_alive)
{
	if (c->child_done && !group_alive && c->drain_until == INT64_MAX)
		c->drain_until = now + 200;
	if (now < c->drain_until)
		return 0;
	rb_process_close_fd(c->proc, 1);
	rb_process_close_fd(c->proc, 2);
	return 1;
}

/* An interrupt, the timeout or o->poll stops the step: SIGTERM, then SIGKILL after the grace. */
static void stop_if_due(shell_run *c, int64_t now)
{
	if (!c->term_sent) {
		rb_end_reason why = RB_END_EXITED;
		if (rb_signals_interrupted())
			why = RB_END_INTERRUPTED;
		else if (now >= c->deadline)
			why = RB_END_TIMEOUT;
		else if (now >= c->next_poll) {
			c->next_poll = now + c->o->poll_every_ms;
			if (c->o->poll(c->o->poll_ctx))
				why = RB_END_CANCELLED;
		}
		if (why != RB_END_EXITED && !c->child_done) {
			c->res->reason = why;
			rb_process_signal(c->proc, SIGTERM, 1);
			c->term_sent = 1;
			c->kill_at = now + c->grace;
		}
	}
	if (c->term_sent && !c->kill_sent && now >= c->kill_at) {
		rb_process_signal(c->proc, SIGKILL, 1);
		c->kill_sent = 1;
	}
}

/* How long poll may wait: until the next thing due, at most a second. */
static int poll_timeout(const shell_run *c, int64_t now, int pipes_open)
{
	int64_t wake = min64(min64(min64(c->deadline, c->next_poll), c->kill_sent ? INT64_MAX : c->kill_at),
			     c->drain_until);
	int timeout = wake == INT64_MAX ? 1000 : (int)min64(1000, wake - now < 0 ? 0 : wake - now);
	if (c->child_done && !pipes_open)
		timeout = timeout > 20 ? 20 : timeout; /* waiting for stopped leftovers to go */
	return timeout;
}

/* What is in the pipe of stream 1 or 2: kept, then handed on; end of file closes it. */
static void read_stream(shell_run *c, int stream, int fd)
{
	const rb_shell_opts *o = c->o;
	rb_shell_result *res = c->res;
	ssize_t n = read(fd, c->buf, READ_CHUNK);
	if (n > 0) {
		if (stream == 1)
			keep(&res->out, &res->out_len, &res->out_total, o->keep_max, c->buf, (size_t)n);
		else
			keep(&res->err, &res->err_len, &res->err_total, o->keep_max, c->buf, (size_t)n);
		if (o->sink)
			o->sink(o->sink_ctx, stream, c->buf, (size_t)n);
		else
			rb_out_write(stream, c->buf, (size_t)n); /* a closed terminal must not stop the step */
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		rb_process_close_fd(c->proc, stream);
	}
}

/*
 * Waits up to timeout ms for output or a signal, and takes what came.
 * Returns 0, or -1 with err when poll itself failed (the group is killed).
 */
static int pump(shell_run *c, int timeout, rb_error *err)
{
	struct pollfd pf[3];
	int nf = 0, io[2] = {-1, -1};
	for (int which = 0; which < 2; which++) {
		if (rb_process_fd(c->proc, which + 1) >= 0) {
			pf[nf].fd = rb_process_fd(c->proc, which + 1);
			pf[nf].events = POLLIN;
			io[which] = nf++;
		}
	}
	pf[nf].fd = c->sigfd;
	pf[nf].events = POLLIN;
	nf += c->sigfd >= 0;
	int pr = poll(pf, (nfds_t)nf, timeout);
	if (pr < 0 && errno != EINTR) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "poll failed: %s", strerror(errno));
		rb_process_signal(c->proc, SIGKILL, 1);
		return -1;
	}
	if (pr <= 0)
		return 0;
	if (c->sigfd >= 0 && (pf[nf - 1].revents & POLLIN))
		rb_signals_drain();
	for (int which = 0; which < 2; which++) {
		int idx = io[which];
		if (idx >= 0 && (pf[idx].revents & (POLLIN | POLLHUP | POLLERR)))
			read_stream(c, which + 1, pf[idx].fd);
	}
	return 0;
}

/* Until the shell, its group and the pipes are all gone (shell.h, steps 3 to 5). 0, or -1 with err. */
static int supervise(shell_run *c, rb_error *err)
{
	for (;;) {
		int64_t now = rb_now_ms();
		int pipes_open = rb_process_fd(c->proc, 1) >= 0 || rb_process_fd(c->proc, 2) >= 0;
		int group_alive = watch_group(c, now);
		if (c->child_done && !pipes_open && !group_alive)
			return 0;
		if (drain_done(c, now, group_alive))
			continue;
		stop_if_due(c, now);
		if (pump(c, poll_timeout(c, now, pipes_open), err) < 0)
			return -1;
	}
}

int rb_shell_run(const rb_shell_opts *o, rb_shell_result *res, rb_error *err)
{
	int rc = -1;
	int use_tty = 0;
	shell_run c;

	memset(res, 0, sizeof *res);
	memset(&c, 0, sizeof c);
	c.o = o;
	c.res = res;
	c.grace = o->grace_ms > 0 ? o->grace_ms : 2000;
	c.start = rb_now_ms();
	/* A failure to start (no bash, no cwd) is the environment's, not the step's. */
	if (start_shell(o, &use_tty, &c.proc, err) < 0)
		goto done;
	res->out = rb_xstrdup("");
	res->err = rb_xstrdup("");
	if (o->on_start)
		o->on_start(o->on_start_ctx, (int)rb_process_pid(c.proc));
	if (!o->interactive) {
		/* A larger pipe means fewer wake-ups for chatty steps. */
		fcntl(rb_process_fd(c.proc, 1), F_SETPIPE_SZ, 1 << 20);
		c.buf = rb_xmalloc(READ_CHUNK);
	}
	c.drain_until = INT64_MAX;
	c.deadline = o->timeout_ms > 0 ? c.start + o->timeout_ms : INT64_MAX;
	c.kill_at = INT64_MAX;
	c.next_poll = o->poll && o->poll_every_ms > 0 ? c.start + o->poll_every_ms : INT64_MAX;
	c.sigfd = rb_signals_fd();
	if (supervise(&c, err) < 0)
		goto done;
	if (!res->duration_ms)
		res->duration_ms = rb_now_ms() - c.start;
	rc = 0;
done:
	if (use_tty) {
		void (*old)(int) = signal(SIGTTOU, SIG_IGN);
		tcsetpgrp(0, getpgrp());
		signal(SIGTTOU, old);
	}
	rb_process_free(c.proc); /* closes both read ends */
	free(c.buf);
	return rc;
}

void rb_shell_result_free(rb_shell_result *res)
{
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
}
