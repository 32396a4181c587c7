/*
 * file.h: opening the files chainfix reads (certificates, keys, password
 * files, the configuration, CA files) so that a FIFO or a device is a clear
 * error instead of a read that blocks forever, and so that a secret others
 * can read, or a file others can change, is pointed out.
 */
#ifndef CHAINFIX_FILE_H
#define CHAINFIX_FILE_H

#include <sys/stat.h>

#include <stddef.h>
#include <stdio.h>

/*
 * file_open(path, st, why, whylen):
 * Open path read-only without blocking on a FIFO or a device, and accept it
 * only if it is a regular file.  *st receives its fstat().  Returns a
 * blocking, close-on-exec descriptor (the caller closes it), or -1 with the
 * reason in why ("cannot open: ...", "is a FIFO, not a regular file").
 */
int file_open(const char *path, struct stat *st, char *why, size_t whylen);

/*
 * file_fopen(path, st, why, whylen):
 * file_open() as a stdio stream ("r").  Returns it (fclose() it), or NULL
 * with the reason in why.
 */
FILE *file_fopen(const char *path, struct stat *st, char *why,
    size_t whylen);

/*
 * file_warn_exposed(path, st, what, secret):
 * Log a warning naming path when others (neither its owner nor its group)
 * may change it, or with secret (a key, a password) also read it:
 * "WHAT PATH is readable by others (mode 0644): chmod o-rwx PATH"; what
 * says what it is ("private key", "password file", "configuration").
 * Returns 1 if it warned, else 0.
 */
int file_warn_exposed(const char *path, const struct stat *st,
    const char *what, int secret);

#endif /* CHAINFIX_FILE_H */
