/*
 * session.c: one client connection relayed to its own backend connection
 * (session.h).
 *
 * A session is two symmetric halves (struct side) that point at each
 * other.  Bytes move in le-proxy's shape: what one side reads is appended
 * to the other side's output with evbuffer_add_buffer (no copy); when that
 * output passes SESSION_HIGHWAT the reading side stops until the output
 * drains to half, so nothing is buffered without bound.  On EOF from one
 * side what is already queued to the other is flushed, then the session
 * closes.  Every path out goes through session_close(), which logs the one
 * summary line.
 */
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "generation.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "session.h"
#include "tlsctx.h"

/* Bytes queued toward one side before the other side stops being read. */
#define SESSION_HIGHWAT		(256 * 1024)

/* Session states.  X-macro: the names in the logs cannot drift. */
#define SESSION_STATES(X)						\
	/* client TLS handshake running (handshake_timeout) */		\
	X(SS_HANDSHAKE,  "handshake")					\
	/* client ready; connecting + TLS handshake to backend[bidx],	\
	   client input held back (connect_timeout per backend) */	\
	X(SS_CONNECTING, "connecting")					\
	/* both legs up, bytes flow both ways (idle_timeout) */		\
	X(SS_RELAY,      "relay")					\
	/* one side ended: writing what is queued to the other side,	\
	   then close (idle_timeout still applies) */			\
	X(SS_FLUSH,      "flush")

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

struct side {
	struct session		*s;
	struct side		*peer;
	struct bufferevent	*bev;
	SSL			*ssl;	/* inside bev; NULL: plain TCP */
	uint64_t		 bytes;	/* received from this side */
	int			 up;	/* TLS handshake done */
	int			 tcp_stage;	/* bev is the plain connect
					   stage: it does not own the fd */
	const char		*name;	/* "client", "backend" */
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
	struct evutil_addrinfo	*addrs;	/* of backend bidx */
	struct evutil_addrinfo	*ai;	/* the address tried or in use */
	int			 in_resolve;	/* inside evdns_getaddrinfo */
	int			 resolved;	/* its answer is in */
	int			 dnserr;
	char			*sni;	/* the client's, raw; NULL: none */
	char			 peer[80];
	char			 lasterr[256];	/* last backend failure */
	char			 endreason[256]; /* kept while flushing */
	struct timespec		 start;
	time_t			 last;	/* last byte relayed, monotonic s */
};

static atomic_size_t session_alive;

static void session_readcb(struct bufferevent *, void *);
static void session_writecb(struct bufferevent *, void *);
static void session_eventcb(struct bufferevent *, short, void *);
static void session_backend_try(struct session *);
static void session_backend_connect(struct session *);
static void session_close(struct session *, const char *, ...)
    LOG_PRINTF(2, 3);

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

/* The one place the state changes. */
static void
session_set_state(struct session *s, enum session_state st)
{
	log_debug("session %s: %s -> %s", s->peer,
	    session_state_names[s->state], session_state_names[st]);
	s->state = st;
}

static const struct config_site *
session_cfg(const struct session *s)
{
	return s->site != NULL ? s->site->cfg : s->gl->first->cfg;
}

static void
session_timer(struct session *s, unsigned secs)
{
	struct timeval tv;

	tv.tv_sec = secs;
	tv.tv_usec = 0;
	evtimer_add(s->timer, &tv);
}

/*
 * Why a side failed, in a few words.  libevent's SSL bufferevent drains the
 * OpenSSL error queue into its own list: read it from there.  Returns 1 if
 * TLS said why, 0 otherwise (EOF, timeout, socket or DNS error).
 */
static int
session_side_error(struct side *side, short what, char *buf, size_t len)
{
	unsigned long e;
	size_t off = 0;
	int dnserr, err;

	buf[0] = '\0';
	if (what & BEV_EVENT_TIMEOUT) {
		snprintf(buf, len, "timeout");
		return 0;
	}
	if (what & BEV_EVENT_EOF) {
		/*
		 * With dirty shutdowns allowed, libevent reports a reset as
		 * an EOF; the errno it saved for the callback tells them
		 * apart.
		 */
		snprintf(buf, len, "%s", EVUTIL_SOCKET_ERROR() == ECONNRESET ?
		    "reset the connection" : "closed");
		return 0;
	}
	if (side->bev != NULL && side->ssl != NULL) {
		while ((e = bufferevent_get_openssl_error(side->bev)) != 0) {
			const char *r = ERR_reason_error_string(e);

			/* libevent also queues errors without a reason. */
			if (r != NULL && off < len)
				off += (size_t)snprintf(buf + off, len - off,
				    "%s%s", off ? "; " : "", r);
		}
		if (off > 0)
			return 1;
	}
	if (side->bev != NULL && (dnserr =
	    bufferevent_socket_get_dns_error(side->bev)) != 0) {
		snprintf(buf, len, "cannot resolve: %s",
		    evutil_gai_strerror(dnserr));
		return 0;
	}
	err = EVUTIL_SOCKET_ERROR();
	snprintf(buf, len, "%s", err != 0 ?
	    evutil_socket_error_to_string(err) : "connection failed");
	return 0;
}

static void
session_side_free(struct side *side)
{
	int fd;

	if (side->bev == NULL)
		return;
	/*
	 * Freeing an SSL that was not shut down marks its session not
	 * resumable (docs/design.md, "Resumption needs a shutdown"): say
	 * goodbye first.  On a dead socket this fails harmlessly; a session
	 * that saw a fatal alert was already dropped from the cache by
	 * OpenSSL.
	 */
	if (side->ssl != NULL && side->up) {
		(void)SSL_shutdown(side->ssl);
		ERR_clear_error();
	}
	/*
	 * bufferevent_free() clears the callbacks first, so a deferred
	 * callback still queued for this bufferevent never reaches the
	 * session; with BEV_OPT_CLOSE_ON_FREE it frees the SSL and the fd.
	 */
	fd = side->tcp_stage ? bufferevent_getfd(side->bev) : -1;
	bufferevent_free(side->bev);
	if (fd >= 0)
		close(fd);
	side->bev = NULL;
	side->ssl = NULL;
	side->up = 0;
	side->tcp_stage = 0;
}

/* The one door out: tear down and log one line. */
static void
session_close(struct session *s, const char *fmt, ...)
{
	char reason[256], esni[128];
	struct timespec now;
	double secs;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);

	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - s->start.tv_sec) +
	    (double)(now.tv_nsec - s->start.tv_nsec) / 1e9;
	log_info("session %s sni=%s site=%s backend=%s in=%llu out=%llu "
	    "time=%.3fs: %s", s->peer, log_escape(s->sni, esni, sizeof(esni)),
	    s->site != NULL ? s->site->cfg->name : "-",
	    s->state >= SS_CONNECTING && s->site != NULL &&
	    s->bidx < s->site->cfg->nbackends ?
	    s->site->cfg->backends[s->bidx].text : "-",
	    (unsigned long long)s->client.bytes,
	    (unsigned long long)s->backend.bytes, secs, reason);

	if (s->timer != NULL)
		event_free(s->timer);
	if (s->dnsreq != NULL) {
		/* Its callback sees EVUTIL_EAI_CANCEL and leaves s alone. */
		evdns_getaddrinfo_cancel(s->dnsreq);
		s->dnsreq = NULL;
	}
	if (s->addrs != NULL)
		evutil_freeaddrinfo(s->addrs);
	session_side_free(&s->backend);
	session_side_free(&s->client);
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
	free(s->sni);
	free(s);
}

void
session_close_all(struct session_list *l, const char *reason)
{
	while (l->head != NULL)
		session_close(l->head, "%s", reason);
}

/* Move what side has read to its peer, stopping at the high watermark. */
static void
session_relay(struct side *side)
{
	struct session *s = side->s;
	struct evbuffer *in, *out;
	size_t n;

	in = bufferevent_get_input(side->bev);
	if ((n = evbuffer_get_length(in)) == 0)
		return;
	out = bufferevent_get_output(side->peer->bev);
	side->bytes += n;
	metrics_add(side == &s->client ? M_BYTES_IN : M_BYTES_OUT,
	    (int64_t)n);
	s->last = session_now();
	evbuffer_add_buffer(out, in);
	if (evbuffer_get_length(out) >= SESSION_HIGHWAT) {
		/* Resume from the peer's write callback at half. */
		bufferevent_disable(side->bev, EV_READ);
		bufferevent_setwatermark(side->peer->bev, EV_WRITE,
		    SESSION_HIGHWAT / 2, SESSION_HIGHWAT);
		bufferevent_setcb(side->peer->bev, session_readcb,
		    session_writecb, session_eventcb, side->peer);
	}
}

static void
session_readcb(struct bufferevent *bev, void *arg)
{
	struct side *side = arg;
	struct session *s = side->s;

	switch (s->state) {
	case SS_HANDSHAKE:
	case SS_CONNECTING:
		/*
		 * Client bytes wait in the input buffer until the backend
		 * is up; the read watermark stops reading at the limit.
		 */
		return;
	case SS_RELAY:
		session_relay(side);
		return;
	case SS_FLUSH:
		/* The other side is gone: nobody to give this to. */
		evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
}

/*
 * side's output fell to its low watermark: while relaying, read the peer
 * again; while flushing, close once everything is written.
 */
static void
session_writecb(struct bufferevent *bev, void *arg)
{
	struct side *side = arg;
	struct session *s = side->s;

	if (s->state == SS_FLUSH) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			session_close(s, "%s", s->endreason);
		return;
	}
	bufferevent_setcb(bev, session_readcb, NULL, session_eventcb, side);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	if (s->state == SS_RELAY && side->peer->bev != NULL)
		bufferevent_enable(side->peer->bev, EV_READ);
}

/* side ended: flush what is queued to its peer, then close. */
static void
session_flush(struct session *s, struct side *side, const char *reason)
{
	struct side *peer = side->peer;

	/* Whatever side sent before it ended still goes through. */
	session_relay(side);
	if (peer->bev == NULL || evbuffer_get_length(
	    bufferevent_get_output(peer->bev)) == 0) {
		session_close(s, "%s", reason);
		return;
	}
	snprintf(s->endreason, sizeof(s->endreason), "%s", reason);
	session_set_state(s, SS_FLUSH);
	bufferevent_disable(side->bev, EV_READ);
	bufferevent_disable(peer->bev, EV_READ);
	bufferevent_setwatermark(peer->bev, EV_WRITE, 0, 0);
	bufferevent_setcb(peer->bev, session_readcb, session_writecb,
	    session_eventcb, peer);
}

static void
session_client_ready(struct session *s)
{
	const char *name;
	struct gen_site *gs;

	s->client.up = 1;
	metrics_inc(M_HANDSHAKES);
	if (SSL_session_reused(s->client.ssl))
		metrics_inc(M_RESUMED);
	name = SSL_get_servername(s->client.ssl, TLSEXT_NAMETYPE_host_name);
	if (name != NULL && (s->sni = strdup(name)) == NULL) {
		session_close(s, "out of memory");
		return;
	}
	gs = tlsctx_server_site(s->client.ssl);
	s->site = gs != NULL ? gs : s->gl->first;
	evtimer_del(s->timer);
	session_set_state(s, SS_CONNECTING);
	s->bidx = 0;
	session_backend_try(s);
}

/* Note why the current backend address failed, and count it. */
static void
session_backend_note(struct session *s, const char *why)
{
	const struct config_hostport *hp = &s->site->cfg->backends[s->bidx];
	char host[48];	/* numeric: INET6_ADDRSTRLEN */

	metrics_inc(M_BACKEND_CONNECT_FAIL);
	if (s->ai != NULL && getnameinfo(s->ai->ai_addr, s->ai->ai_addrlen,
	    host, sizeof(host), NULL, 0, NI_NUMERICHOST) == 0 &&
	    strcmp(host, hp->host) != 0)
		snprintf(s->lasterr, sizeof(s->lasterr), "%s (%s): %s",
		    hp->text, host, why);
	else
		snprintf(s->lasterr, sizeof(s->lasterr), "%s: %s", hp->text,
		    why);
	log_info("session %s: backend %s", s->peer, s->lasterr);
}

/* Give up on backend bidx: on to the next one. */
static void
session_backend_next(struct session *s)
{
	if (s->addrs != NULL)
		evutil_freeaddrinfo(s->addrs);
	s->addrs = s->ai = NULL;
	s->bidx++;
	session_backend_try(s);
}

/*
 * The resolver's answer.  It may come synchronously from inside
 * evdns_getaddrinfo() (addresses, /etc/hosts): then only record it and let
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
	session_backend_connect(s);
}

/*
 * Resolve backend[bidx] through the worker's evdns (never block the loop),
 * then try its addresses in order; then the next backend.
 */
static void
session_backend_try(struct session *s)
{
	const struct config_site *cfg = s->site->cfg;
	const struct config_hostport *hp;
	struct evdns_getaddrinfo_request *req;
	struct evutil_addrinfo hints;
	char port[8];

	if (s->bidx >= cfg->nbackends) {
		session_close(s, "no backend reachable (last: %s)",
		    s->lasterr);
		return;
	}
	hp = &cfg->backends[s->bidx];
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(port, sizeof(port), "%u", (unsigned)hp->port);
	/* connect_timeout covers the lookup as well. */
	session_timer(s, cfg->connect_timeout);
	s->resolved = 0;
	s->in_resolve = 1;
	req = evdns_getaddrinfo(s->dns, hp->host, port, &hints,
	    session_resolved, s);
	s->in_resolve = 0;
	if (!s->resolved) {
		s->dnsreq = req;
		return;
	}
	session_backend_connect(s);
}

/* Connect to address s->ai of backend bidx, or the next that works. */
static void
session_backend_connect(struct session *s)
{
	const struct config_site *cfg = s->site->cfg;
	struct bufferevent *bev;
	char why[96];

	if (s->dnserr != 0) {
		snprintf(why, sizeof(why), "cannot resolve: %s",
		    evutil_gai_strerror(s->dnserr));
		s->dnserr = 0;
		session_backend_note(s, why);
		session_backend_next(s);
		return;
	}
	for (; s->ai != NULL; s->ai = s->ai->ai_next) {
		/*
		 * TCP first, TLS once connected: a refused or timed out
		 * connect then reads as such, not as a TLS-level EOF.  The
		 * connect stage does not own the fd (it moves to the TLS
		 * bufferevent), so no BEV_OPT_CLOSE_ON_FREE for TLS
		 * backends.
		 */
		bev = bufferevent_socket_new(s->base, -1,
		    BEV_OPT_DEFER_CALLBACKS | (s->site->backend != NULL ? 0 :
		    BEV_OPT_CLOSE_ON_FREE));
		if (bev == NULL) {
			session_close(s, "out of memory for the backend");
			return;
		}
		s->backend.tcp_stage = s->site->backend != NULL;
		s->backend.bev = bev;
		bufferevent_setcb(bev, session_readcb, NULL, session_eventcb,
		    &s->backend);
		bufferevent_setwatermark(bev, EV_READ, 0, SESSION_HIGHWAT);
		bufferevent_enable(bev, EV_READ | EV_WRITE);
		/* Failures come back through session_eventcb, deferred. */
		if (bufferevent_socket_connect(bev, s->ai->ai_addr,
		    (int)s->ai->ai_addrlen) == 0) {
			session_timer(s, cfg->connect_timeout);
			return;
		}
		session_backend_note(s, "cannot connect");
		session_side_free(&s->backend);
	}
	session_backend_next(s);
}

/* TCP is up: run the TLS handshake on the same socket. */
static void
session_backend_tls(struct session *s)
{
	struct bufferevent *bev;
	SSL *ssl;
	int fd, one = 1;

	if ((ssl = tlsctx_backend_ssl(s->site->backend, s->bidx,
	    s->sni)) == NULL) {
		session_close(s, "cannot set up backend TLS");
		return;
	}
	fd = bufferevent_getfd(s->backend.bev);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Without CLOSE_ON_FREE this leaves the connected fd to us. */
	bufferevent_free(s->backend.bev);
	s->backend.bev = NULL;
	s->backend.tcp_stage = 0;
	bev = bufferevent_openssl_socket_new(s->base, fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		/*
		 * XXX libevent 2.1 leaves the SSL and fd to us when its
		 * allocation fails (the likely case); only a later event_add
		 * failure would free them itself.
		 */
		SSL_free(ssl);
		close(fd);
		session_close(s, "out of memory for the backend");
		return;
	}
	s->backend.bev = bev;
	s->backend.ssl = ssl;
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	bufferevent_setcb(bev, session_readcb, NULL, session_eventcb,
	    &s->backend);
	bufferevent_setwatermark(bev, EV_READ, 0, SESSION_HIGHWAT);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
session_backend_failed(struct session *s, short what)
{
	const struct config_site *cfg = s->site->cfg;
	const char *verr = NULL;
	char why[128];

	if (s->site->backend != NULL &&
	    cfg->backend_verify == CONFIG_VERIFY_YES)
		verr = tlsctx_backend_verify_error(s->backend.ssl);
	if (verr != NULL) {
		/* A refusal, not an outage: no failover. */
		metrics_inc(M_BACKEND_VERIFY_FAIL);
		session_close(s, "backend %s certificate verify failed: %s",
		    cfg->backends[s->bidx].text, verr);
		return;
	}
	session_side_error(&s->backend, what, why, sizeof(why));
	if (!s->backend.tcp_stage && (what & BEV_EVENT_EOF))
		snprintf(why, sizeof(why), "closed during the TLS handshake");
	session_backend_note(s, why);
	session_side_free(&s->backend);
	evtimer_del(s->timer);
	if (s->ai != NULL)
		s->ai = s->ai->ai_next;
	session_backend_connect(s);
}

static void
session_backend_ready(struct session *s)
{
	char why[160];
	int one = 1;

	s->backend.up = 1;
	evtimer_del(s->timer);
	if (s->site->backend == NULL) {
		(void)setsockopt(bufferevent_getfd(s->backend.bev),
		    IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	} else {
		if (tlsctx_backend_check(s->site->backend, s->backend.ssl, why,
		    sizeof(why)) == -1) {
			metrics_inc(M_BACKEND_VERIFY_FAIL);
			session_close(s, "backend %s refused: %s",
			    s->site->cfg->backends[s->bidx].text, why);
			return;
		}
		if (SSL_session_reused(s->backend.ssl))
			metrics_inc(M_BACKEND_RESUMED);
	}
	session_set_state(s, SS_RELAY);
	s->last = session_now();
	session_timer(s, s->site->cfg->idle_timeout);
	/* What the client sent while we connected goes first. */
	session_relay(&s->client);
}

static void
session_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct side *side = arg;
	struct session *s = side->s;
	char why[200], reason[240];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (side == &s->client)
			session_client_ready(s);
		else if (side->tcp_stage)
			session_backend_tls(s);
		else
			session_backend_ready(s);
		return;
	}
	switch (s->state) {
	case SS_HANDSHAKE:
		if (session_side_error(side, what, why, sizeof(why)) == 1) {
			metrics_hs_failure(HSF_PROTOCOL);
			session_close(s, "client handshake failed: %s", why);
		} else {
			metrics_hs_failure(HSF_EOF);
			session_close(s, "client went away during the "
			    "handshake (%s)", why);
		}
		return;
	case SS_CONNECTING:
		if (side == &s->backend) {
			session_backend_failed(s, what);
			return;
		}
		session_close(s, "client closed while connecting to the "
		    "backend");
		return;
	case SS_RELAY:
		session_side_error(side, what, why, sizeof(why));
		snprintf(reason, sizeof(reason), "%s %s", side->name, why);
		session_flush(s, side, reason);
		return;
	case SS_FLUSH:
		session_side_error(side, what, why, sizeof(why));
		session_close(s, "%s (then %s %s while flushing)",
		    s->endreason, side->name, why);
		return;
	}
}

static void
session_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	const struct config_site *cfg = session_cfg(s);
	struct evdns_getaddrinfo_request *req;
	char why[64];
	time_t idle;

	(void)fd;
	(void)what;
	switch (s->state) {
	case SS_HANDSHAKE:
		metrics_hs_failure(HSF_TIMEOUT);
		session_close(s, "handshake timeout (%us)",
		    cfg->handshake_timeout);
		return;
	case SS_CONNECTING:
		snprintf(why, sizeof(why), "timeout (%us)",
		    cfg->connect_timeout);
		if (s->dnsreq != NULL) {
			req = s->dnsreq;
			s->dnsreq = NULL;
			evdns_getaddrinfo_cancel(req);
			session_backend_note(s, "name lookup timeout");
			session_backend_next(s);
			return;
		}
		session_backend_note(s, why);
		session_side_free(&s->backend);
		if (s->ai != NULL)
			s->ai = s->ai->ai_next;
		session_backend_connect(s);
		return;
	case SS_RELAY:
	case SS_FLUSH:
		/*
		 * One timer per session instead of re-arming on every read:
		 * when it fires, check when bytes last moved either way.
		 */
		idle = session_now() - s->last;
		if (idle >= (time_t)cfg->idle_timeout) {
			session_close(s, "idle timeout (%us)",
			    cfg->idle_timeout);
			return;
		}
		session_timer(s, cfg->idle_timeout - (unsigned)idle);
		return;
	}
}

static void
session_peername(struct session *s, const struct sockaddr *sa,
    socklen_t salen)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getnameinfo(sa, salen, host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(s->peer, sizeof(s->peer), "?");
		return;
	}
	snprintf(s->peer, sizeof(s->peer), sa->sa_family == AF_INET6 ?
	    "[%s]:%s" : "%s:%s", host, port);
}

int
session_start(const struct session_env *env, int fd,
    const struct sockaddr *sa, socklen_t salen, struct generation *g,
    struct gen_listen *gl)
{
	struct session *s;
	SSL *ssl = NULL;

	metrics_inc(M_ACCEPTED);
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("session_start");
		goto err;
	}
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
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	s->last = session_now();
	session_peername(s, sa, salen);

	if ((s->timer = evtimer_new(env->base, session_timeout, s)) == NULL)
		goto err1;
	if ((ssl = SSL_new(tlsctx_sni_default(gl->sni))) == NULL) {
		log_ssl(LOG_LEVEL_WARN, "session %s: SSL_new", s->peer);
		goto err1;
	}
	s->client.bev = bufferevent_openssl_socket_new(env->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (s->client.bev == NULL) {
		/*
		 * XXX libevent 2.1 leaves the SSL and fd to us when its
		 * allocation fails (the likely case); only a later event_add
		 * failure would free them itself.
		 */
		log_warnx("session %s: cannot create the client bufferevent",
		    s->peer);
		SSL_free(ssl);
		goto err1;
	}
	s->client.ssl = ssl;
	/* Microsoft peers close without close_notify: that is an EOF. */
	bufferevent_openssl_set_allow_dirty_shutdown(s->client.bev, 1);
	bufferevent_setcb(s->client.bev, session_readcb, NULL,
	    session_eventcb, &s->client);
	bufferevent_setwatermark(s->client.bev, EV_READ, 0, SESSION_HIGHWAT);
	bufferevent_enable(s->client.bev, EV_READ | EV_WRITE);
	session_timer(s, gl->first->cfg->handshake_timeout);

	s->next = env->list->head;
	if (s->next != NULL)
		s->next->prev = s;
	env->list->head = s;
	env->list->n++;
	atomic_fetch_add_explicit(&session_alive, 1, memory_order_relaxed);
	metrics_add(M_ACTIVE, 1);
	return 0;
 err1:
	if (s->timer != NULL)
		event_free(s->timer);
	free(s);
 err:
	close(fd);
	generation_unref(g);
	return -1;
}
