/*
 * ghactions.c - GitHub Actions workflow commands: escaping, annotation
 * lines, paths relative to the workspace (ghactions.h).
 */
#define _GNU_SOURCE
#include "ghactions.h"
#include "visible.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rb_gh_actions(void)
{
	const char *v = getenv("GITHUB_ACTIONS");
	return v && !strcmp(v, "true");
}

static void escape(rb_buf *out, const char *s, size_t len, int property)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '%')
			rb_buf_puts(out, "%25");
		else if (c == '\r')
			rb_buf_puts(out, "%0D");
		else if (c == '\n')
			rb_buf_puts(out, "%0A");
		else if (property && c == ':')
			rb_buf_puts(out, "%3A");
		else if (property && c == ',')
			rb_buf_puts(out, "%2C");
		else
			rb_buf_putc(out, c);
	}
}

void rb_gh_escape_data(rb_buf *out, const char *s, size_t len)
{
	escape(out, s, len, 0);
}

void rb_gh_escape_property(rb_buf *out, const char *s)
{
	escape(out, s, strlen(s), 1);
}

/* path made absolute: resolved (links followed) when resolve and it exists, else joined to the current directory. */
static char *absolute(const char *path, int resolve)
{
	char cwd[PATH_MAX];
	char *r = resolve ? realpath(path, NULL) : NULL;
	if (r)
		return r;
	if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
		r = rb_xstrdup(path);
	else
		r = rb_xasprintf("%s/%s", cwd, path);
	/* "a/./b" is "a/b"; a trailing "/" goes (the root keeps its one). */
	char *dot;
	while ((dot = strstr(r, "/./")))
		memmove(dot, dot + 2, strlen(dot + 2) + 1);
	size_t n = strlen(r);
	while (n > 1 && r[n - 1] == '/')
		r[--n] = '\0';
	if (n > 2 && !strcmp(r + n - 2, "/."))
		r[n - 2] = '\0';
	return r;
}

/* The part of path under dir, or NULL. */
static const char *under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (!strcmp(dir, "/"))
		return path[0] == '/' && path[1] ? path + 1 : NULL;
	if (strncmp(path, dir, n) || path[n] != '/' || !path[n + 1])
		return NULL;
	return path + n + 1;
}

char *rb_gh_path(const char *workspace, const char *path)
{
	char *rel = NULL;
	if (!path)
		return rb_xstrdup("");
	if (!workspace || !*workspace)
		return rb_xstrdup(path);
	/* Resolved first (a workspace reached through a link), then as written. */
	for (int resolve = 1; resolve >= 0 && !rel; resolve--) {
		char *ws = absolute(workspace, resolve);
		char *p = absolute(path, resolve);
		const char *tail = under(p, ws);
		if (tail)
			rel = rb_xstrdup(tail);
		free(p);
		free(ws);
	}
	return rel ? rel : rb_xstrdup(path);
}

/* Appends text made visible, then escaped for a property (or data). */
static void shown(rb_buf *out, const char *text, int property)
{
	char *v = rb_visible(text);
	if (property)
		rb_gh_escape_property(out, v);
	else
		rb_gh_escape_data(out, v, strlen(v));
	free(v);
}

void rb_gh_annotation(rb_buf *out, const char *workspace, const rb_gh_note *n)
{
	char sep = ' ';
	rb_buf_printf(out, "::%s", n->level);
	if (n->file) {
		char *rel = rb_gh_path(workspace, n->file);
		rb_buf_puts(out, " file=");
		shown(out, rel, 1);
		free(rel);
		sep = ',';
	}
	if (n->line > 0) {
		rb_buf_printf(out, "%cline=%d", sep, n->line);
		sep = ',';
		if (n->col > 0)
			rb_buf_printf(out, ",col=%d", n->col);
	}
	if (n->title) {
		rb_buf_printf(out, "%ctitle=", sep);
		shown(out, n->title, 1);
	}
	rb_buf_puts(out, "::");
	shown(out, n->message ? n->message : "", 0);
	rb_buf_putc(out, '\n');
}

void rb_gh_diags(rb_buf *out, const char *workspace, const rb_diags *d, const char *title)
{
	for (size_t i = 0; i < d->count; i++) {
		const rb_diag *g = &d->items[i];
		/* A rule's finding names it in the title: "runbook check [SC2086]". */
		char *titled = g->rule ? rb_xasprintf("%s%s[%s]", title ? title : "", title ? " " : "", g->rule) : NULL;
		rb_gh_note n = {g->severity == RB_DIAG_ERROR ? "error" : "warning", g->file, g->line, g->col,
				titled ? titled : title, g->message};
		rb_gh_annotation(out, workspace, &n);
		free(titled);
	}
}
