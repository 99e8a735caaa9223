/*
 * The shell executor: statuses, streams, bounds, process groups.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>

#include "shell.h"
#include "signals.h"

typedef struct {
	rb_buf out;
	rb_buf err;
} collected;

static void collect(void *ctx, int stream, const char *data, size_t len)
{
	collected *c = ctx;
	rb_buf_add(stream == 1 ? &c->out : &c->err, data, len);
}

static rb_shell_result run(const char *script, const char *shell, int64_t timeout_ms, collected *c)
{
	rb_shell_opts o;
	rb_shell_result r;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.shell = shell;
	o.script = script;
	o.timeout_ms = timeout_ms;
	o.grace_ms = 500;
	o.keep_max = 1024;
	o.sink = collect;
	o.sink_ctx = c;
	assert_int_equal(rb_shell_run(&o, &r, &err), 0);
	return r;
}

static void test_status_and_streams(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT};
	rb_shell_result r = run("echo out; echo err >&2; exit 7", NULL, 0, &c);
	assert_int_equal(r.status, 7);
	assert_int_equal(r.reason, RB_END_EXITED);
	assert_string_equal(r.out, "out\n");
	assert_string_equal(r.err, "err\n");
	assert_string_equal(rb_buf_cstr(&c.out), "out\n");
	assert_string_equal(rb_buf_cstr(&c.err), "err\n");
	rb_shell_result_free(&r);
	rb_buf_free(&c.out);
	rb_buf_free(&c.err);
}

static void test_output_kept_is_bounded_but_streamed_whole(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT};
	rb_shell_result r = run("head -c 100000 /dev/zero | tr '\\0' x", NULL, 0, &c);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.out_len, 1024);
	assert_int_equal(r.out_total, 100000);
	assert_int_equal(c.out.len, 100000);
	rb_shell_result_free(&r);
	rb_buf_free(&c.out);
	rb_buf_free(&c.err);
}

static void test_timeout_kills_the_group(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT};
	int64_t t0 = rb_now_ms();
	rb_shell_result r = run("sleep 1031 & echo $! > /dev/stderr; sleep 1032", NULL, 300, &c);
	assert_int_equal(r.reason, RB_END_TIMEOUT);
	assert_true(rb_now_ms() - t0 < 2000);
	pid_t bg = (pid_t)atoi(rb_buf_cstr(&c.err));
	assert_true(bg > 0);
	assert_int_equal(kill(bg, 0), -1); /* the background sleep is gone too */
	rb_shell_result_free(&r);
	rb_buf_free(&c.out);
	rb_buf_free(&c.err);
}

static void test_signal_death_and_leftovers(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT};
	rb_shell_result r = run("kill -TERM $$", NULL, 0, &c);
	assert_int_equal(r.status, 128 + SIGTERM);
	rb_shell_result_free(&r);
	r = run("sleep 1033 > /dev/null 2>&1 & echo $!", NULL, 0, &c);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.leftovers, 1);
	assert_int_equal(kill((pid_t)atoi(r.out), 0), -1);
	rb_shell_result_free(&r);
	rb_buf_free(&c.out);
	rb_buf_free(&c.err);
}

static void test_env_cwd_and_shells(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT};
	char *envp[] = {"GREETING=hello there", "PATH=/usr/bin:/bin", NULL};
	rb_shell_opts o;
	rb_shell_result r;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.script = "echo \"$GREETING from $(pwd)\"";
	o.envp = envp;
	o.cwd = "/tmp";
	o.keep_max = 1024;
	o.sink = collect;
	o.sink_ctx = &c;
	assert_int_equal(rb_shell_run(&o, &r, &err), 0);
	assert_string_equal(r.out, "hello there from /tmp\n");
	rb_shell_result_free(&r);
	r = run("false | true", "sh", 0, &c);
	assert_int_equal(r.status, 0); /* sh: no pipefail */
	rb_shell_result_free(&r);
	r = run("false | true", "bash", 0, &c);
	assert_int_equal(r.status, 1); /* bash -o pipefail */
	rb_shell_result_free(&r);
	rb_buf_free(&c.out);
	rb_buf_free(&c.err);
}

static int polls;
static int cancel_after_three(void *ctx)
{
	(void)ctx;
	return ++polls >= 3;
}

static void test_poll_cancels(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT};
	rb_shell_opts o;
	rb_shell_result r;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.script = "sleep 1034";
	o.keep_max = 16;
	o.grace_ms = 500;
	o.sink = collect;
	o.sink_ctx = &c;
	o.poll = cancel_after_three;
	o.poll_every_ms = 50;
	int64_t t0 = rb_now_ms();
	assert_int_equal(rb_shell_run(&o, &r, &err), 0);
	assert_int_equal(r.reason, RB_END_CANCELLED);
	assert_int_equal(polls, 3);
	assert_true(rb_now_ms() - t0 < 1500);
	rb_shell_result_free(&r);
	rb_buf_free(&c.out);
	rb_buf_free(&c.err);
}

int main(void)
{
	rb_signals_install();
	/* as the engine does: orphans of a step's group come back to be reaped */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_and_streams),
		cmocka_unit_test(test_output_kept_is_bounded_but_streamed_whole),
		cmocka_unit_test(test_timeout_kills_the_group),
		cmocka_unit_test(test_signal_death_and_leftovers),
		cmocka_unit_test(test_env_cwd_and_shells),
		cmocka_unit_test(test_poll_cancels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
