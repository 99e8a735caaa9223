/*
 * sshsig.h - git's SSH signatures on audit commits, made and checked by
 * ssh-keygen (-Y sign / find-principals / verify / check-novalidate in the
 * "git" namespace), as git itself does: a commit so signed carries the
 * armored signature in its "gpgsig" header, and `git verify-commit`
 * checks it with gpg.format=ssh and an allowed-signers file.
 *
 * The key is a private key file, or a public key file whose private half
 * the ssh agent (SSH_AUTH_SOCK) holds. The signed data goes to ssh-keygen
 * through a file in a private temporary directory (0700 in TMPDIR,
 * removed at once); it is the commit as written, which holds nothing the
 * record does not.
 */
#ifndef RB_SSHSIG_H
#define RB_SSHSIG_H

#include <stddef.h>

#include "util.h"

/**
 * Signs payload (NUL-terminated) with key: *signature gets the armored
 * "-----BEGIN SSH SIGNATURE-----" block (caller frees). Returns 0, or -1
 * with err (RB_EXIT_ENV: ssh-keygen missing, the key unreadable, its
 * message).
 */
int rb_sshsig_sign(const char *key, const char *payload, char **signature, rb_error *err);

/** What a signature check found. */
typedef enum {
	RB_SSHSIG_GOOD = 0,     /* made by a key the allowed-signers file lists for that principal */
	RB_SSHSIG_UNKNOWN,      /* a valid signature by a key the file does not list */
	RB_SSHSIG_BAD,          /* not a valid signature of payload */
} rb_sshsig_verdict;

/**
 * Checks signature over payload against the allowed-signers file (NULL:
 * only that it is a valid signature: RB_SSHSIG_UNKNOWN at best). *who gets
 * the principal (GOOD), else the key's fingerprint ("ED25519 key
 * SHA256:...") when known, else why it is bad; caller frees. Returns the
 * verdict, or -1 with err when ssh-keygen cannot run.
 */
int rb_sshsig_verify(const char *allowed_signers, const char *payload, const char *signature, char **who,
		     rb_error *err);

#endif
