/*
 * session.c: one client connection relayed to its own backend connection
 * (session.h).
 *
 * Why the relay drives OpenSSL itself.  Until 0.1 each leg was a libevent
 * bufferevent (bufferevent_openssl for TLS).  Profiled under bench/bench.sh
 * (perf record -g, strace -c; 2 workers, RSA-2048, TLS 1.3 to nginx), the
 * bufferevent cost more than the TLS: per keep-alive request it made 4.1
 * read, 2.1 write and 4.1 epoll_ctl calls (HAProxy: 6.1 recvfrom, 2.0
 * sendto, 0.03 epoll_ctl), because it adds and removes its read and write
 * events around every TLS record, and 72 % of the proxy's CPU was in the
 * kernel.  For a 64 MiB download it made one epoll_wait and one epoll_ctl
 * per 16 KiB record (4116 and 4103; HAProxy 232 and 0), moving one record
 * per loop turn, and copied every record through its evbuffers.
 *
 * So each leg is now a plain non-blocking socket with one persistent event,
 * whose interest is computed from the session's state after every step
 * (session_side_want()) and changed only when that changes: a side is read
 * while its direction's buffer is empty, written only after a write came
 * back with EAGAIN.  In keep-alive traffic the interest never changes; in
 * a bulk transfer it changes when the receiver's socket buffer fills, not
 * per record.  The event is level-triggered: a read that comes up short
 * means the socket is empty, so the read that would only return EAGAIN is
 * skipped, and a FIN or reset queued behind the data is reported again by
 * the next epoll_wait.  (Edge-triggered events would save even those
 * interest changes, but libevent reports EPOLLERR without EV_CLOSED, so a
 * reset that came with the last data could not be told from plain
 * readiness and would stall the session.)  SSL_read and SSL_write are
 * called here, on one fixed buffer per direction of one TLS record
 * (SESSION_BUFSZ): what one SSL_read or read(2) returns is written at once,
 * so a bulk transfer moves full 16 KiB records and an interactive one its
 * small records without delay.  The buffer comes from a per-worker pool
 * only while its direction holds data and goes back as soon as it is
 * written, so an idle session holds none (and OpenSSL's own record buffers
 * go with SSL_MODE_RELEASE_BUFFERS).  OpenSSL reads ahead (one read(2) per
 * record instead of header then body) and a BIO callback tells whether the
 * last read(2) came up short.
 *
 * Backpressure is le-proxy's: a direction reads only while its buffer is
 * empty, so a side whose peer cannot take more is not read; at most one
 * record per direction is ever held.  A direction moves at most
 * SESSION_BUDGET bytes per wake-up and then lets the worker's other
 * sessions have their turn.
 *
 * Each direction ends on its own (docs/design.md, "Architecture"): an EOF
 * or close_notify from one side is passed on once what is queued is written
 * (close_notify and shutdown(SHUT_WR) on a TLS leg, shutdown(SHUT_WR) on a
 * plain one), and the session ends when both directions are done, on a
 * timeout, or on an error.  Bytes a client sends before the backend is up,
 * EOF included, wait in the client's buffer and go out once it is.
 *
 * Everything that ends a session goes through session_close(), which logs
 * the one summary line.  Handlers below the event callbacks never close:
 * they record why (session_fail()) and return -1 up to the callback, so no
 * function ever runs on a freed session.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "clienthello.h"
#include "config.h"
#include "generation.h"
#include "health.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "proxyproto.h"
#include "session.h"
#include "tlsctx.h"

/* One TLS record of plaintext: the relay buffer of one direction. */
#define SESSION_BUFSZ		16384
/*
 * OpenSSL's read buffer while it holds data (released when empty): with
 * read-ahead one read(2) takes in up to this many bytes, several records
 * of a bulk transfer, instead of one.
 */
#define SESSION_RBUFSZ		(64 * 1024)
/* Bytes a session counts before adding them to the shared counters. */
#define SESSION_METER		(64 * 1024)
/* Bytes one direction moves per wake-up before yielding to others. */
#define SESSION_BUDGET		(16 * SESSION_BUFSZ)
/* Free relay buffers a worker keeps for its next sessions. */
#define SESSION_POOL_MAX	16
/* Seconds to drain a side whose peer is gone before closing it. */
#define SESSION_LINGER		10

/* Session states.  X-macro: the names in the logs cannot drift. */
#define SESSION_STATES(X)						\
	/* on an address with passthrough sites: reading the client's	\
	   ClientHello without consuming it (MSG_PEEK) to pick the site	\
	   by its SNI (handshake_timeout) */				\
	X(SS_SNI,         "sni")					\
	/* client TLS handshake running (handshake_timeout) */		\
	X(SS_HANDSHAKE,   "handshake")					\
	/* looking up the name of backend[bidx] (connect_timeout) */	\
	X(SS_RESOLVING,   "resolving")					\
	/* TCP connect to an address of backend[bidx]		\
	   (connect_timeout) */						\
	X(SS_BACKEND_TCP, "backend_tcp")				\
	/* TLS handshake with backend[bidx] (connect_timeout) */	\
	X(SS_BACKEND_TLS, "backend_tls")				\
	/* both legs up: each direction moves on its own		\
	   (idle_timeout; SESSION_LINGER once ending) */		\
	X(SS_RELAY,       "relay")

enum session_state {
#define SESSION_STATE_ENUM(sym, name) sym,
	SESSION_STATES(SESSION_STATE_ENUM)
#undef SESSION_STATE_ENUM
};

static const char *const session_state_names[] = {
#define SESSION_STATE_NAME(sym, name) [sym] = name,
	SESSION_STATES(SESSION_STATE_NAME)
#undef SESSION_STATE_NAME
};

/*
 * The state of one direction, named after the side it reads from.  From
 * the client's handshake on, the client's direction reads (into its buffer)
 * even while the backend is not up yet.
 */
#define SESSION_FLOWS(X)						\
	/* reading this side, writing to its peer */			\
	X(FLOW_OPEN,    "open")						\
	/* this side ended (EOF, close_notify) or failed: what is	\
	   queued goes to the peer, then the peer's write side is shut	\
	   down (or, after a failure, the session ends) */		\
	X(FLOW_FLUSH,   "flush")					\
	/* writing to the peer failed: read this side and drop what it	\
	   sends until it ends, so closing it does not reset it */	\
	X(FLOW_DISCARD, "discard")					\
	/* done: the peer's write side is shut down (or dead) */	\
	X(FLOW_DONE,    "done")

enum session_flow {
#define SESSION_FLOW_ENUM(sym, name) sym,
	SESSION_FLOWS(SESSION_FLOW_ENUM)
#undef SESSION_FLOW_ENUM
};

static const char *const session_flow_names[] = {
#define SESSION_FLOW_NAME(sym, name) [sym] = name,
	SESSION_FLOWS(SESSION_FLOW_NAME)
#undef SESSION_FLOW_NAME
};

/*
 * One leg of a session: a socket, TLS on it or not, and the direction that
 * reads from it.  Nothing here knows which leg it is but the name, so a
 * plain TCP client leg is a side with ssl == NULL.
 */
struct side {
	struct session		*s;
	struct side		*peer;
	const char		*name;	/* "client", "backend" */
	struct event		*ev;	/* in s's allocation; fd's only event */
	short			 evflags; /* ev's interest; 0: not added */
	SSL			*ssl;	/* NULL: plain TCP */
	int			 fd;	/* -1: none */
	enum session_flow	 flow;	/* this side -> peer */
	unsigned char		*buf;	/* read from here, not yet written to
					   peer; NULL while empty */
	uint32_t		 off, len;
	uint64_t		 bytes;	/* received from this side */
	uint64_t		 metered; /* of those, added to the metrics */
	const SSL_SESSION	*sess;	/* ssl's session when its buffers were
					   last given back (side_release()) */
	unsigned		 up:1,		/* connected, handshake done */
				 rready:1,	/* may have bytes to read */
				 wready:1,	/* may take bytes */
				 drained:1,	/* last read(2) came up short */
				 rdeof:1,	/* read(2) returned 0 */
				 more:1,	/* another record follows at once */
				 corked:1,	/* a send left data held back */
				 hs_wantw:1,	/* handshake waits to write */
				 rd_wantw:1,	/* SSL_read waits to write */
				 wr_wantr:1,	/* SSL_write waits to read */
				 shut_started:1, /* close_notify queued */
				 shut:1,	/* our write side is shut down */
				 dead:1,	/* a write failed: never again */
				 again:1;	/* out of budget: run again soon */
};

struct session {
	struct session		*prev, *next;
	struct session_list	*list;
	enum session_state	 state;
	struct side		 client;
	struct side		 backend;
	struct event_base	*base;
	struct evdns_base	*dns;
	struct event		*timer;	/* the current state's timeout */
	struct generation	*gen;	/* our reference */
	struct gen_listen	*gl;
	struct gen_site		*site;	/* NULL until SNI picked one */
	size_t			 bidx;	/* backend tried or in use */
	struct evdns_getaddrinfo_request *dnsreq; /* resolving bidx */
	struct evutil_addrinfo	*addrs;	/* of backend bidx, from evdns */
	struct evutil_addrinfo	*ai;	/* the address tried or in use */
	int			 in_resolve;	/* inside evdns_getaddrinfo */
	int			 resolved;	/* its answer is in */
	int			 dnserr;
	int			 skip_down;	/* pass by backends marked down
						   (some backend is up) */
	int			 lowat;		/* SO_RCVLOWAT raised (SS_SNI) */
	char			*sni;		/* passthrough: the client's SNI
						   (terminated: in the SSL) */
	int			 ending;	/* the reason is set */
	int			 abort;		/* a read failed: close once what
						   is queued is written */
	struct side		*first_eof;	/* the side that ended first */
	enum metrics_session_reason reason;	/* once ending or closing */
	/*
	 * Words only some sessions need, on the heap only then: an idle
	 * session holds neither.
	 */
	char			*detail;	/* the reason in words */
	char			*lasterr;	/* last backend failure */
	char			 peer[56];	/* client address:port */
	struct timespec		 start;
	time_t			 last;	/* last byte relayed, monotonic s */
};

static atomic_size_t session_alive;

static void session_event(evutil_socket_t, short, void *);
static int session_step(struct session *);
static int session_advance(struct session *);
static void session_meter(struct session *, struct side *);
static int session_backend_try(struct session *);
static int session_backend_connect(struct session *);
static void session_close(struct session *);
static int session_fail(struct session *, enum metrics_session_reason,
    const char *, ...) LOG_PRINTF(3, 4);

size_t
session_count(void)
{
	return atomic_load_explicit(&session_alive, memory_order_relaxed);
}

static time_t
session_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

/* The one place the session's state changes. */
static void
session_set_state(struct session *s, enum session_state st)
{
	log_debug("session %s: %s -> %s", s->peer,
	    session_state_names[s->state], session_state_names[st]);
	s->state = st;
}

/* The one place a direction's state changes. */
static void
session_set_flow(struct side *side, enum session_flow f)
{
	log_debug("session %s: %s %s -> %s", side->s->peer, side->name,
	    session_flow_names[side->flow], session_flow_names[f]);
	side->flow = f;
}

static void session_words(char **, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

/*
 * A copy of a formatted string in *dst (replacing what was there), cut at
 * 200 bytes; NULL if out of memory, which the log line survives.
 */
static void
session_words(char **dst, const char *fmt, va_list ap)
{
	char buf[200];
	size_t len;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	len = strlen(buf) + 1;
	free(*dst);
	if ((*dst = malloc(len)) != NULL)
		memcpy(*dst, buf, len);
}

static void session_words_f(char **, const char *, ...) LOG_PRINTF(2, 3);

static void
session_words_f(char **dst, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_words(dst, fmt, ap);
	va_end(ap);
}

/*
 * Record why the session ends (the first reason wins) and return -1, for
 * the callback to close.
 */
static int
session_fail(struct session *s, enum metrics_session_reason r,
    const char *fmt, ...)
{
	va_list ap;

	if (!s->ending) {
		s->ending = 1;
		s->reason = r;
		va_start(ap, fmt);
		session_words(&s->detail, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const struct config_site *
session_cfg(const struct session *s)
{
	return s->site != NULL ? s->site->cfg : generation_listen_site(s->gl);
}

/* The client's SNI: in its SSL, or kept from a passthrough ClientHello. */
static const char *
session_sni_name(const struct session *s)
{
	if (s->client.ssl != NULL)
		return SSL_get_servername(s->client.ssl,
		    TLSEXT_NAMETYPE_host_name);
	return s->sni;
}

/*
 * (Re)arm the session's one timer.  Arming a timer that is not pending may
 * grow libevent's timer heap, and so fail: returns 0, or -1 with the
 * reason recorded.
 */
static int
session_timer(struct session *s, unsigned secs)
{
	struct timeval tv;

	tv.tv_sec = secs;
	tv.tv_usec = 0;
	if (evtimer_add(s->timer, &tv) == -1)
		return session_fail(s, SR_RESOURCES, "cannot arm a timer");
	return 0;
}

/*
 * Relay buffers: a worker's free ones are linked through their first bytes.
 * Returns NULL on out of memory.
 */
static unsigned char *
session_buf_get(struct session *s)
{
	struct session_list *l = s->list;
	void *b;

	if ((b = l->pool) != NULL) {
		memcpy(&l->pool, b, sizeof(void *));
		l->npool--;
		return b;
	}
	return malloc(SESSION_BUFSZ);
}

static void
session_buf_put(struct session *s, struct side *side)
{
	struct session_list *l = s->list;

	if (side->buf == NULL)
		return;
	if (l->npool < SESSION_POOL_MAX) {
		memcpy(side->buf, &l->pool, sizeof(void *));
		l->pool = side->buf;
		l->npool++;
	} else
		free(side->buf);
	side->buf = NULL;
	side->off = side->len = 0;
}

/*
 * The socket I/O of every leg, plain or under TLS (through the BIO below).
 * side_recv() notes whether the socket was left empty (a short read or
 * EAGAIN), so that a read that would only return EAGAIN can be skipped:
 * the level-triggered event reports anything left.  side_send() passes
 * MSG_MORE while side->more says another record follows at once, so a
 * burst of records leaves in full-sized segments instead of one push (and,
 * on loopback, one wake-up of the receiver) per record; side_push() sends
 * what that held back.  Both return what read(2)/send(2) return, errno set.
 */
static ssize_t
side_recv(struct side *side, void *p, size_t len)
{
	ssize_t n;

	do
		n = read(side->fd, p, len);
	while (n == -1 && errno == EINTR);
	side->drained = n < 0 || (size_t)n < len;
	if (n == 0)
		side->rdeof = 1;
	return n;
}

static ssize_t
side_send(struct side *side, const void *p, size_t len)
{
	ssize_t n;

	do
		n = send(side->fd, p, len, MSG_NOSIGNAL |
		    (side->more ? MSG_MORE : 0));
	while (n == -1 && errno == EINTR);
	if (n > 0)
		side->corked = side->more;
	return n;
}

static void
side_push(struct side *side)
{
	int one = 1;

	/* Setting TCP_NODELAY sends what MSG_MORE held back. */
	if (side->corked)
		(void)setsockopt(side->fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	side->corked = 0;
}

/*
 * A BIO on a side's socket, for OpenSSL: side_recv() and side_send() with
 * BIO's conventions.  Its data is the side; it never owns the fd.
 */
static int
session_bio_write(BIO *b, const char *p, size_t len, size_t *written)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	if ((n = side_send(BIO_get_data(b), p, len)) >= 0) {
		*written = (size_t)n;
		return 1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		BIO_set_retry_write(b);
	return 0;
}

static int
session_bio_read(BIO *b, char *p, size_t len, size_t *readbytes)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	if ((n = side_recv(BIO_get_data(b), p, len)) > 0) {
		*readbytes = (size_t)n;
		return 1;
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_read(b);
	return 0;
}

static long
session_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct side *side = BIO_get_data(b);

	(void)num;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		/* OpenSSL asks after a read of 0 bytes: an EOF, no error. */
		return side->rdeof;
	case BIO_C_GET_FD:
		if (ptr != NULL)
			*(int *)ptr = side->fd;
		return side->fd;
	default:
		return 0;
	}
}

static int
session_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static pthread_once_t session_bio_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *session_bio_method;

static void
session_bio_init(void)
{
	BIO_METHOD *m;

	if ((m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
	    BIO_TYPE_DESCRIPTOR, "chainfix session socket")) == NULL)
		return;
	if (BIO_meth_set_write_ex(m, session_bio_write) != 1 ||
	    BIO_meth_set_read_ex(m, session_bio_read) != 1 ||
	    BIO_meth_set_ctrl(m, session_bio_ctrl) != 1 ||
	    BIO_meth_set_create(m, session_bio_create) != 1) {
		BIO_meth_free(m);
		return;
	}
	session_bio_method = m;
}

/*
 * Put ssl on side's socket through our BIO, reading ahead.  Returns 0 or
 * -1 (ssl untouched).
 */
static int
session_side_ssl(struct side *side, SSL *ssl)
{
	BIO *bio;

	if (pthread_once(&session_bio_once, session_bio_init) != 0 ||
	    session_bio_method == NULL ||
	    (bio = BIO_new(session_bio_method)) == NULL)
		return -1;
	BIO_set_data(bio, side);
	/* One reference for each direction (SSL_set_bio's rules). */
	SSL_set_bio(ssl, bio, bio);
	SSL_set_read_ahead(ssl, 1);
	SSL_set_default_read_buffer_len(ssl, SESSION_RBUFSZ);
	/*
	 * WANT_READ must mean the socket said EAGAIN (the socket is then
	 * waited on): never return after a non-data record (a TLS 1.3
	 * ticket, a key update) without trying to read more.
	 */
	SSL_set_mode(ssl, SSL_MODE_AUTO_RETRY);
	side->ssl = ssl;
	return 0;
}

/*
 * Watch side's socket for want (EV_READ, EV_WRITE, both, or 0 for
 * nothing).  Nothing is allocated here: the event lives in the session's
 * allocation; event_add() may still grow libevent's tables the first time
 * it sees a descriptor.  An unchanged interest costs nothing, and with the
 * worker's changelist a change costs at most one epoll_ctl(2) at the next
 * epoll_wait(2).  Returns 0 or -1.
 */
static int
session_side_watch(struct side *side, short want)
{
	if (want == side->evflags)
		return 0;
	if (side->evflags != 0) {
		event_del(side->ev);
		side->evflags = 0;
	}
	if (want == 0)
		return 0;
	if (event_assign(side->ev, side->s->base, side->fd,
	    want | EV_PERSIST, session_event, side) == -1 ||
	    event_add(side->ev, NULL) == -1)
		return -1;
	side->evflags = want;
	return 0;
}

/*
 * Make fd the side's socket, watched for want.  Returns 0 or -1 (fd then
 * left to the caller).
 */
static int
session_side_attach(struct side *side, int fd, short want)
{
	side->fd = fd;
	if (session_side_watch(side, want) == -1) {
		side->fd = -1;
		return -1;
	}
	/* A new socket takes bytes; readable is for the event to say. */
	side->wready = 1;
	side->rready = 0;
	return 0;
}

/*
 * Tear a side down: its event, its TLS, its socket and its buffer.  An SSL
 * freed without its shutdown marked makes OpenSSL drop its session from
 * the cache (docs/design.md, "Resumption needs a shutdown"), so a side
 * that is up is marked shut down; with bye it is also sent a close_notify
 * first (one non-blocking try, unless it had one already or its socket
 * failed).  After an error it is not: a close_notify would tell the peer
 * that a cut-off stream ended cleanly.
 */
static void
session_side_free(struct side *side, int bye)
{
	if (side->evflags != 0) {
		event_del(side->ev);
		side->evflags = 0;
	}
	if (side->ssl != NULL) {
		if (side->up) {
			if (bye && !side->shut_started && !side->dead) {
				/* With the FIN of close() below. */
				side->more = 1;
				(void)SSL_shutdown(side->ssl);
			}
			SSL_set_shutdown(side->ssl,
			    SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		}
		ERR_clear_error();
		SSL_free(side->ssl);	/* and the BIO */
		side->ssl = NULL;
	}
	if (side->fd != -1) {
		close(side->fd);
		side->fd = -1;
	}
	session_buf_put(side->s, side);
	side->up = side->rready = side->wready = side->drained = 0;
	side->rdeof = side->more = side->corked = 0;
	side->hs_wantw = side->rd_wantw = side->wr_wantr = 0;
	side->shut_started = side->shut = side->dead = side->again = 0;
	side->sess = NULL;
	side->flow = FLOW_OPEN;
}

/*
 * What a failed socket call or SSL call means, in a few words; e is the
 * SSL_get_error() value (0 for a plain socket call), err the saved errno.
 * Drains the OpenSSL error queue.  Returns 1 if TLS said why (a protocol
 * error), 0 otherwise.
 */
static int
session_why(int e, int err, char *buf, size_t len)
{
	char reason[160];

	if (e == SSL_ERROR_SSL) {
		log_ssl_reason(reason, sizeof(reason));
		snprintf(buf, len, "%s", reason[0] != '\0' ? reason :
		    "TLS error");
		return 1;
	}
	ERR_clear_error();
	if (e == SSL_ERROR_ZERO_RETURN || err == 0)
		snprintf(buf, len, "closed");
	else if (err == ECONNRESET)
		snprintf(buf, len, "reset the connection");
	else
		snprintf(buf, len, "%s", strerror(err));
	return 0;
}

/* What side_read() and side_write() return besides byte counts. */
#define SIDE_AGAIN	0	/* would block: wait for the event */
#define SIDE_EOF	(-1)	/* the peer ended this direction */
#define SIDE_ERROR	(-2)	/* failed: why in the buffer */

/* May side be read now (as far as we know)? */
static int
side_can_read(struct side *side)
{
	if (side->rd_wantw)
		return side->wready;
	return side->rready || (side->ssl != NULL &&
	    SSL_has_pending(side->ssl));
}

/* Read up to len bytes from side. */
static int
side_read(struct side *side, unsigned char *p, size_t len, char *why,
    size_t wlen)
{
	ssize_t n;
	int r, e;

	if (side->ssl == NULL) {
		if ((n = side_recv(side, p, len)) > 0) {
			if (side->drained)
				side->rready = 0;
			return (int)n;
		}
		if (n == 0)
			return SIDE_EOF;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			side->rready = 0;
			return SIDE_AGAIN;
		}
		session_why(0, errno, why, wlen);
		return SIDE_ERROR;
	}
	errno = 0;
	if ((r = SSL_read(side->ssl, p, (int)len)) > 0) {
		side->rd_wantw = 0;
		if (side->drained && !SSL_has_pending(side->ssl))
			side->rready = 0;
		return r;
	}
	switch (e = SSL_get_error(side->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		side->rready = 0;
		side->rd_wantw = 0;
		return SIDE_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		side->wready = 0;
		side->rd_wantw = 1;
		return SIDE_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		/* close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) a FIN. */
		ERR_clear_error();
		return SIDE_EOF;
	case SSL_ERROR_SYSCALL:
		if (errno == 0) {
			ERR_clear_error();
			return SIDE_EOF;
		}
		/* FALLTHROUGH */
	default:
		session_why(e, errno, why, wlen);
		return SIDE_ERROR;
	}
}

/* Write up to len bytes to side: a count, SIDE_AGAIN or SIDE_ERROR. */
static int
side_write(struct side *side, const unsigned char *p, size_t len, char *why,
    size_t wlen)
{
	ssize_t n;
	int r, e;

	if (side->wr_wantr ? !side->rready : !side->wready)
		return SIDE_AGAIN;
	if (side->ssl == NULL) {
		if ((n = side_send(side, p, len)) >= 0)
			return (int)n;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			side->wready = 0;
			return SIDE_AGAIN;
		}
		session_why(0, errno, why, wlen);
		return SIDE_ERROR;
	}
	/*
	 * At most one record (len <= SESSION_BUFSZ); after WANT_WRITE it is
	 * retried with the same bytes at the same address, as OpenSSL
	 * requires.
	 */
	errno = 0;
	if ((r = SSL_write(side->ssl, p, (int)len)) > 0) {
		side->wr_wantr = 0;
		return r;
	}
	switch (e = SSL_get_error(side->ssl, r)) {
	case SSL_ERROR_WANT_WRITE:
		side->wready = 0;
		side->wr_wantr = 0;
		return SIDE_AGAIN;
	case SSL_ERROR_WANT_READ:
		side->rready = 0;
		side->wr_wantr = 1;
		return SIDE_AGAIN;
	default:
		session_why(e, errno, why, wlen);
		return SIDE_ERROR;
	}
}

/*
 * Shut down side's write direction: close_notify first on a TLS leg, then
 * a FIN.  The alert is sent with MSG_MORE, so the FIN leaves with it in
 * one segment instead of two (one wake-up of the peer, not two).  With
 * closing, the session closes as soon as this returns 1 (the other
 * direction is done too): close(2) sends the FIN, and the alert with it,
 * so the shutdown(2) call is saved.  Returns 1 done, 0 waiting for the
 * socket, -1 the socket failed (nothing more can be written to it; not an
 * error for the session).
 */
static int
side_shutdown(struct side *side, int closing)
{
	int r, e;

	if (side->shut || side->dead)
		return side->shut ? 1 : -1;
	if (side->ssl != NULL) {
		if (side->shut_started && !side->wready)
			return 0;
		/*
		 * Only until the alert is out: once sent, SSL_shutdown()
		 * would go on to read the peer's close_notify, and with it
		 * the data still coming this way.
		 */
		errno = 0;
		side->shut_started = 1;
		side->more = 1;
		r = SSL_shutdown(side->ssl);
		side->more = 0;
		if (r < 0) {
			e = SSL_get_error(side->ssl, r);
			ERR_clear_error();
			if (e == SSL_ERROR_WANT_WRITE) {
				side->wready = 0;
				return 0;
			}
			side->dead = 1;
			return -1;
		}
	}
	if (!closing && shutdown(side->fd, SHUT_WR) == -1 &&
	    errno != ENOTCONN) {
		side->dead = 1;
		return -1;
	}
	/* The FIN (now, or at close) pushes what MSG_MORE held back. */
	side->corked = 0;
	side->shut = 1;
	return 1;
}

/* The words for side ending, e.g. "client closed". */
static int
session_side_fail(struct session *s, struct side *side, const char *why)
{
	return session_fail(s, side == &s->client ? SR_CLIENT_ERROR :
	    SR_BACKEND_ERROR, "%s %s", side->name, why);
}

/*
 * src ended (EOF, or a failure that ends the session) and everything it
 * sent is written: shut down the peer's write side, or end the session
 * now after a failure.  Returns 0 or -1.
 */
static int
session_flow_end(struct session *s, struct side *src)
{
	struct side *dst = src->peer;

	if (s->abort)
		return -1;
	if (!dst->up)
		return 0;	/* the backend is still connecting */
	/*
	 * dst's own direction done too: the session closes once this one
	 * is (session_advance()), and close(2) sends the FIN.
	 */
	switch (side_shutdown(dst, dst->flow == FLOW_DONE)) {
	case 0:
		return 0;
	case 1:
		log_debug("session %s: %s ended: %s write side shut down",
		    s->peer, src->name, dst->name);
		break;
	default:
		/* dst's own direction will find out why. */
		break;
	}
	session_set_flow(src, FLOW_DONE);
	return 0;
}

/*
 * Give back the record buffers OpenSSL set up on side to read a TLS 1.3
 * NewSessionTicket: handling a post-handshake message allocates the write
 * buffer too (16.6 KB), and SSL_MODE_RELEASE_BUFFERS frees that only after
 * a write, which never comes on a backend leg that goes idle.  Measured
 * with heaptrack on 500 idle bridged connections (bench/bench.sh's idle
 * test): 8.29 MB of 24.7 MB live, one 16.6 KB block per backend SSL,
 * allocated under SSL_read().  A ticket shows as a new session (OpenSSL
 * replaces the SSL's session with one that carries it), so this costs one
 * comparison per call until one comes.  SSL_free_buffers() keeps buffers
 * that hold data (read ahead, or a write waiting for the socket) and says
 * so: tried again next time.
 */
static void
side_release(struct side *side)
{
	const SSL_SESSION *sess;

	if (side->ssl == NULL ||
	    (sess = SSL_get0_session(side->ssl)) == side->sess)
		return;
	if (SSL_free_buffers(side->ssl) == 1)
		side->sess = sess;
}

/*
 * Move what src sends to its peer, as far as both sockets allow and at
 * most SESSION_BUDGET bytes.  Returns 0, or -1 when the session must end
 * (why recorded).
 */
static int
session_flow(struct session *s, struct side *src)
{
	struct side *dst = src->peer;
	size_t moved = 0;
	char why[160];
	int n;

	for (;;) {
		if (src->len > src->off) {
			if (src->flow == FLOW_DISCARD) {
				src->off = src->len;
			} else {
				if (!dst->up)
					break;	/* held until it is */
				/*
				 * Another record already in hand (read
				 * ahead, or a full plain read): let the
				 * kernel hold this one back to fill a
				 * segment; pushed when the burst ends.
				 */
				dst->more = moved < SESSION_BUDGET &&
				    src->flow == FLOW_OPEN &&
				    (src->ssl != NULL ?
				    SSL_has_pending(src->ssl) :
				    !src->drained);
				n = side_write(dst, src->buf + src->off,
				    src->len - src->off, why, sizeof(why));
				dst->more = 0;
				if (n == SIDE_AGAIN)
					break;
				if (n == SIDE_ERROR) {
					dst->dead = 1;
					session_side_fail(s, dst, why);
					if (src->flow == FLOW_FLUSH)
						return -1;
					/*
					 * Keep reading what src still sends
					 * (dropped), so closing it later does
					 * not reset it and lose what it was
					 * sent; the other direction ends on
					 * its own.
					 */
					if (session_timer(s,
					    SESSION_LINGER) == -1)
						return -1;
					session_set_flow(src, FLOW_DISCARD);
					continue;
				}
				src->off += (uint32_t)n;
				if (src->off < src->len)
					continue;
			}
			src->off = src->len = 0;
		}
		/* src's buffer is empty. */
		if (src->flow == FLOW_DONE)
			break;
		if (src->flow == FLOW_FLUSH) {
			session_buf_put(s, src);
			if (session_flow_end(s, src) == -1)
				return -1;
			break;
		}
		if (!side_can_read(src))
			break;
		if (moved >= SESSION_BUDGET) {
			/* Come back after the others had their turn. */
			src->again = 1;
			break;
		}
		if (src->buf == NULL && (src->buf = session_buf_get(s)) ==
		    NULL)
			return session_fail(s, SR_RESOURCES,
			    "out of memory for a relay buffer");
		n = side_read(src, src->buf, SESSION_BUFSZ, why, sizeof(why));
		if (n > 0) {
			/* Counted now: an error below may end the session. */
			src->len = (uint32_t)n;
			src->bytes += (uint64_t)n;
			moved += (size_t)n;
			continue;
		}
		if (n == SIDE_AGAIN)
			break;
		if (n == SIDE_EOF) {
			if (s->first_eof == NULL)
				s->first_eof = src;
			session_set_flow(src, src->flow == FLOW_DISCARD ?
			    FLOW_DONE : FLOW_FLUSH);
			continue;
		}
		/* A read error: pass on what is queued, then end. */
		session_side_fail(s, src, why);
		if (!dst->up || src->flow == FLOW_DISCARD)
			return -1;
		s->abort = 1;
		if (session_timer(s, SESSION_LINGER) == -1)
			return -1;
		session_set_flow(src, FLOW_FLUSH);
	}
	side_push(dst);
	if (src->len == 0) {
		session_buf_put(s, src);
		side_release(src);
	}
	if (moved > 0) {
		if (src->bytes - src->metered >= SESSION_METER)
			session_meter(s, src);
		s->last = session_now();
	}
	return 0;
}

/*
 * Add what side received since the last time to the byte counters.  The
 * counters are shared by every worker (one cache line bounced between
 * CPUs per update), so sessions add in steps of SESSION_METER and the
 * rest when they close, not per record.
 */
static void
session_meter(struct session *s, struct side *side)
{
	if (side->bytes == side->metered)
		return;
	metrics_site_add(s->site->metrics, side == &s->client ?
	    MS_BYTES_IN : MS_BYTES_OUT, (int64_t)(side->bytes - side->metered));
	side->metered = side->bytes;
}

/* Note why the current backend address failed, and count it. */
static void
session_backend_note(struct session *s, const char *why)
{
	const struct config_hostport *hp = &s->site->cfg->backends[s->bidx];
	char host[INET6_ADDRSTRLEN];
	const void *a = NULL;

	metrics_site_add(s->site->metrics, MS_BACKEND_CONNECT_FAIL, 1);
	if (s->ai != NULL) {
		if (s->ai->ai_family == AF_INET)
			a = &((struct sockaddr_in *)(void *)
			    s->ai->ai_addr)->sin_addr;
		else if (s->ai->ai_family == AF_INET6)
			a = &((struct sockaddr_in6 *)(void *)
			    s->ai->ai_addr)->sin6_addr;
	}
	if (a != NULL && inet_ntop(s->ai->ai_family, a, host,
	    sizeof(host)) != NULL && strcmp(host, hp->host) != 0)
		session_words_f(&s->lasterr, "%s (%s): %s", hp->text, host,
		    why);
	else
		session_words_f(&s->lasterr, "%s: %s", hp->text, why);
	log_info("session %s: backend %s", s->peer, s->lasterr != NULL ?
	    s->lasterr : why);
}

/*
 * Give up on backend bidx: every address failed, or its name did not
 * resolve.  Mark it down (health.h: new sessions skip it for
 * backend_retry), then on to the next one.
 */
static int
session_backend_next(struct session *s)
{
	const char *text = s->site->cfg->backends[s->bidx].text;
	const char *why = s->lasterr != NULL ? s->lasterr : "failed";
	size_t n = strlen(text);

	/* lasterr starts with the backend's name, which health says too. */
	if (strncmp(why, text, n) == 0 && why[n] != '\0')
		why += why[n] == ':' ? n + 2 : n + 1;
	health_failed(s->site->health, s->bidx, why);
	if (s->addrs != NULL)
		evutil_freeaddrinfo(s->addrs);
	s->addrs = s->ai = NULL;
	s->bidx++;
	return session_backend_try(s);
}

/*
 * The one place a backend attempt fails (DNS, connect, TLS, timeout): note
 * why, drop the attempt, and go on with the backend's next address or the
 * next backend.  Returns 0 or -1.
 */
static int
session_backend_failed(struct session *s, const char *why)
{
	session_backend_note(s, why);
	session_side_free(&s->backend, 0);
	if (s->ai != NULL) {
		s->ai = s->ai->ai_next;
		return session_backend_connect(s);
	}
	return session_backend_next(s);
}

/* "addr:port" or "[addr]:port" of a socket address; "?" if unknown. */
static void
session_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		if (inet_ntop(AF_INET, &sin->sin_addr, host,
		    sizeof(host)) != NULL) {
			snprintf(buf, len, "%s:%u", host,
			    (unsigned)ntohs(sin->sin_port));
			return;
		}
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, host,
		    sizeof(host)) != NULL) {
			snprintf(buf, len, "[%s]:%u", host,
			    (unsigned)ntohs(sin6->sin6_port));
			return;
		}
	}
	snprintf(buf, len, "?");
}

/*
 * The line that joins the backend's logs to the client: when the backend
 * leg is up, the client's address and port, its SNI, the site and backend,
 * the backend address and the local address and port chainfix connected
 * from (what IIS logs as c-ip and the client port), and the protocols of
 * both legs.
 */
static void
session_log_up(struct session *s)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char local[INET6_ADDRSTRLEN + 8], remote[INET6_ADDRSTRLEN + 8];
	char esni[128];

	/*
	 * A system call and three addresses in words per session (~2 us):
	 * not for a line that is not written.
	 */
	if (!log_enabled(LOG_LEVEL_INFO))
		return;
	if (getsockname(s->backend.fd, (struct sockaddr *)&ss, &sl) == -1)
		snprintf(local, sizeof(local), "?");
	else
		session_addr((struct sockaddr *)&ss, local, sizeof(local));
	if (s->ai != NULL)
		session_addr(s->ai->ai_addr, remote, sizeof(remote));
	else
		snprintf(remote, sizeof(remote), "?");
	log_info("session %s up sni=%s site=%s backend=%s addr=%s local=%s "
	    "tls=%s backend_tls=%s%s%s", s->peer,
	    log_escape(session_sni_name(s), esni, sizeof(esni)),
	    s->site->cfg->name, s->site->cfg->backends[s->bidx].text, remote,
	    local, s->client.ssl != NULL ? SSL_get_version(s->client.ssl) :
	    "passthrough", s->backend.ssl != NULL ?
	    SSL_get_version(s->backend.ssl) : s->client.ssl != NULL ? "no" :
	    "passthrough",
	    s->backend.ssl != NULL && SSL_session_reused(s->backend.ssl) ?
	    " (resumed)" : "", s->site->cfg->backend_proxy_protocol ?
	    " proxy_protocol=v2" : "");
}

/*
 * The one place the backend leg comes up: check what the policy wants
 * beyond verification (a pin), then relay.  Returns 0 or -1.
 */
static int
session_backend_up(struct session *s)
{
	char why[160];

	s->backend.up = 1;
	if (s->backend.ssl != NULL) {
		if (tlsctx_backend_check(s->site->backend, s->backend.ssl, why,
		    sizeof(why)) == -1) {
			metrics_site_add(s->site->metrics,
			    MS_BACKEND_VERIFY_FAIL, 1);
			health_refused(s->site->health, s->bidx, why);
			return session_fail(s, SR_BACKEND_REFUSED,
			    "backend %s refused: %s",
			    s->site->cfg->backends[s->bidx].text, why);
		}
		if (SSL_session_reused(s->backend.ssl))
			metrics_site_add(s->site->metrics, MS_BACKEND_RESUMED,
			    1);
	}
	health_ok(s->site->health, s->bidx);
	session_log_up(s);
	session_set_state(s, SS_RELAY);
	free(s->lasterr);	/* an earlier attempt's: of no more use */
	s->lasterr = NULL;
	s->last = session_now();
	if (session_timer(s, s->site->cfg->idle_timeout) == -1)
		return -1;
	/* session_step() now writes what the client sent meanwhile. */
	return 0;
}

/*
 * Run side's TLS handshake as far as its socket allows: 1 done, 0 waiting
 * (the interest follows hs_wantw), -1 failed with the SSL_get_error() value
 * in *e and errno kept.
 */
static int
side_handshake(struct side *side, int *e)
{
	int r;

	if (side->hs_wantw ? !side->wready : !side->rready)
		return 0;
	errno = 0;
	if ((r = SSL_do_handshake(side->ssl)) == 1)
		return 1;
	switch (*e = SSL_get_error(side->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		side->rready = 0;
		side->hs_wantw = 0;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		side->wready = 0;
		side->hs_wantw = 1;
		return 0;
	}
	return -1;
}

/* Run the backend TLS handshake as far as the socket allows. */
static int
session_backend_handshake(struct session *s)
{
	struct side *b = &s->backend;
	const struct config_site *cfg = s->site->cfg;
	const char *verr;
	char why[160];
	int e = 0;

	switch (side_handshake(b, &e)) {
	case 1:
		return session_backend_up(s);
	case 0:
		return 0;
	}
	if (cfg->backend_verify == CONFIG_VERIFY_YES &&
	    (verr = tlsctx_backend_verify_error(b->ssl)) != NULL) {
		/* A refusal, not an outage: no failover.  Said once. */
		ERR_clear_error();
		metrics_site_add(s->site->metrics, MS_BACKEND_VERIFY_FAIL, 1);
		health_refused(s->site->health, s->bidx, verr);
		return session_fail(s, SR_BACKEND_REFUSED,
		    "backend %s certificate verify failed: %s",
		    cfg->backends[s->bidx].text, verr);
	}
	if (session_why(e, errno, why, sizeof(why)) == 0 &&
	    strcmp(why, "closed") == 0)
		snprintf(why, sizeof(why), "closed during the TLS handshake");
	return session_backend_failed(s, why);
}

/*
 * The PROXY protocol v2 header, first on the backend connection (before
 * the TLS handshake): the client's address and the one it connected to,
 * and its SNI.  The socket was just connected, its send buffer is empty,
 * so a header of a few dozen bytes goes out whole or not at all.  Returns
 * 0, or -1 (a failed send: errno; or the reason recorded).
 */
static int
session_proxy_header(struct session *s)
{
	struct sockaddr_storage src, dst;
	socklen_t sl = sizeof(src), dl = sizeof(dst);
	unsigned char hdr[PROXYPROTO_MAX];
	size_t n;

	if (getpeername(s->client.fd, (struct sockaddr *)&src, &sl) == -1 ||
	    getsockname(s->client.fd, (struct sockaddr *)&dst, &dl) == -1)
		return -1;
	if ((n = proxyproto_v2(hdr, sizeof(hdr), (struct sockaddr *)&src,
	    (struct sockaddr *)&dst, session_sni_name(s))) == 0)
		return session_fail(s, SR_RESOURCES, "no PROXY header for "
		    "this client's address family");
	if (send(s->backend.fd, hdr, n, MSG_NOSIGNAL) != (ssize_t)n)
		return -1;
	return 0;
}

/* The backend's socket is writable: did the TCP connect succeed? */
static int
session_backend_connected(struct session *s)
{
	struct side *b = &s->backend;
	socklen_t len = sizeof(int);
	SSL *ssl;
	int err = 0;

	if (getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		if (err == EINPROGRESS || err == EALREADY)
			return 0;
		return session_backend_failed(s, strerror(err));
	}
	if (s->site->cfg->backend_proxy_protocol &&
	    session_proxy_header(s) == -1)
		return s->ending ? -1 : session_backend_failed(s,
		    "cannot send the PROXY protocol header");
	if (s->site->backend == NULL)
		return session_backend_up(s);
	if ((ssl = tlsctx_backend_ssl(s->site->backend, s->bidx,
	    SSL_get_servername(s->client.ssl, TLSEXT_NAMETYPE_host_name))) ==
	    NULL)
		return session_fail(s, SR_RESOURCES,
		    "cannot set up backend TLS");
	if (session_side_ssl(b, ssl) == -1) {
		SSL_free(ssl);
		ERR_clear_error();
		return session_fail(s, SR_RESOURCES,
		    "out of memory for the backend");
	}
	SSL_set_connect_state(ssl);
	session_set_state(s, SS_BACKEND_TLS);
	b->hs_wantw = 1;	/* the ClientHello goes first */
	return session_backend_handshake(s);
}

/*
 * Connect to address s->ai of backend bidx, or the next one that works;
 * then the next backend.  Returns 0 (connecting) or -1.
 */
static int
session_backend_connect(struct session *s)
{
	const struct config_site *cfg = s->site->cfg;
	char why[96];
	int fd, rc, one = 1;

	if (s->dnserr != 0) {
		snprintf(why, sizeof(why), "cannot resolve: %s",
		    evutil_gai_strerror(s->dnserr));
		s->dnserr = 0;
		session_backend_note(s, why);
		return session_backend_next(s);
	}
	for (; s->ai != NULL; s->ai = s->ai->ai_next) {
		fd = socket(s->ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, IPPROTO_TCP);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				return session_fail(s, SR_RESOURCES,
				    "cannot open a backend socket: %s",
				    strerror(errno));
			session_backend_note(s, strerror(errno));
			continue;
		}
		/* Interactive request/response traffic: no Nagle delay. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if ((rc = connect(fd, s->ai->ai_addr,
		    s->ai->ai_addrlen)) == -1 && errno != EINPROGRESS) {
			session_backend_note(s, strerror(errno));
			close(fd);
			continue;
		}
		if (session_side_attach(&s->backend, fd, EV_WRITE) == -1) {
			close(fd);
			return session_fail(s, SR_RESOURCES,
			    "cannot watch the backend socket");
		}
		/* In progress: writable means connected (or refused). */
		s->backend.wready = rc == 0;
		session_set_state(s, SS_BACKEND_TCP);
		if (session_timer(s, cfg->connect_timeout) == -1)
			return -1;
		/* The event says when it is connected (or refused). */
		return 0;
	}
	return session_backend_next(s);
}

/*
 * The resolver's answer.  It may come synchronously from inside
 * evdns_getaddrinfo() (/etc/hosts): then only record it and let
 * session_backend_try() go on, so no caller runs on a freed session.
 */
static void
session_resolved(int err, struct evutil_addrinfo *res, void *arg)
{
	struct session *s = arg;

	if (err == EVUTIL_EAI_CANCEL) {
		/* The session is closing or gave up: do not touch it. */
		if (res != NULL)
			evutil_freeaddrinfo(res);
		return;
	}
	s->dnsreq = NULL;
	s->dnserr = err;
	s->addrs = s->ai = res;
	s->resolved = 1;
	if (s->in_resolve)
		return;
	if (session_backend_connect(s) == -1 ||
	    session_step(s) == -1)
		session_close(s);
}

/*
 * Start on backend[bidx]: an address literal is connected to at once
 * (evutil_getaddrinfo with AI_NUMERICHOST: no resolver, no I/O); a name is
 * looked up through the worker's evdns (never block the loop), then each
 * address tried in order; then the next backend.  Returns 0 or -1.
 */
static int
session_backend_try(struct session *s)
{
	const struct config_site *cfg = s->site->cfg;
	const struct config_hostport *hp;
	struct evdns_getaddrinfo_request *req;
	struct evutil_addrinfo hints, *res;
	char port[8];
	int rc;

	while (s->skip_down && s->bidx < cfg->nbackends &&
	    !health_usable(s->site->health, s->bidx)) {
		log_debug("session %s: backend %s is down: passed by",
		    s->peer, cfg->backends[s->bidx].text);
		s->bidx++;
	}
	if (s->bidx >= cfg->nbackends) {
		if (s->lasterr == NULL)
			return session_fail(s, SR_BACKEND_UNREACHABLE,
			    "no backend reachable (every one is down)");
		return session_fail(s, SR_BACKEND_UNREACHABLE,
		    "no backend reachable (last: %s)", s->lasterr);
	}
	hp = &cfg->backends[s->bidx];
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", (unsigned)hp->port);
	rc = evutil_getaddrinfo(hp->host, port, &hints, &res);
	if (rc == 0) {
		s->addrs = s->ai = res;
		return session_backend_connect(s);
	}
	if (rc == EVUTIL_EAI_MEMORY)
		return session_fail(s, SR_RESOURCES,
		    "out of memory for a backend address");
	hints.ai_flags = 0;
	session_set_state(s, SS_RESOLVING);
	/* connect_timeout covers the lookup as well. */
	if (session_timer(s, cfg->connect_timeout) == -1)
		return -1;
	s->resolved = 0;
	s->in_resolve = 1;
	req = evdns_getaddrinfo(s->dns, hp->host, port, &hints,
	    session_resolved, s);
	s->in_resolve = 0;
	if (!s->resolved) {
		if (req == NULL)
			return session_fail(s, SR_RESOURCES,
			    "cannot start a name lookup");
		s->dnsreq = req;
		return 0;
	}
	return session_backend_connect(s);
}

/*
 * The client leg becomes TLS, on the default site of its address (SNI
 * may move it to another: tlsctx.c).  Returns 0, or -1 with the reason
 * recorded (the state is left as it was).
 */
static int
session_tls_start(struct session *s)
{
	SSL *ssl;

	if ((ssl = SSL_new(tlsctx_sni_default(s->gl->sni))) == NULL) {
		ERR_clear_error();
		return session_fail(s, SR_RESOURCES, "SSL_new failed");
	}
	if (session_side_ssl(&s->client, ssl) == -1) {
		SSL_free(ssl);
		ERR_clear_error();
		return session_fail(s, SR_RESOURCES,
		    "out of memory for the client's TLS");
	}
	SSL_set_accept_state(ssl);
	session_set_state(s, SS_HANDSHAKE);
	return 0;
}

/*
 * A passthrough site took the session: the client leg stays plain TCP
 * (its TLS goes to the backend untouched, the ClientHello included, still
 * unread in the socket), on to the backend.
 */
static int
session_passthrough(struct session *s, struct gen_site *gs, const char *sni)
{
	s->site = gs;
	if ((s->sni = strdup(sni)) == NULL)
		return session_fail(s, SR_RESOURCES, "out of memory");
	s->client.up = 1;
	s->bidx = 0;
	s->skip_down = health_any_usable(gs->health);
	return session_backend_try(s);
}

/*
 * Look at the ClientHello without taking it from the socket: a passthrough
 * site answering its SNI takes the session, else TLS is terminated here
 * (reading the same bytes).  While it is incomplete, SO_RCVLOWAT makes the
 * socket readable only once the bytes it lacks are in: a level-triggered
 * event would otherwise fire again and again on what was only peeked at.
 * Returns 0 (waiting, or decided) or -1 (reason recorded).
 */
static int
session_sni(struct session *s)
{
	unsigned char buf[CLIENTHELLO_BUFMAX];
	char sni[CLIENTHELLO_NAMELEN], esni[128];
	const char *why = "";
	struct gen_site *gs = NULL;
	size_t need = 0;
	ssize_t n;
	int lowat, one = 1;

	if (!s->client.rready)
		return 0;
	if ((n = recv(s->client.fd, buf, sizeof(buf), MSG_PEEK)) == -1) {
		if (errno == EAGAIN || errno == EINTR) {
			s->client.rready = 0;
			return 0;
		}
		metrics_hs_failure(HSF_EOF);
		return session_fail(s, SR_HANDSHAKE_EOF, "client went away "
		    "before its ClientHello (%s)", strerror(errno));
	}
	if (n == 0) {
		metrics_hs_failure(HSF_EOF);
		return session_fail(s, SR_HANDSHAKE_EOF, "client went away "
		    "before its ClientHello (closed)");
	}
	switch (clienthello_parse(buf, (size_t)n, sni, sizeof(sni), &need,
	    &why)) {
	case CLIENTHELLO_MORE:
		/* need <= CLIENTHELLO_BUFMAX: it fits the buffer. */
		lowat = (int)need;
		if (setsockopt(s->client.fd, SOL_SOCKET, SO_RCVLOWAT, &lowat,
		    sizeof(lowat)) == -1)
			return session_fail(s, SR_RESOURCES, "SO_RCVLOWAT: %s",
			    strerror(errno));
		s->lowat = 1;
		s->client.rready = 0;
		return 0;
	case CLIENTHELLO_OK:
		gs = generation_passthrough(s->gl, sni);
		break;
	case CLIENTHELLO_INVALID:
		/* Not for a passthrough site; OpenSSL may judge it. */
		log_debug("session %s: no SNI read: %s", s->peer, why);
		break;
	}
	if (s->lowat && setsockopt(s->client.fd, SOL_SOCKET, SO_RCVLOWAT,
	    &one, sizeof(one)) == -1)
		return session_fail(s, SR_RESOURCES, "SO_RCVLOWAT: %s",
		    strerror(errno));
	s->lowat = 0;
	if (gs != NULL)
		return session_passthrough(s, gs, sni);
	if (s->gl->first == NULL) {
		metrics_hs_failure(HSF_PROTOCOL);
		return session_fail(s, SR_HANDSHAKE_FAILED, "no site for "
		    "SNI \"%s\" (%s)", log_escape(sni, esni, sizeof(esni)),
		    why[0] != '\0' ? why : "only passthrough sites here");
	}
	return session_tls_start(s);
}

/* The client's handshake is done: pick the site, go for the backend. */
static int
session_client_ready(struct session *s)
{
	struct gen_site *gs;

	s->client.up = 1;
	gs = tlsctx_server_site(s->client.ssl);
	s->site = gs != NULL ? gs : s->gl->first;
	metrics_site_add(s->site->metrics, MS_HANDSHAKES, 1);
	if (SSL_session_reused(s->client.ssl))
		metrics_site_add(s->site->metrics, MS_RESUMED, 1);
	s->bidx = 0;
	/* Backends marked down are passed by, unless every one is. */
	s->skip_down = health_any_usable(s->site->health);
	return session_backend_try(s);
}

/* Run the client's TLS handshake as far as the socket allows. */
static int
session_client_handshake(struct session *s)
{
	char why[160];
	int e = 0;

	switch (side_handshake(&s->client, &e)) {
	case 1:
		return session_client_ready(s);
	case 0:
		return 0;
	}
	if (session_why(e, errno, why, sizeof(why)) == 1) {
		metrics_hs_failure(HSF_PROTOCOL);
		return session_fail(s, SR_HANDSHAKE_FAILED,
		    "client handshake failed: %s", why);
	}
	metrics_hs_failure(HSF_EOF);
	return session_fail(s, SR_HANDSHAKE_EOF,
	    "client went away during the handshake (%s)", why);
}

/*
 * What side's socket must be watched for, from the session's state: the
 * handshake's or connect's wish; reading while its direction's buffer is
 * empty; writing while the other direction has bytes for it (only
 * reached after a write came back with EAGAIN) or a close_notify is
 * half-written.  Level-triggered, so the interest must never be set while
 * nothing would be done with it: the loop would spin.
 */
static short
session_side_want(const struct session *s, const struct side *x)
{
	const struct side *y = x->peer;
	short want = 0;

	if (x->fd == -1)
		return 0;
	if (!x->up) {
		if (x == &s->backend && s->state == SS_BACKEND_TCP)
			return EV_WRITE;
		return x->hs_wantw ? EV_WRITE : EV_READ;
	}
	if ((x->flow == FLOW_OPEN || x->flow == FLOW_DISCARD) &&
	    x->len == 0 && (x == &s->client || s->state == SS_RELAY))
		want |= x->rd_wantw ? EV_WRITE : EV_READ;
	if (y->len > y->off && y->flow != FLOW_DISCARD && !x->dead)
		want |= x->wr_wantr ? EV_READ : EV_WRITE;
	if (x->shut_started && !x->shut && !x->dead)
		want |= EV_WRITE;
	return want;
}

/* Bring both sockets' interest in line with the state. */
static int
session_sync(struct session *s)
{
	struct side *side;
	int i;

	for (i = 0; i < 2; i++) {
		side = i == 0 ? &s->client : &s->backend;
		if (session_side_watch(side, session_side_want(s, side)) ==
		    -1)
			return session_fail(s, SR_RESOURCES,
			    "cannot watch the %s socket", side->name);
		if (side->again) {
			/* After the interest: event_del() would drop it. */
			side->again = 0;
			event_active(side->ev, EV_READ, 1);
		}
	}
	return 0;
}

/*
 * Do whatever the sockets allow now, in every state, then watch them for
 * what comes next.  Returns 0, or -1 when the session must close (why
 * recorded).
 */
static int
session_step(struct session *s)
{
	if (session_advance(s) == -1)
		return -1;
	return session_sync(s);
}

static int
session_advance(struct session *s)
{
	switch (s->state) {
	case SS_SNI:
		if (session_sni(s) == -1)
			return -1;
		if (s->state == SS_SNI)
			return 0;
		if (s->state != SS_HANDSHAKE)
			break;		/* passthrough: on to the backend */
		/* FALLTHROUGH */
	case SS_HANDSHAKE:
		if (session_client_handshake(s) == -1)
			return -1;
		if (s->state == SS_HANDSHAKE)
			return 0;
		break;
	case SS_BACKEND_TCP:
		if (s->backend.wready && session_backend_connected(s) == -1)
			return -1;
		break;
	case SS_BACKEND_TLS:
		if (session_backend_handshake(s) == -1)
			return -1;
		break;
	case SS_RESOLVING:
	case SS_RELAY:
		break;
	}
	/* From here on the client's bytes are read, held until the backend
	   is up. */
	if (session_flow(s, &s->client) == -1)
		return -1;
	if (s->state != SS_RELAY)
		return 0;
	if (session_flow(s, &s->backend) == -1)
		return -1;
	if (s->client.flow == FLOW_DONE && s->backend.flow == FLOW_DONE) {
		if (s->ending)
			return -1;
		return session_fail(s, s->first_eof == &s->backend ?
		    SR_BACKEND_CLOSED : SR_CLIENT_CLOSED, "%s closed",
		    s->first_eof == &s->backend ? "backend" : "client");
	}
	return 0;
}

/* A side's socket is readable and/or writable. */
static void
session_event(evutil_socket_t fd, short what, void *arg)
{
	struct side *side = arg;
	struct session *s = side->s;

	(void)fd;
	if (what & EV_READ)
		side->rready = 1;
	if (what & EV_WRITE)
		side->wready = 1;
	if (session_step(s) == -1)
		session_close(s);
}

static void
session_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	const struct config_site *cfg = session_cfg(s);
	struct evdns_getaddrinfo_request *req;
	char why[64];
	time_t idle;
	int r = 0;

	(void)fd;
	(void)what;
	switch (s->state) {
	case SS_SNI:
	case SS_HANDSHAKE:
		metrics_hs_failure(HSF_TIMEOUT);
		r = session_fail(s, SR_HANDSHAKE_TIMEOUT,
		    "handshake timeout (%us)", cfg->handshake_timeout);
		break;
	case SS_RESOLVING:
		req = s->dnsreq;
		s->dnsreq = NULL;
		if (req != NULL)
			evdns_getaddrinfo_cancel(req);
		session_backend_note(s, "name lookup timeout");
		r = session_backend_next(s);
		break;
	case SS_BACKEND_TCP:
	case SS_BACKEND_TLS:
		snprintf(why, sizeof(why), "timeout (%us)",
		    cfg->connect_timeout);
		r = session_backend_failed(s, why);
		break;
	case SS_RELAY:
		if (s->ending) {
			/* A flush or drain after a failure took too long. */
			r = -1;
			break;
		}
		/*
		 * One timer per session instead of re-arming on every read:
		 * when it fires, check when bytes last moved either way.
		 */
		idle = session_now() - s->last;
		if (idle >= (time_t)cfg->idle_timeout) {
			r = session_fail(s, SR_IDLE_TIMEOUT,
			    "idle timeout (%us)", cfg->idle_timeout);
			break;
		}
		r = session_timer(s, cfg->idle_timeout - (unsigned)idle);
		break;
	}
	if (r == 0)
		r = session_step(s);
	if (r == -1)
		session_close(s);
}

/* The one door out: tear down and log one line. */
static void
session_close(struct session *s)
{
	const char *sni = NULL;
	char esni[128];
	struct timespec now;
	double secs;
	int bye;

	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - s->start.tv_sec) +
	    (double)(now.tv_nsec - s->start.tv_nsec) / 1e9;
	if (!s->ending)
		s->reason = SR_RESOURCES;
	/* A terminated session's name lives in its SSL: no copy. */
	if (s->state != SS_HANDSHAKE)
		sni = session_sni_name(s);
	log_info("session %s sni=%s site=%s backend=%s in=%llu out=%llu "
	    "time=%.3fs reason=%s: %s", s->peer,
	    log_escape(sni, esni, sizeof(esni)),
	    s->site != NULL ? s->site->cfg->name : "-",
	    s->state != SS_HANDSHAKE && s->site != NULL &&
	    s->bidx < s->site->cfg->nbackends ?
	    s->site->cfg->backends[s->bidx].text : "-",
	    (unsigned long long)s->client.bytes,
	    (unsigned long long)s->backend.bytes, secs,
	    metrics_session_reason_label(s->reason), s->detail != NULL ?
	    s->detail : "(no details: out of memory)");
	metrics_session_closed(s->site != NULL ? s->site->cfg->name : NULL,
	    s->reason);
	session_meter(s, &s->client);
	session_meter(s, &s->backend);

	evtimer_del(s->timer);
	if (s->dnsreq != NULL) {
		/* Its callback sees EVUTIL_EAI_CANCEL and leaves s alone. */
		evdns_getaddrinfo_cancel(s->dnsreq);
		s->dnsreq = NULL;
	}
	if (s->addrs != NULL)
		evutil_freeaddrinfo(s->addrs);
	/*
	 * event_del() also takes an event off the active queue, so no
	 * callback of this session runs after this; the one running now
	 * returns without touching s.
	 */
	bye = s->reason != SR_CLIENT_ERROR && s->reason != SR_BACKEND_ERROR;
	session_side_free(&s->backend, bye);
	session_side_free(&s->client, bye);
	listener_fd_released();

	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		s->list->head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->list->n--;
	atomic_fetch_sub_explicit(&session_alive, 1, memory_order_relaxed);
	metrics_add(M_ACTIVE, -1);

	generation_unref(s->gen);
	free(s->detail);
	free(s->lasterr);
	free(s->sni);
	free(s);
}

void
session_close_all(struct session_list *l, const char *reason)
{
	void *b;

	while (l->head != NULL) {
		(void)session_fail(l->head, SR_SHUTDOWN, "%s", reason);
		session_close(l->head);
	}
	while ((b = l->pool) != NULL) {
		memcpy(&l->pool, b, sizeof(void *));
		free(b);
	}
	l->npool = 0;
}

static void
session_peername(struct session *s, const struct sockaddr *sa)
{
	/* inet_ntop, not getnameinfo: this runs for every connection. */
	session_addr(sa, s->peer, sizeof(s->peer));
}

/* Room for n events after a session, as this libevent needs them. */
static size_t
session_evsize(void)
{
	size_t a = alignof(max_align_t);

	return (event_get_struct_event_size() + a - 1) / a * a;
}

int
session_start(const struct session_env *env, int fd,
    const struct sockaddr *sa, socklen_t salen, struct generation *g,
    struct gen_listen *gl)
{
	struct session *s;
	unsigned char *evmem;
	size_t head, evsz;

	(void)salen;
	metrics_inc(M_ACCEPTED);
	/*
	 * One allocation for the session and its three events (client,
	 * backend, timer): event_assign() on memory sized by
	 * event_get_struct_event_size() keeps the ABI promise without an
	 * event_new() each.
	 */
	head = (sizeof(*s) + alignof(max_align_t) - 1) /
	    alignof(max_align_t) * alignof(max_align_t);
	evsz = session_evsize();
	if ((s = calloc(1, head + 3 * evsz)) == NULL) {
		log_warn("session_start");
		goto err;
	}
	evmem = (unsigned char *)s + head;
	s->client.ev = (struct event *)(void *)evmem;
	s->backend.ev = (struct event *)(void *)(evmem + evsz);
	s->timer = (struct event *)(void *)(evmem + 2 * evsz);
	s->gen = g;
	s->gl = gl;
	s->base = env->base;
	s->dns = env->dns;
	s->list = env->list;
	s->state = SS_HANDSHAKE;
	s->client.s = s->backend.s = s;
	s->client.peer = &s->backend;
	s->backend.peer = &s->client;
	s->client.name = "client";
	s->backend.name = "backend";
	s->client.fd = s->backend.fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	s->last = session_now();
	session_peername(s, sa);

	if (evtimer_assign(s->timer, env->base, session_timeout, s) == -1)
		goto err1;
	if (session_side_attach(&s->client, fd, EV_READ) == -1) {
		log_warnx("session %s: cannot watch the client socket",
		    s->peer);
		goto err1;
	}
	/* Passthrough sites on this address: the SNI decides first. */
	if (gl->npassthrough > 0)
		s->state = SS_SNI;
	else if (session_tls_start(s) == -1) {
		log_warnx("session %s: %s", s->peer, s->detail != NULL ?
		    s->detail : "cannot start TLS");
		goto err2;
	}
	if (session_timer(s, session_cfg(s)->handshake_timeout) == -1) {
		log_warnx("session %s: cannot arm its timer", s->peer);
		goto err3;
	}

	s->next = env->list->head;
	if (s->next != NULL)
		s->next->prev = s;
	env->list->head = s;
	env->list->n++;
	atomic_fetch_add_explicit(&session_alive, 1, memory_order_relaxed);
	metrics_add(M_ACTIVE, 1);
	return 0;
 err3:
	SSL_free(s->client.ssl);
 err2:
	event_del(s->client.ev);
 err1:
	free(s->detail);	/* from a failed session_timer() */
	free(s);
 err:
	close(fd);
	listener_fd_released();	/* it was counted at accept */
	generation_unref(g);
	return -1;
}
