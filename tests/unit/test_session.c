/*
 * test_session.c: a session driven in-process, end to end, and the same
 * session with libevent's allocator failing at each of its allocations in
 * turn (event_set_mem_functions): every failure must end in a logged close
 * (or a logged refusal to start), never a crash, a hang, a leak or a double
 * free (the suite runs this under ASan + UBSan).
 *
 * The allocations counted are libevent's (event_set_mem_functions) and
 * those of chainfix's own modules, linked statically: this test is linked
 * with -Wl,--wrap=malloc,--wrap=calloc (tests/CMakeLists.txt), so the
 * session, its relay buffers and the metrics entry fail in turn too.
 * OpenSSL's allocations are left alone (never failed), but the large
 * ones (a record buffer) are tracked through CRYPTO_set_mem_functions(),
 * to see what an idle session keeps.  shutdown(2) is wrapped too
 * (--wrap=shutdown), to count the session's calls.
 *
 * The client is a blocking OpenSSL client on one end of a socketpair whose
 * other end goes to session_start(), as an accepted connection would; the
 * backend is a blocking server on loopback.  Both run in threads of their
 * own that never call libevent, so every libevent allocation counted is the
 * session's (and its event_base's, made fresh for each run so that the
 * descriptor tables are allocated again).  The client sends its request
 * and shuts down its sending side without close_notify; the backend reads
 * to the end and only then answers: both half-closes are exercised.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "allocfail.h"
#include "generation.h"
#include "log.h"
#include "metrics.h"
#include "session.h"
#include "tlsctx.h"
#include "testpki.h"

#define REQUEST		"hello, backend\n"
#define RUN_SECS	15	/* one run may not take longer: a hang */
#define MAX_FAILURES	500	/* more allocations than this: a bug */

struct fixture {
	char		*dir;
	struct generation *gen;
	SSL_CTX		*server;	/* the backend's */
	SSL_CTX		*client;
	int		 lfd;		/* the backend's listener */
	uint16_t	 port;
};

static struct fixture F;

/*
 * shutdown(2), counted: by the session on its client socket, and on any
 * other socket but the client thread's own.
 */
int __real_shutdown(int, int);
int __wrap_shutdown(int, int);

static atomic_int sd_watch_fd = -1;	/* the session's client socket */
static atomic_int sd_skip_fd = -1;	/* the client thread's */
static atomic_int sd_client, sd_other;

int
__wrap_shutdown(int fd, int how)
{
	if (fd == atomic_load(&sd_watch_fd))
		atomic_fetch_add(&sd_client, 1);
	else if (fd != atomic_load(&sd_skip_fd))
		atomic_fetch_add(&sd_other, 1);
	return __real_shutdown(fd, how);
}

/*
 * OpenSSL's allocations of at least BIG_ALLOC bytes (a TLS record buffer is
 * 16.6 KB or more), made by the thread that runs the session (this one),
 * while live.  Allocation goes to __real_malloc: never failed, nor counted
 * by allocfail.
 */
#define BIG_ALLOC	16000
#define BIG_MAX		256

void *__real_malloc(size_t);

static pthread_mutex_t big_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t big_thread;
static struct {
	uintptr_t p;		/* 0: free slot */
	long	 seq;
} big[BIG_MAX];
static long big_seq;

static void
big_note(void *p, size_t n)
{
	size_t i;

	if (p == NULL || n < BIG_ALLOC ||
	    !pthread_equal(pthread_self(), big_thread))
		return;
	pthread_mutex_lock(&big_lock);
	for (i = 0; i < BIG_MAX; i++)
		if (big[i].p == 0) {
			big[i].p = (uintptr_t)p;
			big[i].seq = ++big_seq;
			break;
		}
	pthread_mutex_unlock(&big_lock);
}

/* p: the address of a block freed or moved (only compared). */
static void
big_forget(uintptr_t p)
{
	size_t i;

	if (p == 0)
		return;
	pthread_mutex_lock(&big_lock);
	for (i = 0; i < BIG_MAX; i++)
		if (big[i].p == p)
			big[i].p = 0;
	pthread_mutex_unlock(&big_lock);
}

/* Live big allocations made since mark (a value of big_mark()). */
static int
big_live_since(long mark)
{
	size_t i;
	int n = 0;

	pthread_mutex_lock(&big_lock);
	for (i = 0; i < BIG_MAX; i++)
		if (big[i].p != 0 && big[i].seq > mark)
			n++;
	pthread_mutex_unlock(&big_lock);
	return n;
}

static long
big_mark(void)
{
	long m;

	pthread_mutex_lock(&big_lock);
	m = big_seq;
	pthread_mutex_unlock(&big_lock);
	return m;
}

static void *
ossl_malloc(size_t n, const char *file, int line)
{
	void *p = __real_malloc(n);

	(void)file;
	(void)line;
	big_note(p, n);
	return p;
}

static void *
ossl_realloc(void *old, size_t n, const char *file, int line)
{
	void *p;

	(void)file;
	(void)line;
	/* Before: old may be gone after (a failure would untrack it). */
	big_forget((uintptr_t)old);
	p = realloc(old, n);
	big_note(p, n);
	return p;
}

static void
ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	big_forget((uintptr_t)p);
	free(p);
}

/* The backend: read a connection to its end, echo, close. */
struct backend {
	pthread_t	 thread;
	atomic_int	 stop;
	int		 tls;
	int		 early;		/* answer once the request is in, not
					   at EOF */
	int		 served;	/* echoed a whole request */
};

static int
backend_accept(struct backend *b)
{
	struct pollfd pfd;

	pfd.fd = F.lfd;
	pfd.events = POLLIN;
	while (!atomic_load(&b->stop)) {
		if (poll(&pfd, 1, 50) == 1)
			return accept(F.lfd, NULL, NULL);
	}
	return -1;
}

/* Serve one connection: 1 if it was a whole request, answered. */
static int
backend_serve(struct backend *b, int fd)
{
	struct timeval tv = { RUN_SECS, 0 };
	char buf[256];
	size_t got = 0;
	SSL *ssl = NULL;
	int n;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (b->tls) {
		if ((ssl = SSL_new(F.server)) == NULL ||
		    SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1)
			goto out;
	}
	for (;;) {
		n = ssl != NULL ? SSL_read(ssl, buf + got, (int)(sizeof(buf) -
		    got)) : (int)read(fd, buf + got, sizeof(buf) - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (b->early && got == strlen(REQUEST))
			break;
	}
	/*
	 * The client's half-close came through as our EOF (or, early, the
	 * request is in): answer now.
	 */
	if (got == strlen(REQUEST) && memcmp(buf, REQUEST, got) == 0) {
		n = ssl != NULL ? SSL_write(ssl, buf, (int)got) :
		    (int)write(fd, buf, got);
		b->served = n == (int)got;
		/* Early: now the client's end. */
		while (b->early && (ssl != NULL ? SSL_read(ssl, buf,
		    (int)sizeof(buf)) : (int)read(fd, buf, sizeof(buf))) > 0)
			;
	}
	if (ssl != NULL)
		(void)SSL_shutdown(ssl);
 out:
	SSL_free(ssl);
	ERR_clear_error();
	close(fd);
	return b->served;
}

/*
 * Accept until one connection was served or the run is over: a session of
 * an earlier run that failed after its connect can leave a connection in
 * the listen queue.
 */
static void *
backend_main(void *arg)
{
	struct backend *b = arg;
	int fd;

	while ((fd = backend_accept(b)) != -1)
		if (backend_serve(b, fd))
			break;
	return NULL;
}

/* The client: handshake, request, FIN (no close_notify), read the end. */
struct client {
	pthread_t	 thread;
	int		 fd;
	int		 idle;		/* read the echo, then sit idle until go
					   (the backend answers early) */
	atomic_int	 idling;	/* sitting idle */
	atomic_int	 go;
	int		 echoed;	/* got the request back, then the end */
};

static void *
client_main(void *arg)
{
	struct client *c = arg;
	struct timeval tv = { RUN_SECS, 0 };
	char buf[256];
	size_t got = 0;
	SSL *ssl;
	int n;

	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if ((ssl = SSL_new(F.client)) == NULL)
		goto out;
	if (SSL_set_fd(ssl, c->fd) != 1 ||
	    tlsctx_set_sni(ssl, "localhost") != 1 ||
	    SSL_connect(ssl) != 1 ||
	    SSL_write(ssl, REQUEST, (int)strlen(REQUEST)) !=
	    (int)strlen(REQUEST))
		goto out;
	if (c->idle) {
		while (got < strlen(REQUEST) && (n = SSL_read(ssl, buf + got,
		    (int)(sizeof(buf) - got))) > 0)
			got += (size_t)n;
		atomic_store(&c->idling, 1);
		while (!atomic_load(&c->go))
			usleep(1000);
	}
	(void)shutdown(c->fd, SHUT_WR);
	while ((n = SSL_read(ssl, buf + got, (int)(sizeof(buf) - got))) > 0)
		got += (size_t)n;
	/* The backend's end arrives as close_notify: a clean end. */
	c->echoed = SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN &&
	    got == strlen(REQUEST) && memcmp(buf, REQUEST, got) == 0;
 out:
	SSL_free(ssl);
	ERR_clear_error();
	close(c->fd);
	return NULL;
}

/* The worker's event_base, as worker.c makes it. */
static struct event_base *
base_new(void)
{
	struct event_config *cfg;
	struct event_base *base;

	assert_non_null(cfg = event_config_new());
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	event_config_set_max_dispatch_interval(cfg, NULL, 64, 0);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	assert_non_null(base);
	return base;
}

struct run {
	int		 started;	/* session_start() returned 0 */
	int		 echoed;
	int		 served;
	int		 sd_client;	/* shutdown(2) on the client socket */
	int		 sd_backend;	/* on the backend socket */
	int		 idle_big;	/* idle: OpenSSL record buffers the
					   session held (-1: not measured) */
	char		*log;		/* what was logged (stderr) */
};

/*
 * One session end to end on gl (fail_at: the libevent allocation to fail,
 * 0 for none).  Asserts what every run must do: end within RUN_SECS with
 * nothing left behind.
 */
static void
run_session_idle(struct gen_listen *gl, int tls_backend, long fail_at,
    int idle, struct run *r)
{
	struct sockaddr_in sin;
	struct session_list list;
	struct session_env env;
	struct event_base *base;
	struct evdns_base *dns;
	struct backend b;
	struct client c;
	struct timespec t0, t;
	long mark;
	int sv[2], i;

	memset(r, 0, sizeof(*r));
	r->idle_big = -1;
	memset(&list, 0, sizeof(list));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	base = base_new();
	assert_non_null(dns = evdns_base_new(base, 0));
	assert_int_equal(evdns_base_load_hosts(dns, NULL), 0);
	env.base = base;
	env.dns = dns;
	env.list = &list;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(evutil_make_socket_nonblocking(sv[0]), 0);
	b.tls = tls_backend;
	b.early = idle;
	assert_int_equal(pthread_create(&b.thread, NULL, backend_main, &b), 0);
	c.fd = sv[1];
	c.idle = idle;
	atomic_store(&c.go, !idle);
	atomic_store(&sd_watch_fd, sv[0]);
	atomic_store(&sd_skip_fd, sv[1]);
	atomic_store(&sd_client, 0);
	atomic_store(&sd_other, 0);
	assert_int_equal(pthread_create(&c.thread, NULL, client_main, &c), 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(40000);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	testpki_capture_start();
	mark = big_mark();
	allocfail_arm(fail_at);
	r->started = session_start(&env, sv[0], (struct sockaddr *)&sin,
	    sizeof(sin), generation_ref(F.gen), gl) == 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (list.n > 0) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > RUN_SECS)
			break;
		if (!atomic_load(&c.go) && atomic_load(&c.idling)) {
			/* Let the session finish what it was doing. */
			for (i = 0; i < 20; i++) {
				event_base_loop(base, EVLOOP_ONCE |
				    EVLOOP_NONBLOCK);
				usleep(1000);
			}
			r->idle_big = big_live_since(mark);
			atomic_store(&c.go, 1);
		}
		if (list.n > 0)
			usleep(1000);
	}
	allocfail_arm(0);
	if (list.n > 0) {
		session_close_all(&list, "test: hung");
		r->log = testpki_capture_end();
		fail_msg("the session did not end within %ds (failing "
		    "allocation %ld)\n%s", RUN_SECS, fail_at, r->log);
	}
	session_close_all(&list, "test: done");
	r->log = testpki_capture_end();

	atomic_store(&b.stop, 1);
	pthread_join(c.thread, NULL);
	pthread_join(b.thread, NULL);
	r->echoed = c.echoed;
	r->served = b.served;
	r->sd_client = atomic_load(&sd_client);
	r->sd_backend = atomic_load(&sd_other);
	atomic_store(&sd_watch_fd, -1);
	atomic_store(&sd_skip_fd, -1);
	assert_int_equal(session_count(), 0);
	assert_null(list.pool);
	evdns_base_free(dns, 0);
	event_base_free(base);
}

static void
run_session(struct gen_listen *gl, int tls_backend, long fail_at,
    struct run *r)
{
	run_session_idle(gl, tls_backend, fail_at, 0, r);
}

static struct gen_listen *
listen_of(const char *site)
{
	size_t i;

	for (i = 0; i < F.gen->nsites; i++)
		if (strcmp(F.gen->sites[i].cfg->name, site) == 0)
			return F.gen->sites[i].listen;
	fail_msg("no site %s", site);
	return NULL;
}

static long long
closed_count(const char *site, const char *reason)
{
	struct evbuffer *b;
	char series[128], *text, *p;
	long long v = -1;
	size_t n;

	assert_non_null(b = evbuffer_new());
	assert_int_equal(metrics_render(b), 0);
	n = evbuffer_get_length(b);
	assert_non_null(text = malloc(n + 1));
	assert_int_equal(evbuffer_remove(b, text, n), (int)n);
	text[n] = '\0';
	evbuffer_free(b);
	snprintf(series, sizeof(series),
	    "chainfix_sessions_closed_total{site=\"%s\",reason=\"%s\"} ",
	    site, reason);
	if ((p = strstr(text, series)) != NULL)
		v = strtoll(p + strlen(series), NULL, 10);
	free(text);
	return v;
}

/* The session works end to end in both shapes, half-closes included. */
static void
test_relay(void **state)
{
	struct run r;

	(void)state;
	run_session(listen_of("tls"), 1, 0, &r);
	assert_true(r.started);
	assert_true(r.served);
	assert_true(r.echoed);
	assert_non_null(strstr(r.log, "site=tls backend=127.0.0.1:"));
	assert_non_null(strstr(r.log, "in=15 out=15 "));
	assert_non_null(strstr(r.log, "reason=client_closed: client closed"));
	/*
	 * The client's FIN is passed on with shutdown(2) (the backend still
	 * answers); the backend's end, the last, with close(2) alone: the
	 * client saw close_notify and EOF all the same (echoed).
	 */
	assert_int_equal(r.sd_backend, 1);
	assert_int_equal(r.sd_client, 0);
	free(r.log);

	run_session(listen_of("named"), 0, 0, &r);
	assert_true(r.started && r.served && r.echoed);
	assert_non_null(strstr(r.log, "site=named backend=localhost:"));
	assert_non_null(strstr(r.log, "reason=client_closed"));
	free(r.log);
	assert_true(closed_count("tls", "client_closed") >= 1);
	assert_true(closed_count("named", "client_closed") >= 1);
}

/*
 * A session that sits idle after a request and its answer holds none of
 * OpenSSL's record buffers: not even the write buffer OpenSSL set up on
 * the backend leg to read the backend's TLS 1.3 tickets (held until the
 * session ended, before side_release()).
 */
static void
test_idle_buffers(void **state)
{
	struct run r;

	(void)state;
	run_session_idle(listen_of("tls"), 1, 0, 1, &r);
	assert_true(r.started && r.served && r.echoed);
	assert_int_equal(r.idle_big, 0);
	free(r.log);
}

/*
 * Fail the 1st, 2nd, ... allocation of a whole session until a
 * run needs no more; each run must close (or refuse) the session with a
 * log line and leave nothing behind.  (When evdns itself loses a request
 * to a failed allocation, the session's connect_timeout ends it: 2 s.)
 */
static void
oom_each(const char *site, int tls_backend)
{
	struct run r;
	long i, points = 0;

	for (i = 1; i <= MAX_FAILURES; i++) {
		run_session(listen_of(site), tls_backend, i, &r);
		if (!allocfail_failed()) {
			/* Past the last allocation: it must just work. */
			assert_true(r.started && r.served && r.echoed);
			free(r.log);
			break;
		}
		points++;
		if (r.started) {
			if (strstr(r.log, " reason=") == NULL)
				fail_msg("failing allocation %ld of site %s: "
				    "no session line\n%s", i, site, r.log);
		} else if (strstr(r.log, "session") == NULL)
			fail_msg("failing allocation %ld of site %s: "
			    "session_start refused silently\n%s", i, site,
			    r.log);
		free(r.log);
	}
	assert_true(i <= MAX_FAILURES);
	/* Something was failed: the test is not vacuous. */
	assert_true(points > 0);
	print_message("site %s: %ld allocations failed in turn\n", site,
	    points);
}

static void
test_oom_tls_literal(void **state)
{
	(void)state;
	oom_each("tls", 1);
	assert_true(closed_count("tls", "resources") >= 1);
}

static void
test_oom_plain_named(void **state)
{
	(void)state;
	oom_each("named", 0);
}

static int
setup(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct testpki *pki;
	char *conf, *p_leaf, *p_key, *p_full, *p_int, *p_root;
	FILE *f;

	(void)state;
	F.dir = testpki_tmpdir();
	pki = testpki_new();
	testpki_write(pki, F.dir);
	testpki_free(pki);
	p_leaf = testpki_path(F.dir, "leaf.pem");
	p_key = testpki_path(F.dir, "leaf.key");
	p_full = testpki_path(F.dir, "leaf-full.pem");
	p_int = testpki_path(F.dir, "intermediates");
	p_root = testpki_path(F.dir, "root.pem");

	F.lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (F.lfd == -1 || bind(F.lfd, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1 || listen(F.lfd, 16) == -1 ||
	    getsockname(F.lfd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	F.port = ntohs(sin.sin_port);

	conf = testpki_path(F.dir, "chainfix.conf");
	if ((f = fopen(conf, "w")) == NULL)
		return -1;
	fprintf(f, "[global]\nallow_root = yes\nlog_level = info\n\n"
	    "[tls]\nlisten = 127.0.0.1:1\ncert = %s\nkey = %s\n"
	    "intermediates = %s\nroots = %s\nbackend = 127.0.0.1:%u\n"
	    "backend_ca = %s\nconnect_timeout = 2\nhandshake_timeout = 3\n"
	    "idle_timeout = 5\n\n"
	    "[named]\nlisten = 127.0.0.1:2\ncert = %s\nkey = %s\n"
	    "intermediates = %s\nroots = %s\nbackend = localhost:%u\n"
	    "backend_tls = no\nconnect_timeout = 2\nhandshake_timeout = 3\n"
	    "idle_timeout = 5\n",
	    p_leaf, p_key, p_int, p_root, (unsigned)F.port, p_root,
	    p_leaf, p_key, p_int, p_root, (unsigned)F.port);
	fclose(f);
	F.gen = generation_load(conf, 1);
	free(conf);
	if (F.gen == NULL)
		return -1;

	F.server = SSL_CTX_new(TLS_server_method());
	F.client = SSL_CTX_new(TLS_client_method());
	if (F.server == NULL || F.client == NULL ||
	    SSL_CTX_use_certificate_chain_file(F.server, p_full) != 1 ||
	    SSL_CTX_use_PrivateKey_file(F.server, p_key,
	    SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_file(F.client, p_root) != 1)
		return -1;
	SSL_CTX_set_verify(F.client, SSL_VERIFY_PEER, NULL);
	/* The proxy serves the chain it built: the client checks it. */
	free(p_leaf);
	free(p_key);
	free(p_full);
	free(p_int);
	free(p_root);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	SSL_CTX_free(F.server);
	SSL_CTX_free(F.client);
	generation_unref(F.gen);
	close(F.lfd);
	testpki_rmtree(F.dir);
	free(F.dir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay),
		cmocka_unit_test(test_idle_buffers),
		cmocka_unit_test(test_oom_tls_literal),
		cmocka_unit_test(test_oom_plain_named),
	};

	/* Before OpenSSL allocates anything. */
	big_thread = pthread_self();
	if (CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc,
	    ossl_free) != 1)
		return 1;
	/* Before any other libevent call, as libevent requires. */
	allocfail_init(NULL);
	signal(SIGPIPE, SIG_IGN);
	log_init("test_session", getenv("TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}
