/*
 * util.h - the few primitives every module shares: an allocator that never
 * returns NULL, a growable byte buffer, the error record that carries a
 * source position, durations, and the documented exit codes.
 *
 * Ownership: everything returned by rb_x* and rb_buf_detach belongs to the
 * caller and is released with free().
 */
#ifndef RB_UTIL_H
#define RB_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/** Exit codes of the command line (docs/format.md, "Exit codes"). */
enum {
	RB_EXIT_OK = 0,          /* every step succeeded */
	RB_EXIT_STEP = 1,        /* a step failed */
	RB_EXIT_USAGE = 2,       /* bad command line or invalid runbook */
	RB_EXIT_GATE = 3,        /* a gate or an approval said no */
	RB_EXIT_ABORT = 4,       /* an abort condition fired */
	RB_EXIT_ENV = 5,         /* environment: database, audit repository, server */
	RB_EXIT_UNDO = 6,        /* the run failed and an undo failed too: the undo is incomplete */
	RB_EXIT_INTERRUPTED = 130
};

/** One exit code and its meaning, in a few words: the one list `--help` prints (util.c). */
typedef struct {
	const char *code;     /* "0", ..., "128+N" */
	const char *meaning;
} rb_exit_doc;

/** Every documented exit code, terminated by {NULL, NULL}. docs/format.md, README.md and
 * docs/runbook.1 list the same codes (tests/cli/exit-codes.sh checks it). */
extern const rb_exit_doc rb_exit_codes[];

/**
 * Allocation that aborts the process on out-of-memory, after calling
 * rb_oom_report (when set: the program sets it to the output module's
 * rb_out_oom, so that the message is written where everything else is).
 */
extern void (*rb_oom_report)(size_t n);
void *rb_xmalloc(size_t n);
void *rb_xcalloc(size_t count, size_t n);
void *rb_xrealloc(void *p, size_t n);
char *rb_xstrdup(const char *s);
char *rb_xstrndup(const char *s, size_t n);
/** printf into a new string. */
char *rb_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** A growable byte buffer, always NUL-terminated when len > 0 or after init. */
typedef struct {
	char *data;
	size_t len;
	size_t cap;
} rb_buf;

#define RB_BUF_INIT {NULL, 0, 0}

void rb_buf_grow(rb_buf *b, size_t extra);
void rb_buf_add(rb_buf *b, const char *s, size_t n);
void rb_buf_puts(rb_buf *b, const char *s);
void rb_buf_putc(rb_buf *b, char c);
void rb_buf_printf(rb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rb_buf_vprintf(rb_buf *b, const char *fmt, va_list ap);
/** Returns the contents (never NULL) and resets the buffer; caller frees. */
char *rb_buf_detach(rb_buf *b);
/** A pointer to the contents ("" when empty); owned by the buffer. */
const char *rb_buf_cstr(const rb_buf *b);
void rb_buf_clear(rb_buf *b);
void rb_buf_free(rb_buf *b);

/**
 * An error with the place it refers to. Filled by the callee at the failure
 * site; `file` and `message` are owned by the error and released by
 * rb_error_clear(). line/col are 1-based; 0 means "unknown".
 */
typedef struct {
	int code;       /* an RB_EXIT_* value */
	char *file;
	int line;
	int col;
	char *message;
} rb_error;

#define RB_ERROR_INIT {0, NULL, 0, 0, NULL}

/** Sets the error (replacing a previous one); returns -1 for `return rb_error_set(...)`. */
int rb_error_set(rb_error *err, int code, const char *file, int line, int col,
		 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void rb_error_clear(rb_error *err);
/** Formats as "file:line:col: message" (parts that are unknown are left out). */
char *rb_error_format(const rb_error *err);

/**
 * Parses a duration: "250ms", "30s", "5m", "1h", "1h30m", or a bare number of
 * seconds. Stores milliseconds. Returns 0, or -1 when the text is not one.
 */
int rb_parse_duration(const char *s, int64_t *ms);
/** Formats milliseconds as "0.012s", "1m05s"... into buf (at least 32 bytes). */
void rb_format_duration(int64_t ms, char *buf, size_t size);

/** Monotonic clock in milliseconds. */
int64_t rb_now_ms(void);
/** Wall-clock time, ms since the epoch (timestamps; rb_now_ms for durations). */
int64_t rb_wall_ms(void);
/**
 * ms (since the epoch) as ISO 8601 in UTC into buf (80 bytes are plenty):
 * "2026-11-30T15:51:30Z", or with millis "2026-11-30T15:51:30.123Z". Returns buf.
 */
const char *rb_format_iso(int64_t ms, int millis, char *buf, size_t size);

/**
 * Writes all n bytes of p to fd, going on after EINTR. Returns 0, or the errno
 * of the failure (EIO for a write of nothing); *done (may be NULL) is the
 * number of bytes that did go.
 */
int rb_write_all(int fd, const char *p, size_t n, size_t *done);

/** A copy of s without leading and trailing whitespace. Caller frees. */
char *rb_trim_dup(const char *s);

/** The directory part of path ("." when there is none, "/" for the root). Caller frees. */
char *rb_dirname_dup(const char *path);

/** Reads a whole file. Returns 0 and a NUL-terminated buffer, or -1 with err set. */
int rb_read_file(const char *path, char **out, size_t *len, rb_error *err);

/**
 * Writes data to path whole or not at all: a temporary file beside it,
 * flushed to disk, then renamed over it (mode 0644). 0, or -1 with err
 * (RB_EXIT_ENV) naming path.
 */
int rb_write_file_atomic(const char *path, const char *data, size_t len, rb_error *err);

/** Levenshtein distance of a and b, letters compared without case; 99 when either is longer than 32 bytes ("did you mean"). */
size_t rb_edit_distance(const char *a, const char *b);

/** What rb_cache_dir found. */
typedef enum {
	RB_CACHE_DIR_OK,           /* *dir is the directory, made when missing (0700) */
	RB_CACHE_DIR_OFF,          /* turned off (env_name=off), or no HOME to put it in */
	RB_CACHE_DIR_NOT_ABSOLUTE, /* env_name names a relative path: *dir is it */
	RB_CACHE_DIR_NOT_OURS      /* *dir could not be made, or is another user's or writable by others (errno, 0 when the latter) */
} rb_cache_dir_status;

/**
 * One of this user's cache directories: $env_name when set (the word "off"
 * turns it off), else $XDG_CACHE_HOME/runbook/sub, else
 * ~/.cache/runbook/sub. Nothing is kept under a base others may write
 * (HOME=/tmp), nor, as root, under another user's (sudo -E). On
 * RB_CACHE_DIR_OK, NOT_ABSOLUTE and NOT_OURS *dir is set and the caller
 * frees it; otherwise it is NULL.
 */
rb_cache_dir_status rb_cache_dir(const char *env_name, const char *sub, char **dir);

/** 0 when a file can be created at path (its directory exists and is writable), else -1 with err. */
int rb_check_creatable(const char *path, rb_error *err);

/** Returns 1 when s[0..n) is valid UTF-8 without NUL bytes, else 0 and the byte offset of the first bad byte. */
int rb_utf8_valid(const char *s, size_t n, size_t *bad);

/**
 * A set of strings (open addressing). Keys are copied and owned by the set.
 * Used where a linear scan would make large runbooks quadratic.
 */
typedef struct {
	char **keys;
	int *values;
	size_t count;
	size_t cap;
} rb_strset;

#define RB_STRSET_INIT {NULL, NULL, 0, 0}

/** Inserts key with value if absent. Returns 1 when inserted, 0 when present. */
int rb_strset_add(rb_strset *s, const char *key, int value);
/** The value stored with key, or -1 when absent. */
int rb_strset_get(const rb_strset *s, const char *key);
void rb_strset_free(rb_strset *s);

#endif
