/*
 * vars.h - the run's variables, in precedence order:
 *   process environment < front matter env < --set K=V < captures.
 *
 * Steps get every variable as an environment variable (rb_vars_envp); values
 * are never spliced into shell text. The set owns its strings.
 */
#ifndef RB_VARS_H
#define RB_VARS_H

#include <stddef.h>

typedef enum {
	RB_VAR_ENV = 0,      /* from the process environment */
	RB_VAR_DEFAULT,      /* front matter env */
	RB_VAR_SET,          /* --set on the command line */
	RB_VAR_CAPTURE,      /* captured by a step, or set by Lua */
	RB_VAR_RUNBOOK       /* set by runbook itself (RUNBOOK_*) */
} rb_var_source;

typedef struct {
	char *name;
	char *value;
	rb_var_source source;
} rb_var;

typedef struct {
	rb_var *items;
	size_t count;
	size_t cap;
	unsigned long changes; /* counts rb_vars_set and rb_vars_unset: compare before and after to know whether code set any */
} rb_vars;

#define RB_VARS_INIT {NULL, 0, 0, 0}

/** Loads the process environment (source RB_VAR_ENV). */
void rb_vars_load_environ(rb_vars *v);
/** Sets name to value (both copied), replacing any earlier value. */
void rb_vars_set(rb_vars *v, const char *name, const char *value, rb_var_source source);
/** Removes name. */
void rb_vars_unset(rb_vars *v, const char *name);
/** The value, or NULL; owned by the set. */
const char *rb_vars_get(const rb_vars *v, const char *name);
/** The entry, or NULL. */
const rb_var *rb_vars_find(const rb_vars *v, const char *name);
/**
 * A NULL-terminated "NAME=value" array for execve. The array and its strings
 * are owned by the caller: free with rb_vars_envp_free.
 */
char **rb_vars_envp(const rb_vars *v);
void rb_vars_envp_free(char **envp);
/** 1 when name is a valid variable name ([A-Za-z_][A-Za-z0-9_]*). */
int rb_var_name_valid(const char *name);
/**
 * Splits "NAME=VALUE" (--set, --secrets-file lines, environment entries,
 * restored captures): *name gets a copy of NAME (caller frees), *value points
 * into kv after the '='. Returns 0, or -1 (nothing stored) when there is no
 * '=' or NAME is not a valid variable name.
 */
int rb_var_assignment(const char *kv, char **name, const char **value);
/**
 * Expands ${NAME} and $NAME in text from v. An undefined variable is an
 * error: returns NULL and stores its name in *missing (caller frees).
 * Otherwise the caller frees the result.
 */
char *rb_vars_expand(const rb_vars *v, const char *text, char **missing);
void rb_vars_free(rb_vars *v);
/** A deep copy of from into *to (which is overwritten: initialise or free it first). */
void rb_vars_copy(const rb_vars *from, rb_vars *to);

#endif
