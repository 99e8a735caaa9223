/*
 * visible.h - text from a document, a variable or a record, made safe to
 * show: control characters and Unicode bidirectional controls become
 * visible escapes, so that what a terminal shows is what is there.
 *
 * A runbook is reviewed by reading it. An escape sequence (CSI, OSC) or a
 * right-to-left override inside it can make a terminal show one thing while
 * another runs ("Trojan Source"). Everything runbook prints about a
 * document passes through rb_visible*; step output is shown as the program
 * wrote it, but the record keeps it neutralised.
 *
 * Made visible: C0 controls but tab and newline (ESC as \e, others as \xNN:
 * BEL \x07, CR \x0d), DEL (\x7f), C1 controls U+0080..U+009F (\u0085) and
 * the bidirectional controls U+061C, U+200E, U+200F, U+202A..U+202E,
 * U+2066..U+2069 (\u202e). Everything else, backslashes included, is copied
 * unchanged, and so are bytes that are not valid UTF-8.
 */
#ifndef RB_VISIBLE_H
#define RB_VISIBLE_H

#include <stddef.h>

#include "util.h"

/** Appends text[0..len) to out with hidden characters made visible. */
void rb_visible_into(const char *text, size_t len, rb_buf *out);

/** A copy of text (NULL: "") with hidden characters made visible; caller frees. */
char *rb_visible(const char *text);

/**
 * Finds the next hidden character in text at or after byte `from` (at most
 * strlen(text)). Returns its byte offset and sets *len (its length in bytes)
 * and *name (a static description such as "escape character (ESC)" or
 * "right-to-left override U+202E"), or returns -1 when there is none. Text
 * before `from` is not read, so stepping through a text costs its length.
 */
long rb_visible_next(const char *text, size_t from, size_t *len, const char **name);

#endif
