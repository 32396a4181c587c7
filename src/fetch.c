/*
 * fetch.c: one bounded HTTP(S) GET on a private event_base (fetch.h).
 *
 * The shape is libevent's sample/https-client.c with the verifying leg:
 * evhttp over a bufferevent_openssl whose SSL checks the server's chain and
 * name.  Every way out of the loop (the answer, an error, the deadline, the
 * size cap) records why and breaks the loop; everything is freed after the
 * loop has returned, never under a libevent callback that is still running.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "certinfo.h"
#include "fetch.h"
#include "log.h"

#define FETCH_DEFAULT_TIMEOUT	10
#define FETCH_DEFAULT_MAX	(1024 * 1024)
#define FETCH_MAX_HEADERS	(32 * 1024)
#define FETCH_URL_MAX		2048

/* One request, from connect to the last byte. */
struct fetch_state {
	struct event_base	*base;
	struct evbuffer		*body;
	size_t			 max_size;
	SSL			*ssl;		/* owned by the bufferevent */
	struct bufferevent	*bev;		/* owned by the connection */
	int			 done;		/* the answer is complete */
	int			 status;
	char			 location[FETCH_URL_MAX];
	char			 reason[128];
	int			 http_error;	/* enum evhttp_request_error + 1 */
	char			 err[256];
};

/* The first reason wins: later ones are consequences. */
static void fetch_fail(struct fetch_state *, const char *, ...)
    LOG_PRINTF(2, 3);

static void
fetch_fail(struct fetch_state *st, const char *fmt, ...)
{
	va_list ap;

	if (st->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(st->err, sizeof(st->err), fmt, ap);
		va_end(ap);
	}
	event_base_loopbreak(st->base);
}

/* Move what arrived into our buffer, minding the cap. */
static void
fetch_take(struct fetch_state *st, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);

	if (in == NULL || st->err[0] != '\0')
		return;
	if (evbuffer_get_length(st->body) + evbuffer_get_length(in) >
	    st->max_size) {
		fetch_fail(st, "the answer is larger than %zu bytes",
		    st->max_size);
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	evbuffer_add_buffer(st->body, in);
}

static void
fetch_chunk_cb(struct evhttp_request *req, void *arg)
{
	fetch_take(arg, req);
}

/* Headers are in: refuse a declared size over the cap before reading. */
static int
fetch_header_cb(struct evhttp_request *req, void *arg)
{
	struct fetch_state *st = arg;
	const char *cl;
	unsigned long long n;
	char *end;

	cl = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Length");
	if (cl == NULL)
		return 0;
	errno = 0;
	n = strtoull(cl, &end, 10);
	if (errno == 0 && end != cl && n > st->max_size) {
		fetch_fail(st, "the answer is larger than %zu bytes "
		    "(Content-Length %llu)", st->max_size, n);
		return -1;
	}
	return 0;
}

static void
fetch_error_cb(enum evhttp_request_error e, void *arg)
{
	struct fetch_state *st = arg;

	st->http_error = (int)e + 1;
}

static void
fetch_done_cb(struct evhttp_request *req, void *arg)
{
	struct fetch_state *st = arg;
	const char *loc;
	int code;

	if (req == NULL || (code = evhttp_request_get_response_code(req)) ==
	    0) {
		/* Why is known below, from the SSL and the socket. */
		event_base_loopbreak(st->base);
		return;
	}
	st->status = code;
	snprintf(st->reason, sizeof(st->reason), "%s",
	    evhttp_request_get_response_code_line(req) != NULL ?
	    evhttp_request_get_response_code_line(req) : "");
	if ((loc = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Location")) != NULL)
		snprintf(st->location, sizeof(st->location), "%s", loc);
	fetch_take(st, req);
	st->done = st->err[0] == '\0';
	event_base_loopbreak(st->base);
}

static void
fetch_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fetch_state *st = arg;

	(void)fd;
	(void)what;
	fetch_fail(st, "timed out");
}

/* After a failure without an HTTP answer: say what failed. */
static void
fetch_explain(struct fetch_state *st, const char *host, int port)
{
	unsigned long e;
	long vr;
	int dnserr;
	char buf[160];

	if (st->err[0] != '\0')
		return;
	if (st->ssl != NULL && (vr = SSL_get_verify_result(st->ssl)) !=
	    X509_V_OK) {
		fetch_fail(st, "the certificate of %s does not verify: %s",
		    host, X509_verify_cert_error_string(vr));
		return;
	}
	if (st->bev != NULL && (dnserr =
	    bufferevent_socket_get_dns_error(st->bev)) != 0) {
		fetch_fail(st, "cannot resolve %s: %s", host,
		    evutil_gai_strerror(dnserr));
		return;
	}
	/* A refused connect shows up here as errno with no library: only
	 * a real OpenSSL error speaks of TLS. */
	if (st->bev != NULL && st->ssl != NULL &&
	    (e = bufferevent_get_openssl_error(st->bev)) != 0 &&
	    ERR_GET_LIB(e) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		fetch_fail(st, "TLS with %s:%d failed: %s", host, port, buf);
		return;
	}
	switch (st->http_error - 1) {
	case EVREQ_HTTP_TIMEOUT:
		fetch_fail(st, "%s:%d did not answer in time", host, port);
		break;
	case EVREQ_HTTP_INVALID_HEADER:
		fetch_fail(st, "%s:%d sent an invalid HTTP answer", host,
		    port);
		break;
	case EVREQ_HTTP_DATA_TOO_LONG:
		fetch_fail(st, "the answer is larger than %zu bytes",
		    st->max_size);
		break;
	default:
		fetch_fail(st, "cannot connect to %s:%d, or the connection "
		    "closed before an answer", host, port);
		break;
	}
}

static SSL_CTX *
fetch_ssl_ctx(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto err;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* Servers often close without close_notify after the body. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (ca_file != NULL) {
		if (SSL_CTX_load_verify_file(ctx, ca_file) != 1) {
			ERR_clear_error();
			snprintf(err, errlen, "cannot load CA file %s",
			    ca_file);
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		goto err;
	return ctx;
err:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	snprintf(err, errlen, "cannot set up TLS");
	return NULL;
}

/*
 * One GET of url on a fresh base.  0 with st->done (any status), or -1
 * with st->err.
 */
static int
fetch_once(const char *url, const struct fetch_opts *o, SSL_CTX **sslctx,
    struct timeval *left, struct fetch_state *st)
{
	struct evhttp_uri *uri = NULL;
	struct evdns_base *dns = NULL;
	struct evhttp_connection *conn = NULL;
	struct evhttp_request *req;
	struct event *deadline = NULL;
	struct evkeyvalq *hdr;
	const char *scheme, *rhost, *path, *query;
	char host[256], hosthdr[300], target[FETCH_URL_MAX];
	struct timeval t0, t1, used;
	int https, port, r = -1;
	size_t hl;

	memset(st, 0, sizeof(*st));
	st->max_size = o->max_size;
	if ((uri = evhttp_uri_parse_with_flags(url, 0)) == NULL ||
	    (scheme = evhttp_uri_get_scheme(uri)) == NULL ||
	    (rhost = evhttp_uri_get_host(uri)) == NULL || *rhost == '\0') {
		snprintf(st->err, sizeof(st->err), "not a URL: %.200s", url);
		goto out;
	}
	if (strcasecmp(scheme, "https") == 0)
		https = 1;
	else if (strcasecmp(scheme, "http") == 0)
		https = 0;
	else {
		snprintf(st->err, sizeof(st->err), "%.160s: URL scheme %.16s is "
		    "not supported (http and https are)", url, scheme);
		goto out;
	}
	if (!https && o->https_only) {
		snprintf(st->err, sizeof(st->err), "%.200s: refusing plain "
		    "http (https only)", url);
		goto out;
	}
	/* evhttp keeps an IPv6 literal's brackets; connect without. */
	hl = strlen(rhost);
	if (rhost[0] == '[' && hl > 2 && rhost[hl - 1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)(hl - 2), rhost + 1);
	else
		snprintf(host, sizeof(host), "%s", rhost);
	port = evhttp_uri_get_port(uri);
	if (port <= 0)
		port = https ? 443 : 80;
	if (port > 65535) {
		snprintf(st->err, sizeof(st->err), "%.200s: bad port", url);
		goto out;
	}
	if (port == (https ? 443 : 80))
		snprintf(hosthdr, sizeof(hosthdr), "%s", rhost);
	else
		snprintf(hosthdr, sizeof(hosthdr), "%s:%d", rhost, port);
	path = evhttp_uri_get_path(uri);
	query = evhttp_uri_get_query(uri);
	if ((size_t)snprintf(target, sizeof(target), "%s%s%s",
	    path != NULL && *path != '\0' ? path : "/",
	    query != NULL ? "?" : "", query != NULL ? query : "") >=
	    sizeof(target)) {
		snprintf(st->err, sizeof(st->err), "URL too long");
		goto out;
	}

	if ((st->base = event_base_new()) == NULL ||
	    (st->body = evbuffer_new()) == NULL ||
	    (dns = evdns_base_new(st->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE)) == NULL) {
		snprintf(st->err, sizeof(st->err), "out of memory, or no "
		    "resolver configuration");
		goto out;
	}
	if (https) {
		if (*sslctx == NULL && (*sslctx = fetch_ssl_ctx(o->ca_file,
		    st->err, sizeof(st->err))) == NULL)
			goto out;
		if ((st->ssl = SSL_new(*sslctx)) == NULL)
			goto oom;
		if (certinfo_is_ip(host)) {
			if (X509_VERIFY_PARAM_set1_ip_asc(
			    SSL_get0_param(st->ssl), host) != 1)
				goto oom;
		} else if (SSL_set_tlsext_host_name(st->ssl, host) != 1 ||
		    SSL_set1_host(st->ssl, host) != 1)
			goto oom;
		/* The bufferevent owns the SSL from here (CLOSE_ON_FREE). */
		if ((st->bev = bufferevent_openssl_socket_new(st->base, -1,
		    st->ssl, BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)) ==
		    NULL) {
			SSL_free(st->ssl);
			st->ssl = NULL;
			goto oom;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(st->bev, 1);
	} else if ((st->bev = bufferevent_socket_new(st->base, -1,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)) == NULL)
		goto oom;
	/* The connection owns the bufferevent from here. */
	if ((conn = evhttp_connection_base_bufferevent_new(st->base, dns,
	    st->bev, host, (unsigned short)port)) == NULL) {
		bufferevent_free(st->bev);
		st->bev = NULL;
		st->ssl = NULL;
		goto oom;
	}
	evhttp_connection_set_retries(conn, 0);
	evhttp_connection_set_timeout(conn, (int)(left->tv_sec > 0 ?
	    left->tv_sec : 1));
	evhttp_connection_set_max_headers_size(conn, FETCH_MAX_HEADERS);
	evhttp_connection_set_max_body_size(conn, (ev_ssize_t)o->max_size);

	if ((req = evhttp_request_new(fetch_done_cb, st)) == NULL)
		goto oom;
	evhttp_request_set_chunked_cb(req, fetch_chunk_cb);
	evhttp_request_set_header_cb(req, fetch_header_cb);
	evhttp_request_set_error_cb(req, fetch_error_cb);
	hdr = evhttp_request_get_output_headers(req);
	if (evhttp_add_header(hdr, "Host", hosthdr) != 0 ||
	    evhttp_add_header(hdr, "User-Agent", "chainfix/"
	    CHAINFIX_VERSION) != 0 ||
	    evhttp_add_header(hdr, "Accept", "*/*") != 0 ||
	    evhttp_add_header(hdr, "Connection", "close") != 0) {
		evhttp_request_free(req);
		goto oom;
	}
	/* The connection owns the request from here. */
	if (evhttp_make_request(conn, req, EVHTTP_REQ_GET, target) != 0) {
		snprintf(st->err, sizeof(st->err), "cannot send the request "
		    "to %.200s:%d", rhost, port);
		goto out;
	}
	if ((deadline = evtimer_new(st->base, fetch_deadline_cb, st)) ==
	    NULL || evtimer_add(deadline, left) != 0)
		goto oom;

	evutil_gettimeofday(&t0, NULL);
	event_base_dispatch(st->base);
	evutil_gettimeofday(&t1, NULL);
	evutil_timersub(&t1, &t0, &used);
	if (evutil_timercmp(&used, left, >=))
		left->tv_sec = left->tv_usec = 0;
	else
		evutil_timersub(left, &used, left);
	if (!st->done) {
		fetch_explain(st, rhost, port);
		goto out;
	}
	r = 0;
	goto out;
oom:
	snprintf(st->err, sizeof(st->err), "out of memory");
out:
	/* Connection first: it frees its request, bufferevent and SSL and
	 * cancels its pending resolution before the resolver goes. */
	if (conn != NULL)
		evhttp_connection_free(conn);
	st->bev = NULL;
	st->ssl = NULL;
	if (dns != NULL)
		evdns_base_free(dns, 0);
	if (deadline != NULL)
		event_free(deadline);
	/* Unlike ours, libevent's _free() does not take NULL. */
	if (uri != NULL)
		evhttp_uri_free(uri);
	ERR_clear_error();
	return r;
}

/* Where a Location header sends us, relative to base; 0 or -1. */
static int
fetch_resolve(const char *base, const char *loc, char *out, size_t len)
{
	const char *p;
	size_t n;

	if (strstr(loc, "://") != NULL && strcspn(loc, ":") <
	    strcspn(loc, "/?#"))
		return (size_t)snprintf(out, len, "%s", loc) < len ? 0 : -1;
	if ((p = strstr(base, "://")) == NULL)
		return -1;
	if (loc[0] == '/' && loc[1] == '/') {	/* same scheme */
		n = (size_t)(p - base) + 1;
		return (size_t)snprintf(out, len, "%.*s%s", (int)n, base,
		    loc) < len ? 0 : -1;
	}
	p += 3;
	n = strcspn(p, "/?#");
	if (loc[0] == '/')			/* same origin */
		return (size_t)snprintf(out, len, "%.*s%s",
		    (int)(p - base + (ptrdiff_t)n), base, loc) < len ? 0 : -1;
	/* Relative: beside the current path's last segment. */
	p += n;
	n = strcspn(p, "?#");
	while (n > 0 && p[n - 1] != '/')
		n--;
	return (size_t)snprintf(out, len, "%.*s%s%s",
	    (int)(p - base + (ptrdiff_t)n), base, n == 0 ? "/" : "", loc) <
	    len ? 0 : -1;
}

int
fetch_get(const char *url, const struct fetch_opts *opts,
    unsigned char **body, size_t *len, char *err, size_t errlen)
{
	struct fetch_opts o = *opts;
	struct fetch_state st;
	struct timeval left;
	SSL_CTX *sslctx = NULL;
	char cur[FETCH_URL_MAX], next[FETCH_URL_MAX];
	unsigned hops = 0;
	size_t n;
	int r = -1;

	*body = NULL;
	*len = 0;
	err[0] = '\0';
	if (o.timeout == 0)
		o.timeout = FETCH_DEFAULT_TIMEOUT;
	if (o.max_size == 0)
		o.max_size = FETCH_DEFAULT_MAX;
	left.tv_sec = o.timeout;
	left.tv_usec = 0;
	if ((size_t)snprintf(cur, sizeof(cur), "%s", url) >= sizeof(cur)) {
		snprintf(err, errlen, "URL too long");
		return -1;
	}
	for (;;) {
		if (fetch_once(cur, &o, &sslctx, &left, &st) == -1) {
			snprintf(err, errlen, "%s", st.err);
			goto out;
		}
		if (st.status == 200)
			break;
		if ((st.status == 301 || st.status == 302 ||
		    st.status == 303 || st.status == 307 ||
		    st.status == 308) && st.location[0] != '\0') {
			if (hops++ >= o.max_redirects) {
				snprintf(err, errlen, "too many "
				    "redirects");
				goto out;
			}
			if (fetch_resolve(cur, st.location, next,
			    sizeof(next)) == -1) {
				snprintf(err, errlen, "%s: cannot follow the "
				    "redirect to %.200s", cur, st.location);
				goto out;
			}
			memcpy(cur, next, sizeof(cur));
			evbuffer_free(st.body);
			event_base_free(st.base);
			st.body = NULL;
			st.base = NULL;
			if (left.tv_sec == 0 && left.tv_usec == 0) {
				snprintf(err, errlen, "timed out");
				goto out;
			}
			continue;
		}
		/* The caller knows the URL it asked for; name only where a
		 * redirect led. */
		if (strcmp(cur, url) != 0)
			snprintf(err, errlen, "HTTP %d %s (redirected to "
			    "%.200s)", st.status, st.reason, cur);
		else
			snprintf(err, errlen, "HTTP %d %s", st.status,
			    st.reason);
		goto out;
	}
	n = evbuffer_get_length(st.body);
	if ((*body = malloc(n + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (evbuffer_remove(st.body, *body, n) != (int)n) {
		free(*body);
		*body = NULL;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	(*body)[n] = '\0';
	*len = n;
	r = 0;
out:
	if (st.body != NULL)
		evbuffer_free(st.body);
	if (st.base != NULL)
		event_base_free(st.base);
	SSL_CTX_free(sslctx);
	return r;
}
