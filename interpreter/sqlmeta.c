/*
 * sqlmeta.c - psql's meta-command arguments, booleans and \if stack
 * (sqlmeta.h), so that the run and check read them the same way.
 */
#include "sqlmeta.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int rb_sqlmeta_bool(const char *value, int *result)
{
	size_t len = strlen(value);
	int rc = 0;
	if (len > 0 && !strncasecmp(value, "true", len))
		*result = 1;
	else if (len > 0 && !strncasecmp(value, "false", len))
		*result = 0;
	else if (len > 0 && !strncasecmp(value, "yes", len))
		*result = 1;
	else if (len > 0 && !strncasecmp(value, "no", len))
		*result = 0;
	else if (!strncasecmp(value, "on", len > 2 ? len : 2))   /* "o" is not unique */
		*result = 1;
	else if (!strncasecmp(value, "off", len > 2 ? len : 2))
		*result = 0;
	else if (!strcmp(value, "1"))
		*result = 1;
	else if (!strcmp(value, "0"))
		*result = 0;
	else
		rc = -1;
	return rc;
}

static int name_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
	       c >= 0x80;
}

/* The value quoted as PQescapeLiteral or PQescapeIdentifier writes it. */
static void put_quoted(rb_buf *b, const char *v, char q)
{
	int esc = q == '\'' && strchr(v, '\\') != NULL;
	if (esc)
		rb_buf_puts(b, " E");
	rb_buf_putc(b, q);
	for (; *v; v++) {
		if (*v == q || (esc && *v == '\\'))
			rb_buf_putc(b, *v);
		rb_buf_putc(b, *v);
	}
	rb_buf_putc(b, q);
}

/* A variable reference at s[i] (a ':'); its length, or 0 when it is none. Appends its value. */
static size_t put_var(const char *s, size_t i, rb_sql_lookup lookup, void *ctx, rb_buf *b, char **error)
{
	size_t j = i + 1, k;
	char form = 0, close = 0;
	if (s[j] == '\'' || s[j] == '"') {
		form = close = s[j++];
	} else if (s[j] == '{' && s[j + 1] == '?') {
		form = '?';
		close = '}';
		j += 2;
	}
	for (k = j; name_char((unsigned char)s[k]); k++)
		;
	if (k == j || (close && s[k] != close) || (!close && s[j] >= '0' && s[j] <= '9'))
		return 0;
	char *name = rb_xstrndup(s + j, k - j);
	const char *v = lookup ? lookup(ctx, name) : NULL;
	size_t used = k + (close ? 1 : 0) - i;
	if (!lookup)
		rb_buf_add(b, s + i, used);
	else if (form == '?')
		rb_buf_puts(b, v ? "TRUE" : "FALSE");
	else if (!v)
		*error = rb_xasprintf("undefined variable :%s", name);
	else if (form)
		put_quoted(b, v, form);
	else
		rb_buf_puts(b, v);
	free(name);
	return used;
}

/* An escape after a backslash at s[i] inside 'quotes': appends it, returns its length. */
static size_t put_escape(const char *s, size_t i, rb_buf *b)
{
	static const char from[] = "ntbrf", to[] = "\n\t\b\r\f";
	const char *e = strchr(from, s[i + 1]);
	size_t n = 2;
	if (s[i + 1] && e) {
		rb_buf_putc(b, to[e - from]);
	} else if (s[i + 1] >= '0' && s[i + 1] <= '7') {
		int v = 0;
		for (n = 1; n < 4 && s[i + n] >= '0' && s[i + n] <= '7'; n++)
			v = v * 8 + (s[i + n] - '0');
		rb_buf_putc(b, (char)v);
	} else if (s[i + 1] == 'x' && strchr("0123456789abcdefABCDEF", s[i + 2]) && s[i + 2]) {
		int v = 0;
		for (n = 2; n < 4 && s[i + n] && strchr("0123456789abcdefABCDEF", s[i + n]); n++)
			v = v * 16 + (s[i + n] <= '9' ? s[i + n] - '0' : (s[i + n] | 0x20) - 'a' + 10);
		rb_buf_putc(b, (char)v);
	} else if (s[i + 1]) {
		rb_buf_putc(b, s[i + 1]);
	} else {
		n = 1;
	}
	return n;
}

/* One word from s[*i]; 0, or -1 with *error set. */
static int read_word(const char *s, size_t *i, rb_sql_lookup lookup, void *ctx, rb_buf *b, char **error)
{
	size_t k = *i;
	while (s[k] && s[k] != ' ' && s[k] != '\t' && s[k] != '\n' && s[k] != '\r' && !*error) {
		if (s[k] == '\'') {
			for (k++; s[k] && !(s[k] == '\'' && s[k + 1] != '\'');) {
				if (s[k] == '\'') {
					rb_buf_putc(b, '\'');
					k += 2;
				} else if (s[k] == '\\') {
					k += put_escape(s, k, b);
				} else {
					rb_buf_putc(b, s[k++]);
				}
			}
			k += s[k] ? 1 : 0;
		} else if (s[k] == '"') {
			size_t e = k + 1;
			while (s[e] && s[e] != '"')
				e++;
			e += s[e] ? 1 : 0;
			rb_buf_add(b, s + k, e - k);
			k = e;
		} else if (s[k] == '`') {
			*error = rb_xstrdup("`command` substitution is not supported in a sql step");
		} else if (s[k] == ':' && s[k + 1] == ':') {
			rb_buf_add(b, s + k, 2); /* a cast, as in SQL */
			k += 2;
		} else if (s[k] == ':') {
			size_t used = put_var(s, k, lookup, ctx, b, error);
			if (!used)
				rb_buf_putc(b, s[k]);
			k += used ? used : 1;
		} else {
			rb_buf_putc(b, s[k++]);
		}
	}
	if (!*error)
		*i = k;
	return *error ? -1 : 0;
}

int rb_sqlmeta_words(const char *args, rb_sql_lookup lookup, void *ctx, rb_sqlmeta_argv *out,
		     char **error, size_t *errpos)
{
	int rc = -1;
	size_t i = 0, cap = 0;
	memset(out, 0, sizeof *out);
	*error = NULL;
	*errpos = 0;
	for (;;) {
		rb_buf b = RB_BUF_INIT;
		while (args[i] == ' ' || args[i] == '\t' || args[i] == '\n' || args[i] == '\r')
			i++;
		if (!args[i])
			break;
		size_t start = i;
		if (read_word(args, &i, lookup, ctx, &b, error) < 0) {
			*errpos = start;
			rb_buf_free(&b);
			goto done;
		}
		if (out->n + 1 >= cap) {
			cap = cap ? cap * 2 : 4;
			out->v = rb_xrealloc(out->v, cap * sizeof *out->v);
		}
		out->v[out->n++] = b.data ? rb_buf_detach(&b) : rb_xstrdup("");
		out->v[out->n] = NULL;
	}
	rc = 0;
done:
	if (rc < 0)
		rb_sqlmeta_argv_free(out);
	return rc;
}

void rb_sqlmeta_argv_free(rb_sqlmeta_argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	memset(a, 0, sizeof *a);
}

char *rb_sqlmeta_echo(const rb_sqlmeta_argv *a)
{
	rb_buf b = RB_BUF_INIT;
	size_t i = 0;
	int newline = !(a->n > 0 && !strcmp(a->v[0], "-n"));
	for (i = newline ? 0 : 1; i < a->n; i++) {
		if (i > (newline ? 0u : 1u))
			rb_buf_putc(&b, ' ');
		rb_buf_puts(&b, a->v[i]);
	}
	if (newline)
		rb_buf_putc(&b, '\n');
	return b.data ? rb_buf_detach(&b) : rb_xstrdup("");
}

int rb_sqlmeta_cond_active(const rb_sqlmeta_cond *c)
{
	return c->n == 0 || c->st[c->n - 1] == RB_IF_TRUE || c->st[c->n - 1] == RB_IF_ELSE_TRUE;
}

int rb_sqlmeta_cond_evaluates(const rb_sqlmeta_cond *c, rb_sql_cmd cmd)
{
	if (cmd == RB_SQL_CMD_IF)
		return rb_sqlmeta_cond_active(c);
	return cmd == RB_SQL_CMD_ELIF && c->n > 0 && c->st[c->n - 1] == RB_IF_FALSE;
}

const char *rb_sqlmeta_cond_apply(rb_sqlmeta_cond *c, rb_sql_cmd cmd, int value)
{
	int top = c->n ? c->st[c->n - 1] : 0;
	const char *msg = NULL;
	if (cmd == RB_SQL_CMD_IF) {
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 8;
			c->st = rb_xrealloc(c->st, c->cap);
		}
		c->st[c->n++] = (unsigned char)(!rb_sqlmeta_cond_active(c) ? RB_IF_IGNORED
						: value ? RB_IF_TRUE : RB_IF_FALSE);
	} else if (cmd == RB_SQL_CMD_ENDIF) {
		if (!top)
			msg = "\\endif: no matching \\if";
		else
			c->n--;
	} else if (!top) {
		msg = cmd == RB_SQL_CMD_ELIF ? "\\elif: no matching \\if" : "\\else: no matching \\if";
	} else if (top == RB_IF_ELSE_TRUE || top == RB_IF_ELSE_FALSE) {
		msg = cmd == RB_SQL_CMD_ELIF ? "\\elif: cannot occur after \\else" : "\\else: cannot occur after \\else";
	} else if (cmd == RB_SQL_CMD_ELIF) {
		c->st[c->n - 1] = (unsigned char)(top == RB_IF_FALSE ? (value ? RB_IF_TRUE : RB_IF_FALSE) : RB_IF_IGNORED);
	} else {
		c->st[c->n - 1] = (unsigned char)(top == RB_IF_FALSE ? RB_IF_ELSE_TRUE : RB_IF_ELSE_FALSE);
	}
	return msg;
}

void rb_sqlmeta_cond_free(rb_sqlmeta_cond *c)
{
	free(c->st);
	memset(c, 0, sizeof *c);
}

/* The end of a group opened by '(' at s[i], quotes respected; at the end of s when unclosed. */
static size_t group_end(const char *s, size_t i)
{
	int depth = 0;
	for (; s[i]; i++) {
		if (s[i] == '\'' || s[i] == '"') {
			char q = s[i];
			for (i++; s[i] && s[i] != q; i++)
				;
			if (!s[i])
				break;
		} else if (s[i] == '(') {
			depth++;
		} else if (s[i] == ')' && --depth == 0) {
			return i + 1;
		}
	}
	return i;
}

/* A table name (quoted parts allowed) at s[i], and its column list if one follows. */
static size_t target_end(const char *s, size_t i)
{
	if (s[i] == '(')
		return group_end(s, i);
	while (s[i] && s[i] != ' ' && s[i] != '\t' && s[i] != '(') {
		if (s[i] == '"') {
			for (i++; s[i] && s[i] != '"'; i++)
				;
		}
		i += s[i] ? 1 : 0;
	}
	size_t k = i;
	while (s[k] == ' ' || s[k] == '\t')
		k++;
	return s[k] == '(' ? group_end(s, k) : i;
}

static size_t skip_blank(const char *s, size_t i)
{
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	return i;
}

/* The file of \copy at s[*i]: 'quoted' ('' a quote) or a word; into *file (NULL for stdin/stdout). */
static int copy_file(const char *s, size_t *i, int from, char **file, char **error)
{
	size_t k = *i;
	rb_buf b = RB_BUF_INIT;
	if (s[k] == '\'') {
		for (k++; s[k] && !(s[k] == '\'' && s[k + 1] != '\''); k++) {
			rb_buf_putc(&b, s[k]);
			k += s[k] == '\'';
		}
		if (!s[k]) {
			rb_buf_free(&b);
			*error = rb_xstrdup("\\copy: unterminated quoted file name");
			return -1;
		}
		k++;
		*file = b.data ? rb_buf_detach(&b) : rb_xstrdup("");
		*i = k;
		return 0;
	}
	while (s[k] && s[k] != ' ' && s[k] != '\t')
		k++;
	char *w = rb_xstrndup(s + *i, k - *i);
	int rc = 0;
	if (!strcasecmp(w, from ? "stdin" : "stdout")) {
		*file = NULL;
	} else if (!strcasecmp(w, "pstdin") || !strcasecmp(w, "pstdout") || !strcasecmp(w, "program")) {
		*error = rb_xasprintf("\\copy ... %s: a sql step has no standard input or output of its own "
				      "and runs no programs", w);
		rc = -1;
	} else if (!*w) {
		*error = rb_xstrdup("\\copy: parse error at end of line");
		rc = -1;
	} else {
		*file = w;
		w = NULL;
	}
	free(w);
	*i = k;
	return rc;
}

int rb_sqlmeta_copy_parse(const char *args, rb_sqlmeta_copy *out, char **error)
{
	int rc = -1;
	size_t i = skip_blank(args, 0), t0, t1, k;
	char *target = NULL;
	memset(out, 0, sizeof *out);
	*error = NULL;
	if (!args[i]) {
		*error = rb_xstrdup("\\copy: arguments required");
		goto done;
	}
	t0 = i;
	t1 = target_end(args, i);
	target = rb_xstrndup(args + t0, t1 - t0);
	i = skip_blank(args, t1);
	for (k = i; args[k] && args[k] != ' ' && args[k] != '\t'; k++)
		;
	if (k - i == 4 && !strncasecmp(args + i, "from", 4)) {
		out->from = 1;
	} else if (!(k - i == 2 && !strncasecmp(args + i, "to", 2))) {
		*error = args[i] ? rb_xasprintf("\\copy: parse error at \"%.*s\"", (int)(k - i), args + i)
				 : rb_xstrdup("\\copy: parse error at end of line");
		goto done;
	}
	i = skip_blank(args, k);
	if (copy_file(args, &i, out->from, &out->file, error) < 0)
		goto done;
	i = skip_blank(args, i);
	out->sql = rb_xasprintf("COPY %s %s%s%s", target, out->from ? "FROM STDIN" : "TO STDOUT",
				args[i] ? " " : "", args + i);
	rc = 0;
done:
	free(target);
	if (rc < 0)
		rb_sqlmeta_copy_free(out);
	return rc;
}

void rb_sqlmeta_copy_free(rb_sqlmeta_copy *c)
{
	free(c->sql);
	free(c->file);
	memset(c, 0, sizeof *c);
}

/* \x and \pset's values, as the run reads them (sqlexec.c); NULL when fine. */
static char *check_display(const rb_sql_item *it, const rb_sqlmeta_argv *a)
{
	int b;
	const char *name = it->cmd == RB_SQL_CMD_EXPANDED ? "expanded" : a->n ? a->v[0] : "";
	const char *value = it->cmd == RB_SQL_CMD_EXPANDED ? (a->n ? a->v[0] : "") : a->n > 1 ? a->v[1] : "";
	if (!strcmp(name, "expanded") || !strcmp(name, "x")) {
		if (*value && strcmp(value, "auto") && rb_sqlmeta_bool(value, &b) < 0)
			return rb_xasprintf("\\%s: unrecognized value \"%s\" for \"expanded\" (on, off or auto)",
					    it->command, value);
	} else if (!strcmp(name, "format")) {
		if (*value && strcmp(value, "aligned") && strcmp(value, "unaligned") && strcmp(value, "csv"))
			return rb_xasprintf("\\pset format %s: a sql step prints aligned, unaligned or csv", value);
	} else {
		return rb_xasprintf("\\pset %s: a sql step supports \\pset format and \\pset expanded only", name);
	}
	return NULL;
}

char *rb_sqlmeta_check(const rb_sql_item *it, rb_sqlmeta_cond *cond)
{
	rb_sqlmeta_argv a;
	rb_sqlmeta_copy cp;
	char *msg = NULL;
	size_t at;
	int b;
	if (rb_sqlmeta_words(it->args, NULL, NULL, &a, &msg, &at) < 0)
		return msg;
	if (it->cmd == RB_SQL_CMD_IF || it->cmd == RB_SQL_CMD_ELIF) {
		rb_buf e = RB_BUF_INIT;
		for (size_t i = 0; i < a.n; i++)
			rb_buf_printf(&e, "%s%s", i ? " " : "", a.v[i]);
		const char *x = e.data ? e.data : "";
		if (!strchr(x, ':') && rb_sqlmeta_bool(x, &b) < 0)
			msg = rb_xasprintf("unrecognized value \"%s\" for \"\\%s expression\": Boolean expected", x,
					   it->command);
		rb_buf_free(&e);
	}
	if (it->cmd >= RB_SQL_CMD_IF && it->cmd <= RB_SQL_CMD_ENDIF) {
		/* An \if with a bad value still opens its level, as in psql. */
		const char *m = rb_sqlmeta_cond_apply(cond, it->cmd, 0);
		msg = msg ? msg : m ? rb_xstrdup(m) : NULL;
	} else if (it->cmd == RB_SQL_CMD_EXPANDED || it->cmd == RB_SQL_CMD_PSET) {
		msg = check_display(it, &a);
	} else if (it->cmd == RB_SQL_CMD_TIMING && a.n && rb_sqlmeta_bool(a.v[0], &b) < 0) {
		msg = rb_xasprintf("\\timing: unrecognized value \"%s\" for \"timing\": Boolean expected", a.v[0]);
	} else if (it->cmd == RB_SQL_CMD_COPY && rb_sqlmeta_copy_parse(it->args, &cp, &msg) == 0) {
		rb_sqlmeta_copy_free(&cp);
	} else if (it->cmd == RB_SQL_CMD_CONNECT && a.n > 1) {
		msg = rb_xasprintf("\\%s: only a database name is supported (the same server, as the same user)",
				   it->command);
	} else if ((it->cmd == RB_SQL_CMD_SET || it->cmd == RB_SQL_CMD_UNSET) && !a.n) {
		msg = rb_xasprintf("\\%s needs a variable name", it->command);
	} else if (it->cmd == RB_SQL_CMD_GSET) {
		msg = rb_xstrdup("\\gset must end a query (write it after the query, instead of its semicolon)");
	}
	rb_sqlmeta_argv_free(&a);
	return msg;
}
