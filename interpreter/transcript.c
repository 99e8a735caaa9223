/*
 * transcript.c - prompted commands and their documented output; see
 * transcript.h. The lexer knows as much of the shell as deciding where a
 * command ends needs: quotes ('', "", $''), backslashes, comments, a trailing
 * pipe or &&, and here-document operators (<<WORD, <<-WORD, quoted words).
 */
#include "transcript.h"
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	char quote;          /* a quote left open at the end of a line: '\'', '"', '$' ($'...'), 0 */
	int continued;       /* the next line belongs to this command */
	char **docs;         /* here-document delimiters waiting, in order */
	int *strip;          /* <<-: leading tabs do not count */
	size_t ndocs, doc;   /* doc: the one being read */
	int in_doc;
} lexer;

static int is_word_end(char c)
{
	return isspace((unsigned char)c) || strchr(";|&<>()", c) != NULL;
}

/* A here-document operator at p[i] ("<<"): its delimiter is queued. Returns the index of its last byte. */
static size_t heredoc_op(lexer *x, const char *p, size_t n, size_t i)
{
	size_t j = i + 2;
	int strip = j < n && p[j] == '-';
	rb_buf w = RB_BUF_INIT;
	j += (size_t)strip;
	while (j < n && (p[j] == ' ' || p[j] == '\t'))
		j++;
	char q = 0;
	for (; j < n && (q || !is_word_end(p[j])); j++) {
		if (q && p[j] == q)
			q = 0;
		else if (!q && (p[j] == '\'' || p[j] == '"'))
			q = p[j];
		else if (!q && p[j] == '\\' && j + 1 < n)
			rb_buf_putc(&w, p[++j]);
		else
			rb_buf_putc(&w, p[j]);
	}
	if (w.len) {
		x->docs = rb_xrealloc(x->docs, (x->ndocs + 1) * sizeof *x->docs);
		x->strip = rb_xrealloc(x->strip, (x->ndocs + 1) * sizeof *x->strip);
		x->strip[x->ndocs] = strip;
		x->docs[x->ndocs++] = rb_buf_detach(&w);
	}
	rb_buf_free(&w);
	return j > i + 2 ? j - 1 : i + 1;
}

/* Scans one line of a command: quotes, comments, here-documents, and whether the next line continues it. */
static void scan(lexer *x, const char *p, size_t n)
{
	int backslash_end = 0;
	long last = -1; /* the last byte that is code, outside quotes and comments */
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (x->quote == '\'') {
			x->quote = c == '\'' ? 0 : x->quote;
			continue;
		}
		if (x->quote) { /* "..." and $'...': a backslash escapes the next byte */
			if (c == '\\') {
				backslash_end = i + 1 == n;
				i++;
			} else if (c == (x->quote == '$' ? '\'' : '"')) {
				x->quote = 0;
				last = (long)i;
			}
			continue;
		}
		if (c == '\\') {
			if (i + 1 == n) {
				backslash_end = 1;
				break;
			}
			last = (long)++i;
		} else if (c == '\'' || c == '"') {
			x->quote = c;
		} else if (c == '$' && i + 1 < n && p[i + 1] == '\'') {
			x->quote = '$';
			i++;
		} else if (c == '#' && (i == 0 || isspace((unsigned char)p[i - 1]) || strchr(";&|(", p[i - 1]))) {
			break;
		} else if (c == '<' && i + 1 < n && p[i + 1] == '<' && !(i + 2 < n && p[i + 2] == '<')) {
			i = heredoc_op(x, p, n, i);
			last = (long)i;
		} else if (!isspace((unsigned char)c)) {
			last = (long)i;
		}
	}
	x->continued = backslash_end || x->quote ||
		       (last >= 0 && (p[last] == '|' || (p[last] == '&' && last > 0 && p[last - 1] == '&')));
}

/* Inside a here-document: 1 when this line is its delimiter (the next one, if any, starts). */
static void heredoc_line(lexer *x, const char *p, size_t n)
{
	if (x->strip[x->doc])
		while (n && *p == '\t') {
			p++;
			n--;
		}
	if (n && p[n - 1] == '\r')
		n--;
	if (strlen(x->docs[x->doc]) != n || strncmp(p, x->docs[x->doc], n))
		return;
	if (++x->doc < x->ndocs)
		return;
	for (size_t k = 0; k < x->ndocs; k++)
		free(x->docs[k]);
	x->ndocs = x->doc = 0;
	x->in_doc = 0;
}

int rb_transcript_prompted(const char *body)
{
	const char *p = body;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p != '\n')
			break;
		p++;
	}
	return p[0] == '$' && (p[1] == ' ' || p[1] == '\t');
}

static int blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)p[i]))
			return 0;
	return 1;
}

/* The role of a line that starts a command (or not), outside any command. */
static void first_line(rb_transcript *t, lexer *x, rb_tline *l, const char *body, int prompted)
{
	const char *p = body + l->start;
	size_t indent = 0;
	while (indent < l->len && (p[indent] == ' ' || p[indent] == '\t'))
		indent++;
	int prompt = indent < l->len && p[indent] == '$' &&
		     (indent + 1 == l->len || p[indent + 1] == ' ' || p[indent + 1] == '\t');
	if (blank(p, l->len) || (prompted && prompt && blank(p + indent + 1, l->len - indent - 1))) {
		l->role = RB_TLINE_BLANK;
		return;
	}
	if (prompted && !prompt) {
		l->role = RB_TLINE_OUTPUT;
		return;
	}
	l->role = RB_TLINE_COMMAND;
	t->ncommands++;
	if (prompted)
		l->text = l->start + indent + 2;
	size_t off = l->text - l->start;
	size_t k = off;
	while (k < l->len && (p[k] == ' ' || p[k] == '\t'))
		k++;
	/* "$ " that is not a prompt here would run a command named "$". */
	if (!t->stray_line && ((!prompted && prompt) || (prompted && k + 1 < l->len && p[k] == '$' &&
							    (p[k + 1] == ' ' || p[k + 1] == '\t')))) {
		t->stray_line = (int)(t->nlines + 1);
		t->stray_col = (int)(prompted ? k : indent) + 1;
	}
	scan(x, p + off, l->len - off);
}

/* The prompted block's script and documented output, line for line. */
static void build(rb_transcript *t, const char *body)
{
	rb_buf s = RB_BUF_INIT, o = RB_BUF_INIT;
	for (size_t i = 0; i < t->nlines; i++) {
		const rb_tline *l = &t->lines[i];
		if (l->role == RB_TLINE_COMMAND) {
			for (size_t k = l->start; k < l->text; k++)
				rb_buf_putc(&s, ' ');
			rb_buf_add(&s, body + l->text, l->len - (l->text - l->start));
		} else if (l->role == RB_TLINE_CONTINUED) {
			rb_buf_add(&s, body + l->start, l->len);
		} else if (l->role == RB_TLINE_OUTPUT) {
			rb_buf_add(&o, body + l->start, l->len);
			rb_buf_putc(&o, '\n');
		}
		rb_buf_putc(&s, '\n');
	}
	t->script = rb_buf_detach(&s);
	t->output = rb_buf_detach(&o);
}

void rb_transcript_read(const char *body, int prompted, rb_transcript *t)
{
	lexer x;
	size_t cap = 0, pos = 0, n = strlen(body);
	memset(t, 0, sizeof *t);
	memset(&x, 0, sizeof x);
	while (pos < n) {
		const char *nl = memchr(body + pos, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - (body + pos)) : n - pos;
		if (t->nlines == cap) {
			cap = cap ? cap * 2 : 16;
			t->lines = rb_xrealloc(t->lines, cap * sizeof *t->lines);
		}
		rb_tline *l = &t->lines[t->nlines];
		l->start = l->text = pos;
		l->len = len;
		if (x.in_doc) {
			l->role = RB_TLINE_CONTINUED;
			heredoc_line(&x, body + pos, len);
		} else if (x.continued) {
			l->role = RB_TLINE_CONTINUED;
			scan(&x, body + pos, len);
		} else {
			first_line(t, &x, l, body, prompted);
		}
		if (!x.in_doc && !x.continued && x.ndocs)
			x.in_doc = 1;
		t->nlines++;
		pos += len + (nl ? 1 : 0);
	}
	for (size_t k = 0; k < x.ndocs; k++)
		free(x.docs[k]);
	free(x.docs);
	free(x.strip);
	if (prompted)
		build(t, body);
}

void rb_transcript_free(rb_transcript *t)
{
	if (!t)
		return;
	free(t->lines);
	free(t->script);
	free(t->output);
	memset(t, 0, sizeof *t);
}
