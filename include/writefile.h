/*
 * writefile.h: replace a file atomically, so that a reader (a server
 * reloading its bundle, chainfix loading its public intermediates) never
 * sees half of it.
 */
#ifndef CHAINFIX_WRITEFILE_H
#define CHAINFIX_WRITEFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * writefile_atomic(path, data, len, mode):
 * Write data to a temporary file beside path (created 0600, then given
 * mode before any byte is written, and the group of the file it replaces),
 * fsync it, rename it over path and fsync the directory.  On failure the
 * temporary file is removed, path is untouched, and the reason is logged
 * naming the file.  Returns 0 or -1.
 */
int writefile_atomic(const char *path, const void *data, size_t len,
    mode_t mode);

#endif /* CHAINFIX_WRITEFILE_H */
