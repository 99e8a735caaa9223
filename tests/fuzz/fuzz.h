/*
 * fuzz.h - what the libFuzzer harnesses share: the entry point's prototype,
 * a NUL-terminated copy of the input, and a check that aborts with a message
 * (libFuzzer then saves the input as a crash artifact).
 */
#ifndef RB_FUZZ_H
#define RB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/** data[0..size) up to its first NUL, as a new string (caller frees). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	const void *nul = memchr(data, '\0', size);
	size_t n = nul ? (size_t)((const uint8_t *)nul - data) : size;
	return rb_xstrndup((const char *)data, n);
}

/** A property the harness checks; failing it is a finding like a crash. */
#define FUZZ_CHECK(cond, ...)                                                         \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, \
				#cond);                                                \
			fprintf(stderr, __VA_ARGS__);                                  \
			fputc('\n', stderr);                                           \
			abort();                                                       \
		}                                                                      \
	} while (0)

#endif
