/*
 * datadir.h: where chainfix finds the public data it ships (data/ in the
 * source tree: the public intermediates, the Android root stores) and where
 * it keeps what it updates itself (`chainfix intermediates update`).
 *
 * Both follow the install prefix, found from where the running binary is
 * (so `cmake --install --prefix` is honoured): PREFIX/bin/chainfix reads
 * PREFIX/share/chainfix and writes PREFIX/var/lib/chainfix, or
 * /var/lib/chainfix for the /usr prefix.  A binary outside a bin directory
 * (a build tree) falls back to the configured prefix's paths.  The
 * environment variables CHAINFIX_DATADIR and CHAINFIX_STATEDIR override
 * both (the test suite points them at the source tree and at a scratch
 * directory).
 */
#ifndef CHAINFIX_DATADIR_H
#define CHAINFIX_DATADIR_H

#include <stddef.h>

/* datadir_data(): the shipped data directory; static storage. */
const char *datadir_data(void);

/* datadir_state(): the directory chainfix writes updates to; static. */
const char *datadir_state(void);

/*
 * datadir_path(dir, name, buf, len):
 * "dir/name" into buf.  Returns buf, or NULL (nothing logged) if it does
 * not fit.
 */
char *datadir_path(const char *dir, const char *name, char *buf,
    size_t len);

#endif /* CHAINFIX_DATADIR_H */
