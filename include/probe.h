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
 * probe_connect_cancel(host, port, timeout_ms, cancel_fd, err, errlen):
 * probe_connect() for the daemon and its background thread: as soon as
 * cancel_fd (say a pipe's read end; borrowed, -1: none) is readable, the
 * wait in progress ends and fails with "...: Operation canceled"
 * ("connect to A: cancelled" while connecting), and so does every later
 * wait of the probe.  Resolves without AI_ADDRCONFIG, so no netlink
 * socket is opened (the systemd unit forbids AF_NETLINK).
 */
struct probe *probe_connect_cancel(const char *host, const char *port,
    int timeout_ms, int cancel_fd, char *err, size_t errlen);

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
