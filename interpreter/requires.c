/*
 * requires.c - a PostgreSQL version requirement read (see requires.h).
 */
#include "requires.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int rb_pg_version_requirement(const char *spec, int *min, const char **text)
{
	const char *p = spec;
	char *end = NULL;
	long major, minor = 0;
	while (*p == ' ')
		p++;
	if (p[0] == '>' && p[1] == '=')
		p += 2;
	while (*p == ' ')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	major = strtol(p, &end, 10);
	if (*end == '.') {
		if (!isdigit((unsigned char)end[1]))
			return -1;
		minor = strtol(end + 1, &end, 10);
	}
	while (*end == ' ')
		end++;
	if (*end || major < 9 || major > 999 || minor > 9999)
		return -1;
	if (min)
		*min = (int)(major * 10000 + minor);
	if (text)
		*text = p;
	return 0;
}
