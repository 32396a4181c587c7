/*
 * selftest.h: the backend self-test (at startup and in `configtest`).
 *
 * For each backend of a site: connect (connect_timeout), handshake the way
 * the proxy would (backend_tls, SNI = backend_sni else the site's leaf
 * name, verification per backend_verify), and say whether it is reachable,
 * whether it verifies, and whether its leaf certificate is the very one
 * chainfix serves for the site.  Exchange Extended Protection (on by
 * default since Exchange 2019 CU14) accepts a TLS-bridging proxy only when
 * both present the same certificate; otherwise Windows logins (NTLM,
 * Kerberos) fail, which is the warning this module exists for.
 *
 * A backend that will fail (unreachable, not speaking TLS, failing
 * verification, unable to negotiate) is a problem, reported with its fix
 * (the configuration line to paste when there is one): `configtest` exits
 * 1 on a problem.  The Extended Protection mismatch stays a warning.  The
 * daemon only logs: nothing here stops it.
 */
#ifndef CHAINFIX_SELFTEST_H
#define CHAINFIX_SELFTEST_H

#include <stddef.h>

struct chain;
struct config_site;
struct generation;
struct selftest;
struct tlsctx_backend;

/* What a reported line is. */
enum selftest_kind {
	SELFTEST_OK,		/* reachable, verifies (or not asked to) */
	SELFTEST_PROBLEM,	/* will fail: unreachable, no TLS, does not
				   verify, cannot negotiate */
	SELFTEST_MISMATCH,	/* the Extended Protection warning */
	SELFTEST_FIX,		/* after a problem: what to do, in words */
	SELFTEST_FIX_LINE,	/* after a fix: the configuration line that
				   does it, ready to paste into the site */
};

/*
 * The sink for the lines: configtest prints them, the daemon logs them.
 * line is one line without a newline, peer strings escaped; valid only
 * during the call.
 */
typedef void selftest_report_fn(void *arg, enum selftest_kind kind,
    const char *line);

/* A caller's item in the run's order (configtest: a site's own lines). */
typedef void selftest_call_fn(void *arg);

/*
 * selftest_new(cancel_fd, in_order, report, arg):
 * A run: the backends given to selftest_add() are tested side by side (at
 * most 16 at once, each on a short-lived thread of its own), so a backend
 * that hangs delays no other's test.  Their lines go to report(arg, ...)
 * on the caller's thread (in selftest_add(), selftest_flush(),
 * selftest_wait()), each backend's together: with in_order, in the order
 * they were added (the items of selftest_add_call() too), as soon as every
 * earlier one is out, so they read as if the tests ran one after the
 * other; without, as soon as the backend's test is over.  cancel_fd as in
 * probe_connect_cancel() (-1: none): a byte there ends every test in
 * progress at once (without a line) and starts no other.  Returns NULL
 * (logged) without memory.
 */
struct selftest *selftest_new(int cancel_fd, int in_order,
    selftest_report_fn *report, void *arg);

/*
 * selftest_add(st, site, tb, served):
 * Queue every backend of site, in order, and start their tests as the
 * bound allows.  Each test calls report with the backend's status line
 * ("site S: backend H:P: reachable (ADDR, TLSv1.3), verifies (...), same
 * certificate as served (SUBJECT)"); after a SELFTEST_PROBLEM line, with
 * SELFTEST_FIX and SELFTEST_FIX_LINE lines when a fix is known (e.g.
 * "backend_verify = sha256:<64 hex>" for a self-signed backend,
 * "backend_tls = no" for a plain one, "backend_min_protocol = TLSv1" for
 * an old one, "backend_ca = FILE" when the site's own roots verify it);
 * and with a SELFTEST_MISMATCH warning when its leaf differs from
 * served's.  A backend that will fail is looked at again to find the fix:
 * a handshake accepting any protocol and cipher (without verification, on
 * a private context), or a plain request when its answer to TLS looks
 * like text.  A passthrough site's backend is only asked to answer a
 * ClientHello (the client verifies it, end to end); served is then NULL.
 * tb is the site's backend context (NULL: a private one is made with
 * tlsctx_backend_new(), and with backend_tls = no none is needed).
 * served is the site's chain (NULL: the comparison is skipped).  site, tb
 * and served are borrowed until selftest_free().  A test blocks up to
 * (connect_timeout + handshake_timeout) per connection, at most three
 * connections per backend.  Returns 0, or -1 (logged) without memory.
 */
int selftest_add(struct selftest *st, const struct config_site *site,
    struct tlsctx_backend *tb, const struct chain *served);

/*
 * selftest_add_call(st, fn, arg):
 * Queue fn(arg), called on the caller's thread when its turn comes (with
 * in_order: after the lines of every backend added before).  Returns 0, or -1 (logged,
 * fn not queued) without memory.
 */
int selftest_add_call(struct selftest *st, selftest_call_fn *fn, void *arg);

/* selftest_flush(st): report what is ready in order, without waiting. */
void selftest_flush(struct selftest *st);

/*
 * selftest_wait(st):
 * Wait for every test and report the rest.  Returns the number of
 * SELFTEST_PROBLEM lines reported (at most one per backend).
 */
int selftest_wait(struct selftest *st);

/* selftest_free(st): after selftest_wait(); NULL is a no-op. */
void selftest_free(struct selftest *st);

/*
 * selftest_start(g):
 * The daemon's startup self-test: every backend of every site of g (as
 * selftest_add() does, side by side) from a background thread, logging each line (log_info when fine, log_warnx
 * otherwise), so readiness is not delayed.  The thread holds its own
 * reference to g and touches no event loop.  At process exit a thread
 * still running is cancelled and joined (bgthread.h), so it never races
 * OpenSSL's own cleanup and leaves nothing for LeakSanitizer.  Only
 * the first call starts anything.  Returns 0, or -1 (logged) if the thread
 * could not be started; the daemon goes on either way.
 */
int selftest_start(struct generation *g);

#endif /* CHAINFIX_SELFTEST_H */
