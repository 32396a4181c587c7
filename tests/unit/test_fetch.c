/*
 * test_fetch.c: fetch_get() against local HTTP and HTTPS servers (libevent's
 * evhttp in a thread of this test, on ports the kernel picks): answers,
 * redirects, the size cap, the deadline, refused connections and every
 * certificate failure.  Nothing reaches beyond loopback.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "fetch.h"
#include "log.h"
#include "testpki.h"

/* A server on its own thread and event_base. */
struct srv {
	struct event_base	*base;
	struct evhttp		*http;
	SSL_CTX			*ctx;		/* NULL: plain HTTP */
	int			 port;
	int			 stopfd[2];
	struct event		*stop;
	pthread_t		 th;
};

static struct testpki *P;
static char *D, *rootpem, *oldpem;
static struct srv plain, tls, tls_other;

/* 3000 bytes of something, to fetch. */
static unsigned char payload[3000];

static struct bufferevent *
srv_bevcb(struct event_base *base, void *arg)
{
	struct srv *s = arg;

	return bufferevent_openssl_socket_new(base, -1, SSL_new(s->ctx),
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

static void
srv_redirect(struct evhttp_request *req, const char *to)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Location",
	    to);
	evhttp_send_reply(req, 302, "Found", NULL);
}

static void
srv_gencb(struct evhttp_request *req, void *arg)
{
	struct srv *s = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *b = evbuffer_new();
	char to[128];
	int i;

	if (strcmp(uri, "/data") == 0 || strcmp(uri, "/dir/data") == 0 ||
	    strcmp(uri, "/data?x=1") == 0) {
		evbuffer_add(b, payload, sizeof(payload));
		evhttp_send_reply(req, 200, "OK", b);
	} else if (strcmp(uri, "/big") == 0) {
		for (i = 0; i < 30; i++)
			evbuffer_add(b, payload, sizeof(payload));
		evhttp_send_reply(req, 200, "OK", b);
	} else if (strcmp(uri, "/bigchunked") == 0) {
		/* No Content-Length: only the bytes tell. */
		evhttp_send_reply_start(req, 200, "OK");
		for (i = 0; i < 30; i++) {
			evbuffer_add(b, payload, sizeof(payload));
			evhttp_send_reply_chunk(req, b);
		}
		evhttp_send_reply_end(req);
	} else if (strcmp(uri, "/slow") == 0) {
		/* Never answered: evhttp_free() drops it at the end. */
	} else if (strcmp(uri, "/redir") == 0)
		srv_redirect(req, "/data");
	else if (strcmp(uri, "/dir/rel") == 0)
		srv_redirect(req, "data");
	else if (strcmp(uri, "/abs") == 0) {
		snprintf(to, sizeof(to), "%s://127.0.0.1:%d/data",
		    s->ctx != NULL ? "https" : "http", s->port);
		srv_redirect(req, to);
	} else if (strcmp(uri, "/tohttp") == 0) {
		snprintf(to, sizeof(to), "http://127.0.0.1:%d/data",
		    plain.port);
		srv_redirect(req, to);
	} else if (strcmp(uri, "/loop") == 0)
		srv_redirect(req, "/loop");
	else
		evhttp_send_reply(req, 404, "Not Found", NULL);
	evbuffer_free(b);
}

static void
srv_stopcb(evutil_socket_t fd, short what, void *arg)
{
	struct srv *s = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(s->base);
}

static void *
srv_main(void *arg)
{
	struct srv *s = arg;

	event_base_dispatch(s->base);
	return NULL;
}

static void
srv_start(struct srv *s, X509 *leaf, EVP_PKEY *key)
{
	struct evhttp_bound_socket *h;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(s, 0, sizeof(*s));
	assert_non_null(s->base = event_base_new());
	assert_non_null(s->http = evhttp_new(s->base));
	if (leaf != NULL) {
		assert_non_null(s->ctx = SSL_CTX_new(TLS_server_method()));
		assert_int_equal(SSL_CTX_use_certificate(s->ctx, leaf), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey(s->ctx, key), 1);
		assert_int_equal(SSL_CTX_add1_chain_cert(s->ctx, P->int2), 1);
		assert_int_equal(SSL_CTX_add1_chain_cert(s->ctx, P->int1), 1);
		evhttp_set_bevcb(s->http, srv_bevcb, s);
	}
	evhttp_set_gencb(s->http, srv_gencb, s);
	assert_non_null(h = evhttp_bind_socket_with_handle(s->http,
	    "127.0.0.1", 0));
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(h),
	    (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
	assert_int_equal(pipe(s->stopfd), 0);
	assert_non_null(s->stop = event_new(s->base, s->stopfd[0], EV_READ,
	    srv_stopcb, s));
	assert_int_equal(event_add(s->stop, NULL), 0);
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void
srv_stop(struct srv *s)
{
	assert_int_equal(write(s->stopfd[1], "x", 1), 1);
	pthread_join(s->th, NULL);
	event_free(s->stop);
	evhttp_free(s->http);
	event_base_free(s->base);
	SSL_CTX_free(s->ctx);
	close(s->stopfd[0]);
	close(s->stopfd[1]);
}

static int
setup(void **state)
{
	X509 *one[2] = { NULL, NULL };
	size_t i;

	(void)state;
	log_init("chainfix", LOG_LEVEL_INFO, 0);
	/* A client that stops reading (the size cap) must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (unsigned char)(i * 7 + 3);
	P = testpki_new();
	D = testpki_tmpdir();
	rootpem = testpki_path(D, "root.pem");
	one[0] = P->root;
	testpki_write_pem(rootpem, one, NULL, NULL);
	oldpem = testpki_path(D, "old.pem");
	one[0] = P->root_old;
	testpki_write_pem(oldpem, one, NULL, NULL);
	srv_start(&plain, NULL, NULL);
	srv_start(&tls, P->leaf, P->leaf_key);
	srv_start(&tls_other, P->leaf2, P->leaf2_key);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	srv_stop(&plain);
	srv_stop(&tls);
	srv_stop(&tls_other);
	testpki_rmtree(D);
	free(rootpem);
	free(oldpem);
	free(D);
	testpki_free(P);
	return 0;
}

/* fetch_get() of scheme://host:port/path; 0 or -1, err filled. */
static int
get(const char *scheme, const char *host, int port, const char *path,
    const struct fetch_opts *o, unsigned char **body, size_t *len,
    char *err, size_t errlen)
{
	char url[256];
	int r;

	snprintf(url, sizeof(url), "%s://%s:%d%s", scheme, host, port, path);
	r = fetch_get(url, o, body, len, err, errlen);
	assert_int_equal(ERR_peek_error(), 0);
	if (r == 0)
		assert_non_null(*body);
	else {
		assert_null(*body);
		assert_true(err[0] != '\0');
	}
	return r;
}

static void
expect_payload(unsigned char *body, size_t len)
{
	assert_int_equal(len, sizeof(payload));
	assert_memory_equal(body, payload, sizeof(payload));
	assert_int_equal(body[len], '\0');
	free(body);
}

static void
test_http(void **state)
{
	struct fetch_opts o = { 5, 65536, NULL, 3, 0 };
	unsigned char *body;
	size_t len;
	char err[256];

	(void)state;
	assert_int_equal(get("http", "127.0.0.1", plain.port, "/data", &o,
	    &body, &len, err, sizeof(err)), 0);
	expect_payload(body, len);
	/* A name from /etc/hosts, through evdns. */
	assert_int_equal(get("http", "localhost", plain.port, "/data?x=1",
	    &o, &body, &len, err, sizeof(err)), 0);
	expect_payload(body, len);

	assert_int_equal(get("http", "127.0.0.1", plain.port, "/nothing",
	    &o, &body, &len, err, sizeof(err)), -1);
	assert_contains(err, "HTTP 404 Not Found");
}

static void
test_redirects(void **state)
{
	struct fetch_opts o = { 5, 65536, NULL, 3, 0 };
	unsigned char *body;
	size_t len;
	char err[256];

	(void)state;
	assert_int_equal(get("http", "127.0.0.1", plain.port, "/redir", &o,
	    &body, &len, err, sizeof(err)), 0);
	expect_payload(body, len);
	assert_int_equal(get("http", "127.0.0.1", plain.port, "/dir/rel", &o,
	    &body, &len, err, sizeof(err)), 0);
	expect_payload(body, len);
	assert_int_equal(get("http", "127.0.0.1", plain.port, "/abs", &o,
	    &body, &len, err, sizeof(err)), 0);
	expect_payload(body, len);

	assert_int_equal(get("http", "127.0.0.1", plain.port, "/loop", &o,
	    &body, &len, err, sizeof(err)), -1);
	assert_contains(err, "too many redirects");
	o.max_redirects = 0;
	assert_int_equal(get("http", "127.0.0.1", plain.port, "/redir", &o,
	    &body, &len, err, sizeof(err)), -1);
	assert_contains(err, "too many redirects");
}

static void
test_limits(void **state)
{
	struct fetch_opts o = { 5, 65536, NULL, 3, 0 };
	unsigned char *body;
	size_t len;
	char err[256];
	int port, fd;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	(void)state;
	/* Declared too large: refused on the headers. */
	assert_int_equal(get("http", "127.0.0.1", plain.port, "/big", &o,
	    &body, &len, err, sizeof(err)), -1);
	assert_contains(err, "larger than 65536 bytes");
	/* Chunked, no length: refused as the bytes pile up. */
	assert_int_equal(get("http", "127.0.0.1", plain.port, "/bigchunked",
	    &o, &body, &len, err, sizeof(err)), -1);
	assert_contains(err, "larger than 65536 bytes");
	/* The same within a larger cap. */
	o.max_size = 200000;
	assert_int_equal(get("http", "127.0.0.1", plain.port, "/bigchunked",
	    &o, &body, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 30 * sizeof(payload));
	free(body);

	/* A server that never answers: the deadline ends it. */
	o.timeout = 1;
	assert_int_equal(get("http", "127.0.0.1", plain.port, "/slow", &o,
	    &body, &len, err, sizeof(err)), -1);
	assert_true(strstr(err, "timed out") != NULL ||
	    strstr(err, "did not answer in time") != NULL);

	/* Nobody listening: a port that was free a moment ago. */
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	o.timeout = 5;
	assert_int_equal(get("http", "127.0.0.1", port, "/data", &o, &body,
	    &len, err, sizeof(err)), -1);
	assert_contains(err, "cannot connect to 127.0.0.1:");
}

static void
test_https(void **state)
{
	struct fetch_opts o = { 5, 65536, NULL, 3, 0 };
	unsigned char *body;
	size_t len;
	char err[256];

	(void)state;
	o.ca_file = rootpem;
	assert_int_equal(get("https", "127.0.0.1", tls.port, "/data", &o,
	    &body, &len, err, sizeof(err)), 0);
	expect_payload(body, len);
	assert_int_equal(get("https", "localhost", tls.port, "/redir", &o,
	    &body, &len, err, sizeof(err)), 0);
	expect_payload(body, len);
	assert_int_equal(get("https", "[::1]", tls.port, "/data", &o,
	    &body, &len, err, sizeof(err)) == 0 ||
	    strstr(err, "cannot connect") != NULL, 1);	/* no IPv6 */
	free(body);

	/* https only: no plain http, first or by redirect. */
	o.https_only = 1;
	assert_int_equal(get("http", "127.0.0.1", plain.port, "/data", &o,
	    &body, &len, err, sizeof(err)), -1);
	assert_contains(err, "refusing plain http");
	assert_int_equal(get("https", "127.0.0.1", tls.port, "/tohttp", &o,
	    &body, &len, err, sizeof(err)), -1);
	assert_contains(err, "refusing plain http");
	o.https_only = 0;
	assert_int_equal(get("https", "127.0.0.1", tls.port, "/tohttp", &o,
	    &body, &len, err, sizeof(err)), 0);
	expect_payload(body, len);
}

static void
test_https_refused(void **state)
{
	struct fetch_opts o = { 5, 65536, NULL, 3, 0 };
	unsigned char *body;
	size_t len;
	char err[256];

	(void)state;
	/* Another root: the chain does not verify. */
	o.ca_file = oldpem;
	assert_int_equal(get("https", "127.0.0.1", tls.port, "/data", &o,
	    &body, &len, err, sizeof(err)), -1);
	assert_contains(err, "does not verify: unable to get local issuer");
	/* The right root, the wrong name. */
	o.ca_file = rootpem;
	assert_int_equal(get("https", "localhost", tls_other.port, "/data",
	    &o, &body, &len, err, sizeof(err)), -1);
	assert_contains(err, "does not verify: hostname mismatch");
	assert_int_equal(get("https", "127.0.0.1", tls_other.port, "/data",
	    &o, &body, &len, err, sizeof(err)), -1);
	assert_contains(err, "does not verify: IP address mismatch");
	/* TLS to a plain HTTP server. */
	assert_int_equal(get("https", "127.0.0.1", plain.port, "/data", &o,
	    &body, &len, err, sizeof(err)), -1);
	assert_contains(err, "127.0.0.1");
	/* A CA file that is not there. */
	o.ca_file = "/nonexistent/ca.pem";
	assert_int_equal(get("https", "127.0.0.1", tls.port, "/data", &o,
	    &body, &len, err, sizeof(err)), -1);
	assert_contains(err, "cannot load CA file /nonexistent/ca.pem");
}

static void
test_bad_urls(void **state)
{
	static const char *const bad[] = {
		"ldap://ldap.example.com/cn=CA?cACertificate",
		"ftp://127.0.0.1/x", "127.0.0.1/x", "http://", "", "http:///x",
		"http://127.0.0.1:99999/x",
	};
	struct fetch_opts o = { 5, 65536, NULL, 3, 0 };
	unsigned char *body;
	size_t len, i;
	char err[256];

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(fetch_get(bad[i], &o, &body, &len, err,
		    sizeof(err)), -1);
		assert_null(body);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(fetch_get(bad[0], &o, &body, &len, err,
	    sizeof(err)), -1);
	assert_contains(err, "scheme ldap is not supported");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_redirects),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_https),
		cmocka_unit_test(test_https_refused),
		cmocka_unit_test(test_bad_urls),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
