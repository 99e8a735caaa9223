/*
 * shellscan.c - variables and placeholders of a shell script; see
 * shellscan.h. One pass over the characters finds the uses, the
 * placeholders and the words of each simple command; a second pass over
 * the words finds the assignments.
 */
#include "shellscan.h"
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
	char *text;
	size_t cmd;              /* index of the simple command it belongs to */
	int line, col;           /* where it starts */
	int plain;               /* no quote, expansion or escape in it */
	int redir;               /* the target of a redirection (> file, 2>&1's 1), not an argument */
	size_t start, end;       /* its offset, and the offset just after it */
} word;

typedef struct {
	const char *s;
	size_t i, n;
	int line, col;           /* of s[i] */
	char quote;              /* '\'', '"', '$' ($'...'), 0 */
	char **docs;             /* here-documents waiting: delimiters */
	int *expand;             /* 1: unquoted delimiter, expansions happen in the body */
	size_t ndocs;
	word *words;
	size_t nwords;
	size_t cmd;
	rb_buf cur;              /* the word being read */
	int in_word;
	int wline, wcol;         /* where it started */
	int wplain;              /* nothing but plain characters in it so far */
	int wredir;              /* it follows a redirection operator */
	size_t wstart;
	int after_redir;         /* the last token was <, > or >& / &>: the next word is its target */
	rb_shell_scan *out;
} lexer;

static int is_name_start(int c) { return isalpha(c) || c == '_'; }
static int is_name(int c) { return isalnum(c) || c == '_'; }

static void add_ref(rb_shell_ref **list, size_t *n, const char *text, size_t len, int line, int col)
{
	*list = rb_xrealloc(*list, (*n + 1) * sizeof **list);
	(*list)[*n].text = rb_xstrndup(text, len);
	(*list)[*n].line = line;
	(*list)[(*n)++].col = col;
}

static void end_word(lexer *x)
{
	if (!x->in_word)
		return;
	x->words = rb_xrealloc(x->words, (x->nwords + 1) * sizeof *x->words);
	x->words[x->nwords].text = rb_buf_detach(&x->cur);
	x->words[x->nwords].line = x->wline;
	x->words[x->nwords].col = x->wcol;
	x->words[x->nwords].plain = x->wplain;
	x->words[x->nwords].redir = x->wredir;
	x->words[x->nwords].start = x->wstart;
	x->words[x->nwords].end = x->i;
	x->words[x->nwords++].cmd = x->cmd;
	x->in_word = 0;
}

/* "-z "$X"", "-n $X": the script tests whether the variable is set. */
static int tested(const lexer *x, size_t at)
{
	size_t k = at;
	while (k > 0 && (x->s[k - 1] == '"' || x->s[k - 1] == ' '))
		k--;
	return k >= 2 && x->s[k - 2] == '-' && (x->s[k - 1] == 'z' || x->s[k - 1] == 'n');
}

/* $NAME or ${NAME...} at x->i ('$'): a use unless it has a default or is tested. Returns bytes taken. */
static size_t dollar(lexer *x)
{
	const char *p = x->s + x->i;
	size_t k = 1;
	int brace = p[1] == '{';
	if (brace)
		k++;
	if (brace && (p[k] == '#' || p[k] == '!'))
		return k; /* ${#X} (a length, to test it) and ${!X} (indirection) are not plain uses */
	if (!is_name_start((unsigned char)p[k]))
		return 1;
	size_t start = k;
	while (is_name((unsigned char)p[k]))
		k++;
	int guarded = brace && (strchr("-=?+", p[k]) || (p[k] == ':' && p[k + 1] && strchr("-=?+", p[k + 1])));
	if (!guarded && !tested(x, x->i))
		add_ref(&x->out->uses, &x->out->nuses, p + start, k - start, x->line, x->col + (int)start);
	if (brace && guarded && (p[k] == '=' || p[k + 1] == '=')) {
		x->out->assigned = rb_xrealloc(x->out->assigned, (x->out->nassigned + 1) * sizeof *x->out->assigned);
		x->out->assigned[x->out->nassigned++] = rb_xstrndup(p + start, k - start);
	}
	return k;
}

/* <value of ...>, <pod-name>, YOUR_TOKEN, CHANGEME at x->i: a placeholder. Returns bytes taken, 0: none. */
static size_t placeholder(lexer *x, int strict)
{
	const char *p = x->s + x->i;
	size_t k = 0;
	if (p[0] == '<' && (x->i == 0 || p[-1] != '<') && is_name_start((unsigned char)p[1])) {
		int space = 0, marked = 0;
		for (k = 1; p[k] && p[k] != '>' && p[k] != '<' && p[k] != '\n' && k < 100; k++) {
			space |= p[k] == ' ';
			marked |= isupper((unsigned char)p[k]) || p[k] == '-' || p[k] == '_';
			if (!space && !is_name((unsigned char)p[k]) && !strchr("-._", p[k]))
				break;
		}
		if (p[k] != '>' || p[k - 1] == ' ' || (!space && strict && !marked))
			return 0;
		k++;
	} else if (!strncmp(p, "YOUR_", 5) && (x->i == 0 || !is_name((unsigned char)p[-1])) &&
		   (isupper((unsigned char)p[5]) || isdigit((unsigned char)p[5]))) {
		for (k = 5; is_name((unsigned char)p[k]); k++)
			;
	} else if ((x->i == 0 || !is_name((unsigned char)p[-1])) &&
		   (!strncasecmp(p, "changeme", 8) || !strncasecmp(p, "change_me", 9))) {
		k = p[6] == '_' ? 9 : 8;
		if (is_name((unsigned char)p[k]))
			return 0;
	}
	if (k)
		add_ref(&x->out->placeholders, &x->out->nplaceholders, p, k, x->line, x->col);
	return k;
}

/* A here-document operator at x->i ("<<"): its delimiter is queued. Returns bytes taken. */
static size_t heredoc(lexer *x)
{
	const char *p = x->s + x->i;
	size_t k = 2 + (p[2] == '-');
	rb_buf w = RB_BUF_INIT;
	int quoted = 0;
	while (p[k] == ' ' || p[k] == '\t')
		k++;
	for (char q = 0; p[k] && p[k] != '\n' && (q || !strchr(" \t;|&<>()", p[k])); k++) {
		if (q && p[k] == q)
			q = 0;
		else if (!q && (p[k] == '\'' || p[k] == '"' || p[k] == '\\'))
			q = p[k] == '\\' ? 0 : p[k], quoted = 1;
		else
			rb_buf_putc(&w, p[k]);
	}
	if (w.len) {
		x->docs = rb_xrealloc(x->docs, (x->ndocs + 1) * sizeof *x->docs);
		x->expand = rb_xrealloc(x->expand, (x->ndocs + 1) * sizeof *x->expand);
		x->expand[x->ndocs] = !quoted;
		x->docs[x->ndocs++] = rb_buf_detach(&w);
	}
	rb_buf_free(&w);
	return k;
}

static void advance(lexer *x, size_t k)
{
	for (; k && x->i < x->n; k--, x->i++) {
		if (x->s[x->i] == '\n') {
			x->line++;
			x->col = 1;
		} else {
			x->col++;
		}
	}
}

/* The bodies of the here-documents opened on the line just ended: uses (unquoted delimiter) and placeholders. */
static void heredoc_bodies(lexer *x)
{
	for (size_t d = 0; d < x->ndocs; d++) {
		while (x->i < x->n) {
			const char *p = x->s + x->i;
			size_t len = strcspn(p, "\n"), t = 0;
			while (t < len && p[t] == '\t')
				t++;
			int end = len - t == strlen(x->docs[d]) && !strncmp(p + t, x->docs[d], len - t);
			size_t stop = x->i + len;
			while (!end && x->i < stop) {
				size_t k = x->expand[d] && x->s[x->i] == '$' ? dollar(x) : placeholder(x, 1);
				advance(x, k ? k : 1);
			}
			advance(x, end ? len + 1 : 1);
			if (end)
				break;
		}
		free(x->docs[d]);
	}
	x->ndocs = 0;
}

/* One character (or construct) outside any here-document body. */
static void step(lexer *x)
{
	char c = x->s[x->i];
	size_t k = 0;
	int was = x->in_word, line = x->line, col = x->col, quoted = x->quote != 0;
	if (x->quote == '\'') {
		x->quote = c == '\'' ? 0 : x->quote;
		k = x->quote ? placeholder(x, 1) : 0;
	} else if (x->quote) {
		if (c == '\\')
			k = 2;
		else if (c == (x->quote == '$' ? '\'' : '"'))
			x->quote = 0;
		else if (c == '$' && x->quote == '"')
			k = dollar(x);
		else
			k = placeholder(x, 1);
		if (x->quote && k == 0 && c != '\\')
			rb_buf_putc(&x->cur, c);
	} else if (c == '#' && !x->in_word) {
		k = strcspn(x->s + x->i, "\n");
	} else if (c == '\\') {
		k = 2;
		if (x->s[x->i + 1] != '\n') {
			rb_buf_putc(&x->cur, x->s[x->i + 1]);
			x->in_word = 1;
		}
	} else if (c == '\'' || c == '"' || (c == '$' && x->s[x->i + 1] == '\'')) {
		x->quote = c;
		x->in_word = 1;
		k = c == '$' ? 2 : 1;
	} else if (c == '$') {
		x->in_word = 1;
		k = dollar(x);
	} else if (c == '<' && x->s[x->i + 1] == '<' && x->s[x->i + 2] != '<') {
		end_word(x);
		k = heredoc(x);
	} else if ((k = placeholder(x, 0)) != 0) {
		x->in_word = 1;
	} else if (c == '(' && x->in_word && x->i && x->s[x->i - 1] == '=') {
		/* NAME=(a b c): an array assigned, its elements part of the word. */
		k = strcspn(x->s + x->i, ")");
		k += x->s[x->i + k] == ')';
		rb_buf_add(&x->cur, x->s + x->i, k);
		x->wplain = 0;
	} else if (isspace((unsigned char)c) || strchr(";&|()<>{}`", c)) {
		int redirect = c == '<' || c == '>' ||
			       (c == '&' && ((x->i && x->s[x->i - 1] == '>') || x->s[x->i + 1] == '>'));
		end_word(x);
		if (redirect)
			x->after_redir = 1; /* its target belongs to its command: no new command */
		else if (c != ' ' && c != '\t')
			x->cmd++;
	} else {
		rb_buf_putc(&x->cur, c);
		x->in_word = 1;
	}
	if (!was && x->in_word) {
		x->wline = line;
		x->wcol = col;
		x->wplain = 1;
		x->wredir = x->after_redir;
		x->after_redir = 0;
		x->wstart = x->i;
	}
	if (x->in_word && (quoted || x->quote || c == '\\' || c == '$' || c == '`'))
		x->wplain = 0;
	int newline = x->s[x->i] == '\n' && !x->quote;
	advance(x, k ? k : 1);
	if (newline && x->ndocs)
		heredoc_bodies(x);
}

static void assign(rb_shell_scan *s, const char *name, size_t len)
{
	s->assigned = rb_xrealloc(s->assigned, (s->nassigned + 1) * sizeof *s->assigned);
	s->assigned[s->nassigned++] = rb_xstrndup(name, len);
}

/* NAME=..., read/for/select/printf -v/declare-like NAME: assignments, from the words of each command. */
static void assignments(lexer *x)
{
	static const char *const declarers[] = {"export", "local", "declare", "typeset", "readonly", "read",
						"mapfile", "readarray", "unset", NULL};
	for (size_t i = 0; i < x->nwords; i++) {
		const char *w = x->words[i].text;
		size_t n = 0;
		while (is_name((unsigned char)w[n]))
			n++;
		if (n && is_name_start((unsigned char)w[0]) && (w[n] == '=' || (w[n] == '+' && w[n + 1] == '=')))
			assign(x->out, w, n);
		int first = i == 0 || x->words[i - 1].cmd != x->words[i].cmd;
		int decl = 0;
		for (const char *const *d = declarers; first && *d; d++)
			decl |= !strcmp(w, *d);
		if (first && (!strcmp(w, "for") || !strcmp(w, "select")) && i + 1 < x->nwords)
			assign(x->out, x->words[i + 1].text, strlen(x->words[i + 1].text));
		if (first && !strcmp(w, "printf") && i + 2 < x->nwords && !strcmp(x->words[i + 1].text, "-v"))
			assign(x->out, x->words[i + 2].text, strlen(x->words[i + 2].text));
		for (size_t k = i + 1; decl && k < x->nwords && x->words[k].cmd == x->words[i].cmd; k++) {
			const char *a = x->words[k].text;
			if (a[0] == '-' && strchr("ptdnNui", a[1]) && a[2] == '\0' && !strcmp(w, "read"))
				k++; /* read -p PROMPT, -t SECONDS, ...: an option's argument */
			else if (is_name_start((unsigned char)a[0]))
				assign(x->out, a, strcspn(a, "=+"));
		}
	}
}

/* 1 when the script defines a function called name (name() or function name). */
static int defines(const char *script, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = strstr(script, name); p; p = strstr(p + 1, name)) {
		int start = p == script || !is_name((unsigned char)p[-1]);
		const char *q = p + n;
		while (*q == ' ' || *q == '\t')
			q++;
		if (start && *q == '(' && q[1] == ')')
			return 1;
		if (start && p - script >= 9 && !strncmp(p - 9, "function ", 9))
			return 1;
	}
	return 0;
}

/*
 * When the word at start..end is a case pattern (a|b) or a) follows it, and
 * it does not follow &&, ||, | or (: then it ends a subshell, (cd x && make)),
 * the offset just past the pattern's ')'; else 0.
 */
static size_t pattern(const char *script, size_t start, size_t end)
{
	size_t b = start;
	while (b > 0 && (script[b - 1] == ' ' || script[b - 1] == '\t'))
		b--;
	if (b > 0 && (strchr("&|(", script[b - 1]) || (script[b - 1] == ';' && (b < 2 || script[b - 2] != ';'))))
		return 0;
	const char *p = script + end;
	for (;;) {
		p += strspn(p, " \t");
		if (*p == ')')
			return (size_t)(p - script) + 1;
		if (*p != '|' || p[1] == '|')
			return 0;
		p++;
		p += strspn(p, " \t");
		p += strcspn(p, " \t\n;&|()");
	}
}

/* The command word of each simple command: past its assignments and the reserved words before it. */
static void commands(lexer *x, const char *script)
{
	static const char *const lead[] = {"then", "else", "elif", "do", "!", "{", "time", "if", "while", "until",
					   "}", "exec", "command", "nohup", "sudo", "env", NULL};
	static const char *const skip[] = {"for", "select", "case", "function", "in", "esac", "fi", "done", "[[", "]]",
					   "((", NULL};
	size_t pattern_end = 0; /* the words before it are a case pattern's alternatives (a|b|c) */
	for (size_t i = 0; i < x->nwords;) {
		size_t cmd = x->words[i].cmd, k = i;
		int reserved = 1;
		while (k < x->nwords && x->words[k].cmd == cmd && reserved) {
			const char *w = x->words[k].text;
			size_t n = 0;
			while (is_name((unsigned char)w[n]))
				n++;
			int assignment = n && is_name_start((unsigned char)w[0]) && (w[n] == '=' || (w[n] == '+' && w[n + 1] == '='));
			reserved = assignment;
			for (const char *const *l = lead; !reserved && *l; l++)
				reserved = !strcmp(w, *l);
			if (reserved)
				k++;
		}
		while (k < x->nwords && x->words[k].cmd == cmd && x->words[k].redir)
			k++; /* > out.log cmd: the redirection may come first */
		if (k < x->nwords && x->words[k].cmd == cmd) {
			const word *w = &x->words[k];
			int skipped = !w->plain || !*w->text || strchr(w->text, '/') || strchr(w->text, '=') ||
				      w->text[0] == '-' || isdigit((unsigned char)w->text[0]);
			for (const char *const *sk = skip; !skipped && *sk; sk++)
				skipped = !strcmp(w->text, *sk);
			size_t pe = skipped || w->start < pattern_end ? 0 : pattern(script, w->start, w->end);
			if (pe)
				pattern_end = pe;
			if (!skipped && w->start >= pattern_end && !defines(script, w->text))
				add_ref(&x->out->commands, &x->out->ncommands, w->text, strlen(w->text), w->line, w->col);
		}
		while (i < x->nwords && x->words[i].cmd == cmd)
			i++;
	}
}

void rb_shell_scan_text(const char *script, rb_shell_scan *out)
{
	lexer x;
	memset(out, 0, sizeof *out);
	memset(&x, 0, sizeof x);
	x.s = script;
	x.n = strlen(script);
	x.line = x.col = 1;
	x.out = out;
	while (x.i < x.n)
		step(&x);
	end_word(&x);
	assignments(&x);
	commands(&x, script);
	for (size_t i = 0; i < x.nwords; i++)
		free(x.words[i].text);
	for (size_t d = 0; d < x.ndocs; d++)
		free(x.docs[d]);
	free(x.words);
	free(x.docs);
	free(x.expand);
	rb_buf_free(&x.cur);
}

int rb_shell_scan_assigns(const rb_shell_scan *s, const char *name)
{
	for (size_t i = 0; i < s->nassigned; i++)
		if (!strcmp(s->assigned[i], name))
			return 1;
	return 0;
}

int rb_shell_command_standard(const char *name)
{
	/* bash's builtins and keywords-as-commands, then POSIX's utilities and what every Debian system has. */
	static const char *const known[] = {
		":", ".", "[", "alias", "bg", "bind", "break", "builtin", "caller", "cd", "command", "compgen",
		"complete", "continue", "declare", "dirs", "disown", "echo", "enable", "eval", "exec", "exit",
		"export", "false", "fc", "fg", "getopts", "hash", "help", "history", "jobs", "kill", "let", "local",
		"logout", "mapfile", "popd", "printf", "pushd", "pwd", "read", "readarray", "readonly", "return",
		"set", "shift", "shopt", "source", "suspend", "test", "times", "trap", "true", "type", "typeset",
		"ulimit", "umask", "unalias", "unset", "wait",
		"awk", "basename", "bash", "bc", "cat", "chgrp", "chmod", "chown", "cksum", "cmp", "comm", "cp",
		"csplit", "cut", "date", "dd", "df", "diff", "dirname", "du", "env", "expand", "expr", "file",
		"find", "fold", "getconf", "grep", "egrep", "fgrep", "gunzip", "gzip", "head", "hostname", "iconv",
		"id", "install", "join", "ln", "logger", "logname", "ls", "md5sum", "mkdir", "mkfifo", "mktemp",
		"mv", "nice", "nl", "nohup", "nproc", "od", "paste", "patch", "pgrep", "pkill", "printenv", "ps",
		"readlink", "realpath", "rm", "rmdir", "sed", "seq", "sh", "dash", "sha1sum", "sha256sum",
		"sha512sum", "base64", "shuf", "sleep", "sort", "split", "stat", "stty", "sum", "sync", "tac",
		"tail", "tar", "tee", "timeout", "touch", "tr", "truncate", "tsort", "tty", "uname", "unexpand",
		"uniq", "wc", "which", "whoami", "xargs", "yes", "zcat", "flock", "getent", "groups", "users",
		"uptime", "free", "sh", NULL};
	for (const char *const *k = known; *k; k++)
		if (!strcmp(name, *k))
			return 1;
	return 0;
}

int rb_shell_var_standard(const char *name)
{
	static const char *const names[] = {
		"HOME", "PATH", "USER", "LOGNAME", "PWD", "OLDPWD", "SHELL", "TERM", "LANG", "TMPDIR", "HOSTNAME",
		"HOSTTYPE", "OSTYPE", "MACHTYPE", "UID", "EUID", "GROUPS", "PPID", "RANDOM", "SRANDOM", "LINENO",
		"SECONDS", "EPOCHSECONDS", "EPOCHREALTIME", "IFS", "PS1", "PS2", "PS4", "REPLY", "OPTARG", "OPTIND",
		"PIPESTATUS", "FUNCNAME", "BASHPID", "BASH", "BASH_SOURCE", "BASH_LINENO", "BASH_VERSION",
		"BASH_REMATCH", "EDITOR", "PAGER", "VISUAL", "DISPLAY", "SSH_AUTH_SOCK", "KUBECONFIG", "CI",
		"DATABASE_URL", "COLUMNS", "LINES", "TZ", "ZSH_VERSION", "ZSH_NAME", "KSH_VERSION", NULL};
	for (const char *const *n = names; *n; n++)
		if (!strcmp(*n, name))
			return 1;
	return !strncmp(name, "PG", 2) || !strncmp(name, "LC_", 3) || !strncmp(name, "XDG_", 4) ||
	       !strncmp(name, "RUNBOOK_", 8);
}

void rb_shell_scan_free(rb_shell_scan *s)
{
	for (size_t i = 0; i < s->ncommands; i++)
		free(s->commands[i].text);
	free(s->commands);
	for (size_t i = 0; i < s->nuses; i++)
		free(s->uses[i].text);
	for (size_t i = 0; i < s->nplaceholders; i++)
		free(s->placeholders[i].text);
	for (size_t i = 0; i < s->nassigned; i++)
		free(s->assigned[i]);
	free(s->uses);
	free(s->placeholders);
	free(s->assigned);
	memset(s, 0, sizeof *s);
}
