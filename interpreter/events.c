/*
 * events.c - the names of the run's events (events.h), and closing a sink.
 */
#include "events.h"

#include <stddef.h>

static const char *const names[RB_EV__COUNT] = {
	[RB_EV_RUN_START] = "run_start",
	[RB_EV_RUN_END] = "run_end",
	[RB_EV_STEP_START] = "step_start",
	[RB_EV_STEP_OUTPUT] = "step_output",
	[RB_EV_STEP_RESULT] = "step_result",
	[RB_EV_STEP_END] = "step_end",
	[RB_EV_STEP_SKIPPED] = "step_skipped",
	[RB_EV_RETRY] = "retry",
	[RB_EV_GATE] = "gate",
	[RB_EV_APPROVAL] = "approval",
	[RB_EV_ABORT_ARMED] = "abort_armed",
	[RB_EV_ABORT_FIRED] = "abort_fired",
	[RB_EV_HANDLER_START] = "handler_start",
	[RB_EV_HANDLER_END] = "handler_end",
	[RB_EV_CAPTURE] = "capture",
	[RB_EV_SQL] = "sql",
	[RB_EV_ERROR] = "error",
	[RB_EV_MESSAGE] = "message",
	[RB_EV_NOTE] = "note",
	[RB_EV_LOG] = "log",
	[RB_EV_PROCESS] = "process",
	[RB_EV_DATABASE] = "database",
	[RB_EV_VAR] = "var",
};

const char *rb_ev_name(rb_ev_type type)
{
	return type >= 0 && type < RB_EV__COUNT && names[type] ? names[type] : "unknown";
}

int rb_sink_close(rb_sink *s, rb_error *err)
{
	return s ? s->close(s, err) : 0;
}
