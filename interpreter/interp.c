/*
 * interp.c - the interpreter table and the argument vectors built from it;
 * see interp.h.
 */
#define _GNU_SOURCE
#include "interp.h"
#include "process.h"
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *const f_bash[] = {"-e", "-o", "pipefail", "-c", NULL};
static const char *const f_sh[] = {"-e", "-c", NULL};
static const char *const f_zsh[] = {"-f", "-e", "-o", "pipefail", "-c", NULL};
static const char *const f_fish[] = {"--no-config", "-c", NULL};
static const char *const f_c[] = {"-c", NULL};
static const char *const f_e[] = {"-e", NULL};

const rb_interp rb_interps[] = {
	{"bash", f_bash, 1, "-n", "bash", "-e -o pipefail: the first failing command, or failing pipeline stage"},
	{"sh", f_sh, 1, "-n", "sh", "-e: the first failing command (a pipeline fails only by its last command)"},
	{"dash", f_sh, 1, "-n", "dash", "-e, as sh"},
	{"ksh", f_bash, 1, "-n", "ksh", "-e -o pipefail, as bash"},
	{"zsh", f_zsh, 1, "-n", NULL, "-e -o pipefail (and -f: no startup files but /etc/zshenv)"},
	{"fish", f_fish, 1, "-n", NULL, "none: fish has no such option; the block's status is its last command's"},
	{"python3", f_c, 0, NULL, NULL, "an uncaught exception"},
	{"node", f_e, 0, NULL, NULL, "an uncaught exception"},
	{"ruby", f_e, 0, NULL, NULL, "an uncaught exception"},
	{"perl", f_e, 0, NULL, NULL, "die"},
	{NULL, NULL, 0, NULL, NULL, NULL}
};

/* Fence languages that name a program other than themselves. */
static const char *const lang_alias[][2] = {
	{"python", "python3"}, {"py", "python3"}, {"python3", "python3"}, {"javascript", "node"}, {"js", "node"},
	{"node", "node"}, {"ruby", "ruby"}, {"rb", "ruby"}, {"perl", "perl"}, {"pl", "perl"},
	{"zsh", "zsh"}, {"ksh", "ksh"}, {"dash", "dash"}, {"fish", "fish"}, {"bash", "bash"}, {"sh", "sh"},
	{NULL, NULL}
};

/* The words of a command, split at spaces and tabs (no quoting). */
static size_t words(const char *command, char ***out)
{
	char **w = NULL;
	size_t n = 0;
	const char *p = command;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		const char *s = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		w = rb_xrealloc(w, (n + 2) * sizeof *w);
		w[n++] = rb_xstrndup(s, (size_t)(p - s));
		w[n] = NULL;
	}
	*out = w;
	return n;
}

static void free_words(char **w)
{
	for (size_t i = 0; w && w[i]; i++)
		free(w[i]);
	free(w);
}

/* Index of the program among the words: after a leading env. */
static size_t program_at(char **w, size_t n)
{
	const char *base = n ? strrchr(w[0], '/') : NULL;
	base = base ? base + 1 : n ? w[0] : "";
	return n > 1 && !strcmp(base, "env") ? 1 : 0;
}

char *rb_interp_program(const char *command)
{
	char **w = NULL;
	size_t n = words(command ? command : "", &w);
	char *p = rb_xstrdup(n ? w[program_at(w, n)] : "");
	free_words(w);
	return p;
}

static const rb_interp *by_name(const char *name)
{
	for (const rb_interp *i = rb_interps; i->name; i++)
		if (!strcmp(i->name, name))
			return i;
	return NULL;
}

const rb_interp *rb_interp_find(const char *command)
{
	char *prog = rb_interp_program(command);
	const char *base = strrchr(prog, '/');
	base = base ? base + 1 : prog;
	const rb_interp *found = by_name(base);
	if (!found) {
		/* python3.12, python: the python3 row; node18: node. */
		char *stem = rb_xstrdup(base);
		size_t k = strlen(stem);
		while (k && (isdigit((unsigned char)stem[k - 1]) || stem[k - 1] == '.'))
			stem[--k] = '\0';
		found = by_name(stem);
		if (!found && !strcmp(stem, "python"))
			found = by_name("python3");
		free(stem);
	}
	free(prog);
	return found;
}

const char *rb_interp_for_lang(const char *lang)
{
	for (size_t i = 0; lang_alias[i][0]; i++)
		if (!strcasecmp(lang_alias[i][0], lang))
			return lang_alias[i][1];
	return NULL;
}

const char *rb_step_interpreter(const rb_runbook *rb, const rb_step *s)
{
	if (s->interpreter)
		return s->interpreter;
	return rb->fm.shell ? rb->fm.shell : "bash";
}

char **rb_interp_argv(const char *command, const char *script, const char *label)
{
	const rb_interp *in = rb_interp_find(command);
	char **w = NULL, **argv = NULL;
	size_t n = words(command, &w), k = 0, at = program_at(w, n);
	if (!in || !n)
		goto done;
	argv = rb_xcalloc(n + 8, sizeof *argv);
	for (size_t i = at; i < n; i++)
		argv[k++] = rb_xstrdup(w[i]);
	for (const char *const *f = in->flags; *f; f++)
		argv[k++] = rb_xstrdup(*f);
	argv[k++] = rb_xstrdup(script);
	argv[k++] = rb_xstrdup(label ? label : "runbook");
	argv[k] = NULL;
done:
	free_words(w);
	return argv;
}

void rb_interp_argv_free(char **argv)
{
	free_words(argv);
}

int rb_interp_installed(const char *command)
{
	char *prog = rb_interp_program(command);
	char *where = rb_process_which(prog);
	int found = where != NULL;
	free(prog);
	free(where);
	return found;
}

int rb_interp_check_runbook(const rb_runbook *rb, rb_error *err)
{
	int rc = 0;
	for (size_t i = 0; i < rb->nsteps && !rc; i++) {
		const rb_step *s = &rb->steps[i];
		if (s->kind != RB_STEP_SHELL || !rb_step_runnable(s) || s->role == RB_ROLE_MANUAL)
			continue;
		const char *cmd = rb_step_interpreter(rb, s);
		if (!rb_interp_installed(cmd)) {
			char *prog = rb_interp_program(cmd);
			rc = rb_error_set(err, RB_EXIT_ENV, rb->path, s->line, s->col,
					  "step '%s' needs the interpreter '%s', which is not installed (not found on PATH)",
					  s->id, prog);
			free(prog);
		}
	}
	return rc;
}
