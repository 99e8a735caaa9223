/*
 * approve.c - questions on the terminal, answers from the command line.
 */
#define _POSIX_C_SOURCE 200809L
#include "approve.h"
#include "signals.h"
#include "output.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

void rb_approver_init(rb_approver *a, int yes, const char *phrase)
{
	a->interactive = isatty(0);
	a->yes = yes;
	a->phrase = phrase;
}

/*
 * One line from standard input without its newline; 0 at end of input or
 * when a signal arrives. Reads with read(2) after poll(), watching the
 * signal pipe too, so Ctrl-C, SIGTERM and SIGHUP are honoured at once
 * instead of after the answer (a restarted fgets would wait for it).
 */
static int read_answer(char *buf, size_t size)
{
	size_t n = 0;
	for (;;) {
		if (rb_signals_interrupted())
			return 0;
		struct pollfd p[2] = {{0, POLLIN, 0}, {rb_signals_fd(), POLLIN, 0}};
		int k = poll(p, 2, 100);
		if (k < 0 && errno != EINTR)
			return 0;
		if (k <= 0)
			continue;
		if (p[1].revents)
			rb_signals_drain();
		if (!p[0].revents)
			continue;
		char c;
		ssize_t r = read(0, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		if (c == '\n')
			break;
		if (n + 1 < size)
			buf[n++] = c;
	}
	buf[n] = '\0';
	if (n && buf[n - 1] == '\r')
		buf[n - 1] = '\0';
	rb_out_line_ended(); /* the terminal echoed the Enter */
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
	rb_out_err("  approve: %s [y/N] ", question);
	if (read_answer(answer, sizeof answer) && (!strcmp(answer, "y") || !strcmp(answer, "Y") ||
						   !strcmp(answer, "yes"))) {
		*how = "terminal";
		return 1;
	}
	*how = rb_signals_interrupted() ? "interrupted at the terminal" : "refused at the terminal";
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
	int got = 0;
	rb_out_err("  %s\n", question);
	for (int tries = 1; tries <= RB_PHRASE_TRIES; tries++) {
		rb_out_err("  type %s to go on: ", phrase);
		if (!(got = read_answer(answer, sizeof answer)) || !strcmp(answer, phrase))
			break;
		if (tries < RB_PHRASE_TRIES)
			rb_out_err("  that is not the phrase (%d %s left)\n", RB_PHRASE_TRIES - tries,
				   RB_PHRASE_TRIES - tries == 1 ? "try" : "tries");
	}
	if (got && !strcmp(answer, phrase)) {
		*how = "typed at the terminal";
		return 1;
	}
	*how = rb_signals_interrupted() ? "interrupted at the terminal"
	       : got ? "the phrase typed at the terminal did not match (3 tries)" : "no phrase typed at the terminal";
	return 0;
}

int rb_ask_value(const rb_approver *a, const char *question, int secret, char *buf, size_t size)
{
	struct termios saved, quiet;
	int hidden = 0, got;
	if (!a->interactive)
		return 0;
	if (secret && tcgetattr(0, &saved) == 0) {
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		hidden = tcsetattr(0, TCSAFLUSH, &quiet) == 0;
	}
	rb_out_err("%s", question);
	got = read_answer(buf, size);
	if (hidden)
		tcsetattr(0, TCSAFLUSH, &saved);
	return got;
}

char rb_ask_choice(const rb_approver *a, const char *question, const char *choices)
{
	char answer[64], got = 0;
	while (!got && rb_ask_value(a, question, 0, answer, sizeof answer) && !rb_signals_interrupted()) {
		char c = (char)tolower((unsigned char)answer[0]);
		if (c && strchr(choices, c))
			got = c;
	}
	return got;
}
