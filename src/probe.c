/*
 * probe.c: one blocking, deadline-bound TLS client connection (probe.h).
 *
 * The socket is non-blocking from the start and every wait is a poll(2)
 * bounded by the caller's deadline, so a silent peer (a firewall dropping
 * SYNs, a server that accepts and never speaks) costs at most the timeout,
 * never a hang.  SIGPIPE is the caller's business: the tools ignore it.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "probe.h"

struct probe {
	int		 fd;
	int		 cancel_fd;	/* readable: give up; -1: none */
	SSL		*ssl;		/* NULL until probe_handshake() */
	enum probe_fail	 fail;		/* of the last call */
	unsigned long	 tls_error;	/* with PROBE_FAIL_TLS */
	char		 addr[PROBE_ADDRSTRLEN];
};

const char *
probe_fail_name(enum probe_fail f)
{
	static const char *const names[] = {
#define PROBE_FAIL_NAME(sym, name) [sym] = name,
		PROBE_FAILS(PROBE_FAIL_NAME)
#undef PROBE_FAIL_NAME
	};

	if ((size_t)f >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[f];
}

/* What a connect() or read errno means for the caller's advice. */
static enum probe_fail
probe_errno_fail(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return PROBE_FAIL_REFUSED;
	case ETIMEDOUT:
		return PROBE_FAIL_TIMEOUT;
	case ECANCELED:
		return PROBE_FAIL_CANCELLED;
	case ECONNRESET:
	case EPIPE:
		return PROBE_FAIL_CLOSED;
	default:
		return PROBE_FAIL_NETWORK;
	}
}

long long
probe_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait for events on fd until deadline: 1 ready, 0 timed out, -1 error
 * (errno set; ECANCELED when cancel_fd became readable first).
 */
static int
probe_wait(int fd, short events, long long deadline, int cancel_fd)
{
	struct pollfd pfd[2];
	long long left;
	int rv;

	for (;;) {
		left = deadline - probe_now_ms();
		if (left <= 0)
			return 0;
		pfd[0].fd = fd;
		pfd[0].events = events;
		pfd[0].revents = 0;
		/* poll() ignores a negative fd: no cancel_fd, no entry. */
		pfd[1].fd = cancel_fd;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		rv = poll(pfd, 2, left > INT_MAX ? INT_MAX : (int)left);
		if (rv == -1 && errno == EINTR)
			continue;
		if (rv == -1)
			return -1;
		if (rv == 0)
			return 0;
		if (pfd[1].revents != 0) {
			errno = ECANCELED;
			return -1;
		}
		return 1;
	}
}

static void
probe_addrstr(const struct sockaddr *sa, socklen_t salen, char *buf,
    size_t len)
{
	char h[INET6_ADDRSTRLEN], p[16];

	if (getnameinfo(sa, salen, h, sizeof(h), p, sizeof(p),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, len, "?");
		return;
	}
	if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%s", h, p);
	else
		snprintf(buf, len, "%s:%s", h, p);
}

/*
 * A non-blocking TCP connection to the first address of host that answers
 * within the timeout.  Returns the socket, or -1 with the reason in err.
 */
static int
probe_tcp(const char *host, const char *port, int timeout_ms, int cancel_fd,
    int addrconfig, char *addr, size_t addrlen, enum probe_fail *fail,
    char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	socklen_t sl;
	int fd = -1, rv, soerr;
	char a[PROBE_ADDRSTRLEN], h[300];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = addrconfig ? AI_ADDRCONFIG : 0;
	log_escape(host, h, sizeof(h));
	rv = getaddrinfo(host, port, &hints, &res);
	if (rv != 0 && addrconfig) {
		/* AI_ADDRCONFIG hides ::1 on hosts with only loopback v6. */
		hints.ai_flags = 0;
		rv = getaddrinfo(host, port, &hints, &res);
	}
	if (rv != 0) {
		snprintf(err, errlen, "cannot resolve %s port %s: %s", h, port,
		    gai_strerror(rv));
		*fail = PROBE_FAIL_RESOLVE;
		return -1;
	}
	snprintf(err, errlen, "cannot connect to %s port %s", h, port);
	*fail = PROBE_FAIL_OTHER;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		probe_addrstr(ai->ai_addr, ai->ai_addrlen, a, sizeof(a));
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			snprintf(err, errlen, "socket for %s: %s", a,
			    strerror(errno));
			*fail = PROBE_FAIL_NETWORK;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS) {
			snprintf(err, errlen, "connect to %s: %s", a,
			    strerror(errno));
			*fail = probe_errno_fail(errno);
			close(fd);
			fd = -1;
			continue;
		}
		rv = probe_wait(fd, POLLOUT, probe_now_ms() + timeout_ms,
		    cancel_fd);
		if (rv == -1 && errno == ECANCELED) {
			snprintf(err, errlen, "connect to %s: cancelled", a);
			*fail = PROBE_FAIL_CANCELLED;
			close(fd);
			fd = -1;
			break;
		}
		if (rv == 0) {
			snprintf(err, errlen, "connect to %s: timed out "
			    "after %d s", a, timeout_ms / 1000);
			*fail = PROBE_FAIL_TIMEOUT;
			close(fd);
			fd = -1;
			continue;
		}
		soerr = 0;
		sl = sizeof(soerr);
		if (rv == -1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
			soerr = errno;
		if (soerr != 0) {
			snprintf(err, errlen, "connect to %s: %s", a,
			    strerror(soerr));
			*fail = probe_errno_fail(soerr);
			close(fd);
			fd = -1;
			continue;
		}
		break;
	}
	if (fd != -1) {
		snprintf(addr, addrlen, "%s", a);
		err[0] = '\0';	/* an earlier address may have failed */
		*fail = PROBE_FAIL_NONE;
	}
	freeaddrinfo(res);
	return fd;
}

static struct probe *
probe_open(const char *host, const char *port, int timeout_ms, int cancel_fd,
    int addrconfig, enum probe_fail *fail, char *err, size_t errlen)
{
	enum probe_fail dummy;
	struct probe *p;

	if (fail == NULL)
		fail = &dummy;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		*fail = PROBE_FAIL_OTHER;
		return NULL;
	}
	p->cancel_fd = cancel_fd;
	p->fd = probe_tcp(host, port, timeout_ms, cancel_fd, addrconfig,
	    p->addr, sizeof(p->addr), fail, err, errlen);
	if (p->fd == -1) {
		free(p);
		return NULL;
	}
	return p;
}

struct probe *
probe_connect(const char *host, const char *port, int timeout_ms, char *err,
    size_t errlen)
{
	return probe_open(host, port, timeout_ms, -1, 1, NULL, err, errlen);
}

struct probe *
probe_connect_cancel(const char *host, const char *port, int timeout_ms,
    int cancel_fd, enum probe_fail *fail, char *err, size_t errlen)
{
	/*
	 * No AI_ADDRCONFIG: glibc answers it with a netlink query, and the
	 * daemon's unit forbids AF_NETLINK (RestrictAddressFamilies).  An
	 * address of an unconfigured family just fails to connect.
	 */
	return probe_open(host, port, timeout_ms, cancel_fd, 0, fail, err,
	    errlen);
}

enum probe_fail
probe_failure(const struct probe *p)
{
	return p->fail;
}

unsigned long
probe_tls_error(const struct probe *p)
{
	return p->tls_error;
}

const char *
probe_address(const struct probe *p)
{
	return p->addr;
}

SSL *
probe_ssl(const struct probe *p)
{
	return p->ssl;
}

void
probe_ssl_error(SSL *ssl, int rv, const char *what, char *err, size_t errlen)
{
	char reason[256];
	int e, saved = errno;

	e = SSL_get_error(ssl, rv);
	log_ssl_reason(reason, sizeof(reason));
	if (reason[0] != '\0')
		snprintf(err, errlen, "%s: %s", what, reason);
	else if (e == SSL_ERROR_SYSCALL && saved != 0)
		snprintf(err, errlen, "%s: %s", what, strerror(saved));
	else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
		snprintf(err, errlen, "%s: the server closed the connection",
		    what);
	else
		snprintf(err, errlen, "%s: SSL error %d", what, e);
}

/*
 * Record why the SSL call that returned rv failed (p->fail, p->tls_error),
 * then describe it in err (draining the error queue).
 */
static void
probe_ssl_failed(struct probe *p, int rv, const char *what, char *err,
    size_t errlen)
{
	int e, saved = errno;

	e = SSL_get_error(p->ssl, rv);
	p->tls_error = ERR_peek_error();
	if (p->tls_error != 0)
		p->fail = PROBE_FAIL_TLS;
	else if (e == SSL_ERROR_SYSCALL && saved != 0)
		p->fail = probe_errno_fail(saved);
	else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN)
		p->fail = PROBE_FAIL_CLOSED;
	else
		p->fail = PROBE_FAIL_OTHER;
	errno = saved;
	probe_ssl_error(p->ssl, rv, what, err, errlen);
}

/* A wait that did not end ready (w: probe_wait()'s 0 or -1). */
static void
probe_wait_failed(struct probe *p, int w)
{
	p->tls_error = 0;
	p->fail = w == 0 ? PROBE_FAIL_TIMEOUT : probe_errno_fail(errno);
}

int
probe_handshake(struct probe *p, SSL *ssl, int timeout_ms, char *err,
    size_t errlen)
{
	long long deadline;
	int rv, e, w;
	char what[128], reason[256];

	snprintf(what, sizeof(what), "TLS handshake with %s", p->addr);
	p->fail = PROBE_FAIL_OTHER;
	p->tls_error = 0;
	if (p->ssl != NULL) {
		/* One handshake per probe: the socket carries one stream. */
		SSL_free(ssl);
		snprintf(err, errlen, "%s: already done", what);
		return -1;
	}
	p->ssl = ssl;
	if (ssl == NULL || SSL_set_fd(ssl, p->fd) != 1) {
		/* SSL_set_fd's socket BIO is BIO_NOCLOSE: the fd stays ours. */
		snprintf(err, errlen, "%s: %s", what,
		    log_ssl_reason(reason, sizeof(reason)));
		return -1;
	}
	deadline = probe_now_ms() + timeout_ms;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((rv = SSL_connect(ssl)) == 1) {
			p->fail = PROBE_FAIL_NONE;
			return 0;
		}
		e = SSL_get_error(ssl, rv);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			probe_ssl_failed(p, rv, what, err, errlen);
			return -1;
		}
		w = probe_wait(p->fd, e == SSL_ERROR_WANT_READ ? POLLIN :
		    POLLOUT, deadline, p->cancel_fd);
		if (w == 0) {
			probe_wait_failed(p, w);
			snprintf(err, errlen, "%s: timed out after %d s", what,
			    timeout_ms / 1000);
			return -1;
		}
		if (w == -1) {
			probe_wait_failed(p, w);
			snprintf(err, errlen, "%s: %s", what, strerror(errno));
			return -1;
		}
	}
}

/* A write when wbuf is set, else a read into rbuf. */
static int
probe_io(struct probe *p, const void *wbuf, void *rbuf, size_t len,
    size_t *done, long long deadline, const char *what, char *err,
    size_t errlen)
{
	int rv, e, w, writing = wbuf != NULL;

	*done = 0;
	p->fail = PROBE_FAIL_OTHER;
	p->tls_error = 0;
	if (p->ssl == NULL) {
		snprintf(err, errlen, "%s: no TLS connection", what);
		return -1;
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if (writing)
			rv = SSL_write_ex(p->ssl, wbuf, len, done);
		else
			rv = SSL_read_ex(p->ssl, rbuf, len, done);
		if (rv == 1) {
			p->fail = PROBE_FAIL_NONE;
			return 1;
		}
		e = SSL_get_error(p->ssl, rv);
		/*
		 * With SSL_OP_IGNORE_UNEXPECTED_EOF a bare close reads as
		 * SSL_ERROR_ZERO_RETURN; without it, as SYSCALL with errno 0.
		 * Either way the peer said all it had to say.
		 */
		if (!writing && (e == SSL_ERROR_ZERO_RETURN ||
		    (e == SSL_ERROR_SYSCALL && errno == 0))) {
			ERR_clear_error();
			*done = 0;
			p->fail = PROBE_FAIL_NONE;
			return 0;
		}
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			probe_ssl_failed(p, rv, what, err, errlen);
			return -1;
		}
		w = probe_wait(p->fd, e == SSL_ERROR_WANT_READ ? POLLIN :
		    POLLOUT, deadline, p->cancel_fd);
		if (w != 1) {
			probe_wait_failed(p, w);
			snprintf(err, errlen, "%s: %s", what, w == 0 ?
			    "timed out" : strerror(errno));
			return -1;
		}
	}
}

int
probe_read(struct probe *p, void *buf, size_t len, size_t *done,
    long long deadline, const char *what, char *err, size_t errlen)
{
	return probe_io(p, NULL, buf, len, done, deadline, what, err, errlen);
}

int
probe_write(struct probe *p, const void *buf, size_t len, size_t *done,
    long long deadline, const char *what, char *err, size_t errlen)
{
	return probe_io(p, buf, NULL, len, done, deadline, what, err, errlen);
}

int
probe_plain(struct probe *p, const void *req, size_t reqlen, void *buf,
    size_t buflen, size_t *got, int timeout_ms, char *err, size_t errlen)
{
	const char *w = req;
	long long deadline = probe_now_ms() + timeout_ms;
	ssize_t n;
	int rv;

	*got = 0;
	p->fail = PROBE_FAIL_OTHER;
	p->tls_error = 0;
	if (p->ssl != NULL) {
		snprintf(err, errlen, "%s: the connection carries TLS",
		    p->addr);
		return -1;
	}
	while (reqlen > 0) {
		/* MSG_NOSIGNAL: a peer that resets must not kill the tool. */
		n = send(p->fd, w, reqlen, MSG_NOSIGNAL);
		if (n > 0) {
			w += n;
			reqlen -= (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			p->fail = probe_errno_fail(errno);
			snprintf(err, errlen, "send to %s: %s", p->addr,
			    strerror(errno));
			return -1;
		}
		if ((rv = probe_wait(p->fd, POLLOUT, deadline,
		    p->cancel_fd)) != 1)
			goto waitfail;
	}
	for (;;) {
		if ((rv = probe_wait(p->fd, POLLIN, deadline,
		    p->cancel_fd)) != 1)
			goto waitfail;
		n = recv(p->fd, buf, buflen, 0);
		if (n >= 0) {
			*got = (size_t)n;
			p->fail = PROBE_FAIL_NONE;
			return 0;
		}
		if (errno != EAGAIN && errno != EINTR) {
			p->fail = probe_errno_fail(errno);
			snprintf(err, errlen, "read from %s: %s", p->addr,
			    strerror(errno));
			return -1;
		}
	}
 waitfail:
	probe_wait_failed(p, rv);
	snprintf(err, errlen, "%s: %s", p->addr, rv == 0 ?
	    "no answer in time" : strerror(errno));
	return -1;
}

void
probe_close(struct probe *p)
{
	if (p == NULL)
		return;
	if (p->ssl != NULL) {
		/*
		 * One non-blocking attempt: we only want the session marked
		 * done, not to wait for the peer's close_notify.  A handshake
		 * that never finished has nothing to shut down.
		 */
		if (SSL_is_init_finished(p->ssl) && SSL_shutdown(p->ssl) < 0)
			ERR_clear_error();
		SSL_free(p->ssl);
	}
	if (p->fd != -1)
		close(p->fd);
	free(p);
}
