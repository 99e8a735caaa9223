/*
 * Survivors: a journaled process group still alive is found, unless its
 * members' environments say they belong to another run (the id was
 * reused); a process anywhere that carries the run's id is found; backends
 * are candidates only; nothing is found once they are gone.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "survivor.h"

/* A sleeping child in a process group of its own, with RUNBOOK_RUN_ID=run and RUNBOOK_STEP=step. */
static pid_t start(const char *run, const char *step)
{
	char env_run[128], env_step[128];
	snprintf(env_run, sizeof env_run, "RUNBOOK_RUN_ID=%s", run);
	snprintf(env_step, sizeof env_step, "RUNBOOK_STEP=%s", step);
	pid_t pid = fork();
	if (pid == 0) {
		char *const envp[] = {env_run, env_step, NULL};
		setpgid(0, 0);
		execle("/bin/sleep", "sleep", "30", (char *)NULL, envp);
		_exit(127);
	}
	setpgid(pid, pid);
	/* Until the exec, /proc shows our own environment: wait for the new one. */
	for (int i = 0; i < 200; i++) {
		char path[64], buf[4096];
		snprintf(path, sizeof path, "/proc/%ld/environ", (long)pid);
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
		if (f)
			fclose(f);
		buf[n] = '\0';
		if (n && !strcmp(buf, env_run))
			break;
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* A journal that started process group pgid for step, and used backend. */
static void journal(rb_record *rec, pid_t pgid, const char *step, const char *backend)
{
	char n[24];
	snprintf(n, sizeof n, "%ld", (long)pgid);
	memset(rec, 0, sizeof *rec);
	rec->fd = -1;
	rb_record_event(rec, "run", "id", "r", NULL);
	rb_record_event(rec, "process", "step", step, "pgid", n, NULL);
	if (backend)
		rb_record_event(rec, "process", "step", step, "backend", backend, NULL);
}

static void test_group_of_the_run(void **state)
{
	(void)state;
	char run[64];
	snprintf(run, sizeof run, "run-a-%ld", (long)getpid());
	pid_t pid = start(run, "work");
	rb_record rec;
	rb_survivors sv = RB_SURVIVORS_INIT;
	journal(&rec, pid, "work", "77");
	rb_survivors_find(&rec, run, 1, &sv);
	assert_int_equal(sv.count, 2);
	assert_int_equal(sv.items[0].kind, RB_SURVIVOR_GROUP);
	assert_int_equal(sv.items[0].id, pid);
	assert_int_equal(sv.items[1].kind, RB_SURVIVOR_BACKEND);
	assert_int_equal(rb_survivors_alive(&sv), 1);
	char *d = rb_survivor_describe(&sv.items[0]), want[128];
	snprintf(want, sizeof want, "process group %ld (sleep, step 'work') still running", (long)pid);
	assert_string_equal(d, want);
	free(d);
	d = rb_survivor_describe(&sv.items[1]);
	assert_string_equal(d, "backend pid 77 (step 'work') not checked: that needs the database");
	free(d);
	rb_survivors_free(&sv);

	/* Without backends (a run that ended), and once the group is gone: nothing. */
	rb_survivors_find(&rec, run, 0, &sv);
	assert_int_equal(sv.count, 1);
	rb_survivors_free(&sv);
	stop(pid);
	rb_survivors_find(&rec, run, 0, &sv);
	assert_int_equal(sv.count, 0);
	rb_record_close(&rec);
}

static void test_reused_group_id(void **state)
{
	(void)state;
	char run[64];
	snprintf(run, sizeof run, "run-b-%ld", (long)getpid());
	pid_t pid = start("some-other-run", "work");
	rb_record rec;
	rb_survivors sv = RB_SURVIVORS_INIT;
	journal(&rec, pid, "work", NULL);
	rb_survivors_find(&rec, run, 0, &sv);
	assert_int_equal(sv.count, 0); /* its member says it belongs to another run */
	rb_record_close(&rec);
	stop(pid);
}

static void test_escaped_process(void **state)
{
	(void)state;
	char run[64];
	snprintf(run, sizeof run, "run-c-%ld", (long)getpid());
	pid_t pid = start(run, "deploy");
	rb_record rec;
	rb_survivors sv = RB_SURVIVORS_INIT;
	journal(&rec, 999999, "deploy", NULL); /* the step's own group is gone */
	rb_survivors_find(&rec, run, 0, &sv);
	assert_int_equal(sv.count, 1);
	assert_int_equal(sv.items[0].kind, RB_SURVIVOR_PROCESS);
	assert_int_equal(sv.items[0].id, pid);
	assert_int_equal(sv.items[0].pgid, pid);
	assert_string_equal(sv.items[0].step, "deploy");
	char *d = rb_survivor_describe(&sv.items[0]), want[128];
	snprintf(want, sizeof want, "process %ld (sleep, step 'deploy', in a process group of its own) still running",
		 (long)pid);
	assert_string_equal(d, want);
	free(d);
	rb_survivors_free(&sv);
	rb_record_close(&rec);
	stop(pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_of_the_run),
		cmocka_unit_test(test_reused_group_id),
		cmocka_unit_test(test_escaped_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
