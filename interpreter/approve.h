/*
 * approve.h - asking a person: task-list items (y/N) and typed confirmation
 * phrases.
 *
 * On a terminal (standard input is a tty) each question is asked on stderr
 * and answered on stdin. Without a terminal nobody can answer, so the
 * answer is no — fail closed — unless the command line approved in advance
 * (--yes for items and plain confirmations, --confirm PHRASE for phrases).
 * Every decision says how it was made, for the audit record.
 */
#ifndef RB_APPROVE_H
#define RB_APPROVE_H

#include <stddef.h>

typedef struct {
	int interactive;         /* ask on the terminal */
	int yes;                 /* --yes */
	const char *phrase;      /* --confirm PHRASE, or NULL */
} rb_approver;

/** Fills a with the process's situation (isatty(0)) and the flags. */
void rb_approver_init(rb_approver *a, int yes, const char *phrase);

/**
 * Asks to approve one item. Returns 1 (approved) or 0 (refused) and sets
 * *how to a static string: "terminal", "--yes", "refused at the terminal",
 * "no terminal and no --yes".
 */
int rb_approve_item(const rb_approver *a, const char *question, const char **how);

/** How many times a confirmation phrase is asked before the answer is no. */
#define RB_PHRASE_TRIES 3

/**
 * Asks for phrase to be typed exactly (or given with --confirm); a wrong
 * phrase is said to be wrong and asked again, RB_PHRASE_TRIES times in all.
 * Returns 1 or 0 and sets *how as above ("--confirm", "typed at the
 * terminal", "the phrase typed at the terminal did not match (3 tries)",
 * ...).
 */
int rb_approve_phrase(const rb_approver *a, const char *question, const char *phrase,
		      const char **how);

/**
 * Asks for a value on the terminal (question on stderr, answer on stdin),
 * without echo when secret. Returns 1 with the answer in buf (size bytes,
 * NUL-terminated, newline removed), or 0 without a terminal, at end of
 * input or when a signal arrived.
 */
int rb_ask_value(const rb_approver *a, const char *question, int secret, char *buf, size_t size);

/**
 * Asks question until the answer is one of choices (single letters, or the
 * word that starts with one: "y" or "yes"). Returns the letter, or 0
 * without a terminal, at end of input or when a signal arrived.
 */
char rb_ask_choice(const rb_approver *a, const char *question, const char *choices);

#endif
