/*
 * requires.h - what a runbook declares it needs (front matter `requires:
 * {tools: [...], env: [...], postgres: ">= 14"}`), checked by the engine
 * before step 1 (run_requires.c), every shortfall reported at once.
 */
#ifndef RB_REQUIRES_H
#define RB_REQUIRES_H

#include <stddef.h>

/**
 * Reads a PostgreSQL version requirement: ">= 14", ">=14.2", "14" (at
 * least that). *min gets the least server_version_num allowed (14 ->
 * 140000, 14.2 -> 140002), *text (may be NULL) a copy's pointer into
 * spec after the operator. Returns 0, or -1 when spec is not one.
 */
int rb_pg_version_requirement(const char *spec, int *min, const char **text);

/** A server_version_num as people write it: "9.6.5", "14.2". */
void rb_pg_version_text(int version_num, char *buf, size_t size);

#endif
