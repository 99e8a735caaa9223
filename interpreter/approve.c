/*
 * approve.c - questions on the terminal, answers from the command line.
 */
#define _POSIX_C_SOURCE 200809L
#include "approve.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void rb_approver_init(rb_approver *a, int yes, const char *phrase)
{
	a->interactive = isatty(0);
	a->yes = yes;
	a->phrase = phrase;
}

/* One line from stdin without its newline; 0 at end of input. */
static int read_answer(char *buf, size_t size)
{
	if (!fgets(buf, (int)size, stdin))
		return 0;
	buf[strcspn(buf, "\r\n")] = '\0';
	return 1;
}

int rb_approve_item(const rb_approver *a, const char *question, const char **how)
{
	if (a->yes) {
		*how = "--yes";
		return 1;
	}
	if (!a->interactive) {
		*how = "no terminal and no --yes";
		return 0;
	}
	char answer[64];
	fflush(stdout);
	fprintf(stderr, "  approve: %s [y/N] ", question);
	fflush(stderr);
	if (read_answer(answer, sizeof answer) && (!strcmp(answer, "y") || !strcmp(answer, "Y") ||
						   !strcmp(answer, "yes"))) {
		*how = "terminal";
		return 1;
	}
	*how = "refused at the terminal";
	return 0;
}

int rb_approve_phrase(const rb_approver *a, const char *question, const char *phrase,
		      const char **how)
{
	if (a->phrase) {
		if (!strcmp(a->phrase, phrase)) {
			*how = "--confirm";
			return 1;
		}
		*how = "--confirm phrase did not match";
		return 0;
	}
	if (!a->interactive) {
		*how = "no terminal and no --confirm";
		return 0;
	}
	char answer[256];
	fflush(stdout);
	fprintf(stderr, "  %s\n  type %s to go on: ", question, phrase);
	fflush(stderr);
	if (read_answer(answer, sizeof answer) && !strcmp(answer, phrase)) {
		*how = "typed at the terminal";
		return 1;
	}
	*how = "phrase not typed at the terminal";
	return 0;
}
