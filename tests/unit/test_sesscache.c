/*
 * test_sesscache.c: the TLS 1.2 session cache in slots taken once: the
 * ring and its index (oldest out, expiry, removal, owners kept apart), and
 * OpenSSL resuming through it with its own cache off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "metrics.h"
#include "sesscache.h"
#include "testpki.h"

static struct testpki *P;

static int
setup(void **state)
{
	(void)state;
	P = testpki_new();
	return P == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	testpki_free(P);
	return 0;
}

/* Session id n (32 bytes) and its "encoding". */
static void
mkid(unsigned char id[32], unsigned n)
{
	memset(id, 0, 32);
	snprintf((char *)id, 32, "session-%u", n);
}

static size_t
get(struct sesscache *c, uintptr_t owner, unsigned n, time_t now,
    unsigned char *out)
{
	unsigned char id[32];

	mkid(id, n);
	return sesscache_get(c, owner, id, sizeof(id), now, out,
	    SESSCACHE_MAX);
}

static int
put(struct sesscache *c, uintptr_t owner, unsigned n, size_t len,
    time_t expires)
{
	unsigned char id[32], der[SESSCACHE_MAX + 1];

	mkid(id, n);
	memset(der, (int)n, sizeof(der));
	return sesscache_put(c, owner, id, sizeof(id), der, len, expires);
}

static void
test_ring(void **state)
{
	struct sesscache *c;
	unsigned char out[SESSCACHE_MAX], id[32];
	unsigned n;

	(void)state;
	assert_null(sesscache_new(0));
	assert_non_null(c = sesscache_new(4));
	for (n = 1; n <= 4; n++)
		assert_int_equal(put(c, 7, n, 100 + n, 1000), 0);
	for (n = 1; n <= 4; n++) {
		assert_int_equal(get(c, 7, n, 10, out), 100 + n);
		assert_int_equal(out[0], n);
		assert_int_equal(out[99 + n], n);
	}
	/* A fifth session takes the oldest one's slot. */
	assert_int_equal(put(c, 7, 5, 50, 1000), 0);
	assert_int_equal(get(c, 7, 1, 10, out), 0);
	for (n = 2; n <= 5; n++)
		assert_int_not_equal(get(c, 7, n, 10, out), 0);

	/* Another owner (another site, or generation) does not get it. */
	assert_int_equal(get(c, 8, 5, 10, out), 0);
	/* Expired is gone. */
	assert_int_equal(get(c, 7, 5, 1000, out), 0);
	assert_int_equal(get(c, 7, 5, 10, out), 0);
	/* Removed is gone, the others stay. */
	mkid(id, 4);
	sesscache_remove(c, id, sizeof(id));
	assert_int_equal(get(c, 7, 4, 10, out), 0);
	assert_int_equal(get(c, 7, 3, 10, out), 103);
	/* The same id again: the newest encoding. */
	assert_int_equal(put(c, 7, 3, 33, 1000), 0);
	assert_int_equal(get(c, 7, 3, 10, out), 33);

	/* Refused: too large, no id, an id too long. */
	assert_int_equal(put(c, 7, 9, SESSCACHE_MAX + 1, 1000), -1);
	assert_int_equal(get(c, 7, 9, 10, out), 0);
	assert_int_equal(sesscache_put(c, 7, id, 0, out, 1, 1000), -1);
	assert_int_equal(sesscache_put(c, 7, out, 33, out, 1, 1000), -1);
	sesscache_free(c);
	sesscache_free(NULL);
}

/* Many more sessions than slots, ids sharing index groups: every one of
 * the last nslots is found. */
static void
test_many(void **state)
{
	struct sesscache *c;
	unsigned char out[SESSCACHE_MAX];
	unsigned n;

	(void)state;
	assert_non_null(c = sesscache_new(64));
	for (n = 0; n < 1000; n++)
		assert_int_equal(put(c, 1, n, 20, 1000), 0);
	for (n = 0; n < 1000; n++)
		assert_int_equal(get(c, 1, n, 10, out), n >= 936 ? 20 : 0);
	sesscache_free(c);
}

static SSL_CTX *
server_new(struct sesscache *cache)
{
	SSL_CTX *ctx;

	assert_non_null(ctx = SSL_CTX_new(TLS_server_method()));
	assert_int_equal(SSL_CTX_use_certificate(ctx, P->leaf), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, P->leaf_key), 1);
	assert_int_equal(SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)"site", 4), 1);
	assert_int_equal(sesscache_attach(ctx, cache), 0);
	return ctx;
}

/*
 * One TLS 1.2 connection (session ids only, no tickets) to sctx, offering
 * *sess if not NULL, which is then replaced by the session it ends with.
 * Returns whether it resumed.
 */
static int
connect_12(SSL_CTX *sctx, SSL_SESSION **sess, int version)
{
	SSL_CTX *cctx;
	SSL *c, *s;
	int reused;

	assert_non_null(cctx = SSL_CTX_new(TLS_client_method()));
	assert_int_equal(SSL_CTX_set_max_proto_version(cctx, version), 1);
	SSL_CTX_set_options(cctx, SSL_OP_NO_TICKET);
	assert_non_null(c = SSL_new(cctx));
	assert_non_null(s = SSL_new(sctx));
	if (*sess != NULL)
		assert_int_equal(SSL_set_session(c, *sess), 1);
	assert_true(testpki_handshake(c, s));
	reused = SSL_session_reused(s);
	assert_int_equal(SSL_session_reused(c), reused);
	/* A clean close, or OpenSSL drops the session. */
	(void)SSL_shutdown(s);
	(void)SSL_shutdown(c);
	SSL_SESSION_free(*sess);
	*sess = SSL_get1_session(c);
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	ERR_clear_error();
	return reused;
}

static void
test_openssl(void **state)
{
	struct sesscache *cache;
	SSL_CTX *a, *b;
	SSL_SESSION *sess = NULL, *sa;
	unsigned char out[SESSCACHE_MAX];
	const unsigned char *id;
	unsigned int idlen;
	uintptr_t owner;

	(void)state;
	assert_non_null(cache = sesscache_new(16));
	assert_int_equal(sesscache_attach(NULL, NULL), -1);
	a = server_new(cache);
	b = server_new(cache);

	assert_false(connect_12(a, &sess, TLS1_2_VERSION));
	assert_non_null(sess);
	/* Kept here, encoded, and not in OpenSSL's own cache. */
	id = SSL_SESSION_get_id(sess, &idlen);
	assert_int_equal(idlen, 32);
	for (owner = 1; owner < 1000; owner++)
		if (sesscache_get(cache, owner, id, idlen, time(NULL), out,
		    sizeof(out)) != 0)
			break;
	assert_int_not_equal(owner, 1000);
	assert_int_equal(SSL_CTX_sess_number(a), 0);

	/* It resumes on a, again and again. */
	assert_true(connect_12(a, &sess, TLS1_2_VERSION));
	assert_true(connect_12(a, &sess, TLS1_2_VERSION));
	/* Never on b, though b shares the cache and the id context. */
	sa = sess;
	SSL_SESSION_up_ref(sa);
	assert_false(connect_12(b, &sess, TLS1_2_VERSION));
	/* b's own session resumes on b. */
	assert_true(connect_12(b, &sess, TLS1_2_VERSION));
	assert_true(connect_12(a, &sa, TLS1_2_VERSION));

	/* TLS 1.3 sessions are not kept: they travel in their ticket. */
	SSL_SESSION_free(sess);
	sess = NULL;
	assert_false(connect_12(a, &sess, TLS1_3_VERSION));
	id = SSL_SESSION_get_id(sess, &idlen);
	for (owner = 1; owner < 1000; owner++)
		assert_int_equal(sesscache_get(cache, owner, id, idlen,
		    time(NULL), out, sizeof(out)), 0);

	SSL_SESSION_free(sess);
	SSL_SESSION_free(sa);
	SSL_CTX_free(a);
	SSL_CTX_free(b);
	sesscache_free(cache);
}

/* The process's cache is one, large enough for a crowd, and counted. */
static void
test_shared(void **state)
{
	struct sesscache *c;
	unsigned n;
	unsigned char out[SESSCACHE_MAX];
	int64_t slot;

	(void)state;
	assert_non_null(c = sesscache_shared());
	assert_ptr_equal(sesscache_shared(), c);
	assert_int_equal(metrics_get(M_SESSCACHE_BYTES), 0);
	for (n = 0; n < 10000; n++)
		assert_int_equal(put(c, 3, n, 200, time(NULL) + 60), 0);
	for (n = 0; n < 10000; n++)
		assert_int_equal(get(c, 3, n, time(NULL), out), 200);
	/* /metrics tells what the slots written cost: 10,000 of them. */
	slot = metrics_get(M_SESSCACHE_BYTES) / 10000;
	assert_true(slot > SESSCACHE_MAX);
	assert_int_equal(metrics_get(M_SESSCACHE_BYTES), slot * 10000);
	/* Writing a session again takes the next slot. */
	assert_int_equal(put(c, 3, 0, 200, time(NULL) + 60), 0);
	assert_int_equal(metrics_get(M_SESSCACHE_BYTES), slot * 10001);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_openssl),
		cmocka_unit_test(test_shared),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
