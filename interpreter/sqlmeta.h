/*
 * sqlmeta.h - what psql makes of a meta-command's arguments: its words and
 * quotes (psqlscanslash.l), its booleans (ParseVariableBool) and its stack
 * of \if ... \endif branches (conditional.c). sqlexec.c runs meta-commands
 * with these; lint.c checks them offline with the same code.
 *
 * Ownership: rb_sqlmeta_words fills an argv the caller releases with
 * rb_sqlmeta_argv_free; rb_sqlmeta_echo returns a string the caller frees.
 * A rb_sqlmeta_cond is zero-initialised and released with
 * rb_sqlmeta_cond_free.
 */
#ifndef RB_SQLMETA_H
#define RB_SQLMETA_H

#include <stddef.h>

#include "sqlsplit.h"

/**
 * psql's boolean: a unique prefix, case-insensitive, of true, false, yes,
 * no, on or off ("o" alone is neither; "on" and "of" are the shortest),
 * or exactly 1 or 0. Returns 0 with *result set, or -1 when value is none
 * of these (psql's "unrecognized value ... Boolean expected").
 */
int rb_sqlmeta_bool(const char *value, int *result);

typedef struct {
	char **v;        /* the words, each owned */
	size_t n;
} rb_sqlmeta_argv;

/**
 * Splits args (a meta-command's argument text, rb_sql_item.args) into
 * words as psql's OT_NORMAL does: whitespace separates words; in
 * 'single quotes' (which may be glued to other text of the word) '' is a
 * quote and \n \t \b \r \f, \digits (octal) and \xHH are escapes, any other
 * \c is c; "double quotes" are kept with their content as written; outside
 * quotes :NAME, :'NAME', :"NAME" and :{?NAME} are replaced as in SQL
 * (lookup; NULL lookup leaves them as written). A `backquote` (a shell
 * command) and an undefined variable are errors: -1 with *error set to a
 * message (caller frees) and *errpos to the offset in args; else 0.
 */
int rb_sqlmeta_words(const char *args, rb_sql_lookup lookup, void *ctx, rb_sqlmeta_argv *out,
		     char **error, size_t *errpos);

void rb_sqlmeta_argv_free(rb_sqlmeta_argv *a);

/**
 * What \echo, \qecho and \warn print for their words: the words joined by
 * one space, with a newline unless the first word is -n (which is not
 * printed). Caller frees.
 */
char *rb_sqlmeta_echo(const rb_sqlmeta_argv *a);

/** \copy's arguments, as psql reads them (the whole line, no variables). */
typedef struct {
	char *sql;       /* "COPY target FROM STDIN options" or "COPY target TO STDOUT options" */
	char *file;      /* the file as written (unquoted); NULL for stdin and stdout */
	int from;        /* 1: FROM, 0: TO */
} rb_sqlmeta_copy;

/**
 * Reads "\copy table [(columns)] | (query) from|to 'file'|file|stdin|stdout
 * [[with] options]". 0, or -1 with *error set to psql's message ("\copy:
 * parse error at ...", caller frees); pstdin, pstdout and program are
 * errors too. Release with rb_sqlmeta_copy_free.
 */
int rb_sqlmeta_copy_parse(const char *args, rb_sqlmeta_copy *out, char **error);
void rb_sqlmeta_copy_free(rb_sqlmeta_copy *c);

/** One level of \if: psql's states. */
typedef enum {
	RB_IF_TRUE = 1,    /* in the branch taken */
	RB_IF_FALSE,       /* no branch taken yet: a later \elif or \else may be */
	RB_IF_IGNORED,     /* a branch was taken before, or the whole \if is inside a false branch */
	RB_IF_ELSE_TRUE,   /* in the \else, taken */
	RB_IF_ELSE_FALSE   /* in the \else, not taken */
} rb_if_state;

typedef struct {
	unsigned char *st;
	size_t n;
	size_t cap;
} rb_sqlmeta_cond;

/** 1 when statements and meta-commands run here (no \if, or in a branch taken). */
int rb_sqlmeta_cond_active(const rb_sqlmeta_cond *c);

/**
 * 1 when cmd's expression is evaluated here, as psql does: \if in an
 * active branch, \elif when no branch of its \if has been taken. Else its
 * arguments are not even read.
 */
int rb_sqlmeta_cond_evaluates(const rb_sqlmeta_cond *c, rb_sql_cmd cmd);

/**
 * Applies \if, \elif (value: its expression, when evaluated), \else or
 * \endif. Returns NULL, or psql's message when it is misplaced ("\else:
 * cannot occur after \else", "\endif: no matching \if", ...), the stack
 * unchanged.
 */
const char *rb_sqlmeta_cond_apply(rb_sqlmeta_cond *c, rb_sql_cmd cmd, int value);

void rb_sqlmeta_cond_free(rb_sqlmeta_cond *c);

/**
 * check's reading of one supported meta-command, offline (variables left
 * as written): its arguments (\x, \pset, \timing, \if and \elif values
 * that hold no variable, \copy, \c, \set), and its place in the \if
 * stack cond (applied). NULL when fine, else the message (caller frees),
 * the same as the run's.
 */
char *rb_sqlmeta_check(const rb_sql_item *it, rb_sqlmeta_cond *cond);

#endif
