/*
 * probe.h: one blocking, deadline-bound TLS client connection, for the
 * tools that look at a server from outside (`chainfix check`, the backend
 * self-test).  Never used on the proxy's event loops: every call here may
 * block its thread up to the timeout given.
 *
 * A probe is a TCP connection (getaddrinfo, every address in turn, a
 * non-blocking connect bounded by poll) that may then carry one TLS client
 * handshake and some reads and writes, each bounded by a deadline.  Every
 * failure is described in one line in the caller's err buffer (nothing is
 * logged); peer-controlled strings in it are escaped.
 */
#ifndef CHAINFIX_PROBE_H
#define CHAINFIX_PROBE_H

#include <stddef.h>

#include <openssl/ssl.h>

/* "[2001:db8::1]:443" fits. */
#define PROBE_ADDRSTRLEN	(46 + 24)

/*
 * Why a probe call failed, for callers that suggest a fix (the backend
 * self-test).  X-macro: enum and names cannot drift.
 */
#define PROBE_FAILS(X)							\
	X(PROBE_FAIL_NONE,	"none")		/* no failure */	\
	X(PROBE_FAIL_RESOLVE,	"resolve")	/* name did not resolve */ \
	X(PROBE_FAIL_REFUSED,	"refused")	/* nothing listens */	\
	X(PROBE_FAIL_TIMEOUT,	"timeout")	/* no answer in time */	\
	X(PROBE_FAIL_CANCELLED,	"cancelled")	/* the cancel fd fired */ \
	X(PROBE_FAIL_NETWORK,	"network")	/* unreachable, other errno */ \
	X(PROBE_FAIL_CLOSED,	"closed")	/* peer closed or reset */ \
	X(PROBE_FAIL_TLS,	"tls")		/* TLS said why: */	\
						/* probe_tls_error() */	\
	X(PROBE_FAIL_OTHER,	"other")

enum probe_fail {
#define PROBE_FAIL_ENUM(sym, name) sym,
	PROBE_FAILS(PROBE_FAIL_ENUM)
#undef PROBE_FAIL_ENUM
};

struct probe;

/*
 * probe_now_ms():
 * Milliseconds on the monotonic clock: the base for the deadlines below.
 */
long long probe_now_ms(void);

/*
 * probe_connect(host, port, timeout_ms, err, errlen):
 * Resolve host (a name or an address literal, no brackets) and port, and
 * connect to the first address that accepts, giving each timeout_ms.
 * Returns a new probe (free with probe_close()), or NULL with the reason
 * in err ("cannot resolve H port P: ...", "connect to A: Connection
 * refused", "connect to A: timed out after N s").
 */
struct probe *probe_connect(const char *host, const char *port,
    int timeout_ms, char *err, size_t errlen);

/*
 * probe_connect_cancel(host, port, timeout_ms, cancel_fd, fail, err,
 *     errlen):
 * probe_connect() for the daemon and its background thread: as soon as
 * cancel_fd (say a pipe's read end; borrowed, -1: none) is readable, the
 * wait in progress ends and fails with "...: Operation canceled"
 * ("connect to A: cancelled" while connecting), and so does every later
 * wait of the probe.  Resolves without AI_ADDRCONFIG, so no netlink
 * socket is opened (the systemd unit forbids AF_NETLINK).  On failure
 * *fail (if fail is not NULL) says why, as the last address tried failed.
 */
struct probe *probe_connect_cancel(const char *host, const char *port,
    int timeout_ms, int cancel_fd, enum probe_fail *fail, char *err,
    size_t errlen);

/*
 * probe_address(p): the address connected to, "127.0.0.1:443" or
 * "[::1]:443"; storage in p.
 */
const char *probe_address(const struct probe *p);

/*
 * probe_handshake(p, ssl, timeout_ms, err, errlen):
 * Run the TLS client handshake of ssl (set up by the caller: SNI, version
 * limits, expected host name) over p's socket, within timeout_ms.  p takes
 * ssl over in every case (probe_close() frees it); a probe carries at most
 * one.  ssl may be NULL (the caller's SSL_new() or setup failed): the
 * reason is then taken from this thread's OpenSSL error queue.  Returns 0, or -1 with "TLS handshake with ADDR: why" in err.
 */
int probe_handshake(struct probe *p, SSL *ssl, int timeout_ms, char *err,
    size_t errlen);

/*
 * probe_failure(p), probe_tls_error(p):
 * Why the last probe_handshake(), probe_read(), probe_write() or
 * probe_plain() on p failed (PROBE_FAIL_NONE if it did not), and with
 * PROBE_FAIL_TLS the first OpenSSL error code it queued (ERR_GET_REASON()
 * gives SSL_R_WRONG_VERSION_NUMBER and the like; 0 otherwise).
 */
enum probe_fail probe_failure(const struct probe *p);
unsigned long probe_tls_error(const struct probe *p);

/*
 * probe_plain(p, req, reqlen, buf, buflen, got, timeout_ms, err, errlen):
 * On a probe that carries no TLS: send req (reqlen bytes; none if 0), then
 * read what the peer sends within timeout_ms, up to buflen bytes (stops at
 * the first read that returns data, or at end of stream).  For telling a
 * plain-text service from a TLS one.  Returns 0 with *got bytes in buf (0:
 * the peer closed without a word), or -1 with the reason in err.
 */
int probe_plain(struct probe *p, const void *req, size_t reqlen, void *buf,
    size_t buflen, size_t *got, int timeout_ms, char *err, size_t errlen);

/* probe_fail_name(f): "refused" etc.; static storage. */
const char *probe_fail_name(enum probe_fail f);

/*
 * probe_ssl(p): the SSL given to probe_handshake() (borrowed), also when
 * the handshake failed (SSL_get_verify_result() tells whether the
 * certificate was why); NULL before.
 */
SSL *probe_ssl(const struct probe *p);

/*
 * probe_read(p, buf, len, done, deadline, what, err, errlen),
 * probe_write(p, buf, len, done, deadline, what, err, errlen):
 * One SSL_read_ex / SSL_write_ex on the handshaken connection, waiting
 * until deadline (probe_now_ms() based).  Returns 1 with *done bytes moved,
 * 0 on end of stream (read only: close_notify or a bare close), or -1 with
 * "WHAT: why" in err.
 */
int probe_read(struct probe *p, void *buf, size_t len, size_t *done,
    long long deadline, const char *what, char *err, size_t errlen);
int probe_write(struct probe *p, const void *buf, size_t len, size_t *done,
    long long deadline, const char *what, char *err, size_t errlen);

/*
 * probe_ssl_error(ssl, rv, what, err, errlen):
 * Why the SSL call that returned rv failed, in one line "WHAT: why",
 * draining this thread's OpenSSL error queue.  Call it before anything
 * else touches errno.
 */
void probe_ssl_error(SSL *ssl, int rv, const char *what, char *err,
    size_t errlen);

/*
 * probe_close(p):
 * One non-blocking close_notify attempt (so the session is not marked
 * unresumable), then free the SSL, close the socket and free p.  NULL is a
 * no-op.
 */
void probe_close(struct probe *p);

#endif /* CHAINFIX_PROBE_H */
