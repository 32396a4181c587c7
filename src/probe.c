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
	char		 addr[PROBE_ADDRSTRLEN];
};

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
    int addrconfig, char *addr, size_t addrlen, char *err, size_t errlen)
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
		return -1;
	}
	snprintf(err, errlen, "cannot connect to %s port %s", h, port);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		probe_addrstr(ai->ai_addr, ai->ai_addrlen, a, sizeof(a));
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			snprintf(err, errlen, "socket for %s: %s", a,
			    strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS) {
			snprintf(err, errlen, "connect to %s: %s", a,
			    strerror(errno));
			close(fd);
			fd = -1;
			continue;
		}
		rv = probe_wait(fd, POLLOUT, probe_now_ms() + timeout_ms,
		    cancel_fd);
		if (rv == -1 && errno == ECANCELED) {
			snprintf(err, errlen, "connect to %s: cancelled", a);
			close(fd);
			fd = -1;
			break;
		}
		if (rv == 0) {
			snprintf(err, errlen, "connect to %s: timed out "
			    "after %d s", a, timeout_ms / 1000);
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
			close(fd);
			fd = -1;
			continue;
		}
		break;
	}
	if (fd != -1) {
		snprintf(addr, addrlen, "%s", a);
		err[0] = '\0';	/* an earlier address may have failed */
	}
	freeaddrinfo(res);
	return fd;
}

static struct probe *
probe_open(const char *host, const char *port, int timeout_ms, int cancel_fd,
    int addrconfig, char *err, size_t errlen)
{
	struct probe *p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->cancel_fd = cancel_fd;
	p->fd = probe_tcp(host, port, timeout_ms, cancel_fd, addrconfig,
	    p->addr, sizeof(p->addr), err, errlen);
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
	return probe_open(host, port, timeout_ms, -1, 1, err, errlen);
}

struct probe *
probe_connect_cancel(const char *host, const char *port, int timeout_ms,
    int cancel_fd, char *err, size_t errlen)
{
	/*
	 * No AI_ADDRCONFIG: glibc answers it with a netlink query, and the
	 * daemon's unit forbids AF_NETLINK (RestrictAddressFamilies).  An
	 * address of an unconfigured family just fails to connect.
	 */
	return probe_open(host, port, timeout_ms, cancel_fd, 0, err, errlen);
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

int
probe_handshake(struct probe *p, SSL *ssl, int timeout_ms, char *err,
    size_t errlen)
{
	long long deadline;
	int rv, e, w;
	char what[128], reason[256];

	snprintf(what, sizeof(what), "TLS handshake with %s", p->addr);
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
		if ((rv = SSL_connect(ssl)) == 1)
			return 0;
		e = SSL_get_error(ssl, rv);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			probe_ssl_error(ssl, rv, what, err, errlen);
			return -1;
		}
		w = probe_wait(p->fd, e == SSL_ERROR_WANT_READ ? POLLIN :
		    POLLOUT, deadline, p->cancel_fd);
		if (w == 0) {
			snprintf(err, errlen, "%s: timed out after %d s", what,
			    timeout_ms / 1000);
			return -1;
		}
		if (w == -1) {
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
		if (rv == 1)
			return 1;
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
			return 0;
		}
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			probe_ssl_error(p->ssl, rv, what, err, errlen);
			return -1;
		}
		w = probe_wait(p->fd, e == SSL_ERROR_WANT_READ ? POLLIN :
		    POLLOUT, deadline, p->cancel_fd);
		if (w != 1) {
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
