/*
 * steps.c - the registry of step kinds (run.h): the one list a new kind is
 * added to.
 */
#include "run.h"

#include <ctype.h>
#include <string.h>

static const rb_step_ops *const kinds[] = {
	&rb_step_shell_ops, &rb_step_sql_ops, &rb_step_lua_ops, &rb_step_gate_ops, &rb_step_abort_ops,
	&rb_step_approval_ops, NULL,
};

const rb_step_ops *rb_step_ops_for(rb_step_kind kind)
{
	for (const rb_step_ops *const *o = kinds; *o; o++)
		if ((*o)->kind == kind)
			return *o;
	return NULL;
}

const char *rb_step_kind_name(rb_step_kind kind)
{
	const rb_step_ops *o = rb_step_ops_for(kind);
	return o ? o->name : "doc";
}

static int speaks(const rb_step_ops *o, const char *lang)
{
	for (const char *const *l = o->languages; l && *l; l++)
		if (!strcmp(*l, lang))
			return 1;
	return 0;
}

rb_step_kind rb_kind_of(const char *lang, const char *qualifier)
{
	char l[16];
	size_t n = strlen(lang);
	const rb_step_ops *plain = NULL;
	if (n >= sizeof l)
		return RB_STEP_DOC;
	for (size_t i = 0; i <= n; i++)
		l[i] = (char)tolower((unsigned char)lang[i]);
	for (const rb_step_ops *const *o = kinds; *o; o++) {
		if (!speaks(*o, l))
			continue;
		if ((*o)->qualifier && qualifier && !strcmp((*o)->qualifier, qualifier))
			return (*o)->kind;
		if (!(*o)->qualifier && !plain)
			plain = *o;
	}
	return plain ? plain->kind : RB_STEP_DOC;
}
