/*
 * admin.c: the admin HTTP endpoint (/healthz, /readyz, /metrics, /chains)
 * on libevent's evhttp.
 *
 * Every request is answered on the main event_base, the thread that also
 * swaps configurations on reload, so the sites from ops->site() cannot
 * change while a response is being built.  Responses are small and built in
 * full before they are sent; nothing here keeps per-request state.
 *
 * Clients are bounded: at most ADMIN_MAX_CONNS connections at once, and
 * each request must be over (read, answered, written) within
 * ADMIN_DEADLINE_SECS of the connection or of the previous answer.  evhttp
 * in libevent 2.1 has neither (its timeout is per read, so one byte every
 * few seconds kept a connection for hours), nor a callback for a new
 * connection; see admin_conn_new() for how we learn of each one.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <netdb.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "admin.h"
#include "health.h"
#include "json.h"
#include "certinfo.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"

/* An admin client gets this long to send its request and read the answer. */
#define ADMIN_TIMEOUT_SECS	10
/* Requests are a GET line and a few headers; nothing bigger is legitimate. */
#define ADMIN_MAX_HEADERS	8192
/* Scrapers and health checks, a few at a time. */
#define ADMIN_BACKLOG		64
/*
 * A request must be over this long after the connection opened or the
 * previous answer was written, however slowly it trickles in.
 */
#define ADMIN_DEADLINE_SECS	10
/*
 * Connections at once.  More wait in the listen backlog (the listener is
 * held) rather than being refused: a burst of probes is then served a
 * moment later instead of failing, and the deadline bounds the wait.
 */
#define ADMIN_MAX_CONNS		16
/* "N connections open" and deadline messages, at most once in this long. */
#define ADMIN_LOG_SECS		60

struct admin;

/*
 * One admin connection, from evhttp's bufferevent factory (evcon NULL:
 * not yet adopted) to evhttp's close callback.
 */
struct admin_conn {
	struct admin		*a;
	struct bufferevent	*bev;	/* evhttp's; our reference until
					   adopted */
	struct evhttp_connection *evcon;	/* NULL until adopted */
	struct event		*deadline;
	struct admin_conn	*next;
};

struct admin {
	struct evhttp			*http;
	struct evhttp_bound_socket	*sock;	/* owned by http */
	struct listener			*pause;	/* fd exhaustion (listener.c) */
	struct event			*adopt;	/* admin_conn_adopt() */
	struct admin_conn		*conns;
	size_t				 nconns;
	int				 held;	/* at ADMIN_MAX_CONNS */
	int				 freeing;	/* in admin_free() */
	time_t				 full_logged, late_logged;
	unsigned long			 late;	/* deadline closes not logged */
	const struct admin_ops		*ops;
	void				*arg;
	uint16_t			 port;
};

static time_t
admin_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

/* Hold the listener at the cap, release it below (main thread). */
static void
admin_cap(struct admin *a)
{
	int full = a->nconns >= ADMIN_MAX_CONNS;
	time_t now;

	if (a->freeing || a->pause == NULL || full == a->held)
		return;
	a->held = full;
	listener_hold(a->pause, full);
	now = admin_now();
	if (full && (a->full_logged == 0 ||
	    now - a->full_logged >= ADMIN_LOG_SECS)) {
		a->full_logged = now;
		log_info("admin: %d connections open: more wait in the listen "
		    "backlog until one closes", ADMIN_MAX_CONNS);
	}
}

/* Forget c (closed, or never served) and free it. */
static void
admin_conn_free(struct admin_conn *c)
{
	struct admin *a = c->a;
	struct admin_conn **cp;

	for (cp = &a->conns; *cp != NULL; cp = &(*cp)->next)
		if (*cp == c) {
			*cp = c->next;
			a->nconns--;
			break;
		}
	/* Safe from the deadline's own callback: libevent allows it. */
	if (c->deadline != NULL)
		event_free(c->deadline);
	free(c);
	admin_cap(a);
}

/*
 * evhttp's close callback: it is freeing the connection (whoever closed
 * it: the client, an error, evhttp's own timeout, our deadline,
 * evhttp_free()).  For a server connection it is always called: its fd
 * stays set and its state never goes back to disconnected.
 */
static void
admin_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	admin_conn_free(arg);
}

static void
admin_conn_late(evutil_socket_t fd, short what, void *arg)
{
	struct admin_conn *c = arg;
	struct admin *a = c->a;
	char *host = NULL;
	ev_uint16_t port = 0;
	time_t now = admin_now();

	(void)fd;
	(void)what;
	/* Adoption runs in the loop pass that accepted, seconds before. */
	if (c->evcon == NULL)
		return;
	evhttp_connection_get_peer(c->evcon, &host, &port);
	if (a->late_logged == 0 || now - a->late_logged >= ADMIN_LOG_SECS) {
		if (a->late > 0)
			log_info("admin: closing a connection from %s:%u: no "
			    "whole request within %ds (and %lu more since the "
			    "last such message)", host != NULL ? host : "?",
			    (unsigned)port, ADMIN_DEADLINE_SECS, a->late);
		else
			log_info("admin: closing a connection from %s:%u: no "
			    "whole request within %ds", host != NULL ? host :
			    "?", (unsigned)port, ADMIN_DEADLINE_SECS);
		a->late_logged = now;
		a->late = 0;
	} else
		a->late++;
	/* Calls admin_conn_closed(), which frees c and this event. */
	evhttp_connection_free(c->evcon);
}

/*
 * Give c's next request ADMIN_DEADLINE_SECS from now.  Only the first
 * call can fail (out of memory growing the timer heap); re-arming a
 * pending timer moves it in place.
 */
static int
admin_conn_arm(struct admin_conn *c)
{
	struct timeval tv = { ADMIN_DEADLINE_SECS, 0 };

	return evtimer_add(c->deadline, &tv);
}

/*
 * Adopt the connections evhttp made since the last call: learn each one's
 * evhttp_connection, which exists only once the factory has returned, and
 * hand the close over to evhttp's close callback.  Runs from an event
 * activated by the factory, so before any read on the new connection.
 */
static void
admin_conn_adopt(evutil_socket_t fd, short what, void *arg)
{
	struct admin *a = arg;
	struct admin_conn *c, *next;
	bufferevent_event_cb ecb;
	void *cbarg;

	(void)fd;
	(void)what;
	for (c = a->conns; c != NULL; c = next) {
		next = c->next;
		if (c->evcon != NULL)
			continue;
		bufferevent_getcb(c->bev, NULL, NULL, &ecb, &cbarg);
		if (cbarg == c) {
			/*
			 * evhttp never took it (out of memory making its
			 * connection; it closed the socket itself and would
			 * leak this bufferevent): free it, both references.
			 */
			bufferevent_decref(c->bev);
			bufferevent_free(c->bev);
			admin_conn_free(c);
		} else if (ecb == NULL) {
			/*
			 * evhttp took it and freed it already, out of memory
			 * or unable to add its read event.  In the first case
			 * the read event is still added and the socket open,
			 * ours to close (BEV_OPT_CLOSE_ON_FREE, on the last
			 * reference); in the second nothing is added and
			 * evhttp_get_request() has closed the socket itself:
			 * then forget the number, which may be another's now.
			 */
			if (!event_pending(&c->bev->ev_read, EV_READ, NULL))
				(void)bufferevent_setfd(c->bev, -1);
			bufferevent_decref(c->bev);
			admin_conn_free(c);
		} else {
			/* evhttp's callbacks get its connection. */
			c->evcon = cbarg;
			evhttp_connection_set_closecb(c->evcon,
			    admin_conn_closed, c);
			bufferevent_decref(c->bev);
		}
	}
}

/*
 * evhttp's bufferevent factory, called for each accepted connection: the
 * only hook libevent 2.1 has for a new one.  The evhttp_connection does not
 * exist yet, so admin_conn_adopt() finds it a moment later; until then we
 * hold a reference to the bufferevent so that it cannot vanish in between
 * (evhttp frees a connection at once when it runs out of memory setting it
 * up).  That reference is dropped at adoption: a bufferevent unlinks its
 * events only when its last reference goes, so one held for the
 * connection's life would keep a closed socket's events registered and
 * the next socket given that number would never be watched.  The socket
 * belongs to the bufferevent (BEV_OPT_CLOSE_ON_FREE: evhttp then only shuts
 * it down): it is closed after its events are removed, never before.
 * Writing is off until evhttp turns it on, so that no write event is ever
 * added under a socket evhttp might close itself.
 * Out of memory here, evhttp makes its own bufferevent and the connection
 * goes uncounted, bounded by evhttp's per-read timeout alone.
 */
static struct bufferevent *
admin_conn_new(struct event_base *base, void *arg)
{
	struct admin *a = arg;
	struct admin_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->a = a;
	if ((c->deadline = evtimer_new(base, admin_conn_late, c)) == NULL ||
	    (c->bev = bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		if (c->deadline != NULL)
			event_free(c->deadline);
		free(c);
		return NULL;
	}
	if (admin_conn_arm(c) == -1) {
		bufferevent_free(c->bev);
		event_free(c->deadline);
		free(c);
		return NULL;
	}
	(void)bufferevent_disable(c->bev, EV_WRITE);
	/* cbarg c: admin_conn_adopt() can tell whether evhttp took it. */
	bufferevent_setcb(c->bev, NULL, NULL, NULL, c);
	bufferevent_incref(c->bev);
	c->next = a->conns;
	a->conns = c;
	a->nconns++;
	event_active(a->adopt, EV_TIMEOUT, 1);
	/* At the cap the listener stops before its next accept(). */
	admin_cap(a);
	return c->bev;
}

/* An answer is written: the next request on the connection gets its time. */
static void
admin_reply_done(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	struct evhttp_connection *evcon;
	struct admin_conn *c;

	if ((evcon = evhttp_request_get_connection(req)) == NULL)
		return;
	for (c = a->conns; c != NULL; c = c->next)
		if (c->evcon == evcon) {
			(void)admin_conn_arm(c);
			return;
		}
}

static int
admin_draining(const struct admin *a)
{
	if (a->ops == NULL || a->ops->draining == NULL)
		return 0;
	return a->ops->draining(a->arg) != 0;
}

static int
admin_site(const struct admin *a, size_t i, struct admin_site *site)
{
	if (a->ops == NULL || a->ops->site == NULL)
		return -1;
	return a->ops->site(a->arg, i, site);
}

/*
 * A Prometheus label value: backslash, double quote and newline escaped
 * (the exposition format's only three escapes).
 */
static int
admin_prom_label(struct evbuffer *out, const char *s)
{
	const char *p;
	int r = 0;

	if (s == NULL)
		s = "";
	for (p = s; *p != '\0' && r == 0; p++) {
		switch (*p) {
		case '\\':
			r = evbuffer_add(out, "\\\\", 2);
			break;
		case '"':
			r = evbuffer_add(out, "\\\"", 2);
			break;
		case '\n':
			r = evbuffer_add(out, "\\n", 2);
			break;
		default:
			r = evbuffer_add(out, p, 1);
			break;
		}
	}
	return r;
}

/* A JSON string (json_quote()), quotes included. */
static int
admin_json_str(struct evbuffer *out, const char *s)
{
	char *q;
	int r;

	if ((q = json_quote(s)) == NULL)
		return -1;
	r = evbuffer_add(out, q, strlen(q));
	free(q);
	return r;
}

/* One per-certificate sample: NAME{site="..",depth="..",subject=".."} V. */
static int
admin_cert_sample(struct evbuffer *out, const char *name, const char *site,
    size_t depth, const char *subject, long long v)
{
	if (evbuffer_add_printf(out, "%s{site=\"", name) < 0 ||
	    admin_prom_label(out, site) == -1 ||
	    evbuffer_add_printf(out, "\",depth=\"%zu\",subject=\"", depth) < 0 ||
	    admin_prom_label(out, subject) == -1 ||
	    evbuffer_add_printf(out, "\"} %lld\n", v) < 0)
		return -1;
	return 0;
}

/* The per-certificate families, one sample per served certificate. */
enum admin_cert_family {
	ACF_NOT_AFTER,
	ACF_EXPIRING,
	ACF_EXPIRED,
	ACF__COUNT
};

static const struct {
	const char	*name;
	const char	*help;
} admin_cert_families[ACF__COUNT] = {
	[ACF_NOT_AFTER] = { "chainfix_certificate_not_after_seconds",
	    "Expiry (notAfter, Unix time) of each certificate served" },
	[ACF_EXPIRING] = { "chainfix_certificate_expiring",
	    "1 if a served certificate is valid but expires within "
	    "expiry_warning_days, else 0" },
	[ACF_EXPIRED] = { "chainfix_certificate_expired",
	    "1 if a served certificate has expired (or is not yet valid), "
	    "else 0" },
};

static long long
admin_cert_value(enum admin_cert_family f, const struct chain_cert *cc,
    time_t now, unsigned warn_days)
{
	enum chain_validity v;

	if (f == ACF_NOT_AFTER)
		return (long long)cc->not_after;
	v = chain_cert_validity(cc, now, warn_days);
	if (f == ACF_EXPIRING)
		return v == CHAIN_EXPIRING;
	return v == CHAIN_EXPIRED || v == CHAIN_NOT_YET_VALID;
}

static int
admin_render_metrics(struct admin *a, struct evbuffer *out)
{
	struct admin_site site;
	const struct chain_cert *cc;
	time_t now = time(NULL);
	size_t i, d, f;

	if (metrics_render(out) == -1)
		return -1;
	/* Samples of one family must be together (the text format). */
	for (f = 0; f < ACF__COUNT; f++) {
		if (evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s gauge\n",
		    admin_cert_families[f].name, admin_cert_families[f].help,
		    admin_cert_families[f].name) < 0)
			return -1;
		for (i = 0; admin_site(a, i, &site) == 0; i++) {
			if (site.chain == NULL)
				continue;
			for (d = 0; d < chain_length(site.chain); d++) {
				if ((cc = chain_get(site.chain, d)) == NULL ||
				    !cc->served)
					continue;
				if (admin_cert_sample(out,
				    admin_cert_families[f].name, site.name,
				    d, cc->subject, admin_cert_value(f, cc, now,
				    site.expiry_warning_days)) == -1)
					return -1;
			}
		}
	}
	if (health_render_header(out) == -1)
		return -1;
	for (i = 0; admin_site(a, i, &site) == 0; i++)
		if (site.health != NULL && health_render(site.health, out) == -1)
			return -1;
	return 0;
}

/*
 * /readyz: ready (1) while not draining and every site has its chain and at
 * least one backend the health state (active checks, or what sessions saw)
 * lets new sessions use.  Otherwise 0, each reason on a line of its own,
 * so a load balancer's log or `kubectl describe pod` says what is wrong.
 * -1 on out of memory.  /healthz stays liveness: it does not look at the
 * backends, so a backend outage never gets the proxy restarted.
 */
static int
admin_render_ready(struct admin *a, struct evbuffer *out)
{
	struct admin_site site;
	char why[1024];
	size_t i;
	int ready = 1;

	if (admin_draining(a)) {
		if (evbuffer_add_printf(out, "not ready: draining\n") < 0)
			return -1;
		ready = 0;
	}
	for (i = 0; admin_site(a, i, &site) == 0; i++) {
		why[0] = '\0';
		if (site.chain == NULL && !site.passthrough)
			snprintf(why, sizeof(why), "site %s: no certificate "
			    "chain", site.name);
		else if (site.health == NULL ||
		    health_site_up(site.health, why, sizeof(why)))
			continue;
		if (evbuffer_add_printf(out, "not ready: %s\n", why) < 0)
			return -1;
		ready = 0;
	}
	if (ready && evbuffer_add_printf(out, "ready\n") < 0)
		return -1;
	return ready;
}

static int
admin_render_cert(struct evbuffer *out, const struct chain_cert *cc,
    size_t depth)
{
	char nb[32], na[32], hex[65];

	certinfo_timestr(cc->not_before, CERTINFO_TIME_ISO8601, nb, sizeof(nb));
	certinfo_timestr(cc->not_after, CERTINFO_TIME_ISO8601, na, sizeof(na));
	certinfo_hex(cc->sha256, sizeof(cc->sha256), hex, sizeof(hex));
	if (evbuffer_add_printf(out, "{\"depth\":%zu,\"subject\":", depth) < 0 ||
	    admin_json_str(out, cc->subject) == -1 ||
	    evbuffer_add_printf(out, ",\"issuer\":") < 0 ||
	    admin_json_str(out, cc->issuer) == -1 ||
	    evbuffer_add_printf(out, ",\"not_before\":\"%s\","
	    "\"not_after\":\"%s\",\"sha256\":\"%s\",\"der_len\":%zu,"
	    "\"source\":", nb, na, hex, cc->der_len) < 0 ||
	    admin_json_str(out, cc->source) == -1 ||
	    evbuffer_add_printf(out, ",\"origin\":\"%s\",\"served\":%s}",
	    cc->origin == CHAIN_ORIGIN_CONFIG ? "config" :
	    chain_origin_name(cc->origin), cc->served ? "true" : "false") < 0)
		return -1;
	return 0;
}

/* "trusted":..,"served_bytes":..,"chain":[...] of c. */
static int
admin_render_chain(struct evbuffer *out, const struct chain *c)
{
	const struct chain_cert *cc;
	size_t d;

	if (evbuffer_add_printf(out, "\"trusted\":%s,\"served_bytes\":%zu,"
	    "\"chain\":[", chain_trusted(c) ? "true" : "false",
	    chain_served_size(c)) < 0)
		return -1;
	for (d = 0; d < chain_length(c); d++) {
		if ((cc = chain_get(c, d)) == NULL)
			continue;
		if ((d > 0 && evbuffer_add(out, ",", 1) == -1) ||
		    admin_render_cert(out, cc, d) == -1)
			return -1;
	}
	return evbuffer_add_printf(out, "]") < 0 ? -1 : 0;
}

static int
admin_render_chains(struct admin *a, struct evbuffer *out)
{
	struct admin_site site;
	const struct chain *c;
	size_t i;

	if (evbuffer_add_printf(out, "{\"sites\":[") < 0)
		return -1;
	for (i = 0; admin_site(a, i, &site) == 0; i++) {
		c = site.chain;
		if (evbuffer_add_printf(out, "%s{\"name\":",
		    i > 0 ? "," : "") < 0 ||
		    admin_json_str(out, site.name) == -1)
			return -1;
		if (c == NULL) {
			if (evbuffer_add_printf(out, ",\"chain\":[]}") < 0)
				return -1;
			continue;
		}
		/* The chain clients without TLS 1.3 get, if another. */
		if (evbuffer_add(out, ",", 1) == -1 ||
		    admin_render_chain(out, c) == -1 ||
		    evbuffer_add_printf(out, ",\"legacy\":") < 0)
			return -1;
		if (chain_legacy(c) == NULL) {
			if (evbuffer_add_printf(out, "null") < 0)
				return -1;
		} else if (evbuffer_add(out, "{", 1) == -1 ||
		    admin_render_chain(out, chain_legacy(c)) == -1 ||
		    evbuffer_add(out, "}", 1) == -1)
			return -1;
		if (evbuffer_add_printf(out, "}") < 0)
			return -1;
	}
	if (evbuffer_add_printf(out, "]}\n") < 0)
		return -1;
	return 0;
}

static void
admin_reply(struct evhttp_request *req, int code, const char *reason,
    const char *ctype, struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char len[32];

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	/*
	 * libevent 2.1 sends the body of a reply to HEAD as well.  Announce
	 * the length a GET would get (evhttp keeps a Content-Length that is
	 * already set) and send no body.
	 */
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		(void)snprintf(len, sizeof(len), "%zu",
		    evbuffer_get_length(body));
		evhttp_add_header(h, "Content-Length", len);
		(void)evbuffer_drain(body, evbuffer_get_length(body));
	}
	evhttp_send_reply(req, code, reason, body);
}

static void
admin_request(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	const struct evhttp_uri *uri;
	const char *path = NULL;
	struct evbuffer *body;
	enum evhttp_cmd_type cmd;
	int r;

	evhttp_request_set_on_complete_cb(req, admin_reply_done, a);
	if ((body = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	cmd = evhttp_request_get_command(req);
	if ((uri = evhttp_request_get_evhttp_uri(req)) != NULL)
		path = evhttp_uri_get_path(uri);
	if (path == NULL || *path == '\0')
		path = "/";

	if (strcmp(path, "/healthz") != 0 && strcmp(path, "/readyz") != 0 &&
	    strcmp(path, "/metrics") != 0 && strcmp(path, "/chains") != 0) {
		evbuffer_add_printf(body, "not found\n");
		admin_reply(req, HTTP_NOTFOUND, "Not Found",
		    "text/plain; charset=utf-8", body);
		goto done;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		evbuffer_add_printf(body, "method not allowed\n");
		admin_reply(req, HTTP_BADMETHOD, "Method Not Allowed",
		    "text/plain; charset=utf-8", body);
		goto done;
	}

	if (strcmp(path, "/healthz") == 0) {
		if (admin_draining(a)) {
			evbuffer_add_printf(body, "draining\n");
			admin_reply(req, HTTP_SERVUNAVAIL,
			    "Service Unavailable", "text/plain; charset=utf-8",
			    body);
		} else {
			evbuffer_add_printf(body, "ok\n");
			admin_reply(req, HTTP_OK, "OK",
			    "text/plain; charset=utf-8", body);
		}
		goto done;
	}

	if (strcmp(path, "/readyz") == 0) {
		if ((r = admin_render_ready(a, body)) == 1)
			admin_reply(req, HTTP_OK, "OK",
			    "text/plain; charset=utf-8", body);
		else if (r == 0)
			admin_reply(req, HTTP_SERVUNAVAIL,
			    "Service Unavailable", "text/plain; charset=utf-8",
			    body);
		else
			evhttp_send_error(req, HTTP_INTERNAL, NULL);
		goto done;
	}

	if (strcmp(path, "/metrics") == 0)
		r = admin_render_metrics(a, body);
	else
		r = admin_render_chains(a, body);
	if (r == -1) {
		log_warnx("admin: cannot build the %s response (out of memory)",
		    path);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		goto done;
	}
	admin_reply(req, HTTP_OK, "OK", strcmp(path, "/metrics") == 0 ?
	    "text/plain; version=0.0.4; charset=utf-8" : "application/json",
	    body);
done:
	evbuffer_free(body);
}

static const char *
admin_text(const struct config_hostport *hp)
{
	return hp->text != NULL ? hp->text : "?";
}

/*
 * A listening socket for hp, non-blocking and close-on-exec.  We bind it
 * ourselves rather than with evhttp_bind_socket(): libevent resolves with
 * AI_ADDRCONFIG, which makes glibc ask the kernel for the host's addresses
 * over an AF_NETLINK socket, a family the systemd unit does not allow
 * (RestrictAddressFamilies).  An empty host is every address: "::" with
 * IPV6_V6ONLY off (IPv4 too), or "0.0.0.0" where there is no IPv6.
 */
static evutil_socket_t
admin_listen_fd(const struct config_hostport *hp)
{
	struct addrinfo hints, *res, *ai;
	const char *hosts[2];
	char port[8];
	size_t nhosts, i;
	int fd = -1, on = 1, off = 0, r, saved = 0;

	if (hp->host[0] == '\0') {
		hosts[0] = "::";
		hosts[1] = "0.0.0.0";
		nhosts = 2;
	} else {
		hosts[0] = hp->host;
		nhosts = 1;
	}
	(void)snprintf(port, sizeof(port), "%u", (unsigned)hp->port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;

	for (i = 0; i < nhosts && fd == -1; i++) {
		if ((r = getaddrinfo(hosts[i], port, &hints, &res)) != 0) {
			if (nhosts == 1) {
				log_errx("admin_listen %s: %s", admin_text(hp),
				    gai_strerror(r));
				return -1;
			}
			continue;
		}
		for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
			fd = socket(ai->ai_family, ai->ai_socktype |
			    SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
			if (fd == -1) {
				saved = errno;
				continue;
			}
			/* A restarted daemon rebinds despite TIME_WAIT. */
			(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
			    sizeof(on));
			if (ai->ai_family == AF_INET6 && nhosts == 2)
				(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
				    &off, sizeof(off));
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
			    listen(fd, ADMIN_BACKLOG) == 0)
				break;
			saved = errno;
			close(fd);
			fd = -1;
		}
		freeaddrinfo(res);
	}
	if (fd == -1) {
		errno = saved;
		if (saved != 0)
			log_err("admin_listen %s: cannot listen", admin_text(hp));
		else
			log_errx("admin_listen %s: cannot listen",
			    admin_text(hp));
	}
	return fd;
}

struct admin *
admin_start(struct event_base *base, const struct config_hostport *listen,
    const struct admin_ops *ops, void *arg)
{
	struct admin *a;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	evutil_socket_t fd;
	char name[128];

	if (listen == NULL || listen->host == NULL) {
		log_errx("admin: no listen address");
		return NULL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		log_err("admin");
		return NULL;
	}
	a->ops = ops;
	a->arg = arg;
	if ((a->http = evhttp_new(base)) == NULL ||
	    (a->adopt = event_new(base, -1, 0, admin_conn_adopt, a)) == NULL) {
		log_errx("admin: cannot create the HTTP server");
		goto err;
	}
	evhttp_set_timeout(a->http, ADMIN_TIMEOUT_SECS);
	evhttp_set_max_headers_size(a->http, ADMIN_MAX_HEADERS);
	evhttp_set_max_body_size(a->http, 0);
	/*
	 * evhttp answers methods outside its allowed set with 501 before our
	 * callback runs; allow them all so we can say 405 with an Allow header.
	 */
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_gencb(a->http, admin_request, a);
	evhttp_set_bevcb(a->http, admin_conn_new, a);

	if ((fd = admin_listen_fd(listen)) == -1)
		goto err;
	/* From here the listener owns fd (LEV_OPT_CLOSE_ON_FREE). */
	if ((a->sock = evhttp_accept_socket_with_handle(a->http, fd)) == NULL) {
		log_errx("admin_listen %s: cannot serve on the socket",
		    admin_text(listen));
		evutil_closesocket(fd);
		goto err;
	}
	/* Out of descriptors, accept() fails and the socket stays readable:
	 * pause and resume as the proxy's listeners do, not spin. */
	(void)snprintf(name, sizeof(name), "admin %s", admin_text(listen));
	if ((a->pause = listener_adopt(base,
	    evhttp_bound_socket_get_listener(a->sock), name)) == NULL) {
		log_errx("admin_listen %s: cannot set up", admin_text(listen));
		goto err;
	}
	fd = evhttp_bound_socket_get_fd(a->sock);
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0) {
		if (ss.ss_family == AF_INET)
			a->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			a->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	if (listen->port == 0)
		log_info("admin endpoint on %s (port %u): /healthz /readyz "
		    "/metrics /chains", admin_text(listen), (unsigned)a->port);
	else
		log_info("admin endpoint on %s: /healthz /readyz /metrics "
		    "/chains", admin_text(listen));
	return a;
err:
	admin_free(a);
	return NULL;
}

uint16_t
admin_port(const struct admin *a)
{
	return a != NULL ? a->port : 0;
}

size_t
admin_connections(const struct admin *a)
{
	return a != NULL ? a->nconns : 0;
}

void
admin_free(struct admin *a)
{
	if (a == NULL)
		return;
	a->freeing = 1;
	listener_free(a->pause);
	a->pause = NULL;
	/*
	 * Closes the listening socket and every open admin connection; the
	 * close callbacks forget the adopted ones, adoption the others.
	 */
	if (a->http != NULL)
		evhttp_free(a->http);
	admin_conn_adopt(-1, 0, a);
	if (a->adopt != NULL)
		event_free(a->adopt);
	free(a);
}
