/*
 * healthcheck.h: the active backend checks (backend_check).
 *
 * A thread of its own checks, every backend_check_interval, each backend
 * of each site that asks for it, as the proxy would reach it: the site's
 * own backend TLS context (protocols, SNI, verification, pin), then for
 * "GET /path" one HTTP/1.1 request that must answer 200 (Exchange's
 * /owa/healthcheck.htm does).  The results go to health.h, which logs
 * changes of state.  Checks are blocking probes (probe.h) bounded by the
 * site's connect_timeout and handshake_timeout, each on a short-lived
 * thread (up to 16 at once), so a hung backend delays no other backend's
 * check; they never touch a worker's event loop.
 */
#ifndef CHAINFIX_HEALTHCHECK_H
#define CHAINFIX_HEALTHCHECK_H

#include <stddef.h>

struct config_site;
struct generation;
struct tlsctx_backend;

/*
 * healthcheck_run(cs, tb, idx, cancel_fd, why, len):
 * One check of backend idx of site cs (tb: its backend context, NULL with
 * backend_tls = no; borrowed).  cancel_fd as in probe_connect_cancel()
 * (-1: none).  Blocks up to connect_timeout + 2 * handshake_timeout.
 * Returns 1 if the backend passed, 0 with the reason in why.
 */
int healthcheck_run(const struct config_site *cs, struct tlsctx_backend *tb,
    size_t idx, int cancel_fd, char *why, size_t len);

/*
 * healthcheck_set(g):
 * Check the backends of g from now on (the live generation: call it at
 * startup and after each reload).  The first call starts the thread, and
 * only if some site of g has backend_check; later calls hand it the new
 * generation (it keeps its own reference): the checks in progress are
 * cancelled and start again at once on g; the others keep their schedule.
 * At process exit the thread and its checks are cancelled and joined
 * (bgthread.h), as the self-test's.  Returns 0, or -1 (logged) if the
 * thread could not be started; the daemon goes on.
 */
int healthcheck_set(struct generation *g);

#endif /* CHAINFIX_HEALTHCHECK_H */
