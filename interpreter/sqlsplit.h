/*
 * sqlsplit.h - the body of a sql step read the way psql reads it: where each
 * statement ends, which lines are backslash meta-commands, and how :VAR,
 * :'VAR' and :"VAR" are replaced.
 *
 * Splitting follows the rules of psql's lexer (psqlscan.l): a semicolon ends
 * a statement unless it is inside a quoted string of any kind (standard,
 * E'', U&'', B''/X'', continued across lines), a dollar quote, a quoted
 * identifier, a -- or nested block comment, parentheses, or the
 * BEGIN ATOMIC ... END body of CREATE [OR REPLACE] FUNCTION/PROCEDURE. A
 * backslash outside all of those starts a meta-command, as in psql: its
 * arguments run to the end of the line or to the next unquoted backslash,
 * and "\\" ends them and goes back to SQL on the same line. \gset ends
 * the statement written before it, as a semicolon would. After
 * COPY ... FROM STDIN (and \copy ... FROM STDIN), the lines that follow
 * are data up to a line "\." (rb_sql_reader_copy_line); whoever does not
 * read them skips them, so data is never taken for SQL.
 *
 * A source is read item by item (rb_sql_reader): a file in chunks, never
 * whole. rb_sql_split is that reader over a string, collecting the items.
 *
 * Interpolation runs on one statement after splitting, so a value can never
 * move a statement boundary. Unlike psql, an undefined variable is an error.
 *
 * Positions: line numbers are runbook lines; columns count bytes from 1 on
 * the body's own lines (a caller whose block is indented adds the
 * indentation). "\r\n", "\n" and a lone "\r" each end a line.
 *
 * Ownership: rb_sql_split hands over an array that the caller releases with
 * rb_sql_items_free; rb_sql_interpolate hands over a string the caller
 * releases with free(). Nothing here keeps state between calls.
 */
#ifndef RB_SQLSPLIT_H
#define RB_SQLSPLIT_H

#include <stddef.h>

#include "util.h"

/**
 * The psql meta-commands a sql step runs (sqlexec.c); every other one is
 * an error, at check (lint.c) and at run time. This table (sqlsplit.c) is
 * the one list of them: the splitter classifies each meta-command with it,
 * and the "unsupported" message names them from it.
 */
typedef enum {
	RB_SQL_CMD_UNSUPPORTED = 0,
	RB_SQL_CMD_ECHO,              /* \echo [-n] TEXT: to the output */
	RB_SQL_CMD_QECHO,             /* \qecho [-n] TEXT: the same (psql's query output is the output) */
	RB_SQL_CMD_WARN,              /* \warn [-n] TEXT: to stderr */
	RB_SQL_CMD_SET,               /* \set NAME [VALUE...] */
	RB_SQL_CMD_UNSET,             /* \unset NAME */
	RB_SQL_CMD_GSET,              /* \gset [PREFIX]: ends the statement before it (rb_sql_item.gset) */
	RB_SQL_CMD_IF,                /* \if EXPR, \elif EXPR, \else, \endif (sqlmeta.h) */
	RB_SQL_CMD_ELIF,
	RB_SQL_CMD_ELSE,
	RB_SQL_CMD_ENDIF,
	RB_SQL_CMD_CONNECT,           /* \c DBNAME, \connect DBNAME: the same server, another database */
	RB_SQL_CMD_COPY,              /* \copy TABLE|(QUERY) FROM|TO 'FILE'|STDIN|STDOUT [WITH (...)] */
	RB_SQL_CMD_RESTRICT,          /* \restrict KEY, \unrestrict KEY: pg_dump's guard (no other
					 meta-command in between) */
	RB_SQL_CMD_UNRESTRICT,
	RB_SQL_CMD_INCLUDE,           /* \i FILE, \include FILE: from the runbook's directory */
	RB_SQL_CMD_INCLUDE_RELATIVE,  /* \ir FILE, \include_relative FILE: from the including file's */
	RB_SQL_CMD_TIMING,            /* \timing [on|off] */
	RB_SQL_CMD_EXPANDED,          /* \x [on|off|auto]: expanded display (pgformat.h) */
	RB_SQL_CMD_PSET               /* \pset format aligned|unaligned|csv, \pset expanded [on|off|auto] */
} rb_sql_cmd;

/** The supported meta-command called name (without the backslash), or RB_SQL_CMD_UNSUPPORTED. */
rb_sql_cmd rb_sql_cmd_lookup(const char *name);

/**
 * "unsupported psql meta-command \NAME (supported: \echo, ...)", the list
 * from the table. Caller frees.
 */
char *rb_sql_cmd_unsupported(const char *name);

/** What an item of a split body is. */
typedef enum {
	RB_SQL_STATEMENT = 0,  /* SQL to send to the server */
	RB_SQL_META            /* a psql backslash meta-command */
} rb_sql_kind;

/**
 * One statement or meta-command, in the order psql would run them: a
 * meta-command written in the middle of a statement comes before that
 * statement. All strings are owned by the item.
 */
typedef struct {
	rb_sql_kind kind;
	int line;            /* runbook line of the first token, or of the backslash */
	int col;             /* its 1-based byte column on that line of the body */
	/*
	 * STATEMENT: the statement without its terminating ';', from its first
	 * token to the end of its last one (leading and trailing whitespace and
	 * comments left out). A meta-command written inside it is replaced by
	 * spaces, so lines and columns within the text still match the runbook.
	 * META: the command as written, from the backslash to the end of its
	 * arguments. Never NULL.
	 */
	char *text;
	char *command;       /* META: the name without the backslash ("echo", "i"); else NULL */
	rb_sql_cmd cmd;      /* META: which supported one it is, or RB_SQL_CMD_UNSUPPORTED */
	char *args;          /* META: the arguments as written, trimmed ("" when none); else NULL */
	int args_col;        /* META: column of the arguments' first byte (just after the name when none) */
	int is_txn_control;  /* BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK (not ROLLBACK TO),
				ABORT, PREPARE TRANSACTION */
	/* Both flags come from PostgreSQL's parser (sqlparse.h); from the first words only for
	   a statement it cannot read. */
	int no_txn_block;    /* cannot run inside a transaction block (CREATE INDEX CONCURRENTLY,
				VACUUM, CREATE DATABASE, ALTER SYSTEM, ...) */
	int copy_from_stdin; /* COPY ... FROM STDIN, \copy ... FROM STDIN: data lines follow, up to
				a line "\." (rb_sql_reader_copy_line) */
	char *gset;          /* STATEMENT ended by \gset: its prefix ("" when none); else NULL */
	int gset_line;       /* position of \gset's backslash */
	int gset_col;
} rb_sql_item;

/**
 * Splits body (a NUL-terminated string) into statements and meta-commands.
 * first_line is the runbook line of the body's first line; file is only
 * copied into errors. std_strings is the server's
 * standard_conforming_strings: when 0, a backslash escapes the next byte in
 * plain '...' strings too. Statements that are empty or only comments
 * produce no item; a last statement without ';' is still one.
 *
 * Returns 0 and stores a new array in *items (NULL when *count is 0), or -1
 * with err set (RB_EXIT_USAGE, position of the start of the offending quote,
 * dollar quote, identifier or comment) and *items NULL, *count 0.
 */
int rb_sql_split(const char *body, const char *file, int first_line, int std_strings,
		 rb_sql_item **items, size_t *count, rb_error *err);

/**
 * The file a \i or \ir item names, as psql resolves it: an absolute path
 * as written; \i from dir (the runbook's directory), \ir from the
 * directory of file (the file the item is written in). NULL when the item
 * names no file. Caller frees.
 */
char *rb_sql_include_path(const rb_sql_item *it, const char *file, const char *dir);

/** Releases items returned by rb_sql_split (NULL is fine). */
void rb_sql_items_free(rb_sql_item *items, size_t count);

/** Releases the strings of one item (from rb_sql_reader_next) and zeroes it. */
void rb_sql_item_clear(rb_sql_item *it);

/**
 * A source read item by item, as psql reads a file: only the lines that
 * the item being read spans are held, so a file of any size is read in
 * bounded memory (a chunk, plus the longest statement). Positions are as
 * for rb_sql_split; a file's first line is line 1.
 *
 * COPY data: after an item, the lines that follow the line it ends on are
 * data if the caller asks for them with rb_sql_reader_copy_line, up to a
 * line "\." or the end of the source; reading then goes on after them.
 * The data of a COPY ... FROM STDIN nobody asked for is skipped by the next
 * rb_sql_reader_next, so every reader of a source agrees on what is SQL.
 */
typedef struct rb_sql_reader rb_sql_reader;

/** A reader of body (not copied: it must outlive the reader). */
rb_sql_reader *rb_sql_reader_string(const char *body, const char *file, int first_line, int std_strings);

/** A reader of the file path. 0, or -1 with err set (cannot open, RB_EXIT_USAGE). */
int rb_sql_reader_file(const char *path, int std_strings, rb_sql_reader **out, rb_error *err);

/** The file name the reader's positions name. Owned by the reader. */
const char *rb_sql_reader_path(const rb_sql_reader *r);

/**
 * The next item into *it (the caller owns its strings: rb_sql_item_clear).
 * 1, 0 at the end, -1 with err set (as rb_sql_split; a read error).
 */
int rb_sql_reader_next(rb_sql_reader *r, rb_sql_item *it, rb_error *err);

/**
 * The next COPY data line after the item rb_sql_reader_next gave last:
 * 1 with *line (len bytes, with its "\n" when it has one; valid until the
 * next call on r) and its line number, 0 after the last one (the "\."
 * line is not given), -1 with err set on a read error.
 */
int rb_sql_reader_copy_line(rb_sql_reader *r, const char **line, size_t *len, int *lineno, rb_error *err);

void rb_sql_reader_free(rb_sql_reader *r);

/**
 * The first word of a statement's text (past spaces and comments), lower
 * case, in buf (size bytes); "" when it starts with no word, when the word
 * does not fit, or when the text holds a \; anywhere (psql joins the
 * parts into one text, each with its own first word). Returns buf.
 */
const char *rb_sql_first_word(const char *text, int std_strings, char *buf, size_t size);

/**
 * 1 when a statement's first word makes it a query or a data change
 * (SELECT, INSERT, UPDATE, DELETE, WITH, VALUES, TABLE, MERGE): neither
 * transaction control nor refused in a transaction block, and needing no
 * transaction block of its own (unlike LOCK, DECLARE or SET LOCAL).
 */
int rb_sql_plain_dml(const char *text, int std_strings);

/** 1 when any statement is transaction control: such a block runs as written. */
int rb_sql_has_txn_control(const rb_sql_item *items, size_t count);

/**
 * Returns a variable's value, or NULL when it is undefined. The value is
 * only read during the call that asked for it.
 */
typedef const char *(*rb_sql_lookup)(void *ctx, const char *name);

/**
 * Replaces psql variable references in one statement (or meta-command
 * argument text), outside quotes, dollar quotes and comments:
 *   :'NAME'  the value as a string literal, as PQescapeLiteral writes it
 *            ('' doubled; with a backslash, " E'...'" with \\ doubled)
 *   :"NAME"  the value as a quoted identifier ("" doubled)
 *   :NAME    the value as is
 *   :{?NAME} TRUE when NAME is defined, else FALSE
 * A name is made of ASCII letters, digits, '_' and bytes >= 0x80, and does
 * not start with a digit, so array slices such as a[1:2] stay as written.
 * "::" and a ':' that starts none of these forms are kept; psql's "\:" and
 * "\;" become ':' and ';'. Values used in the quoted forms must be valid
 * UTF-8: the quoting is byte-wise, which is safe for UTF-8 and other
 * encodings whose multibyte characters never contain ASCII bytes.
 *
 * line and col are the runbook position of stmt's first byte; an error
 * (undefined variable, value that is not UTF-8, unterminated quote in stmt)
 * carries the exact position of the construct, RB_EXIT_USAGE, and leaves
 * *out NULL. On success *out is a new string the caller frees.
 */
int rb_sql_interpolate(const char *stmt, const char *file, int line, int col, int std_strings,
		       rb_sql_lookup lookup, void *ctx, char **out, rb_error *err);

/**
 * One statement as PostgreSQL's parser can read it offline (sqlparse.h):
 * each psql variable reference replaced by a placeholder of the same
 * length in bytes, so that every byte offset into *out is the same offset
 * into stmt:
 *   :NAME      _NAME, an identifier; with literal, 'xxxx', a string literal
 *   :'NAME'    '_NAME', a string literal
 *   :"NAME"    "_NAME", a quoted identifier
 *   :{?NAME}   TRUE and spaces
 * and psql's \; and \: become " ;" and " :" (one statement for psql, two
 * for the parser). Quotes, dollar quotes and comments are left as they are,
 * and so is a ':' that starts none of these forms. *count is the number of
 * references replaced. Returns 0 and a new string in *out (caller frees),
 * or -1 (*out NULL) when stmt has an unterminated quote or comment.
 */
int rb_sql_placeholders(const char *stmt, int std_strings, int literal, char **out, size_t *count);

#endif
