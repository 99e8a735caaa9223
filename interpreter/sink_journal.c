/*
 * sink_journal.c - the journal and audit record as a sink: the events that
 * keep a run become record events (record.h), each fsync'd before the run
 * goes on. What is only for people (messages, result lines, output chunks)
 * is not kept here; a step's kept output arrives with its end.
 */
#define _GNU_SOURCE
#include "events.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
	rb_sink base;
	rb_record *rec;
} journal_sink;

/* When the event happened, for the timeline of the report: "2026-11-30T15:51:30.123Z". */
static const char *at(const rb_ev *ev, char *buf, size_t size)
{
	return rb_format_iso(ev->time_ms, 1, buf, size);
}

static void step_started(rb_record *rec, const rb_ev *ev)
{
	static const char *const roles[] = {"main", "on_failure", "manual", "undo"};
	const rb_step *s = ev->step;
	char num[16], line[16], when[80];
	rb_buf path = RB_BUF_INIT;
	snprintf(num, sizeof num, "%d", s->number);
	snprintf(line, sizeof line, "%d", s->line);
	rb_section_path(ev->runbook, s->section, &path);
	rb_record_event(rec, "step", "id", s->id, "number", s->number ? num : NULL, "kind", rb_step_kind_name(s->kind),
			"lang", s->lang, "line", line, "section", path.data, "role", roles[s->role], "undoes",
			s->undoes >= 0 ? ev->runbook->steps[s->undoes].id : NULL, "allow", s->allow.value, "at",
			at(ev, when, sizeof when), NULL);
	rb_buf_free(&path);
}

static void step_ended(rb_record *rec, const rb_ev *ev)
{
	const rb_step *s = ev->step;
	char code[16], dur[32], tries[16], when[80];
	snprintf(code, sizeof code, "%d", ev->exit_code);
	snprintf(tries, sizeof tries, "%d", ev->attempts);
	rb_format_duration(ev->duration_ms, dur, sizeof dur);
	rb_record_event(rec, "end", "id", s->id, "status", rb_status_name(ev->status), "exit",
			ev->exit_code >= 0 ? code : NULL, "sqlstate", ev->sqlstate && *ev->sqlstate ? ev->sqlstate : NULL,
			"message", ev->text, "duration", ev->duration_ms >= 0 ? dur : NULL, "attempts", ev->attempts > 1 ? tries : NULL,
			"output", ev->data, "capture", ev->name, "value", ev->value, "documented_output",
			s->doc_output && *s->doc_output ? s->doc_output : NULL, "at", at(ev, when, sizeof when), NULL);
}

/* A note: its text, then its fields. */
static void note(rb_record *rec, const char *text, const char *const *fields)
{
	const char *kv[40];
	size_t n = 0;
	kv[n++] = "text";
	kv[n++] = text;
	for (size_t i = 0; fields && fields[i] && n + 3 < sizeof kv / sizeof *kv; i += 2) {
		kv[n++] = fields[i];
		kv[n++] = fields[i + 1];
	}
	kv[n] = NULL;
	rb_record_fields(rec, "note", kv);
}

static void journal_event(rb_sink *self, const rb_ev *ev)
{
	rb_record *rec = ((journal_sink *)self)->rec;
	char when[80];
	switch (ev->type) {
	case RB_EV_STEP_START:
		step_started(rec, ev);
		break;
	case RB_EV_STEP_END:
		step_ended(rec, ev);
		break;
	case RB_EV_APPROVAL:
		rb_record_event(rec, "approval", "step", ev->step ? ev->step->id : ev->text, "item", ev->name, "who",
				ev->who, "how", ev->value, "approved", ev->approved ? "yes" : "no", "at",
				at(ev, when, sizeof when), NULL);
		break;
	case RB_EV_ABORT_FIRED:
		rb_record_event(rec, "abort", "step", ev->step->id, "reason", ev->text, "at", at(ev, when, sizeof when), NULL);
		break;
	case RB_EV_HANDLER_START:
		rb_record_event(rec, "note", "text", "the on_failure section ran", NULL);
		break;
	case RB_EV_HANDLER_END:
		if (ev->status != RB_STATUS_OK)
			rb_record_event(rec, "note", "text", "the on_failure section was stopped", "reason", ev->text, NULL);
		break;
	case RB_EV_NOTE:
		note(rec, ev->text, ev->fields);
		break;
	case RB_EV_PROCESS:
		rb_record_event(rec, "process", "step", ev->step->id, ev->value, ev->name, NULL);
		break;
	case RB_EV_DATABASE:
	case RB_EV_VAR: {
		const char *kv[16];
		size_t n = 0;
		kv[n++] = "name";
		kv[n++] = ev->name;
		kv[n++] = ev->type == RB_EV_VAR ? "value" : "target";
		kv[n++] = ev->value;
		for (size_t i = 0; ev->fields && ev->fields[i] && n + 3 < sizeof kv / sizeof *kv; i += 2) {
			kv[n++] = ev->fields[i];
			kv[n++] = ev->fields[i + 1];
		}
		kv[n] = NULL;
		rb_record_fields(rec, ev->type == RB_EV_VAR ? "var" : "database", kv);
		break;
	}
	default:
		break;
	}
}

static int journal_close(rb_sink *self, rb_error *err)
{
	(void)err;
	free(self);
	return 0;
}

rb_sink *rb_sink_journal_new(rb_record *rec)
{
	journal_sink *j = rb_xcalloc(1, sizeof *j);
	j->base.name = "journal";
	j->base.event = journal_event;
	j->base.close = journal_close;
	j->rec = rec;
	return &j->base;
}
