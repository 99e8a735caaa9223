/*
 * util.c - allocator, buffer, error record, durations and small file helpers.
 */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const rb_exit_doc rb_exit_codes[] = {
	{"0", "success"},
	{"1", "a step failed"},
	{"2", "usage or invalid runbook"},
	{"3", "a gate or approval said no"},
	{"4", "an abort condition fired"},
	{"5", "environment (database, audit repository)"},
	{"6", "the run failed and an undo failed too (undo incomplete)"},
	{"128+N", "stopped by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP)"},
	{NULL, NULL}
};

void (*rb_oom_report)(size_t n) = NULL;

static void oom(size_t n)
{
	if (rb_oom_report)
		rb_oom_report(n);
	abort();
}

void *rb_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *rb_xcalloc(size_t count, size_t n)
{
	void *p = calloc(count ? count : 1, n ? n : 1);
	if (!p)
		oom(count * n);
	return p;
}

void *rb_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *rb_xstrdup(const char *s)
{
	return rb_xstrndup(s, strlen(s));
}

char *rb_xstrndup(const char *s, size_t n)
{
	char *p = rb_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *rb_xasprintf(const char *fmt, ...)
{
	rb_buf b = RB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return rb_buf_detach(&b);
}

void rb_buf_grow(rb_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->data = rb_xrealloc(b->data, cap);
	b->cap = cap;
}

void rb_buf_add(rb_buf *b, const char *s, size_t n)
{
	rb_buf_grow(b, n);
	if (n)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void rb_buf_puts(rb_buf *b, const char *s)
{
	rb_buf_add(b, s, strlen(s));
}

void rb_buf_putc(rb_buf *b, char c)
{
	rb_buf_add(b, &c, 1);
}

void rb_buf_vprintf(rb_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	rb_buf_grow(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void rb_buf_printf(rb_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

char *rb_buf_detach(rb_buf *b)
{
	char *p = b->data ? b->data : rb_xstrdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

const char *rb_buf_cstr(const rb_buf *b)
{
	return b->data ? b->data : "";
}

void rb_buf_clear(rb_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void rb_buf_free(rb_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int rb_error_set(rb_error *err, int code, const char *file, int line, int col,
		 const char *fmt, ...)
{
	if (!err)
		return -1;
	rb_error_clear(err);
	err->code = code;
	err->file = file ? rb_xstrdup(file) : NULL;
	err->line = line;
	err->col = col;
	rb_buf b = RB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	err->message = rb_buf_detach(&b);
	return -1;
}

void rb_error_clear(rb_error *err)
{
	if (!err)
		return;
	free(err->file);
	free(err->message);
	err->file = err->message = NULL;
	err->code = err->line = err->col = 0;
}

char *rb_error_format(const rb_error *err)
{
	rb_buf b = RB_BUF_INIT;
	if (err->file) {
		rb_buf_puts(&b, err->file);
		if (err->line > 0) {
			rb_buf_printf(&b, ":%d", err->line);
			if (err->col > 0)
				rb_buf_printf(&b, ":%d", err->col);
		}
		rb_buf_puts(&b, ": ");
	}
	rb_buf_puts(&b, err->message ? err->message : "unknown error");
	return rb_buf_detach(&b);
}

int rb_parse_duration(const char *s, int64_t *ms)
{
	int64_t total = 0;
	int any = 0;
	const char *p = s;
	if (!s || !*s)
		return -1;
	while (*p) {
		if (*p < '0' || *p > '9')
			return -1;
		double v = 0;
		int64_t ip = 0;
		while (*p >= '0' && *p <= '9') {
			ip = ip * 10 + (*p - '0');
			if (ip > 100000000)
				return -1;
			p++;
		}
		v = (double)ip;
		if (*p == '.') {
			double scale = 0.1;
			p++;
			if (*p < '0' || *p > '9')
				return -1;
			while (*p >= '0' && *p <= '9') {
				v += (*p - '0') * scale;
				scale /= 10;
				p++;
			}
		}
		double unit;
		if (strncmp(p, "ms", 2) == 0) {
			unit = 1;
			p += 2;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else if (*p == 'm') {
			unit = 60000;
			p++;
		} else if (*p == 'h') {
			unit = 3600000;
			p++;
		} else if (*p == '\0' && !any) {
			unit = 1000; /* a bare number is seconds */
		} else {
			return -1;
		}
		total += (int64_t)(v * unit + 0.5);
		any = 1;
	}
	*ms = total;
	return 0;
}

void rb_format_duration(int64_t ms, char *buf, size_t size)
{
	if (ms < 60000)
		snprintf(buf, size, "%.3fs", (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(buf, size, "%lldm%02llds", (long long)(ms / 60000),
			 (long long)((ms / 1000) % 60));
	else
		snprintf(buf, size, "%lldh%02lldm", (long long)(ms / 3600000),
			 (long long)((ms / 60000) % 60));
}

int rb_write_all(int fd, const char *p, size_t n, size_t *done)
{
	size_t sent = 0;
	int rc = 0;
	while (sent < n) {
		ssize_t w = write(fd, p + sent, n - sent);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? errno : EIO;
			break;
		}
		sent += (size_t)w;
	}
	if (done)
		*done = sent;
	return rc;
}

char *rb_trim_dup(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	return rb_xstrndup(s, n);
}

char *rb_dirname_dup(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return rb_xstrdup(".");
	if (slash == path)
		return rb_xstrdup("/");
	return rb_xstrndup(path, (size_t)(slash - path));
}

int64_t rb_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rb_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rb_read_file(const char *path, char **out, size_t *len, rb_error *err)
{
	int rc = -1;
	rb_buf b = RB_BUF_INIT;
	FILE *f = fopen(path, "rb");
	if (!f) {
		rb_error_set(err, RB_EXIT_USAGE, path, 0, 0, "cannot open: %s", strerror(errno));
		goto done;
	}
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		rb_buf_add(&b, chunk, n);
	if (ferror(f)) {
		rb_error_set(err, RB_EXIT_USAGE, path, 0, 0, "cannot read: %s", strerror(errno));
		goto done;
	}
	rb_buf_grow(&b, 0);
	*len = b.len;
	*out = rb_buf_detach(&b);
	rc = 0;
done:
	if (f)
		fclose(f);
	rb_buf_free(&b);
	return rc;
}

int rb_utf8_valid(const char *s, size_t n, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned char c = p[i];
		size_t extra;
		uint32_t cp;
		if (c == 0)
			goto invalid;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			extra = 1;
			cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			extra = 2;
			cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			extra = 3;
			cp = c & 0x07;
		} else {
			goto invalid;
		}
		for (size_t k = 1; k <= extra; k++) {
			if (i + k >= n || (p[i + k] & 0xC0) != 0x80)
				goto invalid;
			cp = (cp << 6) | (p[i + k] & 0x3F);
		}
		if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
		    (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			goto invalid;
		i += extra + 1;
		continue;
invalid:
		if (bad)
			*bad = i;
		return 0;
	}
	return 1;
}

static size_t str_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static size_t strset_slot(const rb_strset *s, const char *key)
{
	size_t i = str_hash(key) & (s->cap - 1);
	while (s->keys[i] && strcmp(s->keys[i], key) != 0)
		i = (i + 1) & (s->cap - 1);
	return i;
}

int rb_strset_add(rb_strset *s, const char *key, int value)
{
	if ((s->count + 1) * 2 > s->cap) {
		rb_strset old = *s;
		s->cap = old.cap ? old.cap * 2 : 16;
		s->keys = rb_xcalloc(s->cap, sizeof *s->keys);
		s->values = rb_xcalloc(s->cap, sizeof *s->values);
		for (size_t i = 0; i < old.cap; i++) {
			if (old.keys[i]) {
				size_t j = strset_slot(s, old.keys[i]);
				s->keys[j] = old.keys[i];
				s->values[j] = old.values[i];
			}
		}
		free(old.keys);
		free(old.values);
	}
	size_t i = strset_slot(s, key);
	if (s->keys[i])
		return 0;
	s->keys[i] = rb_xstrdup(key);
	s->values[i] = value;
	s->count++;
	return 1;
}

int rb_strset_get(const rb_strset *s, const char *key)
{
	if (!s->cap)
		return -1;
	size_t i = strset_slot(s, key);
	return s->keys[i] ? s->values[i] : -1;
}

void rb_strset_free(rb_strset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->keys[i]);
	free(s->keys);
	free(s->values);
	s->keys = NULL;
	s->values = NULL;
	s->count = s->cap = 0;
}

/* Creates the temporary file next to path (0666 less the umask); -1 with errno. */
static int open_temp(const char *path, char **tmp)
{
	*tmp = rb_xasprintf("%s.%ld.tmp", path, (long)getpid());
	int fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (fd < 0 && errno == EEXIST && unlink(*tmp) == 0) /* left by a killed process with our pid */
		fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
	return fd;
}

int rb_write_file_atomic(const char *path, const char *data, size_t len, rb_error *err)
{
	char *tmp = NULL;
	int rc = -1, e;
	int fd = open_temp(path, &tmp);
	if (fd < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot write %s: %s: %s", path, tmp, strerror(errno));
		goto done;
	}
	e = rb_write_all(fd, data, len, NULL);
	if (!e && fsync(fd) < 0)
		e = errno;
	if (close(fd) < 0 && !e)
		e = errno;
	if (!e && rename(tmp, path) < 0)
		e = errno;
	if (e) {
		unlink(tmp);
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot write %s: %s", path, strerror(e));
		goto done;
	}
	rc = 0;
done:
	free(tmp);
	return rc;
}

int rb_check_creatable(const char *path, rb_error *err)
{
	struct stat st;
	char *dir = rb_dirname_dup(path), *probe = NULL;
	int rc = -1, fd;
	if (!*path) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "no file name given");
	} else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "%s is a directory", path);
	} else if (stat(dir, &st) < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot write the report: directory %s: %s", dir,
			     strerror(errno));
	} else if (!S_ISDIR(st.st_mode)) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot write the report: %s is not a directory", dir);
	} else if ((fd = open_temp(path, &probe)) < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot write the report in directory %s: %s", dir,
			     strerror(errno));
	} else {
		close(fd);
		unlink(probe);
		rc = 0;
	}
	free(probe);
	free(dir);
	return rc;
}

/* mkdir -p, mode 0700 for what it creates. 0, or -1 with errno. */
static int make_dirs(char *dir)
{
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = mkdir(dir, 0700);
		*p = '/';
		if (rc < 0 && errno != EEXIST)
			return -1;
	}
	return mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

rb_cache_dir_status rb_cache_dir(const char *env_name, const char *sub, char **dir)
{
	const char *env = getenv(env_name), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	const char *base = NULL;
	rb_cache_dir_status status = RB_CACHE_DIR_OFF;
	struct stat st;
	*dir = NULL;
	if (env && *env)
		*dir = strcmp(env, "off") ? rb_xstrdup(env) : NULL;
	else if (xdg && *xdg == '/')
		*dir = rb_xasprintf("%s/runbook/%s", base = xdg, sub);
	else if (home && *home == '/')
		*dir = rb_xasprintf("%s/.cache/runbook/%s", base = home, sub);
	if (*dir && base && stat(base, &st) == 0 && ((st.st_mode & S_IWOTH) || (geteuid() == 0 && st.st_uid != 0))) {
		free(*dir);
		*dir = NULL;
	}
	errno = 0;
	if (!*dir)
		status = RB_CACHE_DIR_OFF;
	else if (**dir != '/')
		status = RB_CACHE_DIR_NOT_ABSOLUTE;
	/* Another user's directory, or one others may write, could hold forged content: not used. */
	else if (make_dirs(*dir) < 0 || stat(*dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
		 (st.st_mode & (S_IWGRP | S_IWOTH)))
		status = RB_CACHE_DIR_NOT_OURS, errno = errno == EEXIST ? 0 : errno;
	else
		status = RB_CACHE_DIR_OK;
	return status;
}

size_t rb_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 32 || lb > 32)
		return 99;
	size_t row[33];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
			size_t best = prev + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

const char *rb_format_iso(int64_t ms, int millis, char *buf, size_t size)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	gmtime_r(&secs, &tm);
	if (millis)
		snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	else
		snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
	return buf;
}
