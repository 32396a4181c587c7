/*
 * test_admin.c: the admin endpoint over real HTTP on loopback.
 *
 * The endpoint runs on a private event_base in a thread of its own; the
 * test speaks HTTP/1.0 to it over a blocking socket, so every request is a
 * whole exchange ending at the server's close.  The sites are real chains
 * built by chain_build() from the test PKI.
 *
 * test_oom_accept fails each allocation of an admin connection in turn:
 * libevent's (event_set_mem_functions) and admin.c's own (this test is
 * linked with -Wl,--wrap=malloc,--wrap=calloc, tests/CMakeLists.txt).
 * Every failure must end with the connection closed and forgotten: no
 * crash, hang, leak, descriptor left open or connection left counted.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "admin.h"
#include "allocfail.h"
#include "chain.h"
#include "config.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "testpki.h"

#define WEIRD_SITE	"we\"ird\\site\nx"
#define OOM_MAX		1000	/* more allocations than this: a bug */

/*
 * Allocations whose failure libevent 2.1.12 does not survive itself, by
 * the function that allocates and the one that called it: a strdup() in
 * evhttp_connection_base_bufferevent_new() that fails frees the half-made
 * connection, whose event_base is not yet set (NULL dereference in
 * event_callback_cancel_()); in evhttp_request_new(), a header list that
 * cannot be allocated has the request freed with that list NULL (NULL
 * dereference in evhttp_clear_headers()).  Such an allocation succeeds and
 * the next one fails instead.
 */
static const struct {
	const char	*alloc;
	const char	*caller;
	size_t		 size;	/* 0: any */
} libevent_oom_bugs[] = {
	{ "event_mm_strdup_", "evhttp_connection_base_bufferevent_new", 0 },
	{ "event_mm_calloc_", "evhttp_request_new",
	    sizeof(struct evkeyvalq) },
};

static int
libevent_oom_bug(size_t size)
{
	void *frames[8];
	const char *names[8];
	Dl_info info;
	size_t i, j;
	int n;

	n = backtrace(frames, 8);
	for (i = 0; i < (size_t)n; i++)
		names[i] = dladdr(frames[i], &info) != 0 &&
		    info.dli_sname != NULL ? info.dli_sname : "";
	for (j = 0; j < sizeof(libevent_oom_bugs) /
	    sizeof(libevent_oom_bugs[0]); j++)
		for (i = 0; i + 1 < (size_t)n; i++)
			if (strcmp(names[i], libevent_oom_bugs[j].alloc) == 0 &&
			    strcmp(names[i + 1],
			    libevent_oom_bugs[j].caller) == 0 &&
			    (libevent_oom_bugs[j].size == 0 ||
			    libevent_oom_bugs[j].size == size))
				return 1;
	return 0;
}

struct fixture {
	char			*dir;
	struct testpki		*pki;
	struct chain		*chains[2];
	struct admin_site	 sites[3];
	size_t			 nsites;
	atomic_int		 draining;
	struct event_base	*base;
	struct admin		*admin;
	pthread_t		 thread;
	uint16_t		 port;
	int			 family;
};

static int
fake_draining(void *arg)
{
	struct fixture *f = arg;

	return atomic_load(&f->draining);
}

static int
fake_site(void *arg, size_t i, struct admin_site *site)
{
	struct fixture *f = arg;

	if (i >= f->nsites)
		return -1;
	*site = f->sites[i];
	return 0;
}

static const struct admin_ops fake_ops = { fake_draining, fake_site };

static struct chain *
build(const char *dir, const char *cert, const char *key, int legacy)
{
	struct chain_spec spec;
	struct chain *c;
	char *certp, *keyp, *inter, *roots, *old;

	certp = testpki_path(dir, cert);
	keyp = testpki_path(dir, key);
	inter = testpki_path(dir, "intermediates");
	roots = testpki_path(dir, "root.pem");
	old = testpki_path(dir, "root-old.pem");
	memset(&spec, 0, sizeof(spec));
	spec.label = cert;
	spec.cert = certp;
	spec.key = keyp;
	spec.intermediates = inter;
	spec.roots = roots;
	spec.need_key = 1;
	/* The directory holds int1's cross-sign by the old root. */
	if (legacy)
		spec.legacy_roots = old;
	testpki_capture_start();	/* README.txt in intermediates warns */
	c = chain_build(&spec);
	free(testpki_capture_end());
	assert_non_null(c);
	assert_true((chain_legacy(c) != NULL) == legacy);
	free(old);
	free(certp);
	free(keyp);
	free(inter);
	free(roots);
	return c;
}

static void *
loop_thread(void *arg)
{
	struct fixture *f = arg;

	event_base_loop(f->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static int
start(struct fixture *f, const char *host)
{
	struct config_hostport hp;

	assert_non_null(f->base = event_base_new());
	memset(&hp, 0, sizeof(hp));
	hp.host = (char *)(uintptr_t)host;
	hp.port = 0;
	hp.text = hp.host;
	testpki_capture_start();
	f->admin = admin_start(f->base, &hp, &fake_ops, f);
	free(testpki_capture_end());
	if (f->admin == NULL) {
		event_base_free(f->base);
		f->base = NULL;
		return -1;
	}
	f->port = admin_port(f->admin);
	assert_true(f->port != 0);
	f->family = strchr(host, ':') != NULL ? AF_INET6 : AF_INET;
	assert_int_equal(pthread_create(&f->thread, NULL, loop_thread, f), 0);
	return 0;
}

static void
stop(struct fixture *f)
{
	if (f->base == NULL)
		return;
	assert_int_equal(event_base_loopexit(f->base, NULL), 0);
	assert_int_equal(pthread_join(f->thread, NULL), 0);
	/* The loop is no longer running: freeing here is as good as on it. */
	admin_free(f->admin);
	f->admin = NULL;
	event_base_free(f->base);
	f->base = NULL;
}

/* The PKI and chains are made once: RSA key generation is the slow part. */
static int
group_setup(void **state)
{
	struct fixture *f;

	assert_non_null(f = calloc(1, sizeof(*f)));
	f->dir = testpki_tmpdir();
	f->pki = testpki_new();
	testpki_write(f->pki, f->dir);
	f->chains[0] = build(f->dir, "leaf.pem", "leaf.key", 1);
	f->chains[1] = build(f->dir, "leaf2.pem", "leaf2.key", 0);
	f->sites[0].name = "mail";
	f->sites[0].chain = f->chains[0];
	f->sites[1].name = WEIRD_SITE;
	f->sites[1].chain = f->chains[1];
	f->sites[2].name = "nochain";
	f->sites[2].chain = NULL;
	f->nsites = 3;
	*state = f;
	return 0;
}

/* After each test: stop its endpoint, forget its state. */
static int
reset(void **state)
{
	struct fixture *f = *state;

	stop(f);
	atomic_store(&f->draining, 0);
	return 0;
}

static int
group_teardown(void **state)
{
	struct fixture *f = *state;

	stop(f);
	chain_free(f->chains[0]);
	chain_free(f->chains[1]);
	testpki_free(f->pki);
	testpki_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

struct response {
	int	 status;
	char	*head;		/* status line and headers */
	char	*body;
	size_t	 body_len;
};

static void
response_free(struct response *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Send raw, read to EOF; the whole answer, NUL-terminated (free() it). */
static char *
http_exchange(struct fixture *f, const char *raw)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct timeval tv = { 60, 0 };	/* a hang fails, it never blocks ctest */
	socklen_t len;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	ssize_t got;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (f->family == AF_INET6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(f->port);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(f->port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	}
	assert_true((fd = socket(f->family, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(write(fd, raw, strlen(raw)), (ssize_t)strlen(raw));
	for (;;) {
		if (cap - n < 4096) {
			cap = cap * 2 + 8192;
			assert_non_null(buf = realloc(buf, cap));
		}
		got = read(fd, buf + n, cap - n - 1);
		assert_true(got >= 0);
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	buf[n] = '\0';
	return buf;
}

/* Send raw, read to EOF, split the response. */
static void
http_raw(struct fixture *f, const char *raw, struct response *r)
{
	char *buf, *sep;
	size_t n;

	buf = http_exchange(f, raw);
	n = strlen(buf);
	memset(r, 0, sizeof(*r));
	if (strncmp(buf, "HTTP/1.", 7) != 0) {
		fail_msg("not an HTTP response to \"%.40s\": \"%.200s\"", raw,
		    buf);
	}
	r->status = atoi(buf + 9);
	assert_non_null(sep = strstr(buf, "\r\n\r\n"));
	*sep = '\0';
	assert_non_null(r->head = strdup(buf));
	r->body_len = n - (size_t)(sep + 4 - buf);
	assert_non_null(r->body = malloc(r->body_len + 1));
	memcpy(r->body, sep + 4, r->body_len);
	r->body[r->body_len] = '\0';
	free(buf);
}

static void
http_get(struct fixture *f, const char *method, const char *path,
    struct response *r)
{
	char req[256];

	(void)snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: localhost"
	    "\r\nConnection: close\r\n\r\n", method, path);
	http_raw(f, req, r);
}

/* A header's value (case-insensitive name), or NULL. */
static const char *
header(const struct response *r, const char *name, char *buf, size_t len)
{
	const char *p = r->head;
	size_t n = strlen(name);
	const char *eol;

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			eol = strstr(p, "\r\n");
			if (eol == NULL)
				eol = p + strlen(p);
			(void)snprintf(buf, len, "%.*s", (int)(eol - p), p);
			return buf;
		}
	}
	return NULL;
}

static void
test_healthz(void **state)
{
	struct fixture *f = *state;
	struct response r;
	char buf[128];

	assert_int_equal(start(f, "127.0.0.1"), 0);
	http_get(f, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	assert_non_null(header(&r, "Content-Type", buf, sizeof(buf)));
	assert_true(strncmp(buf, "text/plain", 10) == 0);
	response_free(&r);

	/* HEAD: same status and length, no body. */
	http_get(f, "HEAD", "/healthz", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	assert_non_null(header(&r, "Content-Length", buf, sizeof(buf)));
	assert_string_equal(buf, "3");
	response_free(&r);

	atomic_store(&f->draining, 1);
	http_get(f, "GET", "/healthz", &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "draining\n");
	response_free(&r);

	atomic_store(&f->draining, 0);
	http_get(f, "GET", "/healthz?verbose=1", &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
}

/*
 * /readyz: ready while serving and every site has its chain and a usable
 * backend; otherwise 503 with one line per reason.  /healthz (liveness)
 * ignores the backends.
 */
static void
test_readyz(void **state)
{
	struct fixture *f = *state;
	struct config_hostport be = { (char *)(uintptr_t)"127.0.0.1", 9,
	    (char *)(uintptr_t)"127.0.0.1:9" };
	struct config_site cs;
	struct health_site *hs;
	struct response r;

	memset(&cs, 0, sizeof(cs));
	cs.name = (char *)(uintptr_t)"mail";
	cs.backends = &be;
	cs.nbackends = 1;
	cs.backend_retry = 3600;
	assert_non_null(hs = health_site_new(&cs));
	f->sites[0].health = hs;
	f->nsites = 2;		/* without "nochain" */
	assert_int_equal(start(f, "127.0.0.1"), 0);

	http_get(f, "GET", "/readyz", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ready\n");
	response_free(&r);

	/* Every backend of a site down (an active check failed). */
	testpki_capture_start();
	health_checked(hs, 0, 0, "connection refused");
	free(testpki_capture_end());
	http_get(f, "GET", "/readyz", &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "not ready: site mail: every backend is "
	    "down: 127.0.0.1:9\n");
	response_free(&r);
	http_get(f, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	response_free(&r);

	/* Draining too, and a site without its chain: every reason. */
	atomic_store(&f->draining, 1);
	f->nsites = 3;
	http_get(f, "GET", "/readyz", &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "not ready: draining\n"
	    "not ready: site mail: every backend is down: 127.0.0.1:9\n"
	    "not ready: site nochain: no certificate chain\n");
	response_free(&r);

	/* The backend answers a check again: ready once serving. */
	atomic_store(&f->draining, 0);
	f->nsites = 2;
	testpki_capture_start();
	health_checked(hs, 0, 1, NULL);
	free(testpki_capture_end());
	http_get(f, "HEAD", "/readyz", &r);
	assert_int_equal(r.status, 200);
	response_free(&r);

	/* Passive: a session could not connect; skipped for backend_retry. */
	testpki_capture_start();
	health_failed(hs, 0, "connect: connection refused");
	free(testpki_capture_end());
	http_get(f, "GET", "/readyz", &r);
	assert_int_equal(r.status, 503);
	response_free(&r);
	health_ok(hs, 0);
	http_get(f, "GET", "/readyz", &r);
	assert_int_equal(r.status, 200);
	response_free(&r);

	stop(f);
	f->sites[0].health = NULL;
	f->nsites = 3;
	health_site_free(hs);
}

static void
test_errors(void **state)
{
	struct fixture *f = *state;
	struct response r;
	char buf[128], *raw;

	assert_int_equal(start(f, "127.0.0.1"), 0);
	http_get(f, "GET", "/", &r);
	assert_int_equal(r.status, 404);
	response_free(&r);
	http_get(f, "GET", "/metricsx", &r);
	assert_int_equal(r.status, 404);
	response_free(&r);
	http_get(f, "GET", "/healthz/", &r);
	assert_int_equal(r.status, 404);
	response_free(&r);

	http_get(f, "POST", "/metrics", &r);
	assert_int_equal(r.status, 405);
	assert_non_null(header(&r, "Allow", buf, sizeof(buf)));
	assert_string_equal(buf, "GET, HEAD");
	response_free(&r);
	http_get(f, "DELETE", "/chains", &r);
	assert_int_equal(r.status, 405);
	response_free(&r);
	http_get(f, "OPTIONS", "/healthz", &r);
	assert_int_equal(r.status, 405);
	response_free(&r);

	/*
	 * A garbage request (here a TLS ClientHello's first bytes) is refused:
	 * evhttp closes the connection, or answers 4xx.  The endpoint lives on.
	 */
	raw = http_exchange(f, "\x16\x03\x01\x02\x00\x01\r\n\r\n");
	assert_true(raw[0] == '\0' || strncmp(raw, "HTTP/1.1 4", 10) == 0 ||
	    strncmp(raw, "HTTP/1.0 4", 10) == 0);
	free(raw);
	http_get(f, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
}

/* The escaped form of s as a Prometheus label value. */
static void
prom_escape(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	for (; *s != '\0' && n + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			buf[n++] = '\\';
			buf[n++] = *s;
		} else if (*s == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
		} else
			buf[n++] = *s;
	}
	buf[n] = '\0';
}

static long long
series_value(const char *body, const char *series)
{
	const char *p;
	size_t n = strlen(series);

	for (p = body; (p = strstr(p, series)) != NULL; p += n)
		if ((p == body || p[-1] == '\n') && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	fail_msg("no series %s in:\n%s", series, body);
	return -1;
}

static void
test_metrics(void **state)
{
	static const char *const names[] = {
#define NAME(sym, name, type, help) name,
		METRICS_COUNTERS(NAME)
#undef NAME
	};
	struct fixture *f = *state;
	const struct chain_cert *cc;
	struct response r;
	char series[1024], subj[600], site[64], buf[128];
	long long before;
	size_t i, d, served;
	int lines;
	const char *p;

	assert_int_equal(start(f, "127.0.0.1"), 0);
	http_get(f, "GET", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(header(&r, "Content-Type", buf, sizeof(buf)));
	assert_non_null(strstr(buf, "text/plain; version=0.0.4"));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		(void)snprintf(series, sizeof(series), "# TYPE %s ", names[i]);
		assert_non_null(strstr(r.body, series));
		(void)series_value(r.body, names[i]);
	}
	(void)series_value(r.body,
	    "chainfix_handshake_failures_total{reason=\"timeout\"}");
	assert_non_null(strstr(r.body, "# TYPE "
	    "chainfix_certificate_not_after_seconds gauge\n"));
	before = series_value(r.body, "chainfix_connections_accepted_total");

	/* Every served certificate of every site, with its notAfter. */
	for (i = 0; i < 2; i++) {
		prom_escape(f->sites[i].name, site, sizeof(site));
		served = 0;
		for (d = 0; d < chain_length(f->chains[i]); d++) {
			cc = chain_get(f->chains[i], d);
			prom_escape(cc->subject, subj, sizeof(subj));
			(void)snprintf(series, sizeof(series),
			    "chainfix_certificate_not_after_seconds{site=\"%s\","
			    "depth=\"%zu\",subject=\"%s\"}", site, d, subj);
			if (!cc->served) {
				/* The root is not served: no series. */
				assert_null(strstr(r.body, series));
				continue;
			}
			served++;
			assert_int_equal(series_value(r.body, series),
			    (long long)cc->not_after);
		}
		assert_int_equal(served, chain_served(f->chains[i]));
	}
	/* The weird name came out escaped, never raw. */
	assert_non_null(strstr(r.body, "site=\"we\\\"ird\\\\site\\nx\""));
	assert_null(strstr(r.body, "we\"ird"));
	for (lines = 0, p = r.body; (p = strstr(p,
	    "chainfix_certificate_not_after_seconds{")) != NULL; p++)
		lines++;
	assert_int_equal(lines, (int)(chain_served(f->chains[0]) +
	    chain_served(f->chains[1])));
	response_free(&r);

	/* Counters move between scrapes. */
	metrics_add(M_ACCEPTED, 5);
	http_get(f, "GET", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(series_value(r.body,
	    "chainfix_connections_accepted_total"), before + 5);
	response_free(&r);
}

/* Validate the JSON with Python's parser and check its content there. */
static int
json_check(const char *dir, const char *body, const char *leaf_sha)
{
	static const char script[] =
"import json, re, sys\n"
"d = json.load(open(sys.argv[1]))\n"
"s = d['sites']\n"
"assert [x['name'] for x in s] == ['mail', 'we\"ird\\\\site\\nx', 'nochain'], s\n"
"assert s[2]['chain'] == []\n"
"c = s[0]['chain']\n"
"assert s[0]['trusted'] is True\n"
"assert [x['depth'] for x in c] == list(range(len(c)))\n"
"assert len(c) == 4, c\n"
"assert c[0]['subject'].endswith('CN=localhost') or 'localhost' in c[0]['subject']\n"
"assert 'int2' in c[1]['subject'] and 'int1' in c[2]['subject']\n"
"assert 'root' in c[3]['subject']\n"
"assert [x['served'] for x in c] == [True, True, True, False]\n"
"assert c[0]['issuer'] == c[1]['subject'] and c[1]['issuer'] == c[2]['subject']\n"
"assert c[0]['sha256'] == sys.argv[2], (c[0]['sha256'], sys.argv[2])\n"
"for x in c:\n"
"    assert re.fullmatch(r'[0-9a-f]{64}', x['sha256'])\n"
"    assert re.fullmatch(r'\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ', x['not_after'])\n"
"    assert x['not_before'] < x['not_after']\n"
"    assert x['der_len'] > 100 and isinstance(x['source'], str)\n"
"    assert x['origin'] == 'config', x\n"
"assert s[0]['served_bytes'] == sum(x['der_len'] for x in c if x['served'])\n"
"l = s[0]['legacy']['chain']\n"
"assert len(l) == 4 and l[0]['sha256'] == c[0]['sha256'], l\n"
"assert 'int1' in l[2]['subject'] and 'old root' in l[2]['issuer'], l[2]\n"
"assert [x['served'] for x in l] == [True, True, True, False]\n"
"assert s[0]['legacy']['trusted'] is True\n"
"assert s[1]['legacy'] is None\n";
	char *jpath, *spath, cmd[2048];
	int status;

	jpath = testpki_path(dir, "chains.json");
	spath = testpki_path(dir, "check.py");
	testpki_write_file(jpath, body, strlen(body));
	testpki_write_file(spath, script, strlen(script));
	(void)snprintf(cmd, sizeof(cmd), "python3 '%s' '%s' %s", spath, jpath,
	    leaf_sha);
	status = system(cmd);
	free(jpath);
	free(spath);
	return status;
}

static void
test_chains(void **state)
{
	struct fixture *f = *state;
	const struct chain_cert *cc;
	struct response r;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	char hex[65], buf[128];
	size_t i;
	int status;

	assert_int_equal(start(f, "127.0.0.1"), 0);
	http_get(f, "GET", "/chains", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(header(&r, "Content-Type", buf, sizeof(buf)));
	assert_string_equal(buf, "application/json");

	/* The leaf's fingerprint, computed independently of chain.c. */
	assert_int_equal(X509_digest(f->pki->leaf, EVP_sha256(), md, &mdlen),
	    1);
	assert_int_equal(mdlen, 32);
	for (i = 0; i < 32; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_non_null(strstr(r.body, hex));
	cc = chain_get(f->chains[0], 0);
	assert_non_null(strstr(r.body, "\"served\":false"));
	assert_int_equal(memcmp(cc->sha256, md, 32), 0);

	if (system("python3 -c 'import json' >/dev/null 2>&1") != 0) {
		response_free(&r);
		skip();
	}
	status = json_check(f->dir, r.body, hex);
	if (status != 0)
		fail_msg("/chains JSON check failed (status %d):\n%s", status,
		    r.body);
	response_free(&r);
}

static void
test_ipv6(void **state)
{
	struct fixture *f = *state;
	struct response r;
	int fd;
	struct sockaddr_in6 sin6;

	/* No IPv6 loopback here (some containers): nothing to test. */
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	if ((fd = socket(AF_INET6, SOCK_STREAM, 0)) < 0)
		skip();
	if (bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == -1) {
		close(fd);
		skip();
	}
	close(fd);

	assert_int_equal(start(f, "::1"), 0);
	assert_int_equal(f->family, AF_INET6);
	http_get(f, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
}

/* An empty host ("*:port", ":port") is every address, IPv4 and IPv6. */
static void
test_any_address(void **state)
{
	struct fixture *f = *state;
	struct response r;
	struct sockaddr_in6 sin6;
	int fd, v6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	v6 = (fd = socket(AF_INET6, SOCK_STREAM, 0)) >= 0 &&
	    bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
	if (fd >= 0)
		close(fd);

	assert_int_equal(start(f, ""), 0);
	f->family = AF_INET;
	http_get(f, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
	if (v6) {
		f->family = AF_INET6;
		http_get(f, "GET", "/healthz", &r);
		assert_int_equal(r.status, 200);
		response_free(&r);
	}
}

/* The number of descriptors this process has open. */
static int
count_fds(void)
{
	DIR *d;
	struct dirent *de;
	int n = 0;

	assert_non_null(d = opendir("/proc/self/fd"));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* opendir's own */
}

struct conn_probe {
	struct fixture	*f;
	atomic_long	 n;	/* -1 until read */
};

static void
conn_probe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn_probe *p = arg;

	(void)fd;
	(void)what;
	atomic_store(&p->n, (long)admin_connections(p->f->admin));
}

/* admin_connections(), read on the loop's thread. */
static long
open_conns(struct fixture *f)
{
	struct conn_probe p = { f, -1 };
	int i;

	assert_int_equal(event_base_once(f->base, -1, EV_TIMEOUT,
	    conn_probe_cb, &p, NULL), 0);
	for (i = 0; i < 30000 && atomic_load(&p.n) == -1; i++)
		usleep(1000);
	assert_true(atomic_load(&p.n) != -1);
	return atomic_load(&p.n);
}

/*
 * Connect, send a request and read until the server closes, whatever it
 * sends (or fails to); a read timing out is a hang.
 */
static void
oom_exchange(struct fixture *f, unsigned long k)
{
	struct sockaddr_in sin;
	struct timeval tv = { 60, 0 };
	const char *req = "GET /metrics HTTP/1.0\r\n\r\n";
	char buf[4096];
	ssize_t got;
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(f->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	/* The server may close before reading it all: not an error here. */
	(void)send(fd, req, strlen(req), MSG_NOSIGNAL);
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		;
	if (got == -1 && errno != ECONNRESET)
		fail_msg("allocation %lu failed: %s", k, strerror(errno));
	close(fd);
}

/*
 * Each allocation of an admin connection (accept, set-up, request, answer,
 * close) fails in turn, on an endpoint made fresh for each run.  Its
 * socket is given a descriptor number past what the event_base's table
 * holds, so that adding its read event allocates too (and failing that is
 * the one way evhttp closes the socket itself under our bufferevent).
 * After each run the connection must be gone: nothing counted, its
 * descriptor closed; and the endpoint answers the next request in full.
 */
static void
test_oom_accept(void **state)
{
	struct fixture *f = *state;
	struct response r;
	unsigned long k;
	int base_fds, ep_fds, fill[64], nfill, i, failed;
	char *log;

	base_fds = count_fds();
	for (k = 1; k <= OOM_MAX; k++) {
		assert_int_equal(start(f, "127.0.0.1"), 0);
		ep_fds = count_fds();
		for (nfill = 0; nfill < 64; nfill++)
			assert_true((fill[nfill] = dup(0)) >= 0);
		testpki_capture_start();
		allocfail_arm((long)k);
		oom_exchange(f, k);
		failed = allocfail_failed();
		allocfail_arm(0);
		/* The close may come a loop pass after the client saw EOF. */
		for (i = 0; i < 1000 && open_conns(f) != 0; i++)
			usleep(10000);
		log = testpki_capture_end();
		for (i = 0; i < nfill; i++)
			close(fill[i]);
		for (i = 0; i < 1000 && count_fds() != ep_fds; i++)
			usleep(10000);
		if (open_conns(f) != 0 || count_fds() != ep_fds)
			fail_msg("allocation %lu failed: %ld connections, %d "
			    "descriptors (%d before); log:\n%s", k,
			    open_conns(f), count_fds(), ep_fds, log);
		free(log);
		http_get(f, "GET", "/healthz", &r);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body, "ok\n");
		response_free(&r);
		stop(f);
		if (!failed)
			break;	/* past the last allocation */
	}
	assert_int_equal(count_fds(), base_fds);
	assert_true(k > 1 && k <= OOM_MAX);
	print_message("%lu allocations failed in turn\n", k - 1);
}

/*
 * An address that is not this host's (TEST-NET-3, and no DNS involved):
 * NULL and a message naming it.
 */
static void
test_foreign_address(void **state)
{
	struct config_hostport hp;
	struct event_base *base;
	struct admin *a;
	char *log;

	(void)state;
	memset(&hp, 0, sizeof(hp));
	hp.host = (char *)(uintptr_t)"203.0.113.77";
	hp.port = 9100;
	hp.text = (char *)(uintptr_t)"203.0.113.77:9100";
	assert_non_null(base = event_base_new());
	testpki_capture_start();
	a = admin_start(base, &hp, &fake_ops, NULL);
	log = testpki_capture_end();
	assert_null(a);
	assert_non_null(strstr(log,
	    "admin_listen 203.0.113.77:9100: cannot listen"));
	free(log);
	event_base_free(base);
}

/* A port already taken: NULL and a log line naming admin_listen. */
static void
test_bind_fails(void **state)
{
	struct fixture *f = *state;
	struct config_hostport hp;
	struct event_base *base;
	struct admin *a;
	char text[64], *log;

	assert_int_equal(start(f, "127.0.0.1"), 0);
	(void)snprintf(text, sizeof(text), "127.0.0.1:%u", (unsigned)f->port);
	memset(&hp, 0, sizeof(hp));
	hp.host = (char *)(uintptr_t)"127.0.0.1";
	hp.port = f->port;
	hp.text = text;
	assert_non_null(base = event_base_new());
	testpki_capture_start();
	a = admin_start(base, &hp, &fake_ops, f);
	log = testpki_capture_end();
	assert_null(a);
	assert_non_null(strstr(log, "admin_listen"));
	assert_non_null(strstr(log, text));
	free(log);
	event_base_free(base);
	admin_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_healthz, reset),
		cmocka_unit_test_teardown(test_readyz, reset),
		cmocka_unit_test_teardown(test_errors, reset),
		cmocka_unit_test_teardown(test_metrics, reset),
		cmocka_unit_test_teardown(test_chains, reset),
		cmocka_unit_test_teardown(test_ipv6, reset),
		cmocka_unit_test_teardown(test_any_address, reset),
		cmocka_unit_test_teardown(test_foreign_address, reset),
		cmocka_unit_test_teardown(test_bind_fails, reset),
		cmocka_unit_test_teardown(test_oom_accept, reset),
	};

	/* Before any other libevent call, as libevent requires. */
	allocfail_init(libevent_oom_bug);
	/* backtrace() loads its unwinder on first use: not while counting. */
	{
		void *frame;

		(void)backtrace(&frame, 1);
	}
	log_init("test_admin", LOG_LEVEL_INFO, 0);
	/* event_base_loopexit() comes from the test thread. */
	if (evthread_use_pthreads() == -1)
		return 1;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
