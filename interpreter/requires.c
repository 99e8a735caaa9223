/*
 * requires.c - a PostgreSQL version requirement read (see requires.h).
 */
#include "requires.h"

#include <ctype.h>
#include <stdio.h>
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
	if (min) /* server_version_num: 90605 for 9.6.5, 140002 for 14.2 */
		*min = (int)(major < 10 ? major * 10000 + minor * 100 : major * 10000 + minor);
	if (text)
		*text = p;
	return 0;
}

void rb_pg_version_text(int v, char *buf, size_t size)
{
	if (v >= 100000)
		snprintf(buf, size, "%d.%d", v / 10000, v % 10000);
	else
		snprintf(buf, size, "%d.%d.%d", v / 10000, v / 100 % 100, v % 100);
}
