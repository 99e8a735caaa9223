/*
 * sqlsplit.c - psql-compatible statement splitting and :VAR interpolation.
 *
 * One tokenizer (next_token) serves the splitter, the statement classifier
 * and the interpolator, so they never disagree about what is a string, a
 * comment or a variable. It reads a whole quoted construct as one token and,
 * when one is not closed, says where it began. It mirrors the parts of
 * psql's lexer that decide where statements end; everything else (numbers,
 * operators) only needs to be skipped without being mistaken for those.
 */
#include "sqlsplit.h"
#include "sqlparse.h"
#include "srcmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
	TK_SPACE,
	TK_LINE_COMMENT,
	TK_BLOCK_COMMENT,
	TK_STRING,
	TK_DOLLAR,
	TK_QIDENT,
	TK_IDENT,
	TK_NUMBER,
	TK_OPEN,
	TK_CLOSE,
	TK_SEMI,
	TK_BACKSLASH,   /* starts a meta-command */
	TK_ESCAPED,     /* psql's \; and \: */
	TK_TYPECAST,
	TK_VAR,
	TK_OTHER
} tok_kind;

typedef enum { VAR_RAW, VAR_LITERAL, VAR_IDENT, VAR_TEST } var_form;

typedef struct {
	tok_kind kind;
	size_t start;
	size_t end;
	var_form form;    /* TK_VAR */
	size_t name;      /* TK_VAR: offset and length of the name */
	size_t name_len;
} token;

/* String flavours, by what a backslash and a doubled quote mean inside. */
typedef enum {
	STR_STD,   /* '' is a quote, backslash is plain */
	STR_ESC,   /* '' and \x both escape */
	STR_BIT    /* B'' and X'': no escapes, '' ends one string and starts another */
} str_mode;

typedef struct {
	const char *s;
	size_t len;
	int std_strings;
	int more;          /* more text may follow s[len) (a reader's next lines) */
} lexer;

/* Why a token could not be read. */
typedef struct {
	const char *what;   /* what is unterminated, e.g. "quoted identifier" */
	size_t start;       /* where the unterminated construct begins */
	size_t tag_len;     /* dollar quotes: length of the $tag$ at start */
} lex_error;

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static int is_newline(unsigned char c)
{
	return c == '\n' || c == '\r';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_ident_start(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80;
}

/* Also the characters of a dollar-quote tag and of a psql variable name. */
static int is_name_char(unsigned char c)
{
	return is_ident_start(c) || is_digit(c);
}

static int is_ident_cont(unsigned char c)
{
	return is_name_char(c) || c == '$';
}

static unsigned char at(const lexer *lx, size_t i)
{
	return i < lx->len ? (unsigned char)lx->s[i] : 0;
}

/*
 * SQL joins string constants separated by whitespace that contains a
 * newline ('a'\n'b' is 'ab'), and the continuation keeps the first part's
 * escaping rules. i is just past a closing quote: returns the offset of the
 * quote that continues the constant, or 0.
 */
static size_t quote_continues(const lexer *lx, size_t i)
{
	int newline = 0;
	while (i < lx->len) {
		unsigned char c = at(lx, i);
		if (c == ' ' || c == '\t' || c == '\f') {
			i++;
		} else if (is_newline(c)) {
			newline = 1;
			i++;
		} else if (c == '-' && at(lx, i + 1) == '-') {
			while (i < lx->len && !is_newline(at(lx, i)))
				i++;
			if (i == lx->len)
				return lx->more ? SIZE_MAX : 0; /* a comment here must be followed by a newline */
		} else {
			return c == '\'' && newline ? i : 0;
		}
	}
	return lx->more ? SIZE_MAX : 0; /* the next line may continue the constant */
}

/* A quoted string whose token starts at start and whose opening quote is at open. */
static int scan_string(const lexer *lx, size_t start, size_t open, str_mode mode, token *t,
		       lex_error *e)
{
	size_t i = open + 1, piece = start;
	for (;;) {
		if (i >= lx->len) {
			e->what = "quoted string";
			e->start = piece;
			return -1;
		}
		unsigned char c = at(lx, i);
		if (c == '\\' && mode == STR_ESC) {
			i += 2;
			continue;
		}
		if (c != '\'') {
			i++;
			continue;
		}
		if (mode != STR_BIT && at(lx, i + 1) == '\'') {
			i += 2;
			continue;
		}
		size_t next = quote_continues(lx, i + 1);
		if (next == SIZE_MAX) {
			e->what = "quoted string";
			e->start = piece;
			return -1;
		}
		if (!next) {
			t->kind = TK_STRING;
			t->end = i + 1;
			return 0;
		}
		piece = next;
		i = next + 1;
	}
}

static int scan_qident(const lexer *lx, size_t start, size_t open, token *t, lex_error *e)
{
	size_t i = open + 1;
	for (;;) {
		if (i >= lx->len) {
			e->what = "quoted identifier";
			e->start = start;
			return -1;
		}
		if (at(lx, i) == '"') {
			if (at(lx, i + 1) != '"')
				break;
			i++;
		}
		i++;
	}
	t->kind = TK_QIDENT;
	t->end = i + 1;
	return 0;
}

/* Block comments nest, unlike C's. */
static int scan_comment(const lexer *lx, size_t start, token *t, lex_error *e)
{
	size_t i = start + 2;
	int depth = 1;
	while (depth > 0) {
		if (i >= lx->len) {
			e->what = "/* comment";
			e->start = start;
			return -1;
		}
		if (at(lx, i) == '/' && at(lx, i + 1) == '*') {
			depth++;
			i += 2;
		} else if (at(lx, i) == '*' && at(lx, i + 1) == '/') {
			depth--;
			i += 2;
		} else {
			i++;
		}
	}
	t->kind = TK_BLOCK_COMMENT;
	t->end = i;
	return 0;
}

/* Length of the $tag$ or $$ delimiter at i, or 0 when there is none. */
static size_t dollar_tag(const lexer *lx, size_t i)
{
	size_t j = i + 1;
	if (at(lx, j) == '$')
		return 2;
	if (j >= lx->len || !is_ident_start(at(lx, j)))
		return 0;
	while (j < lx->len && is_name_char(at(lx, j)))
		j++;
	return at(lx, j) == '$' ? j + 1 - i : 0;
}

/* The body is opaque: it ends at the first copy of the opening delimiter. */
static int scan_dollar(const lexer *lx, size_t start, size_t tag_len, token *t, lex_error *e)
{
	const char *tag = lx->s + start;
	for (size_t i = start + tag_len; i + tag_len <= lx->len; i++) {
		if (lx->s[i] == '$' && memcmp(lx->s + i, tag, tag_len) == 0) {
			t->kind = TK_DOLLAR;
			t->end = i + tag_len;
			return 0;
		}
	}
	e->what = "dollar-quoted string";
	e->start = start;
	e->tag_len = tag_len;
	return -1;
}

/* :NAME, :'NAME', :"NAME" and :{?NAME} at i; 0 when the ':' starts none of them. */
static int scan_var(const lexer *lx, size_t i, token *t)
{
	size_t j = i + 1, k;
	if (j < lx->len && is_name_char(at(lx, j))) {
		for (k = j; k < lx->len && is_name_char(at(lx, k)); k++)
			;
		t->form = VAR_RAW;
		t->name = j;
		t->name_len = k - j;
		t->end = k;
		t->kind = TK_VAR;
		return 1;
	}
	if (at(lx, j) == '\'' || at(lx, j) == '"') {
		unsigned char q = at(lx, j);
		for (k = j + 1; k < lx->len && is_name_char(at(lx, k)); k++)
			;
		if (k > j + 1 && at(lx, k) == q) {
			t->form = q == '\'' ? VAR_LITERAL : VAR_IDENT;
			t->name = j + 1;
			t->name_len = k - j - 1;
			t->end = k + 1;
			t->kind = TK_VAR;
			return 1;
		}
		return 0;
	}
	if (at(lx, j) == '{' && at(lx, j + 1) == '?') {
		for (k = j + 2; k < lx->len && is_name_char(at(lx, k)); k++)
			;
		if (k > j + 2 && at(lx, k) == '}') {
			t->form = VAR_TEST;
			t->name = j + 2;
			t->name_len = k - j - 2;
			t->end = k + 1;
			t->kind = TK_VAR;
			return 1;
		}
	}
	return 0;
}

/* Reads the token at i (< lx->len). Returns 0, or -1 with e filled. */
static int next_token(const lexer *lx, size_t i, token *t, lex_error *e)
{
	unsigned char c = at(lx, i), d = at(lx, i + 1);
	str_mode plain = lx->std_strings ? STR_STD : STR_ESC;
	memset(t, 0, sizeof *t);
	t->kind = TK_OTHER;
	t->start = i;
	t->end = i + 1;

	if (is_space(c)) {
		while (t->end < lx->len && is_space(at(lx, t->end)))
			t->end++;
		t->kind = TK_SPACE;
		return 0;
	}
	if (c == '-' && d == '-') {
		while (t->end < lx->len && !is_newline(at(lx, t->end)))
			t->end++;
		t->kind = TK_LINE_COMMENT;
		return 0;
	}
	if (c == '/' && d == '*')
		return scan_comment(lx, i, t, e);
	if (c == '\'')
		return scan_string(lx, i, i, plain, t, e);
	if (d == '\'') {
		/* Prefixes only count at the start of a token: abce'x' is a word, then a string. */
		if (c == 'e' || c == 'E')
			return scan_string(lx, i, i + 1, STR_ESC, t, e);
		if (c == 'b' || c == 'B' || c == 'x' || c == 'X')
			return scan_string(lx, i, i + 1, STR_BIT, t, e);
		if (c == 'n' || c == 'N')
			return scan_string(lx, i, i + 1, plain, t, e);
	}
	if ((c == 'u' || c == 'U') && d == '&') {
		if (at(lx, i + 2) == '\'')
			return scan_string(lx, i, i + 2, STR_STD, t, e);
		if (at(lx, i + 2) == '"')
			return scan_qident(lx, i, i + 2, t, e);
		return 0; /* a lone "U" that psql does not count as an identifier */
	}
	if (c == '"')
		return scan_qident(lx, i, i, t, e);
	if (c == '$') {
		size_t tag = dollar_tag(lx, i);
		/* Else a lone '$', or a parameter such as $1 (a tag never starts with a digit). */
		return tag ? scan_dollar(lx, i, tag, t, e) : 0;
	}
	if (is_ident_start(c)) {
		while (t->end < lx->len && is_ident_cont(at(lx, t->end)))
			t->end++;
		t->kind = TK_IDENT;
		return 0;
	}
	if (is_digit(c)) {
		/* Digits glued to letters ("1end") are one token, never a keyword. */
		while (t->end < lx->len && is_digit(at(lx, t->end)))
			t->end++;
		if (is_ident_start(at(lx, t->end)))
			while (t->end < lx->len && is_ident_cont(at(lx, t->end)))
				t->end++;
		t->kind = TK_NUMBER;
		return 0;
	}
	switch (c) {
	case '(':
		t->kind = TK_OPEN;
		break;
	case ')':
		t->kind = TK_CLOSE;
		break;
	case ';':
		t->kind = TK_SEMI;
		break;
	case '\\':
		if (d == ';' || d == ':') {
			t->kind = TK_ESCAPED;
			t->end = i + 2;
		} else {
			t->kind = TK_BACKSLASH;
		}
		break;
	case ':':
		if (d == ':') {
			t->kind = TK_TYPECAST;
			t->end = i + 2;
		} else {
			scan_var(lx, i, t);
		}
		break;
	default:
		break;
	}
	return 0;
}

/* The runbook position of offset off of text, whose first byte is at line:col. */
static void locate(const char *text, size_t len, int line, int col, size_t off, int *l, int *c)
{
	rb_srcmap m;
	rb_srcmap_init(&m, text, len, line, col);
	rb_srcmap_locate(&m, off, l, c);
	rb_srcmap_free(&m);
}

/* An unterminated construct, at line:col (where it starts). */
static void report_lex_error(const lexer *lx, const lex_error *e, int line, int col, const char *file,
			     rb_error *err)
{
	if (e->tag_len)
		rb_error_set(err, RB_EXIT_USAGE, file, line, col,
			     "unterminated dollar-quoted string %.*s starting here", (int)e->tag_len,
			     lx->s + e->start);
	else
		rb_error_set(err, RB_EXIT_USAGE, file, line, col, "unterminated %s starting here",
			     e->what);
}

/* ---- classifying a statement ---- */

/* Case-insensitive (ASCII) comparison of s[0..len) with a lowercase keyword. */
static int word_is(const char *s, size_t len, const char *kw)
{
	size_t k;
	for (k = 0; k < len && kw[k]; k++) {
		char c = s[k];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != kw[k])
			return 0;
	}
	return k == len && !kw[k];
}

#define MAX_WORDS 32

/* The first significant tokens of a statement, identifiers lowercased. */
typedef struct {
	tok_kind kind[MAX_WORDS];
	char text[MAX_WORDS][32];
	size_t n;
	int last_is_concurrently;
} words;

static int is_word(const words *w, size_t k, const char *kw)
{
	return k < w->n && w->kind[k] == TK_IDENT && strcmp(w->text[k], kw) == 0;
}

/* Index just past the parenthesised group opening at k (or k when none). */
static size_t skip_group(const words *w, size_t k)
{
	if (k >= w->n || w->kind[k] != TK_OPEN)
		return k;
	int depth = 0;
	for (; k < w->n; k++) {
		if (w->kind[k] == TK_OPEN)
			depth++;
		else if (w->kind[k] == TK_CLOSE && --depth == 0)
			return k + 1;
	}
	return k;
}

static int is_txn_control(const words *w)
{
	if (is_word(w, 0, "begin") || is_word(w, 0, "end") || is_word(w, 0, "abort"))
		return 1;
	if ((is_word(w, 0, "start") || is_word(w, 0, "prepare")) && is_word(w, 1, "transaction"))
		return 1;
	if (is_word(w, 0, "commit") || is_word(w, 0, "rollback")) {
		size_t k = 1;
		if (is_word(w, 1, "prepared"))
			return 0; /* finishes another, prepared transaction */
		if (is_word(w, k, "work") || is_word(w, k, "transaction"))
			k++;
		return !is_word(w, k, "to"); /* ROLLBACK TO SAVEPOINT needs a transaction */
	}
	return 0;
}

/* REINDEX [(options)] {INDEX|TABLE|SCHEMA|DATABASE|SYSTEM} [CONCURRENTLY] name */
static int reindex_outside(const words *w)
{
	size_t k = 1;
	if (k < w->n && w->kind[k] == TK_OPEN) {
		size_t end = skip_group(w, k);
		for (size_t j = k; j < end; j++)
			if (is_word(w, j, "concurrently") && !is_word(w, j + 1, "false") &&
			    !is_word(w, j + 1, "off") && !(j + 1 < w->n && !strcmp(w->text[j + 1], "0")))
				return 1;
		k = end;
	}
	/* These commit once per table, so they cannot be inside a block either. */
	if (is_word(w, k, "schema") || is_word(w, k, "database") || is_word(w, k, "system"))
		return 1;
	return is_word(w, k + 1, "concurrently");
}

static int no_txn_block(const words *w)
{
	if (is_word(w, 0, "vacuum"))
		return 1;
	if (is_word(w, 0, "create") || is_word(w, 0, "drop")) {
		size_t k = 1;
		if (is_word(w, 1, "database") || is_word(w, 1, "tablespace"))
			return 1;
		if (is_word(w, 0, "create") && is_word(w, k, "unique"))
			k++;
		return is_word(w, k, "index") && is_word(w, k + 1, "concurrently");
	}
	if (is_word(w, 0, "reindex"))
		return reindex_outside(w);
	if (is_word(w, 0, "alter")) {
		if (is_word(w, 1, "system"))
			return 1;
		if (is_word(w, 1, "database") && is_word(w, 3, "set") && is_word(w, 4, "tablespace"))
			return 1;
		if (is_word(w, 1, "table") && w->last_is_concurrently)
			for (size_t k = 2; k + 1 < w->n; k++)
				if (is_word(w, k, "detach") && is_word(w, k + 1, "partition"))
					return 1;
		return 0;
	}
	if ((is_word(w, 0, "commit") || is_word(w, 0, "rollback")) && is_word(w, 1, "prepared"))
		return 1;
	if (is_word(w, 0, "discard") && is_word(w, 1, "all"))
		return 1;
	if (is_word(w, 0, "cluster")) {
		/* Only CLUSTER of every table: CLUSTER [VERBOSE] or CLUSTER (options). */
		size_t k = is_word(w, 1, "verbose") ? 2 : skip_group(w, 1);
		return k >= w->n;
	}
	return 0;
}

static void classify_words(const words *w, rb_sql_item *it)
{
	if (!w->n)
		return;
	it->is_txn_control |= is_txn_control(w);
	it->no_txn_block |= no_txn_block(w);
}

const char *rb_sql_first_word(const char *text, int std_strings, char *buf, size_t size)
{
	lexer lx = {text, strlen(text), std_strings, 0};
	lex_error e;
	token t;
	*buf = '\0';
	if (strstr(text, "\\;"))
		return buf;
	for (size_t i = 0; i < lx.len; i = t.end) {
		if (next_token(&lx, i, &t, &e) < 0)
			break;
		if (t.kind == TK_SPACE || t.kind == TK_LINE_COMMENT || t.kind == TK_BLOCK_COMMENT)
			continue;
		size_t n = t.end - t.start;
		if (t.kind == TK_IDENT && n < size) {
			for (size_t k = 0; k < n; k++) {
				char c = text[t.start + k];
				buf[k] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
			}
			buf[n] = '\0';
		}
		break;
	}
	return buf;
}

/* Known from the first word, whatever follows: the parser need not be asked (most of a runbook's). */
int rb_sql_plain_dml(const char *text, int std_strings)
{
	static const char *const first[] = {"select", "insert", "update", "delete", "with",
					    "values", "table",  "merge",  NULL};
	char word[16];
	rb_sql_first_word(text, std_strings, word, sizeof word);
	for (const char *const *w = first; *word && *w; w++)
		if (!strcmp(word, *w))
			return 1;
	return 0;
}

/*
 * Sets the flags of a statement; each part joined by psql's \; counts.
 * A query or data change is known from its first word (rb_sql_plain_dml); for
 * the rest PostgreSQL's parser decides (sqlparse.h); the first words decide only
 * for a statement the parser cannot read, e.g. with a variable where it
 * cannot place one.
 */
static void classify(rb_sql_item *it, int std_strings)
{
	if (rb_sql_plain_dml(it->text, std_strings))
		return;
	if (rb_sqlparse_classify(it->text, std_strings, &it->is_txn_control, &it->no_txn_block) == 0)
		return;
	lexer lx = {it->text, strlen(it->text), std_strings, 0};
	words w;
	lex_error e;
	token t;
	int depth = 0;
	memset(&w, 0, sizeof w);
	for (size_t i = 0; i < lx.len; i = t.end) {
		if (next_token(&lx, i, &t, &e) < 0)
			break; /* cannot happen on text the splitter produced */
		if (t.kind == TK_SPACE || t.kind == TK_LINE_COMMENT || t.kind == TK_BLOCK_COMMENT)
			continue;
		if (t.kind == TK_ESCAPED && lx.s[t.start + 1] == ';' && depth == 0) {
			classify_words(&w, it);
			memset(&w, 0, sizeof w);
			continue;
		}
		if (t.kind == TK_OPEN)
			depth++;
		else if (t.kind == TK_CLOSE && depth > 0)
			depth--;
		size_t len = t.end - t.start;
		w.last_is_concurrently =
			t.kind == TK_IDENT && word_is(lx.s + t.start, len, "concurrently");
		if (w.n < MAX_WORDS) {
			size_t k, n = len < sizeof w.text[0] - 1 ? len : sizeof w.text[0] - 1;
			for (k = 0; k < n; k++) {
				char ch = lx.s[t.start + k];
				w.text[w.n][k] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
			}
			w.text[w.n][k] = '\0';
			w.kind[w.n] = t.kind; /* a cut word is longer than any keyword */
			w.n++;
		}
	}
	classify_words(&w, it);
}

/* ---- splitting ---- */

/* Bytes read from a file at a time; a file is never read whole. */
#define CHUNK 65536

/* Where the splitter stands: the statement being read and psql's nesting. */
typedef struct {
	lexer lx;             /* over the reader's buffer, up to its last complete line */
	rb_sql_reader *r;
	rb_error *err;
	rb_sql_item *items;   /* read and not yet handed out, from head */
	size_t head;
	size_t n;
	size_t cap;
	size_t item_end;      /* where the last item pushed ends: COPY data starts on the next line */
	/* the statement being read */
	int have_stmt;
	size_t stmt_start;
	size_t stmt_end;
	int stmt_line;
	int stmt_col;
	size_t *blanks;       /* pairs of offsets: meta-commands inside the statement */
	size_t nblanks;
	size_t blanks_cap;
	/* psql's BEGIN ... END tracking inside CREATE FUNCTION/PROCEDURE */
	int paren_depth;
	int begin_depth;
	size_t ident_count;
	char idents[4];
} splitter;

struct rb_sql_reader {
	splitter sp;
	char *file;
	FILE *fp;             /* a file source, read CHUNK bytes at a time; NULL for a string */
	const char *str;      /* a string source (not owned), taken in whole by the first fill */
	size_t str_len;
	int eof;              /* the source has given everything */
	int done;             /* the last statement has been finished */
	char *buf;            /* what is read and not yet consumed; NUL-terminated */
	size_t len;
	size_t cap;
	size_t lexable;       /* end of the last complete line (len at the end of the source) */
	size_t pos;           /* where lexing goes on */
	/* Positions: buf[0] is at base_line:base_col, buf[anchor] at anchor_line:anchor_col. */
	int base_line;
	int base_col;
	size_t anchor;
	int anchor_line;
	int anchor_col;
	/* COPY data after the item handed out last */
	int copy_flagged;     /* it is a COPY ... FROM STDIN: data nobody read is skipped */
	int copy_state;       /* 0: none can be read, 1: may start, 2: being read, 3: read */
	size_t data_at;       /* start of the line after the item */
	size_t dpos;          /* the next data line */
	int dline;            /* its line */
};

/* The line and byte column of buffer offset off; moves the anchor forward. */
static void reader_locate(rb_sql_reader *r, size_t off, int *line, int *col)
{
	size_t i = 0;
	int l = r->base_line, c = r->base_col;
	if (off >= r->anchor) {
		i = r->anchor;
		l = r->anchor_line;
		c = r->anchor_col;
	}
	for (; i < off && i < r->len; i++) {
		char ch = r->buf[i];
		if (ch == '\n' || (ch == '\r' && r->buf[i + 1] != '\n')) {
			l++;
			c = 1;
		} else {
			c++;
		}
	}
	*line = l;
	*col = c;
	if (off >= r->anchor) {
		r->anchor = off;
		r->anchor_line = l;
		r->anchor_col = c;
	}
}

static void set_lexable(rb_sql_reader *r)
{
	size_t k = r->len;
	if (!r->eof)
		while (k > 0 && r->buf[k - 1] != '\n')
			k--;
	r->lexable = k;
	r->sp.lx.s = r->buf;
	r->sp.lx.len = r->lexable;
	r->sp.lx.more = !r->eof;
}

/* Drops the first d bytes of the buffer, which nothing points into any more. */
static void drop_prefix(rb_sql_reader *r, size_t d)
{
	int l, c;
	splitter *sp = &r->sp;
	if (!d)
		return;
	reader_locate(r, d, &l, &c);
	memmove(r->buf, r->buf + d, r->len - d + 1);
	r->len -= d;
	r->anchor -= d;
	r->base_line = l;
	r->base_col = c;
	r->pos -= d;
	sp->stmt_start -= sp->have_stmt ? d : 0;
	sp->stmt_end -= sp->have_stmt ? d : 0;
	for (size_t k = 0; k < 2 * sp->nblanks; k++)
		sp->blanks[k] -= d;
	sp->item_end = sp->item_end >= d ? sp->item_end - d : 0;
	r->data_at = r->data_at >= d ? r->data_at - d : 0;
	r->dpos = r->dpos >= d ? r->dpos - d : 0;
}

/*
 * Reads more of the source: a chunk, or (grow: a construct spans more than
 * the buffer) as much again as the buffer holds. What is consumed is
 * dropped first: the text before the statement being read, and the COPY
 * data lines already handed out. 0, or -1 with err set.
 */
static int fill(rb_sql_reader *r, int grow, rb_error *err)
{
	int rc = 0;
	if (r->eof)
		return 0;
	drop_prefix(r, r->sp.have_stmt ? r->sp.stmt_start : r->pos);
	if (r->copy_state == 2 && r->dpos > r->data_at) {
		memmove(r->buf + r->data_at, r->buf + r->dpos, r->len - r->dpos + 1);
		r->len -= r->dpos - r->data_at;
		r->dpos = r->data_at;
	}
	size_t want = r->fp ? (grow && r->len > CHUNK ? r->len : CHUNK) : r->str_len;
	if (r->cap < r->len + want + 1) {
		r->cap = r->len + want + 1;
		r->buf = rb_xrealloc(r->buf, r->cap);
	}
	size_t got = want;
	if (r->fp) {
		got = fread(r->buf + r->len, 1, want, r->fp);
		if (got < want && ferror(r->fp))
			rc = rb_error_set(err, RB_EXIT_USAGE, r->file, 0, 0, "cannot read %s: %s", r->file,
					  strerror(errno));
		r->eof = got < want;
	} else {
		memcpy(r->buf + r->len, r->str, got);
		r->eof = 1;
	}
	r->len += got;
	r->buf[r->len] = '\0';
	set_lexable(r);
	return rc;
}

static rb_sql_item *push_item(splitter *sp)
{
	if (sp->n == sp->cap) {
		sp->cap = sp->cap ? sp->cap * 2 : 4;
		sp->items = rb_xrealloc(sp->items, sp->cap * sizeof *sp->items);
	}
	rb_sql_item *it = &sp->items[sp->n++];
	memset(it, 0, sizeof *it);
	return it;
}

/* A token that belongs to the current statement. */
static void take(splitter *sp, const token *t)
{
	if (!sp->have_stmt) {
		sp->have_stmt = 1;
		sp->stmt_start = t->start;
		reader_locate(sp->r, t->start, &sp->stmt_line, &sp->stmt_col);
	}
	sp->stmt_end = t->end;
}

/* The next significant token of text from i, or 0 when none; kind and span in *t. */
static int next_word(const lexer *lx, size_t *i, token *t)
{
	lex_error e;
	while (*i < lx->len) {
		if (next_token(lx, *i, t, &e) < 0)
			return 0;
		*i = t->end;
		if (t->kind != TK_SPACE && t->kind != TK_LINE_COMMENT && t->kind != TK_BLOCK_COMMENT)
			return 1;
	}
	return 0;
}

/* COPY ... FROM STDIN: the statement's data follows it, up to a line "\.". */
static int copies_from_stdin(const char *text, int std_strings)
{
	lexer lx = {text, strlen(text), std_strings, 0};
	size_t i = 0;
	token t;
	int depth = 0, after_from = 0;
	if (!next_word(&lx, &i, &t) || t.kind != TK_IDENT || !word_is(text + t.start, t.end - t.start, "copy"))
		return 0;
	while (next_word(&lx, &i, &t)) {
		int word = t.kind == TK_IDENT;
		if (t.kind == TK_OPEN)
			depth++;
		else if (t.kind == TK_CLOSE && depth > 0)
			depth--;
		if (depth == 0 && after_from && word && word_is(text + t.start, t.end - t.start, "stdin"))
			return 1;
		after_from = depth == 0 && word && word_is(text + t.start, t.end - t.start, "from");
	}
	return 0;
}

static void finish_statement(splitter *sp)
{
	if (!sp->have_stmt)
		goto reset;
	size_t start = sp->stmt_start, end = sp->stmt_end;
	rb_sql_item *it = push_item(sp);
	it->kind = RB_SQL_STATEMENT;
	it->line = sp->stmt_line;
	it->col = sp->stmt_col;
	it->text = rb_xstrndup(sp->lx.s + start, end - start);
	for (size_t k = 0; k < sp->nblanks; k++) {
		size_t lo = sp->blanks[2 * k], hi = sp->blanks[2 * k + 1];
		if (hi > end)
			hi = end;
		if (lo < hi)
			memset(it->text + (lo - start), ' ', hi - lo);
	}
	classify(it, sp->lx.std_strings);
	it->copy_from_stdin = copies_from_stdin(it->text, sp->lx.std_strings);
reset:
	sp->have_stmt = 0;
	sp->nblanks = 0;
}

/*
 * psql's heuristic for the bodies of CREATE [OR REPLACE] FUNCTION/PROCEDURE
 * ... BEGIN ATOMIC ... END: once a statement starts with those words, every
 * BEGIN (and every CASE inside one) opens a level that END closes, and a
 * semicolon only ends the statement at level 0.
 */
static void track_ident(splitter *sp, const char *w, size_t len)
{
	if (sp->ident_count == 0)
		memset(sp->idents, 0, sizeof sp->idents);
	if (sp->ident_count < sizeof sp->idents &&
	    (word_is(w, len, "create") || word_is(w, len, "function") ||
	     word_is(w, len, "procedure") || word_is(w, len, "or") || word_is(w, len, "replace")))
		sp->idents[sp->ident_count] = (char)(w[0] | 0x20);
	sp->ident_count++;

	const char *id = sp->idents;
	int routine = id[0] == 'c' &&
		      (id[1] == 'f' || id[1] == 'p' ||
		       (id[1] == 'o' && id[2] == 'r' && (id[3] == 'f' || id[3] == 'p')));
	if (!routine || sp->paren_depth != 0)
		return;
	if (word_is(w, len, "begin"))
		sp->begin_depth++;
	else if (word_is(w, len, "case") && sp->begin_depth >= 1)
		sp->begin_depth++;
	else if (word_is(w, len, "end") && sp->begin_depth > 0)
		sp->begin_depth--;
}

/* Skips a quoted meta-command argument opened at i; returns the offset after it, or 0. */
static size_t skip_arg_quote(const lexer *lx, size_t i)
{
	unsigned char q = at(lx, i);
	for (size_t k = i + 1; k < lx->len && !is_newline(at(lx, k)); k++) {
		unsigned char c = at(lx, k);
		if (q == '\'' && c == '\\' && k + 1 < lx->len && !is_newline(at(lx, k + 1))) {
			k++;
		} else if (c == q) {
			if (q == '\'' && at(lx, k + 1) == '\'')
				k++;
			else
				return k + 1;
		}
	}
	return 0;
}

/* \copy ... FROM STDIN (outside the parentheses of a query): data follows, as for COPY. */
static int meta_copies_from_stdin(const char *args)
{
	int depth = 0, after_from = 0;
	const char *p = args;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = strcspn(p, " \t()");
		if (!n) {
			if (*p == '(')
				depth++;
			else if (*p == ')' && depth > 0)
				depth--;
			p += *p ? 1 : 0;
			after_from = 0;
			continue;
		}
		if (depth == 0 && after_from && word_is(p, n, "stdin"))
			return 1;
		after_from = depth == 0 && word_is(p, n, "from");
		p += n;
	}
	return 0;
}

/* The end of a meta-command's arguments from k: a newline or an unquoted backslash. 0, or -1 (err). */
static int meta_args_end(splitter *sp, size_t i, size_t name_end, size_t *end)
{
	const lexer *lx = &sp->lx;
	size_t k;
	for (k = name_end; k < lx->len && !is_newline(at(lx, k)) && at(lx, k) != '\\';) {
		unsigned char c = at(lx, k);
		token t;
		if (c == ':' && scan_var(lx, k, &t)) {
			k = t.end;
		} else if (c == '\'' || c == '"' || c == '`') {
			size_t after = skip_arg_quote(lx, k);
			if (!after) {
				int line, col;
				reader_locate(sp->r, k, &line, &col);
				rb_error_set(sp->err, RB_EXIT_USAGE, sp->r->file, line, col,
					     "unterminated quoted string in the arguments of \\%.*s",
					     (int)(name_end - i - 1), lx->s + i + 1);
				return -1;
			}
			k = after;
		} else {
			k++;
		}
	}
	*end = k;
	return 0;
}

/*
 * The meta-command whose backslash is at i. Like psql: the name runs to
 * whitespace or a backslash; the arguments to the end of the line or an
 * unquoted backslash, and a "\\" there is eaten and SQL resumes after it.
 * \gset ends the statement it is written after. Stores where reading goes
 * on in *next.
 */
static int read_meta(splitter *sp, size_t i, size_t *next)
{
	const lexer *lx = &sp->lx;
	size_t name_end = i + 1, args_start, args_end;
	int line, col;
	while (name_end < lx->len && !is_space(at(lx, name_end)) && at(lx, name_end) != '\\')
		name_end++;
	if (meta_args_end(sp, i, name_end, &args_end) < 0)
		return -1;
	*next = at(lx, args_end) == '\\' && at(lx, args_end + 1) == '\\' ? args_end + 2 : args_end;
	sp->item_end = *next;
	args_start = name_end;
	while (args_start < args_end && is_space(at(lx, args_start)))
		args_start++;
	while (args_end > args_start && is_space(at(lx, args_end - 1)))
		args_end--;
	if (args_start == args_end)
		args_start = args_end = name_end;

	reader_locate(sp->r, i, &line, &col);
	char *command = rb_xstrndup(lx->s + i + 1, name_end - i - 1);
	char *args = rb_xstrndup(lx->s + args_start, args_end - args_start);
	rb_sql_cmd cmd = rb_sql_cmd_lookup(command);
	if (cmd == RB_SQL_CMD_GSET && sp->have_stmt) {
		/* Sends the statement before it, as a semicolon would. */
		finish_statement(sp);
		rb_sql_item *st = &sp->items[sp->n - 1];
		st->gset = args;
		st->gset_line = line;
		st->gset_col = col;
		free(command);
		return 0;
	}
	rb_sql_item *it = push_item(sp);
	it->kind = RB_SQL_META;
	it->line = line;
	it->col = col;
	it->args_col = it->col + (int)(args_start - i);
	it->command = command;
	it->cmd = cmd;
	it->args = args;
	it->text = rb_xstrndup(lx->s + i, args_end - i);
	it->copy_from_stdin = cmd == RB_SQL_CMD_COPY && meta_copies_from_stdin(args);
	if (sp->have_stmt) {
		/* Written inside a statement: blank it out of the statement's text. */
		if (sp->nblanks == sp->blanks_cap) {
			sp->blanks_cap = sp->blanks_cap ? sp->blanks_cap * 2 : 4;
			sp->blanks = rb_xrealloc(sp->blanks, 2 * sp->blanks_cap * sizeof *sp->blanks);
		}
		sp->blanks[2 * sp->nblanks] = i;
		sp->blanks[2 * sp->nblanks + 1] = *next;
		sp->nblanks++;
	}
	return 0;
}

/* One token at r->pos, fed to the splitter. 0, or -1 with err set. */
static int split_token(rb_sql_reader *r, const token *t)
{
	splitter *sp = &r->sp;
	switch (t->kind) {
	case TK_SPACE:
	case TK_LINE_COMMENT:
	case TK_BLOCK_COMMENT:
		break;
	case TK_SEMI:
		if (sp->paren_depth == 0 && sp->begin_depth == 0) {
			sp->item_end = t->end;
			finish_statement(sp);
			sp->ident_count = 0;
		} else {
			take(sp, t);
		}
		break;
	case TK_BACKSLASH:
		return read_meta(sp, t->start, &r->pos);
	case TK_ESCAPED:
		if (r->buf[t->start + 1] == ';')
			sp->ident_count = 0; /* psql starts counting words again */
		take(sp, t);
		break;
	case TK_IDENT:
		track_ident(sp, r->buf + t->start, t->end - t->start);
		take(sp, t);
		break;
	case TK_OPEN:
		sp->paren_depth++;
		take(sp, t);
		break;
	case TK_CLOSE:
		if (sp->paren_depth > 0)
			sp->paren_depth--;
		take(sp, t);
		break;
	default:
		take(sp, t);
		break;
	}
	r->pos = t->end;
	return 0;
}

/* Lexes until an item is queued. 1, 0 at the end of the source, -1 with err set. */
static int lex_item(rb_sql_reader *r, rb_error *err)
{
	splitter *sp = &r->sp;
	sp->err = err;
	while (sp->head == sp->n) {
		token t;
		lex_error e;
		memset(&e, 0, sizeof e);
		if (r->pos >= r->lexable) {
			if (!r->eof) {
				if (fill(r, 0, err) < 0)
					return -1;
			} else if (r->done) {
				return 0;
			} else {
				r->done = 1;
				sp->item_end = r->len;
				finish_statement(sp);
			}
			continue;
		}
		if (next_token(&sp->lx, r->pos, &t, &e) < 0) {
			if (!r->eof) {
				if (fill(r, 1, err) < 0)
					return -1;
				continue;
			}
			int line, col;
			reader_locate(r, e.start, &line, &col);
			report_lex_error(&sp->lx, &e, line, col, r->file, err);
			return -1;
		}
		if (split_token(r, &t) < 0)
			return -1;
	}
	return 1;
}

static rb_sql_reader *reader_new(const char *file, int first_line, int std_strings)
{
	rb_sql_reader *r = rb_xcalloc(1, sizeof *r);
	r->file = rb_xstrdup(file ? file : "");
	r->sp.r = r;
	r->sp.lx.std_strings = std_strings;
	r->base_line = r->anchor_line = first_line;
	r->base_col = r->anchor_col = 1;
	r->buf = rb_xmalloc(1);
	r->buf[0] = '\0';
	r->cap = 1;
	r->sp.lx.s = r->buf;
	return r;
}

rb_sql_reader *rb_sql_reader_string(const char *body, const char *file, int first_line, int std_strings)
{
	rb_sql_reader *r = reader_new(file, first_line, std_strings);
	r->str = body ? body : "";
	r->str_len = strlen(r->str);
	return r;
}

int rb_sql_reader_file(const char *path, int std_strings, rb_sql_reader **out, rb_error *err)
{
	int rc = -1;
	FILE *fp = fopen(path, "rb");
	*out = NULL;
	if (!fp) {
		rb_error_set(err, RB_EXIT_USAGE, path, 0, 0, "cannot open %s: %s", path, strerror(errno));
		goto done;
	}
	*out = reader_new(path, 1, std_strings);
	(*out)->fp = fp;
	rc = 0;
done:
	return rc;
}

const char *rb_sql_reader_path(const rb_sql_reader *r)
{
	return r->file;
}

/* After the last data line: the data leaves the buffer, lexing goes on after it. */
static void end_copy(rb_sql_reader *r)
{
	memmove(r->buf + r->data_at, r->buf + r->dpos, r->len - r->dpos + 1);
	r->len -= r->dpos - r->data_at;
	r->dpos = r->data_at;
	r->anchor = r->data_at;
	r->anchor_line = r->dline;
	r->anchor_col = 1;
	r->copy_state = 3;
	set_lexable(r);
}

int rb_sql_reader_copy_line(rb_sql_reader *r, const char **line, size_t *len, int *lineno, rb_error *err)
{
	int col;
	if (r->copy_state == 0 || r->copy_state == 3)
		return 0;
	if (r->copy_state == 1) {
		r->copy_state = 2;
		r->dpos = r->data_at;
		reader_locate(r, r->data_at, &r->dline, &col);
	}
	for (;;) {
		char *nl = memchr(r->buf + r->dpos, '\n', r->len - r->dpos);
		if (!nl && !r->eof) {
			if (fill(r, 0, err) < 0)
				return -1;
			continue;
		}
		size_t end = nl ? (size_t)(nl - r->buf) + 1 : r->len, n = end - r->dpos;
		const char *s = r->buf + r->dpos;
		int last = n == 0 || (n >= 2 && s[0] == '\\' && s[1] == '.' &&
				      (n == 2 || (n == 3 && s[2] == '\n') || (n == 4 && s[2] == '\r' && s[3] == '\n')));
		r->dpos = end;
		if (last) {
			r->dline += n > 0;
			end_copy(r);
			return 0;
		}
		*line = s;
		*len = n;
		*lineno = r->dline++;
		return 1;
	}
}

int rb_sql_reader_next(rb_sql_reader *r, rb_sql_item *it, rb_error *err)
{
	int rc = -1;
	const char *line;
	size_t len;
	int lineno, got = 0;
	memset(it, 0, sizeof *it);
	if (r->copy_flagged || r->copy_state == 2)
		while ((got = rb_sql_reader_copy_line(r, &line, &len, &lineno, err)) > 0)
			;
	if (got < 0)
		goto done;
	r->copy_flagged = 0;
	r->copy_state = 0;
	rc = lex_item(r, err);
	if (rc <= 0)
		goto done;
	splitter *sp = &r->sp;
	*it = sp->items[sp->head++];
	if (sp->head == sp->n)
		sp->head = sp->n = 0;
	/* COPY data starts on the line after the item's end. */
	size_t k = sp->item_end;
	while (k < r->len && r->buf[k] != '\n')
		k++;
	r->data_at = k < r->len ? k + 1 : r->len;
	r->copy_state = 1;
	r->copy_flagged = it->copy_from_stdin;
done:
	return rc;
}

void rb_sql_reader_free(rb_sql_reader *r)
{
	if (!r)
		return;
	if (r->fp)
		fclose(r->fp);
	for (size_t k = r->sp.head; k < r->sp.n; k++)
		rb_sql_item_clear(&r->sp.items[k]);
	free(r->sp.items);
	free(r->sp.blanks);
	free(r->buf);
	free(r->file);
	free(r);
}

int rb_sql_split(const char *body, const char *file, int first_line, int std_strings,
		 rb_sql_item **items, size_t *count, rb_error *err)
{
	int rc = -1, got;
	rb_sql_reader *r = NULL;
	rb_sql_item *list = NULL;
	size_t n = 0, cap = 0;
	if (items)
		*items = NULL;
	if (count)
		*count = 0;
	if (!body || !items || !count) {
		rb_error_set(err, RB_EXIT_USAGE, file, first_line, 0, "no SQL text to split");
		goto done;
	}
	r = rb_sql_reader_string(body, file, first_line, std_strings);
	for (;;) {
		rb_sql_item it;
		if ((got = rb_sql_reader_next(r, &it, err)) <= 0)
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			list = rb_xrealloc(list, cap * sizeof *list);
		}
		list[n++] = it;
	}
	if (got < 0)
		goto done;
	*items = list;
	*count = n;
	list = NULL;
	n = 0;
	rc = 0;
done:
	rb_sql_items_free(list, n);
	rb_sql_reader_free(r);
	return rc;
}

/* ---- meta-commands ---- */

/* Every name of every supported meta-command; `listed` ones are named in the message. */
static const struct {
	const char *name;
	rb_sql_cmd cmd;
	int listed;
} sql_cmds[] = {
	{"echo", RB_SQL_CMD_ECHO, 1},
	{"qecho", RB_SQL_CMD_QECHO, 1},
	{"warn", RB_SQL_CMD_WARN, 1},
	{"set", RB_SQL_CMD_SET, 1},
	{"unset", RB_SQL_CMD_UNSET, 1},
	{"gset", RB_SQL_CMD_GSET, 1},
	{"if", RB_SQL_CMD_IF, 1},
	{"elif", RB_SQL_CMD_ELIF, 1},
	{"else", RB_SQL_CMD_ELSE, 1},
	{"endif", RB_SQL_CMD_ENDIF, 1},
	{"c", RB_SQL_CMD_CONNECT, 1},
	{"connect", RB_SQL_CMD_CONNECT, 0},
	{"copy", RB_SQL_CMD_COPY, 1},
	{"restrict", RB_SQL_CMD_RESTRICT, 1},
	{"unrestrict", RB_SQL_CMD_UNRESTRICT, 1},
	{"i", RB_SQL_CMD_INCLUDE, 1},
	{"include", RB_SQL_CMD_INCLUDE, 0},
	{"ir", RB_SQL_CMD_INCLUDE_RELATIVE, 1},
	{"include_relative", RB_SQL_CMD_INCLUDE_RELATIVE, 0},
	{"timing", RB_SQL_CMD_TIMING, 1},
	{"x", RB_SQL_CMD_EXPANDED, 1},
	{"pset", RB_SQL_CMD_PSET, 1},
};

rb_sql_cmd rb_sql_cmd_lookup(const char *name)
{
	rb_sql_cmd cmd = RB_SQL_CMD_UNSUPPORTED;
	for (size_t i = 0; name && i < sizeof sql_cmds / sizeof sql_cmds[0] && !cmd; i++)
		if (!strcmp(sql_cmds[i].name, name))
			cmd = sql_cmds[i].cmd;
	return cmd;
}

char *rb_sql_cmd_unsupported(const char *name)
{
	rb_buf b = RB_BUF_INIT;
	const char *sep = "";
	rb_buf_printf(&b, "unsupported psql meta-command \\%s (supported: ", name ? name : "");
	for (size_t i = 0; i < sizeof sql_cmds / sizeof sql_cmds[0]; i++) {
		if (!sql_cmds[i].listed)
			continue;
		rb_buf_printf(&b, "%s\\%s", sep, sql_cmds[i].name);
		sep = ", ";
	}
	rb_buf_putc(&b, ')');
	return rb_buf_detach(&b);
}

void rb_sql_item_clear(rb_sql_item *it)
{
	free(it->text);
	free(it->command);
	free(it->args);
	free(it->gset);
	memset(it, 0, sizeof *it);
}

void rb_sql_items_free(rb_sql_item *items, size_t count)
{
	for (size_t i = 0; items && i < count; i++)
		rb_sql_item_clear(&items[i]);
	free(items);
}

int rb_sql_has_txn_control(const rb_sql_item *items, size_t count)
{
	for (size_t i = 0; items && i < count; i++)
		if (items[i].kind == RB_SQL_STATEMENT && items[i].is_txn_control)
			return 1;
	return 0;
}

/* ---- interpolation ---- */

/*
 * What PQescapeLiteral and PQescapeIdentifier write for a UTF-8 value: the
 * quote character doubled; for a literal with a backslash, the E'' form
 * (valid whatever standard_conforming_strings says) with backslashes
 * doubled and a leading space so it cannot glue onto a preceding word.
 */
static void append_quoted(rb_buf *b, const char *v, char q)
{
	int escape = q == '\'' && strchr(v, '\\') != NULL;
	if (escape)
		rb_buf_puts(b, " E");
	rb_buf_putc(b, q);
	for (; *v; v++) {
		if (*v == q || (escape && *v == '\\'))
			rb_buf_putc(b, *v);
		rb_buf_putc(b, *v);
	}
	rb_buf_putc(b, q);
}

int rb_sql_interpolate(const char *stmt, const char *file, int line, int col, int std_strings,
		       rb_sql_lookup lookup, void *ctx, char **out, rb_error *err)
{
	int rc = -1;
	rb_buf b = RB_BUF_INIT;
	char *name = NULL;
	lexer lx;
	if (out)
		*out = NULL;
	if (!stmt || !out) {
		rb_error_set(err, RB_EXIT_USAGE, file, line, col, "no SQL text to interpolate");
		goto done;
	}
	lx.s = stmt;
	lx.len = strlen(stmt);
	lx.std_strings = std_strings;
	lx.more = 0;

	for (size_t i = 0; i < lx.len;) {
		token t;
		lex_error e;
		memset(&e, 0, sizeof e);
		if (next_token(&lx, i, &t, &e) < 0) {
			int eline, ecol;
			locate(stmt, lx.len, line, col, e.start, &eline, &ecol);
			report_lex_error(&lx, &e, eline, ecol, file, err);
			goto done;
		}
		i = t.end;
		if (t.kind == TK_ESCAPED) {
			rb_buf_putc(&b, stmt[t.start + 1]);
			continue;
		}
		/* Variables never start with a digit, which keeps a[1:2] intact. */
		if (t.kind != TK_VAR || is_digit((unsigned char)stmt[t.name])) {
			rb_buf_add(&b, stmt + t.start, t.end - t.start);
			continue;
		}
		free(name);
		name = rb_xstrndup(stmt + t.name, t.name_len);
		const char *v = lookup ? lookup(ctx, name) : NULL;
		if (t.form == VAR_TEST) {
			rb_buf_puts(&b, v ? "TRUE" : "FALSE");
			continue;
		}
		int vline, vcol;
		if (!v) {
			locate(stmt, lx.len, line, col, t.start, &vline, &vcol);
			rb_error_set(err, RB_EXIT_USAGE, file, vline, vcol, "undefined variable :%s", name);
			goto done;
		}
		if (t.form == VAR_RAW) {
			rb_buf_puts(&b, v);
			continue;
		}
		if (!rb_utf8_valid(v, strlen(v), NULL)) {
			locate(stmt, lx.len, line, col, t.start, &vline, &vcol);
			rb_error_set(err, RB_EXIT_USAGE, file, vline, vcol,
				     "variable :%s is not valid UTF-8 and cannot be quoted", name);
			goto done;
		}
		append_quoted(&b, v, t.form == VAR_LITERAL ? '\'' : '"');
	}
	*out = rb_buf_detach(&b);
	rc = 0;
done:
	free(name);
	rb_buf_free(&b);
	return rc;
}

/* What stands in for one variable reference of len bytes (see sqlsplit.h). */
static void put_placeholder(rb_buf *b, const char *stmt, const token *t, int literal)
{
	size_t len = t->end - t->start;
	if (t->form == VAR_TEST) {
		rb_buf_puts(b, "TRUE");
		for (size_t k = 4; k < len; k++)
			rb_buf_putc(b, ' ');
	} else if (t->form == VAR_RAW && literal) {
		rb_buf_putc(b, '\'');
		for (size_t k = 2; k < len; k++)
			rb_buf_putc(b, 'x');
		rb_buf_putc(b, '\'');
	} else {
		char q = t->form == VAR_LITERAL ? '\'' : t->form == VAR_IDENT ? '"' : 0;
		if (q)
			rb_buf_putc(b, q);
		rb_buf_putc(b, '_');
		rb_buf_add(b, stmt + t->name, t->name_len);
		if (q)
			rb_buf_putc(b, q);
	}
}

int rb_sql_placeholders(const char *stmt, int std_strings, int literal, char **out, size_t *count)
{
	int rc = -1;
	rb_buf b = RB_BUF_INIT;
	lexer lx = {stmt, stmt ? strlen(stmt) : 0, std_strings, 0};
	*out = NULL;
	*count = 0;
	for (size_t i = 0; stmt && i < lx.len;) {
		token t;
		lex_error e;
		if (next_token(&lx, i, &t, &e) < 0)
			goto done;
		i = t.end;
		if (t.kind == TK_ESCAPED) {
			rb_buf_putc(&b, ' ');
			rb_buf_putc(&b, stmt[t.start + 1]);
		} else if (t.kind == TK_VAR && !is_digit((unsigned char)stmt[t.name])) {
			put_placeholder(&b, stmt, &t, literal);
			(*count)++;
		} else {
			rb_buf_add(&b, stmt + t.start, t.end - t.start);
		}
	}
	*out = rb_buf_detach(&b);
	rc = 0;
done:
	rb_buf_free(&b);
	return rc;
}

char *rb_sql_include_path(const rb_sql_item *it, const char *file, const char *dir)
{
	char *name = rb_trim_dup(it->args ? it->args : "");
	char *base = NULL, *path = NULL;
	if (*name) {
		base = it->cmd == RB_SQL_CMD_INCLUDE_RELATIVE ? rb_dirname_dup(file) : rb_xstrdup(dir ? dir : ".");
		path = name[0] == '/' ? rb_xstrdup(name) : rb_xasprintf("%s/%s", base, name);
	}
	free(name);
	free(base);
	return path;
}
