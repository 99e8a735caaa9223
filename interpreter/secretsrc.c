/*
 * secretsrc.c - secrets from a command, a file or the environment (see
 * secretsrc.h).
 */
#define _GNU_SOURCE
#include "secretsrc.h"
#include "process.h"
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The file's path: relative to the runbook unless absolute (caller frees). */
static char *path_of(const rb_runbook *rb, const char *from)
{
	return from[0] == '/' ? rb_xstrdup(from) : rb_xasprintf("%s/%s", rb->dir, from);
}

char *rb_secret_describe(const rb_runbook *rb, const rb_secret_source *s)
{
	char *p = NULL, *d;
	switch (s->kind) {
	case RB_SECRET_COMMAND:
		return rb_xasprintf("command `%s`", s->from);
	case RB_SECRET_FILE:
		p = path_of(rb, s->from);
		d = rb_xasprintf("file %s", p);
		free(p);
		return d;
	case RB_SECRET_ENV:
		break;
	}
	return rb_xasprintf("environment variable %s", s->from);
}

/* One trailing newline (and its carriage return) off. */
static void chomp(rb_buf *b)
{
	if (b->len && b->data[b->len - 1] == '\n')
		b->data[--b->len] = '\0';
	if (b->len && b->data[b->len - 1] == '\r')
		b->data[--b->len] = '\0';
}

/* Runs the command: its stdout into value, its stderr into why; its exit code, or -1 (err) when it could not. */
static int run_command(const rb_runbook *rb, const char *cmd, rb_buf *value, rb_buf *why, rb_error *err)
{
	char *argv[] = {"sh", "-c", (char *)cmd, NULL};
	rb_process_opts o;
	rb_process *p = NULL;
	int status = 0, rc = -1;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.cwd = rb->dir;
	o.new_pgroup = 1;
	o.in.kind = RB_STDIO_NULL;
	o.out.kind = RB_STDIO_PIPE;
	o.err.kind = RB_STDIO_PIPE;
	o.close_fds = 1;
	o.keep_fd = -1;
	if (rb_process_start(&o, &p, err) < 0)
		return -1;
	int fds[2] = {rb_process_fd(p, 1), rb_process_fd(p, 2)};
	rb_buf *into[2] = {value, why};
	int64_t deadline = rb_now_ms() + RB_SECRET_COMMAND_TIMEOUT_MS;
	while (fds[0] >= 0 || fds[1] >= 0) {
		struct pollfd pf[3] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN},
				       {.fd = rb_signals_fd(), .events = POLLIN}};
		int64_t left = deadline - rb_now_ms();
		if (left <= 0 || rb_signals_interrupted()) {
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "%s", left <= 0 ? "it did not finish in 30 s" : "interrupted");
			rb_process_stop(p, 1000, NULL);
			goto done;
		}
		if (poll(pf, 3, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
			break;
		if (pf[2].revents)
			rb_signals_drain();
		for (int k = 0; k < 2; k++) {
			if (fds[k] < 0 || !pf[k].revents)
				continue;
			char buf[4096];
			ssize_t n = read(fds[k], buf, sizeof buf);
			if (n > 0)
				rb_buf_add(into[k], buf, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				rb_process_close_fd(p, k + 1);
				fds[k] = -1;
			}
		}
	}
	if (rb_process_wait(p, -1, &status) < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot wait for it");
		goto done;
	}
	rc = rb_process_exit_code(status);
done:
	rb_process_free(p);
	return rc;
}

int rb_secret_source_value(const rb_runbook *rb, const rb_secret_source *s, rb_buf *value, rb_error *err)
{
	rb_buf why = RB_BUF_INIT;
	char *path = NULL;
	struct stat st;
	int rc = -1;
	if (s->kind == RB_SECRET_COMMAND) {
		int code = run_command(rb, s->from, value, &why, err);
		if (code != 0 && code != -1) {
			const char *w = rb_buf_cstr(&why);
			/* Its first lines: enough to say why, never pages of it. */
			size_t n = 0;
			for (int lines = 0; w[n] && lines < 5; n++)
				lines += w[n] == '\n';
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "exit %d%s%.*s", code, n ? ": " : "",
				     (int)(n && w[n - 1] == '\n' ? n - 1 : n), w);
		} else if (code == 0) {
			rc = 0;
		}
	} else if (s->kind == RB_SECRET_FILE) {
		path = path_of(rb, s->from);
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "not a readable file");
		} else if (st.st_mode & 077) {
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "readable by others (mode %03o): chmod 600 %s",
				     (unsigned)(st.st_mode & 0777), path);
		} else {
			char buf[4096];
			ssize_t n;
			while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
				if (n > 0)
					rb_buf_add(value, buf, (size_t)n);
			rc = n < 0 ? rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot read it: %s", strerror(errno)) : 0;
		}
		if (fd >= 0)
			close(fd);
	} else {
		const char *v = getenv(s->from);
		if (!v || !*v)
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "not set");
		else
			rc = (rb_buf_puts(value, v), 0);
	}
	if (rc == 0) {
		chomp(value);
		if (!value->len)
			rc = rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "it gave an empty value");
	}
	free(path);
	rb_buf_free(&why);
	return rc;
}

int rb_secret_sources_resolve(const rb_runbook *rb, int (*skip)(void *ctx, const char *name), void *ctx,
			      rb_redactor *red, char ***sets, size_t *nsets, rb_error *err)
{
	for (size_t i = 0; i < rb->fm.nsecret_sources; i++) {
		const rb_secret_source *s = &rb->fm.secret_sources[i];
		rb_buf value = RB_BUF_INIT;
		rb_error why = RB_ERROR_INIT;
		if (skip && skip(ctx, s->name))
			continue;
		int r = rb_secret_source_value(rb, s, &value, &why);
		if (value.len)
			rb_redactor_add(red, rb_buf_cstr(&value)); /* before anything could print it */
		if (r < 0) {
			char *d = rb_secret_describe(rb, s), *shown = rb_redact(red, why.message ? why.message : "");
			rb_error_set(err, RB_EXIT_ENV, rb->path, s->line, s->col, "secret %s from %s: %s", s->name, d, shown);
			free(d);
			free(shown);
			explicit_bzero(value.data ? value.data : "", value.len);
			rb_buf_free(&value);
			rb_error_clear(&why);
			return -1;
		}
		*sets = rb_xrealloc(*sets, (*nsets + 1) * sizeof **sets);
		(*sets)[(*nsets)++] = rb_xasprintf("%s=%s", s->name, rb_buf_cstr(&value));
		explicit_bzero(value.data, value.len);
		rb_buf_free(&value);
		rb_error_clear(&why);
	}
	return 0;
}
