/*
 * runbook.h - the parsed runbook: front matter, sections, steps.
 *
 * A runbook is produced by rb_parse() (parse.h) and owned by the caller, who
 * releases it with rb_runbook_free(). Every string inside it is owned by the
 * runbook. Nothing here runs anything: the plan (plan.h) prints this
 * structure and the engine (engine.h) executes it.
 */
#ifndef RB_RUNBOOK_H
#define RB_RUNBOOK_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/** What a fenced block (or a task list) is, from its language. */
typedef enum {
	RB_STEP_DOC = 0,  /* documentation: shown by the plan, never run */
	RB_STEP_SHELL,    /* bash, sh, shell */
	RB_STEP_SQL,      /* sql, postgresql, pgsql, psql */
	RB_STEP_LUA,      /* lua */
	RB_STEP_GATE,     /* lua gate */
	RB_STEP_ABORT,    /* lua abort */
	RB_STEP_APPROVAL  /* a Markdown task list */
} rb_step_kind;

/** Where a section (and so its steps) runs. Inherited by subsections. */
typedef enum {
	RB_ROLE_MAIN = 0,    /* the normal top-to-bottom flow */
	RB_ROLE_ON_FAILURE,  /* the front matter's on_failure section */
	RB_ROLE_MANUAL,      /* a front matter manual: section, never run */
	RB_ROLE_UNDO         /* an undo block: runs only to undo its step (docs/format.md, "Undo") */
} rb_role;

/** A string with the place it was written. */
typedef struct {
	char *value;
	int line;
	int col;
} rb_pos_str;

/** Where a secret of the front matter's secrets: comes from (secretsrc.h resolves it). */
typedef enum { RB_SECRET_COMMAND, RB_SECRET_FILE, RB_SECRET_ENV } rb_secret_kind;

typedef struct {
	char *name;             /* the variable */
	rb_secret_kind kind;
	char *from;             /* the command line, the file's path (relative to the runbook), the variable */
	int line, col;          /* of the source in the front matter */
} rb_secret_source;

/** One attribute of a step, as written in the fence's info string. */
typedef struct {
	char *key;
	char *value;  /* "true" for a bare flag */
	int line;
	int col;
	int known;    /* 1: meaningful here; 0: a Runme key that is kept and shown */
} rb_attr;

/** One item of a task list. */
typedef struct {
	char *text;
	int checked;
	int line;
	int col;
} rb_approval_item;

typedef struct {
	int level;     /* 1..6, 0 for the implicit root before any heading */
	char *title;   /* heading text, inline markup flattened */
	char *slug;    /* GitHub anchor slug, unique in the document */
	int line;
	int col;
	int parent;    /* index into rb_runbook.sections, -1 for none */
	rb_role role;
} rb_section;

/** A sql step's lock_timeout when neither the step nor the front matter gives one (docs/format.md, "Lock safety"). */
#define RB_DEFAULT_LOCK_TIMEOUT_MS 5000

/** The transaction mode of a SQL step. */
typedef enum { RB_TXN_SINGLE = 0, RB_TXN_NONE } rb_txn_mode;

typedef struct {
	rb_step_kind kind;
	char *lang;        /* the fence's language as written ("bash", "lua"), "" for none, "tasks" for approvals */
	char *info;        /* the whole info string as written */
	char *id;          /* explicit name= or generated "<section-slug>-<n>" */
	int id_explicit;
	int section;       /* index into rb_runbook.sections */
	rb_role role;      /* from the section */
	int line;          /* line of the opening fence (or first task item) */
	int col;
	int body_line;     /* line of the body's first line */
	char *body;        /* the block's content, exactly as written */
	int number;        /* 1-based position among the runnable steps of its role; 0 for documentation */

	rb_attr *attrs;
	size_t nattrs;

	rb_approval_item *items;  /* RB_STEP_APPROVAL only */
	size_t nitems;

	/* Typed attributes, validated by the parser. -1 / NULL means "not given". */
	int64_t timeout_ms;
	int retry;
	int64_t retry_delay_ms;
	int64_t every_ms;
	rb_pos_str when;
	rb_pos_str expect;
	rb_pos_str expect_error;
	rb_pos_str capture;
	int confirm;            /* confirm or confirm="PHRASE" */
	char *confirm_phrase;   /* NULL for a plain yes/no confirmation */
	int confirm_each;       /* confirm=each: a plain confirmation asked of each target of a rollout */
	int continue_on_error;
	int skip;
	int interactive;
	int during_handler;     /* lua abort: stays armed while the on_failure section runs */
	char *db;
	rb_txn_mode transaction;
	int64_t lock_timeout_ms;  /* sql: -1 when not given */
	int64_t rows;           /* sql: rows=N, the rows printed of each result; 0 when not given (100); -1: rows=all */
	rb_pos_str allow;       /* sql: allow=RULE[,RULE], SQL lint rules silenced here (sqlrule.h) */
	char *cwd;
	int run;                /* run=: 1 true, 0 false, -1 not given */

	/* Shell steps (docs/format.md, "Prompts and console transcripts", "Interpreters"). */
	char *interpreter;      /* interpreter= or the language's program ("zsh", "python3"); NULL: the front matter's shell */
	int prompted;           /* lines starting "$ " are the commands, the other lines documented output */
	char *script;           /* prompted: what runs, line for line with the body (transcript.h); NULL: the body */
	char *doc_output;       /* prompted: the documented output; NULL otherwise */

	/* Undo (docs/format.md, "Undo"): indexes into rb_runbook.steps, -1 for none. */
	int undo_block;         /* 1: written as `LANG undo` (role RB_ROLE_UNDO) */
	rb_pos_str undo_ref;    /* undo=ID as written */
	int undo;               /* this step's undo block */
	int undoes;             /* an undo block: the step it undoes */
	int undo_on_failure;    /* the undo runs even when this step itself fails */
} rb_step;

/** A key/value pair of the front matter, in document order. */
typedef struct {
	char *key;
	char *value;
	int line;
	int col;
} rb_kv;

/** The YAML front matter, typed. Absent keys are NULL / 0 / -1. */
/** One declared input (front matter inputs:), asked or given before the first step. */
typedef struct {
	char *name;
	char *description;    /* NULL when none */
	char *def;            /* the default; NULL when none */
	char **choices;       /* the values allowed; NULL-free list of nchoices */
	size_t nchoices;
	rb_pos_str pattern;   /* a Lua pattern the whole value must match; value NULL when none */
	int secret;           /* asked without echo, hidden wherever it would be printed or recorded */
	int required;         /* an empty value is refused (default: 1 unless a default is given) */
	int line;
	int col;
} rb_input;

typedef struct {
	int present;
	int line;             /* line of the opening --- */
	char *title;
	rb_pos_str database;
	rb_kv *databases;     /* named connections */
	size_t ndatabases;
	char *shell;          /* a shell of the interpreter table (interp.h) */
	int console_run;      /* console: run -- console, shell-session and terminal blocks run their prompted commands */
	rb_input *inputs;     /* inputs:, in document order */
	size_t ninputs;
	rb_kv *env;           /* variables with defaults */
	size_t nenv;
	rb_pos_str *secrets;
	size_t nsecrets;
	rb_secret_source *secret_sources; /* secrets: with a source (secretsrc.h), in order */
	size_t nsecret_sources;
	rb_pos_str *req_tools;  /* requires.tools: commands that must be on PATH */
	size_t nreq_tools;
	rb_pos_str *req_env;    /* requires.env: variables that must be set */
	size_t nreq_env;
	rb_pos_str req_postgres; /* requires.postgres: ">= 14", "15"; value NULL: none */
	rb_pos_str *not_secret; /* names that look secret and hold none (secrets: wins) */
	size_t nnot_secret;
	int64_t timeout_ms;   /* -1 when absent */
	int64_t connect_timeout_ms; /* -1 when absent: 10 s */
	int64_t lock_timeout_ms;    /* -1 when absent: 5 s for SQL steps; 0: wait forever */
	char *lock;           /* the run lock's name; NULL: the title */
	int lock_off;         /* lock: false */
	rb_pos_str on_failure;
	rb_pos_str *manual;
	size_t nmanual;
	char *audit_repo;
	char *audit_ref;
	char *audit_remote;   /* audit.remote: where the audit ref is pushed (auditsync.h); NULL: nowhere */
	char *audit_sign;     /* audit.sign: "ssh" signs each audit commit; NULL: unsigned */
	char *audit_key;      /* audit.key: the signing key's file (relative to the runbook; ~ is the home) */
	rb_pos_str inventory; /* the targets' inventory file (inventory.h), relative to the runbook; value NULL: none */
	int undo_required;    /* undo: required -- check wants an undo for every step that changes things */
	rb_kv *unknown;       /* keys this version does not know: warnings in run, errors in check */
	size_t nunknown;
} rb_front_matter;

typedef struct {
	char *path;          /* as given on the command line */
	char *dir;           /* the runbook's directory: default cwd of shell steps */
	char *source;        /* the whole file */
	size_t source_len;
	char *title;         /* front matter title, else the first heading, else the file name */
	rb_front_matter fm;
	rb_section *sections;
	size_t nsections;
	rb_step *steps;      /* every block in document order, documentation included */
	size_t nsteps;
	int on_failure_section;  /* index, -1 when none */
} rb_runbook;

/** Releases the runbook and everything it owns. NULL is fine. */
void rb_runbook_free(rb_runbook *rb);

/** "shell", "sql", "lua", "gate", "abort", "approval", "doc". */
const char *rb_step_kind_name(rb_step_kind kind);

/** 1 when the step is executable (not documentation, not skip). */
int rb_step_runnable(const rb_step *s);

/** The attribute's value as written, or NULL. */
const char *rb_step_attr(const rb_step *s, const char *key);

/** Number of runnable (non-documentation) steps with the given role. */
size_t rb_runbook_count(const rb_runbook *rb, rb_role role);

/**
 * 1 when variable name is secret: named in the front matter's secrets:, or
 * by its look (redact.h) unless named in not_secret:.
 */
int rb_runbook_is_secret(const rb_runbook *rb, const char *name);

/** The step with this id, or NULL. */
const rb_step *rb_runbook_find_step(const rb_runbook *rb, const char *id);

/** Appends "Section › Subsection" (the path of a section, root left out) to b. */
void rb_section_path(const rb_runbook *rb, int section, rb_buf *b);

#endif
