/*
 * The shell executor: exit statuses, separate streams, bounded output,
 * timeouts and cancellation that take the whole process group down, deaths
 * by signal, the environment, the working directory and the two shells.
 *
 * Like the engine, the test process is a child subreaper, so that whatever
 * a step's group leaves behind comes back here to be reaped.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shell.h"
#include "signals.h"

typedef struct {
	rb_buf out;
	rb_buf err;
	int calls;
	int bad_stream;
} collected;

static void collect(void *ctx, int stream, const char *data, size_t len)
{
	collected *c = ctx;
	c->calls++;
	if (stream == 1)
		rb_buf_add(&c->out, data, len);
	else if (stream == 2)
		rb_buf_add(&c->err, data, len);
	else
		c->bad_stream = 1;
}

static void collected_free(collected *c)
{
	rb_buf_free(&c->out);
	rb_buf_free(&c->err);
}

static void opts_init(rb_shell_opts *o, const char *script, collected *c)
{
	memset(o, 0, sizeof *o);
	o->script = script;
	o->grace_ms = 300;
	o->keep_max = 4096;
	o->sink = collect;
	o->sink_ctx = c;
}

static void run_opts(const rb_shell_opts *o, rb_shell_result *r)
{
	rb_error err = RB_ERROR_INIT;
	int rc = rb_shell_run(o, r, &err);
	if (rc != 0) {
		char msg[256];
		snprintf(msg, sizeof msg, "rb_shell_run: %s", err.message ? err.message : "?");
		rb_error_clear(&err);
		fail_msg("%s", msg);
	}
	assert_null(err.message);
}

static rb_shell_result run(const char *script, const char *shell, int64_t timeout_ms, collected *c)
{
	rb_shell_opts o;
	rb_shell_result r;
	opts_init(&o, script, c);
	o.shell = shell;
	o.timeout_ms = timeout_ms;
	run_opts(&o, &r);
	return r;
}

/* 1 when no process is left in group pgid. */
static int group_gone(pid_t pgid)
{
	return kill(-pgid, 0) == -1 && errno == ESRCH;
}

/* 1 when /proc has no entry for pid (neither running nor a zombie). */
static int proc_gone(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d", (int)pid);
	return access(path, F_OK) != 0;
}

/* ---- statuses and streams ---- */

static void test_success_is_status_zero(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_result r = run("true", NULL, 0, &c);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.reason, RB_END_EXITED);
	assert_int_equal(r.leftovers, 0);
	assert_string_equal(r.out, "");
	assert_int_equal(r.out_total, 0);
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_exit_code_is_reported(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_result r = run("exit 7", NULL, 0, &c);
	assert_int_equal(r.status, 7);
	assert_int_equal(r.reason, RB_END_EXITED);
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_first_failing_command_stops_the_script(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_result r = run("echo before; false; echo after", NULL, 0, &c);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "before\n");
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_stdout_and_stderr_are_kept_apart(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_result r = run("echo out; echo err >&2; echo out2", NULL, 0, &c);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "out\nout2\n");
	assert_int_equal(r.out_len, 9);
	assert_int_equal(r.out_total, 9);
	assert_string_equal(r.err, "err\n");
	assert_int_equal(r.err_len, 4);
	assert_int_equal(r.err_total, 4);
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_sink_receives_each_stream_by_number(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_result r = run("printf 'to out'; printf 'to err' >&2", NULL, 0, &c);
	assert_string_equal(rb_buf_cstr(&c.out), "to out");
	assert_string_equal(rb_buf_cstr(&c.err), "to err");
	assert_true(c.calls >= 2);
	assert_false(c.bad_stream);
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_kept_output_is_bounded_but_streamed_whole(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_opts o;
	rb_shell_result r;
	opts_init(&o, "head -c 100000 /dev/zero | tr '\\0' x; head -c 3000 /dev/zero | tr '\\0' y >&2", &c);
	o.keep_max = 1024;
	run_opts(&o, &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.out_len, 1024);
	assert_int_equal(r.out_total, 100000);
	assert_int_equal(strlen(r.out), 1024);
	assert_int_equal(r.out[0], 'x');
	assert_int_equal(r.out[1023], 'x');
	assert_int_equal(r.err_len, 1024);
	assert_int_equal(r.err_total, 3000);
	assert_int_equal(r.err[0], 'y');
	assert_int_equal(c.out.len, 100000);
	assert_int_equal(c.err.len, 3000);
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_keep_max_zero_keeps_nothing_but_counts(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_opts o;
	rb_shell_result r;
	opts_init(&o, "echo hello", &c);
	o.keep_max = 0;
	run_opts(&o, &r);
	assert_string_equal(r.out, "");
	assert_int_equal(r.out_len, 0);
	assert_int_equal(r.out_total, 6);
	assert_string_equal(rb_buf_cstr(&c.out), "hello\n");
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_stdin_is_empty(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_result r = run("cat; echo done", NULL, 5000, &c);
	assert_int_equal(r.reason, RB_END_EXITED);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "done\n");
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_label_is_dollar_zero(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_opts o;
	rb_shell_result r;
	opts_init(&o, "echo \"$0\"", &c);
	o.label = "deploy.md:12";
	run_opts(&o, &r);
	assert_string_equal(r.out, "deploy.md:12\n");
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_duration_is_measured(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_result r = run("sleep 0.2", NULL, 0, &c);
	assert_int_equal(r.status, 0);
	assert_true(r.duration_ms >= 190);
	assert_true(r.duration_ms < 5000);
	rb_shell_result_free(&r);
	collected_free(&c);
}

/* ---- deaths by signal ---- */

static void test_death_by_term_is_128_plus_15(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_result r = run("kill -TERM $$", NULL, 0, &c);
	assert_int_equal(r.status, 128 + SIGTERM);
	assert_int_equal(r.reason, RB_END_EXITED);
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_death_by_kill_is_128_plus_9(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_result r = run("kill -KILL $$", NULL, 0, &c);
	assert_int_equal(r.status, 128 + SIGKILL);
	assert_int_equal(r.reason, RB_END_EXITED);
	rb_shell_result_free(&r);
	collected_free(&c);
}

/* ---- timeouts, leftovers, cancellation ---- */

static void test_timeout_kills_the_whole_group(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	int64_t t0 = rb_now_ms();
	rb_shell_result r = run("sleep 100 & echo $$ $!; sleep 100", NULL, 300, &c);
	int64_t took = rb_now_ms() - t0;
	assert_int_equal(r.reason, RB_END_TIMEOUT);
	assert_int_equal(r.status, 128 + SIGTERM);
	assert_true(took >= 290);
	assert_true(took < 3000);
	int pgid = 0, bg = 0;
	assert_int_equal(sscanf(rb_buf_cstr(&c.out), "%d %d", &pgid, &bg), 2);
	assert_true(pgid > 1);
	assert_true(bg > 1);
	assert_true(group_gone((pid_t)pgid));
	assert_true(proc_gone((pid_t)pgid));
	assert_true(proc_gone((pid_t)bg));
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_timeout_escalates_to_kill_when_term_is_ignored(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_opts o;
	rb_shell_result r;
	opts_init(&o, "trap '' TERM; echo $$; sleep 100 & sleep 100", &c);
	o.timeout_ms = 200;
	o.grace_ms = 300;
	int64_t t0 = rb_now_ms();
	run_opts(&o, &r);
	int64_t took = rb_now_ms() - t0;
	assert_int_equal(r.reason, RB_END_TIMEOUT);
	assert_int_equal(r.status, 128 + SIGKILL);
	assert_true(took >= 490); /* the timeout, then the whole grace */
	assert_true(took < 3000);
	assert_true(group_gone((pid_t)atoi(rb_buf_cstr(&c.out))));
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_background_job_left_behind_is_stopped(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	int64_t t0 = rb_now_ms();
	rb_shell_result r = run("(sleep 2; echo late) & echo $$ $!", NULL, 0, &c);
	int64_t took = rb_now_ms() - t0;
	assert_int_equal(r.status, 0);
	assert_int_equal(r.reason, RB_END_EXITED);
	assert_int_equal(r.leftovers, 1);
	assert_true(took < 1500); /* stopped, not waited for */
	int pgid = 0, bg = 0;
	assert_int_equal(sscanf(r.out, "%d %d", &pgid, &bg), 2);
	assert_null(strstr(r.out, "late"));
	assert_true(group_gone((pid_t)pgid));
	assert_true(proc_gone((pid_t)bg));
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_waited_background_job_is_not_a_leftover(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_result r = run("(sleep 0.1; echo bg) & wait; echo fg", NULL, 0, &c);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.leftovers, 0);
	assert_string_equal(r.out, "bg\nfg\n");
	rb_shell_result_free(&r);
	collected_free(&c);
}

typedef struct {
	int calls;
	int stop_at;
} poll_state;

static int poll_count(void *ctx)
{
	poll_state *p = ctx;
	return ++p->calls >= p->stop_at;
}

static void test_poll_callback_cancels_the_step(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	poll_state p = {0, 3};
	rb_shell_opts o;
	rb_shell_result r;
	opts_init(&o, "echo $$; sleep 100", &c);
	o.poll = poll_count;
	o.poll_ctx = &p;
	o.poll_every_ms = 50;
	int64_t t0 = rb_now_ms();
	run_opts(&o, &r);
	int64_t took = rb_now_ms() - t0;
	assert_int_equal(r.reason, RB_END_CANCELLED);
	assert_int_equal(r.status, 128 + SIGTERM);
	assert_int_equal(p.calls, 3);
	assert_true(took >= 140);
	assert_true(took < 3000);
	assert_true(group_gone((pid_t)atoi(rb_buf_cstr(&c.out))));
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_poll_returning_zero_lets_the_step_finish(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	poll_state p = {0, 1000000};
	rb_shell_opts o;
	rb_shell_result r;
	opts_init(&o, "sleep 0.3; echo finished", &c);
	o.poll = poll_count;
	o.poll_ctx = &p;
	o.poll_every_ms = 20;
	run_opts(&o, &r);
	assert_int_equal(r.reason, RB_END_EXITED);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "finished\n");
	assert_true(p.calls >= 5);
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_interrupt_stops_the_step(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	raise(SIGINT); /* recorded by the handler, as a Ctrl-C would be */
	assert_int_equal(rb_signals_interrupted(), SIGINT);
	int64_t t0 = rb_now_ms();
	rb_shell_result r = run("sleep 100", NULL, 0, &c);
	rb_signals_reset();
	assert_int_equal(r.reason, RB_END_INTERRUPTED);
	assert_true(rb_now_ms() - t0 < 3000);
	rb_shell_result_free(&r);
	collected_free(&c);
}

/*
 * A process that left the group on purpose (setsid) is not stopped, but if
 * it keeps the output pipes open the step still ends shortly after its
 * group is gone, even without a timeout, and keeps what was written.
 */
static void test_escaped_process_holding_the_output_does_not_hold_the_step(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	int64_t t0 = rb_now_ms();
	rb_shell_result r = run("setsid sleep 5 & echo $!; sleep 0.2", NULL, 0, &c);
	int64_t took = rb_now_ms() - t0;
	pid_t escaped = (pid_t)atoi(rb_buf_cstr(&c.out));
	int still_running = escaped > 1 && kill(escaped, 0) == 0;
	if (escaped > 1) {
		kill(escaped, SIGKILL);
		waitpid(escaped, NULL, 0);
	}
	assert_true(escaped > 1);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.reason, RB_END_EXITED);
	assert_true(still_running);
	assert_true(took >= 190);
	assert_true(took < 1500);
	rb_shell_result_free(&r);
	collected_free(&c);
}

/* ---- environment, directory, shells ---- */

static void test_envp_replaces_the_environment(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	char *envp[] = {"GREETING=hello there", "PATH=/usr/bin:/bin", NULL};
	rb_shell_opts o;
	rb_shell_result r;
	assert_int_equal(setenv("RB_UNIT_PARENT_ONLY", "leaked", 1), 0);
	opts_init(&o, "echo \"$GREETING|${RB_UNIT_PARENT_ONLY:-unset}\"", &c);
	o.envp = envp;
	run_opts(&o, &r);
	unsetenv("RB_UNIT_PARENT_ONLY");
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "hello there|unset\n");
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_environment_is_inherited_without_envp(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	assert_int_equal(setenv("RB_UNIT_INHERITED", "from parent", 1), 0);
	rb_shell_result r = run("echo \"$RB_UNIT_INHERITED\"", NULL, 0, &c);
	unsetenv("RB_UNIT_INHERITED");
	assert_string_equal(r.out, "from parent\n");
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_cwd_is_honoured(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_opts o;
	rb_shell_result r;
	opts_init(&o, "pwd", &c);
	o.cwd = "/";
	run_opts(&o, &r);
	assert_string_equal(r.out, "/\n");
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_missing_cwd_is_an_environment_error(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_opts o;
	rb_shell_result r;
	rb_error err = RB_ERROR_INIT;
	opts_init(&o, "echo should not run", &c);
	o.cwd = "/nonexistent/runbook-unit-dir";
	/* not a step's exit 126: the step could not be started (process.h) */
	assert_int_equal(rb_shell_run(&o, &r, &err), -1);
	assert_int_equal(err.code, RB_EXIT_ENV);
	assert_non_null(strstr(err.message, "/nonexistent/runbook-unit-dir"));
	assert_int_equal(c.calls, 0);
	rb_shell_result_free(&r);
	rb_error_clear(&err);
	collected_free(&c);
}

static void test_bash_is_the_default_shell(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_result r = run("echo \"${BASH_VERSION:+bash}\"", NULL, 0, &c);
	assert_string_equal(r.out, "bash\n");
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_bash_fails_a_pipeline_on_any_failure(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_result r = run("false | true; echo not reached", "bash", 0, &c);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_sh_judges_a_pipeline_by_its_last_command(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_result r = run("false | true; echo reached", "sh", 0, &c);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "reached\n");
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_sh_runs_the_system_sh(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_result r = run("if [ \"$(readlink /proc/$$/exe)\" = \"$(readlink -f \"$(command -v sh)\")\" ]; "
				"then echo sh; else echo other; fi", "sh", 0, &c);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "sh\n");
	rb_shell_result_free(&r);
	collected_free(&c);
}

static void test_sh_stops_at_the_first_failing_command(void **state)
{
	(void)state;
	collected c = {RB_BUF_INIT, RB_BUF_INIT, 0, 0};
	rb_shell_result r = run("false; echo not reached", "sh", 0, &c);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	rb_shell_result_free(&r);
	collected_free(&c);
}

int main(void)
{
	rb_signals_install();
	/* as the engine does: orphans of a step's group come back to be reaped */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success_is_status_zero),
		cmocka_unit_test(test_exit_code_is_reported),
		cmocka_unit_test(test_first_failing_command_stops_the_script),
		cmocka_unit_test(test_stdout_and_stderr_are_kept_apart),
		cmocka_unit_test(test_sink_receives_each_stream_by_number),
		cmocka_unit_test(test_kept_output_is_bounded_but_streamed_whole),
		cmocka_unit_test(test_keep_max_zero_keeps_nothing_but_counts),
		cmocka_unit_test(test_stdin_is_empty),
		cmocka_unit_test(test_label_is_dollar_zero),
		cmocka_unit_test(test_duration_is_measured),
		cmocka_unit_test(test_death_by_term_is_128_plus_15),
		cmocka_unit_test(test_death_by_kill_is_128_plus_9),
		cmocka_unit_test(test_timeout_kills_the_whole_group),
		cmocka_unit_test(test_timeout_escalates_to_kill_when_term_is_ignored),
		cmocka_unit_test(test_background_job_left_behind_is_stopped),
		cmocka_unit_test(test_waited_background_job_is_not_a_leftover),
		cmocka_unit_test(test_poll_callback_cancels_the_step),
		cmocka_unit_test(test_poll_returning_zero_lets_the_step_finish),
		cmocka_unit_test(test_interrupt_stops_the_step),
		cmocka_unit_test(test_escaped_process_holding_the_output_does_not_hold_the_step),
		cmocka_unit_test(test_envp_replaces_the_environment),
		cmocka_unit_test(test_environment_is_inherited_without_envp),
		cmocka_unit_test(test_cwd_is_honoured),
		cmocka_unit_test(test_missing_cwd_is_an_environment_error),
		cmocka_unit_test(test_bash_is_the_default_shell),
		cmocka_unit_test(test_bash_fails_a_pipeline_on_any_failure),
		cmocka_unit_test(test_sh_judges_a_pipeline_by_its_last_command),
		cmocka_unit_test(test_sh_runs_the_system_sh),
		cmocka_unit_test(test_sh_stops_at_the_first_failing_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
