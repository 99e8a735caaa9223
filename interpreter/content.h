/*
 * content.h - what a run runs beyond the runbook's own text: the SQL files
 * its sql steps pull in with \i and \ir (nested ones too), hashed, so that
 * the record and --resume see an edit to them as they see an edit to the
 * runbook.
 */
#ifndef RB_CONTENT_H
#define RB_CONTENT_H

#include "runbook.h"

/**
 * A git blob id (40 hex digits into out) of the list of files rb's sql
 * steps include -- each file's path relative to the runbook's directory
 * and its own blob id, in the order psql would read them; a file that
 * cannot be read counts as "missing". The empty list has a hash too.
 */
void rb_content_includes(const rb_runbook *rb, char out[41]);

#endif
