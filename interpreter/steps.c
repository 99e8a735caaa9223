/*
 * steps.c - the registry of step kinds and their executors (run.h).
 */
#include "run.h"

const rb_step_ops *rb_step_ops_for(rb_step_kind kind)
{
	static const rb_step_ops *const all[] = {&rb_step_shell_ops, &rb_step_sql_ops, &rb_step_lua_ops,
						 &rb_step_gate_ops, &rb_step_approval_ops, NULL};
	for (const rb_step_ops *const *o = all; *o; o++)
		if ((*o)->kind == kind)
			return *o;
	return NULL;
}
