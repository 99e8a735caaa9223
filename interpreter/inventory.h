/*
 * inventory.h - the targets one runbook runs against: an inventory file,
 * or a matrix given on the command line, and the selection of some of them.
 *
 * An inventory is YAML (libyaml):
 *
 *   targets:
 *     eu-1: {db: "host=eu1.example dbname=app password=${EU1_PASS}", REGION: eu}
 *     us-1: {db: "host=us1.example dbname=app", REGION: us}
 *   groups:
 *     prod: [eu-1, us-1]
 *
 * A target is a name (letters, digits, '.', '_', '-'), its variables
 * (scalars; names as --set takes them) and, optionally, db: the connection
 * its SQL steps use by default. Its order in the file is the dispatch
 * order. A secret is never in the inventory: a DSN's password is a
 * reference to the environment (${NAME}); a literal one is an error. A
 * matrix (--matrix NAME=a,b, repeatable) makes the targets of every
 * combination, named by their values joined with '-' ("eu-a"), in the
 * order the values were given (the last axis varies fastest).
 *
 * Errors carry the file, line and column of the node at fault.
 */
#ifndef RB_INVENTORY_H
#define RB_INVENTORY_H

#include <stddef.h>

#include "diag.h"
#include "runbook.h"

typedef struct {
	char *name;
	rb_kv *vars;          /* NAME=value, in the file's order; db is not among them */
	size_t nvars;
	char *db;             /* the default connection, ${NAME} references unexpanded; NULL: none */
	int line, col;        /* where it is defined (0: a matrix's) */
} rb_target;

typedef struct {
	char *name;
	char **members;       /* target names, as listed */
	size_t count;
	int line, col;
} rb_target_group;

typedef struct {
	char *path;           /* the inventory file, as given; NULL for a matrix */
	char *abs_path;       /* the same, absolute (what a rollout's record keeps); NULL for a matrix */
	char *hash;           /* SHA-256 of the file's bytes, hex ("matrix" for a matrix) */
	rb_target *targets;
	size_t count;
	rb_target_group *groups;
	size_t ngroups;
} rb_inventory;

#define RB_INVENTORY_INIT {NULL, NULL, NULL, NULL, 0, NULL, 0}

/**
 * Loads the inventory at path into inv. Problems go to d with file:line:col
 * (a literal password in a DSN, a group naming an unknown target, a name
 * given twice, a value that is not a scalar). Returns 0, or -1 (inv is
 * still to be freed).
 */
int rb_inventory_load(const char *path, rb_inventory *inv, rb_diags *d);

/**
 * The targets of a matrix: axes are "NAME=a,b,c" (as --matrix gives them).
 * Returns 0, or -1 with err (RB_EXIT_USAGE: an axis without '=' or values,
 * a name that is not a variable name, a name given twice).
 */
int rb_inventory_matrix(char *const *axes, size_t naxes, rb_inventory *inv, rb_error *err);

/**
 * The targets selected, in the inventory's order, each once: names (each
 * a target; --target, repeatable) and spec (--targets: a group's name, or
 * a comma-separated list of target names and group names). Returns a
 * malloc'd array of indexes into inv->targets and its length in *count,
 * or NULL with err (RB_EXIT_USAGE) naming what is unknown.
 */
size_t *rb_inventory_select(const rb_inventory *inv, char *const *names, size_t nnames, const char *spec,
			    size_t *count, rb_error *err);

/** 1 when name can name a target or a group: letters, digits, '.', '_', '-'; not empty. */
int rb_target_name_ok(const char *name);

/** The target called name, or NULL. */
const rb_target *rb_inventory_find(const rb_inventory *inv, const char *name);

/**
 * The names of the environment variables a target refers to (${NAME} in
 * its variables, and in its db when with_db: a run on a throwaway server
 * does not use it) that are not set: "A, B", or NULL when all are.
 * Caller frees.
 */
char *rb_target_unset_refs(const rb_target *t, int with_db);

/**
 * Where a runbook's inventory is: opt (--inventory) when given, else the
 * front matter's `inventory:` (relative to the runbook's directory), else
 * targets.yaml beside the runbook when it exists; NULL when none.
 * Caller frees.
 */
char *rb_inventory_path(const rb_runbook *rb, const char *opt);

void rb_inventory_free(rb_inventory *inv);

#endif
