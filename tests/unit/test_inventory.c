/*
 * Inventories and matrices: targets in file order with their variables and
 * db, groups, the errors with their line and column (a literal password,
 * an unknown member, a name given twice), the matrix's names and order,
 * the selection (a group, a list, each once, in inventory order), unset
 * references.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inventory.h"

/* Writes text to a new temporary file; returns its path (caller frees and unlinks). */
static char *write_temp(const char *text)
{
	char *path = strdup("/tmp/test-inventory-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* Loads text; returns the rendered diagnostics ("" when none) and the load's return in *rc. */
static char *load(const char *text, rb_inventory *inv, int *rc)
{
	char *path = write_temp(text);
	rb_diags d = RB_DIAGS_INIT;
	rb_buf b = RB_BUF_INIT;
	*rc = rb_inventory_load(path, inv, &d);
	rb_diags_render(&d, &b);
	rb_diags_free(&d);
	unlink(path);
	free(path);
	return rb_buf_detach(&b);
}

static void test_targets_groups_and_order(void **state)
{
	(void)state;
	rb_inventory inv = RB_INVENTORY_INIT;
	int rc;
	char *said = load("targets:\n"
			  "  us-1: {db: \"host=us1 dbname=app password=${US1_PASS}\", REGION: us}\n"
			  "  eu-1:\n"
			  "    REGION: eu\n"
			  "  lab:\n"
			  "groups:\n"
			  "  prod: [eu-1, us-1]\n",
			  &inv, &rc);
	assert_string_equal(said, "");
	assert_int_equal(rc, 0);
	assert_int_equal(inv.count, 3);
	assert_string_equal(inv.targets[0].name, "us-1");
	assert_string_equal(inv.targets[0].db, "host=us1 dbname=app password=${US1_PASS}");
	assert_int_equal(inv.targets[0].nvars, 1);
	assert_string_equal(inv.targets[0].vars[0].key, "REGION");
	assert_string_equal(inv.targets[1].name, "eu-1");
	assert_null(inv.targets[1].db);
	assert_int_equal(inv.targets[2].nvars, 0);
	assert_int_equal(strlen(inv.hash), 40);
	/* A group selects in inventory order, not the group's. */
	rb_error err = RB_ERROR_INIT;
	size_t n = 0;
	size_t *sel = rb_inventory_select(&inv, NULL, 0, "prod", &n, &err);
	assert_non_null(sel);
	assert_int_equal(n, 2);
	assert_int_equal(sel[0], 0);
	assert_int_equal(sel[1], 1);
	free(sel);
	/* A list of targets and groups: each once. */
	char *names[] = {"lab"};
	sel = rb_inventory_select(&inv, names, 1, "prod,us-1", &n, &err);
	assert_int_equal(n, 3);
	free(sel);
	/* Unknown names are named. */
	sel = rb_inventory_select(&inv, NULL, 0, "prod,nowhere,nope", &n, &err);
	assert_null(sel);
	assert_non_null(strstr(err.message, "'nowhere', 'nope'"));
	rb_error_clear(&err);
	/* --target takes targets, not groups. */
	char *group[] = {"prod"};
	sel = rb_inventory_select(&inv, group, 1, NULL, &n, &err);
	assert_null(sel);
	rb_error_clear(&err);
	/* References: the unset ones are named. */
	unsetenv("US1_PASS");
	char *u = rb_target_unset_refs(&inv.targets[0], 1);
	assert_string_equal(u, "US1_PASS");
	free(u);
	assert_null(rb_target_unset_refs(&inv.targets[0], 0)); /* a throwaway server: the db is not used */
	setenv("US1_PASS", "x", 1);
	assert_null(rb_target_unset_refs(&inv.targets[0], 1));
	unsetenv("US1_PASS");
	rb_inventory_free(&inv);
	free(said);
}

static void test_errors_carry_line_and_column(void **state)
{
	(void)state;
	rb_inventory inv = RB_INVENTORY_INIT;
	int rc;
	char *said = load("targets:\n"
			  "  a: {db: \"host=a password=hunter2\"}\n"
			  "  b: {API_TOKEN: abc123}\n"
			  "  c: {API_TOKEN: \"${C_TOKEN}\", 1x: y}\n"
			  "  a: {}\n"
			  "groups:\n"
			  "  g: [a, zz]\n",
			  &inv, &rc);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(said, ":2:11: error: target 'a': the db holds a password"));
	assert_non_null(strstr(said, ":3:18: error: target 'b': API_TOKEN looks like a secret and holds a value"));
	assert_non_null(strstr(said, ":4:32: error: target 'c': '1x' is not a variable name"));
	assert_non_null(strstr(said, ":5:3: error: target 'a' is defined twice"));
	assert_non_null(strstr(said, ":7:10: error: group 'g': 'zz' is not a target of this inventory"));
	assert_null(strstr(said, "hunter2"));
	rb_inventory_free(&inv);
	free(said);
}

static void test_matrix(void **state)
{
	(void)state;
	rb_inventory inv = RB_INVENTORY_INIT;
	rb_error err = RB_ERROR_INIT;
	char *axes[] = {"REGION=eu,us", "TIER=a,b"};
	assert_int_equal(rb_inventory_matrix(axes, 2, &inv, &err), 0);
	assert_int_equal(inv.count, 4);
	const char *want[] = {"eu-a", "eu-b", "us-a", "us-b"};
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(inv.targets[i].name, want[i]);
	assert_string_equal(inv.targets[2].vars[0].key, "REGION");
	assert_string_equal(inv.targets[2].vars[0].value, "us");
	assert_string_equal(inv.targets[2].vars[1].value, "a");
	rb_inventory_free(&inv);
	char *bad[] = {"REGION"};
	assert_int_equal(rb_inventory_matrix(bad, 1, &inv, &err), -1);
	assert_non_null(strstr(err.message, "expected NAME=value"));
	rb_error_clear(&err);
	rb_inventory_free(&inv);
	char *twice[] = {"A=x", "A=y"};
	assert_int_equal(rb_inventory_matrix(twice, 2, &inv, &err), -1);
	rb_error_clear(&err);
	rb_inventory_free(&inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_targets_groups_and_order),
		cmocka_unit_test(test_errors_carry_line_and_column),
		cmocka_unit_test(test_matrix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
