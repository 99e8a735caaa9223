/*
 * toolbatch.c - one tool over many texts, as files (toolbatch.h).
 */
#define _GNU_SOURCE /* mkdtemp */
#include "toolbatch.h"

#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes text to path (mode 0600, a new file). 0, or an errno. */
static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int e = fd < 0 ? errno : rb_write_all(fd, text, strlen(text), NULL);
	if (fd >= 0 && close(fd) < 0 && !e)
		e = errno;
	return e;
}

/* The item a line of output is about ("DIR/K:..."), its text after the name in *rest; -1 when none. */
static long item_of(const char *line, const char *dir, size_t dlen, size_t n, const char **rest)
{
	char *end;
	if (strncmp(line, dir, dlen) || line[dlen] != '/')
		return -1;
	long k = strtol(line + dlen + 1, &end, 10);
	if (end == line + dlen + 1 || *end != ':' || k < 0 || (size_t)k >= n)
		return -1;
	*rest = end;
	return k;
}

/* Hands out a group's output to its items, line by line. */
static void split_output(char *out, const char *dir, size_t n, rb_buf *bufs)
{
	size_t dlen = strlen(dir);
	char *save = NULL;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *rest;
		long k = item_of(line, dir, dlen, n, &rest);
		if (k >= 0)
			rb_buf_printf(&bufs[k], "-%s\n", rest);
	}
}

int rb_toolbatch_run(char *const *argv, rb_toolbatch_item *items, size_t n, size_t per_group, size_t parallel,
		     int64_t timeout_ms)
{
	int rc = -1, e = 0;
	const char *tmp = getenv("TMPDIR");
	char *dir = rb_xasprintf("%s/runbook-batch-XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp");
	char **paths = rb_xcalloc(n ? n : 1, sizeof *paths);
	size_t nargs = 0, groups = per_group ? (n + per_group - 1) / per_group : 0;
	rb_capture_job *jobs = rb_xcalloc(groups ? groups : 1, sizeof *jobs);
	char ***argvs = rb_xcalloc(groups ? groups : 1, sizeof *argvs);
	rb_buf *bufs = rb_xcalloc(n ? n : 1, sizeof *bufs);
	int made = mkdtemp(dir) != NULL;

	if (!made)
		e = errno;
	for (size_t k = 0; made && !e && k < n; k++) {
		paths[k] = rb_xasprintf("%s/%zu", dir, k);
		e = write_text(paths[k], items[k].text);
	}
	if (e) {
		for (size_t k = 0; k < n; k++)
			rb_error_set(&items[k].err, RB_EXIT_ENV, NULL, 0, 0, "cannot write %s: %s",
				     made ? dir : "a temporary directory", strerror(e));
		goto done;
	}
	while (argv[nargs])
		nargs++;
	for (size_t g = 0; g < groups; g++) {
		size_t first = g * per_group, count = n - first < per_group ? n - first : per_group;
		char **a = argvs[g] = rb_xcalloc(nargs + count + 1, sizeof *a);
		memcpy(a, argv, nargs * sizeof *a);
		memcpy(a + nargs, paths + first, count * sizeof *a);
		jobs[g].argv = a;
	}
	rb_process_capture_all(jobs, groups, parallel, timeout_ms + 50 * (int64_t)per_group);
	for (size_t g = 0; g < groups; g++) {
		size_t first = g * per_group, count = n - first < per_group ? n - first : per_group;
		int ran = !jobs[g].err.code && (jobs[g].status == 0 || jobs[g].status == 1);
		if (ran)
			split_output(jobs[g].output, dir, n, bufs);
		for (size_t k = first; k < first + count; k++) {
			if (jobs[g].err.code)
				rb_error_set(&items[k].err, jobs[g].err.code, NULL, 0, 0, "%s", jobs[g].err.message);
			else if (!ran)
				rb_error_set(&items[k].err, RB_EXIT_ENV, NULL, 0, 0, "%s ended with status %d: %.200s",
					     argv[0], jobs[g].status, jobs[g].output ? jobs[g].output : "");
		}
		rb_error_clear(&jobs[g].err);
		free(jobs[g].output);
	}
	rc = 0;
done:
	for (size_t k = 0; k < n; k++) {
		items[k].output = rb_xstrdup(rb_buf_cstr(&bufs[k]));
		rb_buf_free(&bufs[k]);
		if (paths[k])
			unlink(paths[k]);
		free(paths[k]);
	}
	if (made)
		rmdir(dir);
	for (size_t g = 0; g < groups; g++)
		free(argvs[g]);
	free(argvs);
	free(jobs);
	free(bufs);
	free(paths);
	free(dir);
	return rc;
}
