/*
 * signals.c - the self-pipe.
 */
#define _POSIX_C_SOURCE 200809L
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int pipe_fds[2] = {-1, -1};
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	int saved = errno;
	if (sig != SIGCHLD && !interrupted)
		interrupted = sig;
	if (pipe_fds[1] >= 0) {
		char c = (char)sig;
		ssize_t r = write(pipe_fds[1], &c, 1);
		(void)r;
	}
	errno = saved;
}

int rb_signals_install(void)
{
	if (pipe_fds[0] >= 0)
		return 0;
	if (pipe(pipe_fds) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		fcntl(pipe_fds[i], F_SETFL, fcntl(pipe_fds[i], F_GETFL) | O_NONBLOCK);
		fcntl(pipe_fds[i], F_SETFD, FD_CLOEXEC);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int rb_signals_fd(void)
{
	return pipe_fds[0];
}

void rb_signals_drain(void)
{
	char buf[64];
	if (pipe_fds[0] < 0)
		return;
	while (read(pipe_fds[0], buf, sizeof buf) > 0)
		;
}

int rb_signals_interrupted(void)
{
	return interrupted;
}

void rb_signals_reset(void)
{
	interrupted = 0;
}

void rb_signals_restore(int sig)
{
	if (!interrupted)
		interrupted = sig;
}

void rb_signals_forget(void)
{
	/* The descriptors are not closed here: a forked child's set-up closed them, or they are the parent's. */
	pipe_fds[0] = pipe_fds[1] = -1;
	interrupted = 0;
	rb_signals_child_defaults();
}

void rb_signals_child_defaults(void)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTTOU, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}
