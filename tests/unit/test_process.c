/*
 * The spawner: start failures come back as errors (not as exit 126/127),
 * pipes, process groups, stopping a group with what it started, capture
 * with a timeout, functions run in a child, and descriptors that must not
 * reach a child.
 *
 * Like the engine, the test process is a child subreaper, so that what a
 * group leaves behind comes back here to be reaped.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process.h"
#include "signals.h"

/* Everything the child writes on the pipe of stream 1, up to its end. */
static char *read_all(rb_process *p)
{
	rb_buf b = RB_BUF_INIT;
	char chunk[512];
	ssize_t n;
	while ((n = read(rb_process_fd(p, 1), chunk, sizeof chunk)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);
		rb_buf_add(&b, chunk, (size_t)n);
	}
	return rb_buf_detach(&b);
}

static int exit_code_of(rb_process *p)
{
	int ws = 0;
	assert_int_equal(rb_process_wait(p, -1, &ws), 0);
	return rb_process_exit_code(ws);
}

static void test_missing_program_is_an_error_not_exit_127(void **state)
{
	(void)state;
	char *const argv[] = {"runbook-no-such-program", "x", NULL};
	rb_process_opts o;
	rb_process *p = NULL;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.out.kind = RB_STDIO_PIPE;
	assert_int_equal(rb_process_start(&o, &p, &err), -1);
	assert_null(p);
	assert_int_equal(err.code, RB_EXIT_ENV);
	assert_string_equal(err.message, "cannot run runbook-no-such-program: No such file or directory");
	/* the failed child was reaped: no child of ours is left */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	rb_error_clear(&err);
}

static void test_missing_program_by_path_is_an_error(void **state)
{
	(void)state;
	char *const argv[] = {"/nonexistent/bin/tool", NULL};
	rb_process_opts o;
	rb_process *p = NULL;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.new_pgroup = 1;
	assert_int_equal(rb_process_start(&o, &p, &err), -1);
	assert_non_null(strstr(err.message, strerror(ENOENT)));
	assert_non_null(strstr(err.message, "/nonexistent/bin/tool"));
	rb_error_clear(&err);
}

static void test_missing_cwd_is_an_error_naming_it(void **state)
{
	(void)state;
	char *const argv[] = {"true", NULL};
	rb_process_opts o;
	rb_process *p = NULL;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.cwd = "/nonexistent/runbook-unit-dir";
	assert_int_equal(rb_process_start(&o, &p, &err), -1);
	assert_int_equal(err.code, RB_EXIT_ENV);
	assert_string_equal(err.message,
			    "cannot change directory to /nonexistent/runbook-unit-dir: No such file or directory");
	rb_error_clear(&err);
}

static void test_cwd_and_envp_are_the_childs(void **state)
{
	(void)state;
	char *const argv[] = {"sh", "-c", "echo \"$FOO $(pwd)\"", NULL};
	char *const envp[] = {"FOO=bar", "PATH=/usr/bin:/bin", NULL};
	rb_process_opts o;
	rb_process *p = NULL;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.envp = envp;
	o.cwd = "/";
	o.out.kind = RB_STDIO_PIPE;
	assert_int_equal(rb_process_start(&o, &p, &err), 0);
	char *out = read_all(p);
	assert_string_equal(out, "bar /\n");
	assert_int_equal(exit_code_of(p), 0);
	free(out);
	rb_process_free(p);
}

static void test_pipe_round_trip(void **state)
{
	(void)state;
	char *const argv[] = {"cat", NULL};
	rb_process_opts o;
	rb_process *p = NULL;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.in.kind = RB_STDIO_PIPE;
	o.out.kind = RB_STDIO_PIPE;
	o.err.kind = RB_STDIO_NULL;
	assert_int_equal(rb_process_start(&o, &p, &err), 0);
	assert_true(rb_process_fd(p, 0) > 2);
	assert_true(rb_process_fd(p, 1) > 2);
	assert_int_equal(rb_process_fd(p, 2), -1);
	assert_int_equal(write(rb_process_fd(p, 0), "round trip\n", 11), 11);
	rb_process_close_fd(p, 0);
	assert_int_equal(rb_process_fd(p, 0), -1);
	char *out = read_all(p);
	assert_string_equal(out, "round trip\n");
	assert_int_equal(exit_code_of(p), 0);
	free(out);
	rb_process_free(p);
}

static void test_stderr_can_follow_stdout(void **state)
{
	(void)state;
	char *const argv[] = {"sh", "-c", "echo out; echo err >&2", NULL};
	rb_process_opts o;
	rb_process *p = NULL;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.out.kind = RB_STDIO_PIPE;
	o.err.kind = RB_STDIO_STDOUT;
	assert_int_equal(rb_process_start(&o, &p, &err), 0);
	char *out = read_all(p);
	assert_string_equal(out, "out\nerr\n");
	assert_int_equal(exit_code_of(p), 0);
	free(out);
	rb_process_free(p);
}

static void test_new_process_group(void **state)
{
	(void)state;
	char *const argv[] = {"sleep", "30", NULL};
	rb_process_opts o;
	rb_process *p = NULL, *q = NULL;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.new_pgroup = 1;
	assert_int_equal(rb_process_start(&o, &p, &err), 0);
	/* set before the start returned: no race with the exec */
	assert_int_equal(getpgid(rb_process_pid(p)), rb_process_pid(p));
	assert_true(rb_process_group_alive(p));
	o.new_pgroup = 0;
	assert_int_equal(rb_process_start(&o, &q, &err), 0);
	assert_int_equal(getpgid(rb_process_pid(q)), getpgrp());
	assert_int_equal(rb_process_signal(q, SIGTERM, 1), -1); /* it leads no group */
	int ws = 0;
	assert_int_equal(rb_process_stop(p, 500, &ws), 0);
	assert_int_equal(rb_process_exit_code(ws), 128 + SIGTERM);
	assert_false(rb_process_group_alive(p));
	assert_int_equal(rb_process_stop(q, 500, &ws), 0);
	assert_int_equal(rb_process_exit_code(ws), 128 + SIGTERM);
	rb_process_free(p);
	rb_process_free(q);
}

/* Starts sh in its own group with a grandchild; returns the grandchild's pid. */
static pid_t start_with_grandchild(const char *script, rb_process **p)
{
	char *const argv[] = {"sh", "-c", (char *)script, NULL};
	rb_process_opts o;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.new_pgroup = 1;
	o.out.kind = RB_STDIO_PIPE;
	assert_int_equal(rb_process_start(&o, p, &err), 0);
	char line[32];
	ssize_t n = read(rb_process_fd(*p, 1), line, sizeof line - 1);
	assert_true(n > 0);
	line[n] = '\0';
	pid_t gc = (pid_t)atoi(line);
	assert_true(gc > 0);
	assert_int_equal(getpgid(gc), rb_process_pid(*p));
	return gc;
}

static void test_stop_takes_the_group_with_a_grandchild(void **state)
{
	(void)state;
	rb_process *p = NULL;
	pid_t gc = start_with_grandchild("sleep 30 & echo $!; wait", &p);
	int ws = 0;
	int64_t t0 = rb_now_ms();
	assert_int_equal(rb_process_stop(p, 2000, &ws), 0);
	assert_true(rb_now_ms() - t0 < 1500); /* both went at SIGTERM */
	assert_int_equal(rb_process_exit_code(ws), 128 + SIGTERM);
	assert_int_equal(kill(gc, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_false(rb_process_group_alive(p));
	rb_process_free(p);
}

static void test_stop_escalates_to_kill_after_the_grace(void **state)
{
	(void)state;
	rb_process *p = NULL;
	pid_t gc = start_with_grandchild("trap '' TERM; sleep 30 & echo $!; wait", &p);
	int ws = 0;
	int64_t t0 = rb_now_ms();
	assert_int_equal(rb_process_stop(p, 300, &ws), 0);
	int64_t took = rb_now_ms() - t0;
	assert_true(took >= 300);
	assert_true(took < 2000);
	assert_int_equal(rb_process_exit_code(ws), 128 + SIGKILL);
	assert_int_equal(kill(gc, 0), -1);
	assert_int_equal(errno, ESRCH);
	rb_process_free(p);
}

static void test_reap_group_collects_leader_and_orphans(void **state)
{
	(void)state;
	rb_process *p = NULL;
	pid_t gc = start_with_grandchild("sleep 0.2 & echo $!", &p);
	int ws = -1;
	int64_t t0 = rb_now_ms();
	while (rb_process_group_alive(p) && rb_now_ms() - t0 < 5000) {
		rb_process_reap_group(p, NULL);
		usleep(10000);
	}
	assert_false(rb_process_group_alive(p));
	assert_int_equal(rb_process_reap_group(p, &ws), 1);
	assert_int_equal(rb_process_exit_code(ws), 0);
	assert_int_equal(kill(gc, 0), -1);
	/* the leader was reaped: nothing is sent to a pid that may be another's */
	assert_int_equal(rb_process_signal(p, SIGTERM, 0), -1);
	assert_int_equal(errno, ESRCH);
	rb_process_free(p);
}

static void test_wait_with_a_timeout(void **state)
{
	(void)state;
	char *const argv[] = {"sleep", "30", NULL};
	rb_process_opts o;
	rb_process *p = NULL;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	assert_int_equal(rb_process_start(&o, &p, &err), 0);
	int64_t t0 = rb_now_ms();
	assert_int_equal(rb_process_wait(p, 0, NULL), 1);
	assert_int_equal(rb_process_wait(p, 100, NULL), 1);
	assert_true(rb_now_ms() - t0 >= 100);
	assert_int_equal(rb_process_signal(p, SIGKILL, 0), 0);
	int ws = 0;
	assert_int_equal(rb_process_wait(p, 5000, &ws), 0);
	assert_int_equal(rb_process_exit_code(ws), 128 + SIGKILL);
	assert_int_equal(rb_process_wait(p, 0, &ws), 0); /* once reaped, the status stays */
	rb_process_free(p);
}

static void test_capture_collects_both_streams_and_the_status(void **state)
{
	(void)state;
	char *const argv[] = {"sh", "-c", "cat; echo err >&2; exit 3", NULL};
	char *out = NULL;
	int status = -1;
	rb_error err = RB_ERROR_INIT;
	assert_int_equal(rb_process_capture(argv, "in\n", 10000, &out, &status, &err), 0);
	assert_string_equal(out, "in\nerr\n");
	assert_int_equal(status, 3);
	free(out);
}

static void test_capture_feeds_large_input_without_deadlock(void **state)
{
	(void)state;
	size_t n = 1 << 20;
	char *big = malloc(n + 1);
	memset(big, 'x', n);
	big[n] = '\0';
	char *const argv[] = {"wc", "-c", NULL};
	char *out = NULL;
	int status = -1;
	rb_error err = RB_ERROR_INIT;
	assert_int_equal(rb_process_capture(argv, big, 10000, &out, &status, &err), 0);
	assert_int_equal(atol(out), (long)n);
	assert_int_equal(status, 0);
	free(out);
	free(big);
}

static void test_capture_timeout_stops_the_tool(void **state)
{
	(void)state;
	char *const argv[] = {"sleep", "30", NULL};
	char *out = NULL;
	int status = -1;
	rb_error err = RB_ERROR_INIT;
	int64_t t0 = rb_now_ms();
	assert_int_equal(rb_process_capture(argv, NULL, 300, &out, &status, &err), -1);
	int64_t took = rb_now_ms() - t0;
	assert_true(took >= 300);
	assert_true(took < 300 + 1000 + 700); /* the timeout, the grace, and slack */
	assert_int_equal(err.code, RB_EXIT_ENV);
	assert_non_null(strstr(err.message, "did not finish"));
	assert_int_equal(status, 128 + SIGTERM);
	assert_non_null(out);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* reaped */
	free(out);
	rb_error_clear(&err);
}

static void test_capture_of_a_missing_tool_is_an_error(void **state)
{
	(void)state;
	char *const argv[] = {"runbook-no-such-tool", NULL};
	char *out = NULL;
	int status = 0;
	rb_error err = RB_ERROR_INIT;
	assert_int_equal(rb_process_capture(argv, "x", 1000, &out, &status, &err), -1);
	assert_string_equal(err.message, "cannot run runbook-no-such-tool: No such file or directory");
	assert_string_equal(out, "");
	free(out);
	rb_error_clear(&err);
}

static int return_42(void *ctx)
{
	int *seen = ctx;
	return *seen == 7 ? 42 : 1;
}

static void test_start_fn_exits_with_the_return_value(void **state)
{
	(void)state;
	int seven = 7;
	rb_process *p = NULL;
	rb_error err = RB_ERROR_INIT;
	assert_int_equal(rb_process_start_fn(return_42, &seven, NULL, &p, &err), 0);
	assert_int_equal(exit_code_of(p), 42);
	rb_process_free(p);
}

static void test_start_fn_missing_cwd_is_an_error(void **state)
{
	(void)state;
	int seven = 7;
	rb_process_opts o;
	rb_process *p = NULL;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.cwd = "/nonexistent/runbook-unit-dir";
	assert_int_equal(rb_process_start_fn(return_42, &seven, &o, &p, &err), -1);
	assert_non_null(strstr(err.message, "/nonexistent/runbook-unit-dir"));
	rb_error_clear(&err);
}

/* The child's open descriptors, as a bit mask (bit 30: one above 29).
 * Those past the limit are valgrind's own, when it runs the test. */
static int open_fd_mask(void *ctx)
{
	(void)ctx;
	struct rlimit lim;
	if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
		return 255;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 255;
	int mask = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		if (fd == dirfd(d) || (rlim_t)fd >= lim.rlim_cur)
			continue;
		mask |= fd < 30 ? 1 << fd : 1 << 30;
	}
	closedir(d);
	return mask;
}

static int fd_mask_code(void *ctx)
{
	/* 0-3 are expected; anything else makes the exit code nonzero */
	return open_fd_mask(ctx) == 0xf ? 0 : 1;
}

static void test_start_fn_keeps_only_its_descriptor(void **state)
{
	(void)state;
	int sv[2], stray;
	assert_int_equal(pipe(sv), 0);
	stray = dup(sv[0]); /* not close-on-exec: would survive anything but close_fds */
	assert_true(stray > 2);
	rb_process_opts o;
	rb_process *p = NULL;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.out.kind = RB_STDIO_PIPE; /* the parent's end must not stay open in the child either */
	o.close_fds = 1;
	o.keep_fd = sv[1];
	assert_int_equal(rb_process_start_fn(fd_mask_code, NULL, &o, &p, &err), 0);
	assert_int_equal(exit_code_of(p), 0);
	rb_process_free(p);
	close(sv[0]);
	close(sv[1]);
	close(stray);
}

static void test_start_fn_with_stdin_closed_in_the_parent(void **state)
{
	(void)state;
	/* With 0 and 3 free, the status pipe takes 0 and 3, and 3 is where keep_fd
	 * goes (3 is the signal self-pipe's read end, set aside meanwhile). */
	int saved = fcntl(0, F_DUPFD_CLOEXEC, 100);
	int saved3 = fcntl(3, F_DUPFD_CLOEXEC, 100);
	int sv[2];
	assert_true(saved >= 100);
	assert_int_equal(pipe(sv), 0);
	int keep = fcntl(sv[1], F_DUPFD_CLOEXEC, 60);
	close(sv[0]);
	close(sv[1]);
	close(0);
	close(3);
	rb_process_opts o;
	rb_process *p = NULL;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.in.kind = RB_STDIO_NULL;
	o.close_fds = 1;
	o.keep_fd = keep;
	int rc = rb_process_start_fn(fd_mask_code, NULL, &o, &p, &err);
	dup2(saved, 0);
	close(saved);
	if (saved3 >= 0) {
		dup2(saved3, 3);
		fcntl(3, F_SETFD, FD_CLOEXEC);
		close(saved3);
	}
	close(keep);
	assert_int_equal(rc, 0);
	assert_int_equal(exit_code_of(p), 0);
	rb_process_free(p);
}

static void test_no_descriptor_of_the_spawner_reaches_the_child(void **state)
{
	(void)state;
	/* What the test process itself passes on (none, usually) is allowed. */
	int inherited = 0;
	for (int fd = 3; fd < 1024; fd++) {
		int flags = fcntl(fd, F_GETFD);
		if (flags >= 0 && !(flags & FD_CLOEXEC))
			inherited++;
	}
	char *const argv[] = {"ls", "/proc/self/fd", NULL};
	rb_process_opts o;
	rb_process *p = NULL;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.new_pgroup = 1;
	o.in.kind = RB_STDIO_PIPE;
	o.out.kind = RB_STDIO_PIPE;
	o.err.kind = RB_STDIO_PIPE;
	assert_int_equal(rb_process_start(&o, &p, &err), 0);
	rb_process_close_fd(p, 0);
	char *out = read_all(p);
	assert_int_equal(exit_code_of(p), 0);
	int lines = 0, std = 0;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		lines++;
		std += !strcmp(l, "0") || !strcmp(l, "1") || !strcmp(l, "2");
	}
	assert_int_equal(std, 3);
	assert_int_equal(lines, 3 + 1 + inherited); /* 0-2, ls's own directory, the test's */
	free(out);
	rb_process_free(p);
}

static void test_signals_are_reset_in_the_child(void **state)
{
	(void)state;
	/* runbook ignores SIGPIPE and handles SIGINT: the child has neither */
	char *const argv[] = {"sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status", NULL};
	char *out = NULL;
	int status = -1;
	rb_error err = RB_ERROR_INIT;
	assert_int_equal(rb_process_capture(argv, NULL, 10000, &out, &status, &err), 0);
	assert_int_equal(status, 0);
	assert_non_null(strstr(out, "SigBlk:\t0000000000000000"));
	/* bit 13 (SIGPIPE) and bit 2 (SIGINT) of the ignored mask are clear */
	const char *ign = strstr(out, "SigIgn:\t");
	assert_non_null(ign);
	unsigned long long mask = strtoull(ign + 8, NULL, 16);
	assert_int_equal(mask & (1ULL << (SIGPIPE - 1)), 0);
	assert_int_equal(mask & (1ULL << (SIGINT - 1)), 0);
	free(out);
}

static const int ignore_term[] = {SIGTERM, 0};

static int wait_for_kill(void *ctx)
{
	(void)ctx;
	pause();
	return 0;
}

static void test_start_fn_ignores_what_it_is_told_to(void **state)
{
	(void)state;
	rb_process_opts o;
	rb_process *p = NULL;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.ignore_signals = ignore_term;
	assert_int_equal(rb_process_start_fn(wait_for_kill, NULL, &o, &p, &err), 0);
	int ws = 0;
	int64_t t0 = rb_now_ms();
	assert_int_equal(rb_process_stop(p, 200, &ws), 0);
	assert_true(rb_now_ms() - t0 >= 200);
	assert_int_equal(rb_process_exit_code(ws), 128 + SIGKILL);
	rb_process_free(p);
}

int main(void)
{
	rb_signals_install();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_program_is_an_error_not_exit_127),
		cmocka_unit_test(test_missing_program_by_path_is_an_error),
		cmocka_unit_test(test_missing_cwd_is_an_error_naming_it),
		cmocka_unit_test(test_cwd_and_envp_are_the_childs),
		cmocka_unit_test(test_pipe_round_trip),
		cmocka_unit_test(test_stderr_can_follow_stdout),
		cmocka_unit_test(test_new_process_group),
		cmocka_unit_test(test_stop_takes_the_group_with_a_grandchild),
		cmocka_unit_test(test_stop_escalates_to_kill_after_the_grace),
		cmocka_unit_test(test_reap_group_collects_leader_and_orphans),
		cmocka_unit_test(test_wait_with_a_timeout),
		cmocka_unit_test(test_capture_collects_both_streams_and_the_status),
		cmocka_unit_test(test_capture_feeds_large_input_without_deadlock),
		cmocka_unit_test(test_capture_timeout_stops_the_tool),
		cmocka_unit_test(test_capture_of_a_missing_tool_is_an_error),
		cmocka_unit_test(test_start_fn_exits_with_the_return_value),
		cmocka_unit_test(test_start_fn_missing_cwd_is_an_error),
		cmocka_unit_test(test_start_fn_keeps_only_its_descriptor),
		cmocka_unit_test(test_start_fn_with_stdin_closed_in_the_parent),
		cmocka_unit_test(test_no_descriptor_of_the_spawner_reaches_the_child),
		cmocka_unit_test(test_signals_are_reset_in_the_child),
		cmocka_unit_test(test_start_fn_ignores_what_it_is_told_to),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
