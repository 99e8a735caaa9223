/*
 * sshsig.c - git's SSH signatures through ssh-keygen (see sshsig.h).
 */
#define _GNU_SOURCE
#include "sshsig.h"
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ssh-keygen answers at once; a key behind an agent that went away should not hold a run's end. */
#define SSHSIG_TIMEOUT_MS 20000

/* Writes data to a new 0600 file in TMPDIR; its path (caller frees and unlinks), or NULL with err. */
static char *temp_with(const char *data, rb_error *err)
{
	const char *dir = getenv("TMPDIR");
	char *path = rb_xasprintf("%s/runbook-sig-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkostemp(path, O_CLOEXEC);
	size_t len = strlen(data);
	int e = fd < 0 ? errno : rb_write_all(fd, data, len, NULL);
	if (e) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot write a temporary file for ssh-keygen (%s): %s", path,
			     strerror(e));
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		free(path);
		return NULL;
	}
	close(fd);
	return path;
}

/* The first line of text, without its newline (caller frees). */
static char *first_line(const char *text)
{
	return rb_xstrndup(text, strcspn(text, "\n"));
}

int rb_sshsig_sign(const char *key, const char *payload, char **signature, rb_error *err)
{
	int rc = -1, status = 0;
	char *out = NULL, *sigpath = NULL;
	size_t len = 0;
	*signature = NULL;
	char *data = temp_with(payload, err);
	if (!data)
		return -1;
	sigpath = rb_xasprintf("%s.sig", data);
	char *argv[] = {"ssh-keygen", "-q", "-Y", "sign", "-n", "git", "-f", (char *)key, data, NULL};
	if (rb_process_capture(argv, NULL, SSHSIG_TIMEOUT_MS, &out, &status, err) < 0)
		goto done;
	rb_error rerr = RB_ERROR_INIT;
	int unread = status != 0 || rb_read_file(sigpath, signature, &len, &rerr) < 0;
	rb_error_clear(&rerr);
	if (unread) {
		char *why = first_line(out && *out ? out : "no signature written");
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "ssh-keygen could not sign with %s: %s", key, why);
		free(why);
		free(*signature);
		*signature = NULL;
		goto done;
	}
	rc = 0;
done:
	unlink(data);
	unlink(sigpath);
	free(data);
	free(sigpath);
	free(out);
	return rc;
}

int rb_sshsig_verify(const char *allowed_signers, const char *payload, const char *signature, char **who,
		     rb_error *err)
{
	int rc = -1, status = 0;
	char *out = NULL, *principal = NULL;
	*who = NULL;
	char *sig = temp_with(signature, err);
	if (!sig)
		return -1;
	if (allowed_signers) {
		char *find[] = {"ssh-keygen", "-Y", "find-principals", "-s", sig, "-f", (char *)allowed_signers, NULL};
		if (rb_process_capture(find, NULL, SSHSIG_TIMEOUT_MS, &out, &status, err) < 0)
			goto done;
		if (status == 0 && *out)
			principal = first_line(out);
		free(out);
		out = NULL;
	}
	if (principal) {
		char *verify[] = {"ssh-keygen", "-Y", "verify", "-f", (char *)allowed_signers, "-I", principal,
				  "-n", "git", "-s", sig, NULL};
		if (rb_process_capture(verify, payload, SSHSIG_TIMEOUT_MS, &out, &status, err) < 0)
			goto done;
		if (status == 0) {
			*who = principal;
			principal = NULL;
			rc = RB_SSHSIG_GOOD;
			goto done;
		}
		free(out);
		out = NULL;
	}
	/* Not by a listed key (or not valid at all): which key made it, if any did. */
	char *check[] = {"ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", sig, NULL};
	if (rb_process_capture(check, payload, SSHSIG_TIMEOUT_MS, &out, &status, err) < 0)
		goto done;
	const char *with = status == 0 ? strstr(out, " signature with ") : NULL;
	if (with) {
		*who = first_line(with + 16);
		rc = RB_SSHSIG_UNKNOWN;
	} else {
		*who = first_line(*out ? out : "not a valid signature");
		rc = RB_SSHSIG_BAD;
	}
done:
	unlink(sig);
	free(sig);
	free(out);
	free(principal);
	return rc;
}
