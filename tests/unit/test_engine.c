/*
 * The engine on small runbooks, without PostgreSQL and without an audit
 * record (what `run --no-audit` does): each test parses a runbook written
 * into its own temporary directory, runs it with rb_engine_run, stdout and
 * stderr redirected to files, and checks the exit code (docs/format.md,
 * "Exit codes") and what the bash steps left in the directory: which ran,
 * in which order, with which variables.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "events.h"
#include "parse.h"

typedef struct {
	char dir[PATH_MAX];
	rb_runbook *rb;
	rb_diags diags;
	char *out;            /* what the run wrote to stdout */
	char *err;            /* ... and to stderr */
	char file[4096];      /* the last file read by file_in() */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	const char *tmp = getenv("TMPDIR");
	snprintf(f->dir, sizeof f->dir, "%s/rb-test-engine-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	fixture *f = *state;
	rb_runbook_free(f->rb);
	rb_diags_free(&f->diags);
	free(f->out);
	free(f->err);
	nftw(f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* The whole of path, malloc'd, or NULL when it cannot be read. */
static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len - 1, fp)) > 0) {
		len += n;
		if (cap - len < 2) {
			char *more = realloc(buf, cap * 2);
			if (!more) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = more;
			cap *= 2;
		}
	}
	fclose(fp);
	if (buf)
		buf[len] = '\0';
	return buf;
}

/* The content of a file of the test directory, or "<missing>". The result
 * lives in the fixture until the next call. */
static const char *file_in(fixture *f, const char *name)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", f->dir, name);
	char *s = slurp(path);
	snprintf(f->file, sizeof f->file, "%s", s ? s : "<missing>");
	free(s);
	return f->file;
}

/* Parses src as <dir>/runbook.md (also written there); it must be clean. */
static const rb_runbook *load(fixture *f, const char *src)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/runbook.md", f->dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(src, fp);
	fclose(fp);
	f->rb = rb_parse(path, src, strlen(src), &f->diags);
	assert_non_null(f->rb);
	if (f->diags.errors) {
		{ rb_buf db = RB_BUF_INIT; rb_diags_render(&f->diags, &db); fputs(rb_buf_cstr(&db), stderr); rb_buf_free(&db); }
		fail_msg("the test runbook has errors");
	}
	return f->rb;
}

/* Runs the loaded runbook with stdout and stderr going to files; returns
 * the exit code and keeps the output in f->out and f->err. */
static int run(fixture *f, const rb_run_opts *opts)
{
	char out_path[PATH_MAX + 64], err_path[PATH_MAX + 64];
	snprintf(out_path, sizeof out_path, "%s/.stdout", f->dir);
	snprintf(err_path, sizeof err_path, "%s/.stderr", f->dir);
	int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(out >= 0 && err >= 0);
	fflush(stdout);
	fflush(stderr);
	int saved_out = dup(1), saved_err = dup(2);
	assert_true(saved_out >= 0 && saved_err >= 0);
	dup2(out, 1);
	dup2(err, 2);
	close(out);
	close(err);

	/* People's output: the terminal sink, as the command line gives it. */
	rb_terminal_opts to = {RB_COLOR_NEVER, 0, 0, 0, 0};
	rb_sink *term = rb_sink_terminal_new(&to);
	rb_run_opts with = *opts;
	if (!with.nsinks) {
		with.sinks = &term;
		with.nsinks = 1;
	}
	int rc = rb_engine_run(f->rb, &with);
	rb_sink_close(term, NULL);

	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	free(f->out);
	free(f->err);
	f->out = slurp(out_path);
	f->err = slurp(err_path);
	assert_non_null(f->out);
	assert_non_null(f->err);
	return rc;
}

/* A run without options: no audit record, no database, no run lock wait. */
static int run_plain(fixture *f)
{
	rb_run_opts o;
	memset(&o, 0, sizeof o);
	return run(f, &o);
}

/* Fails showing the run's output when text is not in it. */
static void assert_output_has(const fixture *f, const char *text)
{
	if (!strstr(f->out, text) && !strstr(f->err, text))
		fail_msg("expected \"%s\" in the output.\n--- stdout\n%s\n--- stderr\n%s", text, f->out, f->err);
}

static void assert_exit(const fixture *f, int rc, int want)
{
	if (rc != want)
		fail_msg("exit %d, expected %d.\n--- stdout\n%s\n--- stderr\n%s", rc, want, f->out, f->err);
}

/* Front matter of every test runbook: no run lock (nothing shared between
 * tests) and a failure handler that writes what it was told. */
#define FRONT \
	"---\n" \
	"title: Engine test\n" \
	"lock: false\n" \
	"on_failure: Rollback\n" \
	"---\n" \
	"# Engine test\n\n"

#define HANDLER \
	"## Rollback\n\n" \
	"```bash {name=undo}\n" \
	"printf '%s %s\\n' \"$FAILED_STEP\" \"$FAILURE_EXIT_CODE\" > handler.txt\n" \
	"```\n"

/* A bash step named NAME that appends NAME to order.txt. */
#define APPEND(name, attrs) \
	"```bash {name=" name attrs "}\n" \
	"echo " name " >> order.txt\n" \
	"```\n\n"

static void test_steps_run_in_order(void **state)
{
	fixture *f = *state;
	load(f, FRONT "## Steps\n\n" APPEND("one", "") APPEND("two", "")
		"Documentation is not run:\n\n```text\nnot a step\n```\n\n"
		APPEND("three", "") HANDLER);
	int rc = run_plain(f);
	assert_exit(f, rc, RB_EXIT_OK);
	assert_string_equal(file_in(f, "order.txt"), "one\ntwo\nthree\n");
	/* The handler runs only after a failure. */
	assert_string_equal(file_in(f, "handler.txt"), "<missing>");
	assert_output_has(f, "Done: 3 ok, 0 failed");
}

static void test_failing_step_stops_the_run_and_runs_the_handler(void **state)
{
	fixture *f = *state;
	load(f, FRONT "## Steps\n\n" APPEND("one", "")
		"```bash {name=two}\n"
		"echo two >> order.txt\n"
		"exit 7\n"
		"```\n\n"
		APPEND("three", "") HANDLER);
	int rc = run_plain(f);
	assert_exit(f, rc, RB_EXIT_STEP);
	assert_string_equal(file_in(f, "order.txt"), "one\ntwo\n");
	assert_string_equal(file_in(f, "handler.txt"), "two 1\n");
	assert_output_has(f, "Stopped (exit 1): 1 ok, 1 failed, 1 not run");
}

/* Every handler step runs even when one of them fails; the run keeps the
 * exit code of the original failure. */
static void test_handler_runs_all_its_steps_and_keeps_the_exit_code(void **state)
{
	fixture *f = *state;
	load(f, FRONT "## Steps\n\n"
		"```bash {name=one}\nexit 3\n```\n\n"
		"## Rollback\n\n"
		"```bash {name=undo1}\necho undo1 >> undo.txt\nexit 9\n```\n\n"
		"```bash {name=undo2}\necho \"undo2 $FAILED_STEP\" >> undo.txt\n```\n");
	int rc = run_plain(f);
	assert_exit(f, rc, RB_EXIT_STEP);
	assert_string_equal(file_in(f, "undo.txt"), "undo1\nundo2 one\n");
}

static void test_continue_on_error_goes_on(void **state)
{
	fixture *f = *state;
	load(f, FRONT "## Steps\n\n" APPEND("one", "")
		"```bash {name=two continue_on_error}\n"
		"echo two >> order.txt\n"
		"false\n"
		"```\n\n"
		APPEND("three", "") HANDLER);
	int rc = run_plain(f);
	assert_exit(f, rc, RB_EXIT_OK);
	assert_string_equal(file_in(f, "order.txt"), "one\ntwo\nthree\n");
	assert_string_equal(file_in(f, "handler.txt"), "<missing>");
	assert_output_has(f, "Done: 2 ok, 1 failed (allowed)");
}

static void test_when_false_skips_and_when_true_runs(void **state)
{
	fixture *f = *state;
	load(f, FRONT "## Steps\n\n" APPEND("one", "")
		APPEND("two", " when=\"1 == 2\"")
		APPEND("three", " when=\"vars.GO == 'yes'\"")
		APPEND("four", " when=\"vars.GO == 'no'\"") HANDLER);
	char *sets[] = {"GO=yes"};
	rb_run_opts o;
	memset(&o, 0, sizeof o);
	o.sets = sets;
	o.nsets = 1;
	int rc = run(f, &o);
	assert_exit(f, rc, RB_EXIT_OK);
	assert_string_equal(file_in(f, "order.txt"), "one\nthree\n");
	assert_output_has(f, "two skipped: when=1 == 2 is false");
	assert_output_has(f, "Done: 2 ok, 0 failed, 2 skipped");
}

/* expect= is checked after the step's body ran; when it does not hold the
 * step fails like any other. */
static void test_expect_that_does_not_hold_fails_the_step(void **state)
{
	fixture *f = *state;
	load(f, FRONT "## Steps\n\n"
		"```bash {name=one expect=\"steps.one.stdout:match('ready') ~= nil\"}\n"
		"echo one >> order.txt\n"
		"echo ready\n"
		"```\n\n"
		"```bash {name=two expect=\"steps.two.stdout:match('ready') ~= nil\"}\n"
		"echo two >> order.txt\n"
		"echo not yet\n"
		"```\n\n"
		APPEND("three", "") HANDLER);
	int rc = run_plain(f);
	assert_exit(f, rc, RB_EXIT_STEP);
	assert_string_equal(file_in(f, "order.txt"), "one\ntwo\n");
	assert_string_equal(file_in(f, "handler.txt"), "two 1\n");
	assert_output_has(f, "does not hold");
}

/* A step that fails twice and succeeds on its third run. */
#define FLAKY(name, attrs) \
	"```bash {name=" name attrs "}\n" \
	"n=$(cat count.txt 2>/dev/null || echo 0)\n" \
	"n=$((n + 1))\n" \
	"echo $n > count.txt\n" \
	"[ $n -ge 3 ]\n" \
	"```\n\n"

static void test_retry_succeeds_on_the_third_attempt(void **state)
{
	fixture *f = *state;
	load(f, FRONT "## Steps\n\n" FLAKY("flaky", " retry=2") APPEND("after", "") HANDLER);
	int rc = run_plain(f);
	assert_exit(f, rc, RB_EXIT_OK);
	assert_string_equal(file_in(f, "count.txt"), "3\n");
	assert_string_equal(file_in(f, "order.txt"), "after\n");
	assert_output_has(f, "retrying (attempt 3 of 3)");
}

static void test_retries_exhausted_fail_the_step(void **state)
{
	fixture *f = *state;
	load(f, FRONT "## Steps\n\n" FLAKY("flaky", " retry=1") APPEND("after", "") HANDLER);
	int rc = run_plain(f);
	assert_exit(f, rc, RB_EXIT_STEP);
	assert_string_equal(file_in(f, "count.txt"), "2\n");
	assert_string_equal(file_in(f, "order.txt"), "<missing>");
	assert_string_equal(file_in(f, "handler.txt"), "flaky 1\n");
}

static void test_skip_never_runs(void **state)
{
	fixture *f = *state;
	load(f, FRONT "## Steps\n\n" APPEND("one", "") APPEND("two", " skip=true") APPEND("three", "")
		HANDLER);
	int rc = run_plain(f);
	assert_exit(f, rc, RB_EXIT_OK);
	assert_string_equal(file_in(f, "order.txt"), "one\nthree\n");
}

/* capture= keeps the trimmed stdout: later steps see it as an environment
 * variable and in Lua as vars.NAME. */
static void test_capture_is_visible_to_later_steps(void **state)
{
	fixture *f = *state;
	load(f, FRONT "## Steps\n\n"
		"```bash {name=get capture=GREETING}\n"
		"echo '  hello world  '\n"
		"```\n\n"
		"```bash {name=use}\n"
		"printf '[%s]' \"$GREETING\" > greeting.txt\n"
		"```\n\n"
		APPEND("lua-sees-it", " when=\"vars.GREETING == 'hello world'\"") HANDLER);
	int rc = run_plain(f);
	assert_exit(f, rc, RB_EXIT_OK);
	assert_string_equal(file_in(f, "greeting.txt"), "[hello world]");
	assert_string_equal(file_in(f, "order.txt"), "lua-sees-it\n");
}

/* --from: the steps before it are skipped, except lua steps (they run
 * again, for the variables the guards read). */
static void test_from_starts_at_the_step(void **state)
{
	fixture *f = *state;
	load(f, FRONT "## Steps\n\n"
		"```lua {name=setup}\nvars.COLOR = 'blue'\n```\n\n"
		APPEND("one", "")
		"```bash {name=two}\necho two >> order.txt\necho \"$COLOR\" > color.txt\n```\n\n"
		APPEND("three", "") HANDLER);
	rb_run_opts o;
	memset(&o, 0, sizeof o);
	o.from = "two";
	int rc = run(f, &o);
	assert_exit(f, rc, RB_EXIT_OK);
	assert_string_equal(file_in(f, "order.txt"), "two\nthree\n");
	assert_string_equal(file_in(f, "color.txt"), "blue\n");
}

static void test_only_runs_just_the_step(void **state)
{
	fixture *f = *state;
	load(f, FRONT "## Steps\n\n" APPEND("one", "") APPEND("two", "") APPEND("three", "") HANDLER);
	rb_run_opts o;
	memset(&o, 0, sizeof o);
	o.only = "two";
	int rc = run(f, &o);
	assert_exit(f, rc, RB_EXIT_OK);
	assert_string_equal(file_in(f, "order.txt"), "two\n");
}

/* A --from that names no step is a usage error: nothing runs, nor the handler. */
static void test_unknown_from_is_a_usage_error(void **state)
{
	fixture *f = *state;
	load(f, FRONT "## Steps\n\n" APPEND("one", "") HANDLER);
	rb_run_opts o;
	memset(&o, 0, sizeof o);
	o.from = "nope";
	int rc = run(f, &o);
	assert_exit(f, rc, RB_EXIT_USAGE);
	assert_string_equal(file_in(f, "order.txt"), "<missing>");
	assert_string_equal(file_in(f, "handler.txt"), "<missing>");
	assert_output_has(f, "no step with id 'nope'");
}

/* A cwd= that does not exist: the process cannot be started, exit 5. */
static void test_missing_cwd_is_an_environment_error(void **state)
{
	fixture *f = *state;
	load(f, FRONT "## Steps\n\n" APPEND("one", "") APPEND("two", " cwd=no-such-dir") APPEND("three", "")
		HANDLER);
	int rc = run_plain(f);
	assert_exit(f, rc, RB_EXIT_ENV);
	assert_string_equal(file_in(f, "order.txt"), "one\n");
	assert_string_equal(file_in(f, "handler.txt"), "two 5\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_steps_run_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_step_stops_the_run_and_runs_the_handler, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handler_runs_all_its_steps_and_keeps_the_exit_code, setup, teardown),
		cmocka_unit_test_setup_teardown(test_continue_on_error_goes_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_when_false_skips_and_when_true_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expect_that_does_not_hold_fails_the_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_succeeds_on_the_third_attempt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retries_exhausted_fail_the_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skip_never_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capture_is_visible_to_later_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_from_starts_at_the_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_runs_just_the_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_from_is_a_usage_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_cwd_is_an_environment_error, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
