/*
 * test_ticketkeys.c: session ticket keys.  Key files parse (HAProxy's
 * base64 lines and nginx's binary files) and bad ones are refused without
 * showing key material; two "instances" sharing a key file resume each
 * other's sessions, TLS 1.2 and TLS 1.3; a rotated file still accepts the
 * previous key and issues tickets under the new one; a session of one site
 * never resumes on another site sharing the key; generated keys rotate on
 * their schedule; key files are written atomically with safe modes.
 * Staged (ticket_keys_staged), the second key of a file encrypts and the
 * first only decrypts: a ticket from an instance that read the rotated
 * file resumes on one that still has the file before it.
 * Handshakes run in memory over BIO pairs.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "certload.h"
#include "chain.h"
#include "config.h"
#include "ticketkeys.h"
#include "tlsctx.h"
#include "testpki.h"

static struct testpki *P;
static X509 *leaf_b;		/* other.test, *.other.test */

struct site {
	struct config_site	 cfg;
	struct chain		*chain;
	SSL_CTX			*ctx;
};

static int
setup(void **state)
{
	struct testpki_certspec spec;

	(void)state;
	P = testpki_new();
	memset(&spec, 0, sizeof(spec));
	spec.cn = "other.test";
	spec.key = P->leaf2_key;
	spec.issuer = P->int2;
	spec.issuer_key = P->int2_key;
	spec.not_before = -TESTPKI_DAY;
	spec.not_after = 30 * TESTPKI_DAY;
	spec.server = 1;
	spec.san = "DNS:other.test,DNS:*.other.test";
	leaf_b = testpki_cert(&spec);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	X509_free(leaf_b);
	testpki_free(P);
	return 0;
}

/* A site as the daemon builds it (tlsctx_server_new), with tk installed. */
static void
site_init(struct site *s, const char *name, X509 *leaf, EVP_PKEY *key,
    struct ticketkeys *tk)
{
	struct certload_set *pool, *roots;
	char err[256];

	memset(s, 0, sizeof(*s));
	s->cfg.name = (char *)(uintptr_t)name;
	assert_non_null(pool = certload_set_new());
	assert_non_null(roots = certload_set_new());
	assert_int_equal(certload_set_add(pool, P->int1, "int1"), 1);
	assert_int_equal(certload_set_add(pool, P->int2, "int2"), 1);
	assert_int_equal(certload_set_add(roots, P->root, "root"), 1);
	s->chain = chain_assemble(leaf, name, key, pool, roots, 0, err,
	    sizeof(err));
	if (s->chain == NULL)
		fail_msg("chain_assemble: %s", err);
	certload_set_free(pool);
	certload_set_free(roots);
	assert_non_null(s->ctx = tlsctx_server_new(&s->cfg, s->chain, s));
	if (tk != NULL)
		assert_int_equal(ticketkeys_install(tk, s->ctx), 0);
}

static void
site_clear(struct site *s)
{
	SSL_CTX_free(s->ctx);
	chain_free(s->chain);
}

/*
 * A client connects to a server SSL made from sctx, offering resume (may
 * be NULL), and reads the tickets the server sends after the handshake.
 * Returns the client's latest session (a new reference) and whether the
 * handshake resumed.
 */
static SSL_SESSION *
connect_with(SSL_CTX *sctx, const char *sni, int maxver,
    SSL_SESSION *resume, int *reused)
{
	SSL_CTX *cctx;
	SSL_SESSION *sess;
	SSL *c, *s;
	char buf[1];

	assert_non_null(cctx = SSL_CTX_new(TLS_client_method()));
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx),
	    P->root), 1);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	assert_int_equal(SSL_CTX_set_max_proto_version(cctx, maxver), 1);
	assert_non_null(c = SSL_new(cctx));
	assert_non_null(s = SSL_new(sctx));
	assert_int_equal(tlsctx_set_sni(c, sni), 1);
	if (resume != NULL)
		assert_int_equal(SSL_set_session(c, resume), 1);
	if (!testpki_handshake(c, s))
		fail_msg("handshake failed");
	/* One byte of data: the client reads the tickets in front of it. */
	assert_int_equal(SSL_write(s, "x", 1), 1);
	assert_int_equal(SSL_read(c, buf, 1), 1);
	*reused = SSL_session_reused(c);
	assert_int_equal(*reused, SSL_session_reused(s));
	assert_non_null(sess = SSL_get1_session(c));
	/* A clean close keeps the session resumable (TLS 1.2). */
	SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_set_shutdown(s, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	ERR_clear_error();
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	return sess;
}

/* The name of the key that made sess's ticket is key i of tk. */
static void
assert_ticket_key(SSL_SESSION *sess, struct ticketkeys *tk, size_t i)
{
	const unsigned char *tick;
	unsigned char name[16];
	size_t len;

	SSL_SESSION_get0_ticket(sess, &tick, &len);
	assert_true(len > 16);
	assert_int_equal(ticketkeys_name(tk, i, name), 0);
	assert_memory_equal(tick, name, 16);
}

/* A text key file of n fresh keys (len 48 or 80 bytes each). */
static char *
keyfile_text(size_t n, size_t len, unsigned char raw[][80])
{
	char *out, *p;
	size_t i;

	assert_non_null(out = calloc(n + 1, 128));
	p = out;
	p += sprintf(p, "# test keys\r\n\n");
	for (i = 0; i < n; i++) {
		assert_int_equal(RAND_bytes(raw[i], (int)len), 1);
		p += EVP_EncodeBlock((unsigned char *)p, raw[i], (int)len);
		p += sprintf(p, "\r\n");
	}
	return out;
}

static struct ticketkeys *
parse_ok(const char *text)
{
	struct ticketkeys *tk;
	char why[256];

	why[0] = '\0';
	tk = ticketkeys_parse((const unsigned char *)text, strlen(text),
	    "keys.txt", why, sizeof(why));
	if (tk == NULL)
		fail_msg("ticketkeys_parse: %s", why);
	return tk;
}

static void
test_parse_text(void **state)
{
	unsigned char raw[2][80], name[16];
	struct ticketkeys *tk, *other;
	char *text, *two, id[32], id2[32];

	(void)state;
	text = keyfile_text(1, 80, raw);
	tk = parse_ok(text);
	assert_int_equal(ticketkeys_count(tk), 1);
	assert_int_equal(ticketkeys_name(tk, 0, name), 0);
	assert_memory_equal(name, raw[0], 16);
	assert_int_equal(ticketkeys_name(tk, 1, name), -1);
	/* The id: 16 hex digits, the same for the same key anywhere. */
	other = parse_ok(text);
	assert_int_equal(strlen(ticketkeys_id(tk, 0, id, sizeof(id))), 16);
	assert_string_equal(ticketkeys_id(other, 0, id2, sizeof(id2)), id);
	assert_string_equal(ticketkeys_id(tk, 1, id2, sizeof(id2)), "-");
	ticketkeys_unref(other);
	ticketkeys_unref(tk);

	/* An 80-byte key, then a 48-byte one, in file order. */
	two = keyfile_text(1, 48, raw + 1);
	text = realloc(text, strlen(text) + strlen(two) + 1);
	strcat(text, two);
	tk = parse_ok(text);
	assert_int_equal(ticketkeys_count(tk), 2);
	assert_int_equal(ticketkeys_name(tk, 1, name), 0);
	assert_memory_equal(name, raw[1], 16);
	assert_string_not_equal(ticketkeys_id(tk, 1, id2, sizeof(id2)), id);
	ticketkeys_unref(tk);
	free(two);
	free(text);
	ticketkeys_unref(NULL);
}

static void
expect_error(const unsigned char *buf, size_t len, const char *what)
{
	char why[256];

	why[0] = '\0';
	assert_null(ticketkeys_parse(buf, len, "keys.txt", why, sizeof(why)));
	if (strstr(why, what) == NULL)
		fail_msg("\"%s\" does not say \"%s\"", why, what);
	assert_non_null(strstr(why, "keys.txt"));
}

static void
test_parse_errors(void **state)
{
	unsigned char raw[TICKETKEYS_MAX + 1][80], bin[50];
	char *text, *dup, *line2;

	(void)state;
	expect_error((const unsigned char *)"", 0, "no ticket key");
	expect_error((const unsigned char *)"# only\n\n", 8, "no ticket key");
	expect_error((const unsigned char *)"c2hvcnQ=\n", 9,
	    "keys.txt:1: not a ticket key");
	/* Base64 with a character outside the alphabet, on line 2. */
	text = keyfile_text(1, 80, raw);
	line2 = strstr(text, "\n\n") + 2;
	line2[5] = '%';
	expect_error((unsigned char *)text, strlen(text),
	    "keys.txt:3: not a ticket key");
	free(text);
	text = keyfile_text(1, 80, raw);
	line2 = strstr(text, "\n\n") + 2;
	line2[0] = '\0';	/* the key cut short */
	strcat(text, "QUJD\n");
	expect_error((unsigned char *)text, strlen(text),
	    "keys.txt:3: not a ticket key");
	free(text);
	/* The same key twice. */
	text = keyfile_text(1, 80, raw);
	assert_non_null(dup = malloc(2 * strlen(text) + 1));
	sprintf(dup, "%s%s", text, strstr(text, "\n\n") + 2);
	expect_error((unsigned char *)dup, strlen(dup), "the same key name");
	free(dup);
	free(text);
	/* Too many. */
	text = keyfile_text(TICKETKEYS_MAX + 1, 80, raw);
	expect_error((unsigned char *)text, strlen(text), "more than 64 keys");
	free(text);
	/* Binary, but not 48 or 80 bytes. */
	memset(bin, 0xee, sizeof(bin));
	expect_error(bin, sizeof(bin), "not a ticket key file");
}

/* Two instances of one site sharing a key file resume each other. */
static void
resume_across(int maxver)
{
	unsigned char raw[1][80];
	struct ticketkeys *ka, *kb;
	struct site a, b;
	SSL_SESSION *s1, *s2, *s3;
	char *text;
	int reused;

	text = keyfile_text(1, 80, raw);
	ka = parse_ok(text);
	kb = parse_ok(text);
	site_init(&a, "mail", P->leaf, P->leaf_key, ka);
	site_init(&b, "mail", P->leaf, P->leaf_key, kb);

	s1 = connect_with(a.ctx, "localhost", maxver, NULL, &reused);
	assert_false(reused);
	assert_ticket_key(s1, ka, 0);
	s2 = connect_with(b.ctx, "localhost", maxver, s1, &reused);
	assert_true(reused);
	s3 = connect_with(a.ctx, "localhost", maxver, s2, &reused);
	assert_true(reused);

	SSL_SESSION_free(s3);
	SSL_SESSION_free(s2);
	SSL_SESSION_free(s1);
	site_clear(&b);
	site_clear(&a);
	ticketkeys_unref(kb);
	ticketkeys_unref(ka);
	free(text);
}

static void
test_resume_across_tls12(void **state)
{
	(void)state;
	resume_across(TLS1_2_VERSION);
}

static void
test_resume_across_tls13(void **state)
{
	(void)state;
	resume_across(TLS1_3_VERSION);
}

/* Without the key, no resumption: a key file of another fleet. */
static void
test_other_keys(void **state)
{
	unsigned char raw[1][80];
	struct ticketkeys *ka, *kb;
	struct site a, b;
	SSL_SESSION *s1, *s2;
	char *ta, *tb;
	int reused;

	(void)state;
	ta = keyfile_text(1, 80, raw);
	tb = keyfile_text(1, 80, raw);
	ka = parse_ok(ta);
	kb = parse_ok(tb);
	site_init(&a, "mail", P->leaf, P->leaf_key, ka);
	site_init(&b, "mail", P->leaf, P->leaf_key, kb);
	s1 = connect_with(a.ctx, "localhost", TLS1_3_VERSION, NULL, &reused);
	s2 = connect_with(b.ctx, "localhost", TLS1_3_VERSION, s1, &reused);
	assert_false(reused);
	assert_ticket_key(s2, kb, 0);
	SSL_SESSION_free(s2);
	SSL_SESSION_free(s1);
	site_clear(&b);
	site_clear(&a);
	ticketkeys_unref(kb);
	ticketkeys_unref(ka);
	free(tb);
	free(ta);
}

/*
 * nginx's binary files hold the same key material in another order (80
 * bytes: name, HMAC, AES; 48 bytes: name, AES, HMAC): a ticket made with
 * the text form of a key opens with the binary form.
 */
static void
nginx_same_key(size_t len)
{
	unsigned char raw[80], bin[80];
	struct ticketkeys *kt, *kn;
	struct site a, b;
	SSL_SESSION *s1, *s2;
	size_t kl = len == 80 ? 32 : 16;
	char text[128], why[256];
	int reused;

	assert_int_equal(RAND_bytes(raw, (int)len), 1);
	/* Not base64: random bytes that all were would read as text. */
	raw[0] = 0xff;
	EVP_EncodeBlock((unsigned char *)text, raw, (int)len);
	kt = parse_ok(text);
	memcpy(bin, raw, 16);
	if (len == 80) {
		memcpy(bin + 16, raw + 16 + kl, kl);	/* HMAC */
		memcpy(bin + 16 + kl, raw + 16, kl);	/* AES */
	} else
		memcpy(bin + 16, raw + 16, 2 * kl);
	assert_non_null(kn = ticketkeys_parse(bin, len, "nginx.key", why,
	    sizeof(why)));
	assert_int_equal(ticketkeys_count(kn), 1);
	site_init(&a, "mail", P->leaf, P->leaf_key, kt);
	site_init(&b, "mail", P->leaf, P->leaf_key, kn);
	s1 = connect_with(a.ctx, "localhost", TLS1_2_VERSION, NULL, &reused);
	s2 = connect_with(b.ctx, "localhost", TLS1_2_VERSION, s1, &reused);
	assert_true(reused);
	SSL_SESSION_free(s2);
	SSL_SESSION_free(s1);
	site_clear(&b);
	site_clear(&a);
	ticketkeys_unref(kn);
	ticketkeys_unref(kt);
}

static void
test_nginx_binary(void **state)
{
	(void)state;
	nginx_same_key(80);
	nginx_same_key(48);
}

/*
 * A rotated file (new key first, old one kept): an old ticket resumes and
 * comes back under the new key; once the old key is gone it does not.
 */
static void
rotation_file(int maxver)
{
	struct ticketkeys *k1, *k21, *k2, *fresh;
	struct site a, b, c;
	SSL_SESSION *s1, *s2, *s3;
	char path[] = "/tmp/test_ticketkeys.XXXXXX";
	int fd, reused;

	assert_int_not_equal(fd = mkstemp(path), -1);
	close(fd);
	unlink(path);
	assert_non_null(fresh = ticketkeys_generate(1));
	assert_int_equal(ticketkeys_write(path, fresh, NULL, 3), 0);
	ticketkeys_unref(fresh);
	assert_non_null(k1 = ticketkeys_load(path, 0));
	assert_non_null(fresh = ticketkeys_generate(1));
	assert_int_equal(ticketkeys_write(path, fresh, k1, 3), 0);
	ticketkeys_unref(fresh);
	assert_non_null(k21 = ticketkeys_load(path, 0));
	assert_int_equal(ticketkeys_count(k21), 2);
	assert_int_equal(ticketkeys_write(path, NULL, k21, 1), 0);
	assert_non_null(k2 = ticketkeys_load(path, 0));
	assert_int_equal(ticketkeys_count(k2), 1);
	unlink(path);

	site_init(&a, "mail", P->leaf, P->leaf_key, k1);
	site_init(&b, "mail", P->leaf, P->leaf_key, k21);
	site_init(&c, "mail", P->leaf, P->leaf_key, k2);
	s1 = connect_with(a.ctx, "localhost", maxver, NULL, &reused);
	assert_ticket_key(s1, k1, 0);
	s2 = connect_with(b.ctx, "localhost", maxver, s1, &reused);
	assert_true(reused);
	assert_ticket_key(s2, k21, 0);		/* renewed under the new key */
	s3 = connect_with(c.ctx, "localhost", maxver, s1, &reused);
	assert_false(reused);			/* the old key is gone */
	SSL_SESSION_free(s3);
	s3 = connect_with(c.ctx, "localhost", maxver, s2, &reused);
	assert_true(reused);
	SSL_SESSION_free(s3);
	SSL_SESSION_free(s2);
	SSL_SESSION_free(s1);
	site_clear(&c);
	site_clear(&b);
	site_clear(&a);
	ticketkeys_unref(k2);
	ticketkeys_unref(k21);
	ticketkeys_unref(k1);
}

static void
test_rotation_file(void **state)
{
	(void)state;
	rotation_file(TLS1_2_VERSION);
	rotation_file(TLS1_3_VERSION);
}

/*
 * Sites a and b share one listen address and one key ring: a session made
 * on b is refused on a (each site has its own session id context, which
 * OpenSSL checks after the ticket decrypts) and still resumes on b.
 */
static void
cross_site(int maxver)
{
	unsigned char raw[1][80];
	struct ticketkeys *tk;
	struct tlsctx_sni *t;
	struct site a, b;
	SSL_SESSION *sb, *s2;
	char *text;
	int reused;

	text = keyfile_text(1, 80, raw);
	tk = parse_ok(text);
	site_init(&a, "a", P->leaf, P->leaf_key, tk);
	site_init(&b, "b", leaf_b, P->leaf2_key, tk);
	assert_non_null(t = tlsctx_sni_new());
	assert_int_equal(tlsctx_sni_add(t, a.ctx, P->leaf), 0);
	assert_int_equal(tlsctx_sni_add(t, b.ctx, leaf_b), 0);

	sb = connect_with(tlsctx_sni_default(t), "www.other.test", maxver,
	    NULL, &reused);
	assert_false(reused);
	assert_ticket_key(sb, tk, 0);
	s2 = connect_with(tlsctx_sni_default(t), "localhost", maxver, sb,
	    &reused);
	assert_false(reused);
	SSL_SESSION_free(s2);
	s2 = connect_with(tlsctx_sni_default(t), "www.other.test", maxver,
	    sb, &reused);
	assert_true(reused);
	SSL_SESSION_free(s2);

	SSL_SESSION_free(sb);
	tlsctx_sni_free(t);
	site_clear(&b);
	site_clear(&a);
	ticketkeys_unref(tk);
	free(text);
}

static void
test_cross_site_tls12(void **state)
{
	(void)state;
	cross_site(TLS1_2_VERSION);
}

static void
test_cross_site_tls13(void **state)
{
	(void)state;
	cross_site(TLS1_3_VERSION);
}

/*
 * Generated keys: one ring per process (the same across reloads); a new
 * encrypting key each interval, the previous one accepted one interval
 * more, then dropped.
 */
static void
test_generated(void **state)
{
	struct ticketkeys *tk, *again;
	unsigned char n0[16], n1[16];
	struct site a, b, c;
	SSL_SESSION *s1, *s2, *s3;
	struct timespec ts;
	int reused;

	(void)state;
	assert_non_null(tk = ticketkeys_shared(100));
	/* Read after the first key is made: ts is no earlier than it. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	assert_non_null(again = ticketkeys_shared(100));
	assert_ptr_equal(tk, again);
	ticketkeys_unref(again);
	assert_int_equal(ticketkeys_count(tk), 1);
	assert_int_equal(ticketkeys_maintain(tk, ts.tv_sec + 10), 0);
	assert_int_equal(ticketkeys_name(tk, 0, n0), 0);

	site_init(&a, "mail", P->leaf, P->leaf_key, tk);
	s1 = connect_with(a.ctx, "localhost", TLS1_3_VERSION, NULL, &reused);
	assert_ticket_key(s1, tk, 0);

	/* One interval on: a new key encrypts, the old one still decrypts. */
	assert_int_equal(ticketkeys_maintain(tk, ts.tv_sec + 100), 1);
	assert_int_equal(ticketkeys_count(tk), 2);
	assert_int_equal(ticketkeys_name(tk, 1, n1), 0);
	assert_memory_equal(n0, n1, 16);
	site_init(&b, "mail", P->leaf, P->leaf_key, tk);
	s2 = connect_with(b.ctx, "localhost", TLS1_3_VERSION, s1, &reused);
	assert_true(reused);
	assert_ticket_key(s2, tk, 0);

	/* Two intervals on: the first key is gone. */
	assert_int_equal(ticketkeys_maintain(tk, ts.tv_sec + 200), 1);
	assert_int_equal(ticketkeys_count(tk), 2);
	assert_int_equal(ticketkeys_name(tk, 1, n1), 0);
	assert_memory_not_equal(n0, n1, 16);
	site_init(&c, "mail", P->leaf, P->leaf_key, tk);
	s3 = connect_with(c.ctx, "localhost", TLS1_3_VERSION, s1, &reused);
	assert_false(reused);

	SSL_SESSION_free(s3);
	SSL_SESSION_free(s2);
	SSL_SESSION_free(s1);
	site_clear(&c);
	site_clear(&b);
	site_clear(&a);
	ticketkeys_unref(tk);

	/* The last reference gone, the next ring is a new one. */
	assert_non_null(tk = ticketkeys_shared(100));
	assert_int_equal(ticketkeys_count(tk), 1);
	assert_int_equal(ticketkeys_name(tk, 0, n1), 0);
	assert_memory_not_equal(n0, n1, 16);
	ticketkeys_unref(tk);
}

/*
 * A key file at a fresh temporary path holding the keys of extra then tk
 * (at most keep), loaded staged or not; its path goes into path (>= 32).
 */
static struct ticketkeys *
load_file(char *path, struct ticketkeys *extra, struct ticketkeys *tk,
    size_t keep, int staged)
{
	struct ticketkeys *r;
	int fd;

	strcpy(path, "/tmp/test_ticketkeys.XXXXXX");
	assert_int_not_equal(fd = mkstemp(path), -1);
	close(fd);
	unlink(path);
	assert_int_equal(ticketkeys_write(path, extra, tk, keep), 0);
	r = ticketkeys_load(path, staged);
	unlink(path);
	assert_non_null(r);
	return r;
}

/* A site with tk issues its tickets (TLS maxver) under key i of tk. */
static void
assert_encrypts(struct ticketkeys *tk, int maxver, size_t i)
{
	struct site a;
	SSL_SESSION *s1;
	int reused;

	site_init(&a, "mail", P->leaf, P->leaf_key, tk);
	s1 = connect_with(a.ctx, "localhost", maxver, NULL, &reused);
	assert_false(reused);
	assert_ticket_key(s1, tk, i);
	SSL_SESSION_free(s1);
	site_clear(&a);
}

/*
 * Which key encrypts: the first, or staged the second (the first only
 * decrypts); staged with one key, that key, and a warning says why.  The
 * log line names the encrypting key and the staged one.
 */
static void
test_staged_selection(void **state)
{
	struct ticketkeys *k3, *plain, *staged, *one;
	char path[64], line[512], want[256], id0[32], id1[32], *out;

	(void)state;
	assert_non_null(k3 = ticketkeys_generate(3));
	ticketkeys_id(k3, 0, id0, sizeof(id0));
	ticketkeys_id(k3, 1, id1, sizeof(id1));

	plain = load_file(path, NULL, k3, 2, 0);
	assert_int_equal(ticketkeys_encrypting(plain), 0);
	snprintf(want, sizeof(want), "2 keys from x.keys, encrypting with key "
	    "%s", id0);
	assert_string_equal(ticketkeys_describe(plain, "x.keys", line,
	    sizeof(line)), want);

	staged = load_file(path, NULL, k3, 2, 1);
	assert_int_equal(ticketkeys_count(staged), 2);
	assert_int_equal(ticketkeys_encrypting(staged), 1);
	snprintf(want, sizeof(want), "2 keys from x.keys, encrypting with key "
	    "%s, next key %s staged", id1, id0);
	assert_string_equal(ticketkeys_describe(staged, "x.keys", line,
	    sizeof(line)), want);

	/* The tickets say the same: key 0, or staged key 1. */
	assert_encrypts(plain, TLS1_3_VERSION, 0);
	assert_encrypts(staged, TLS1_2_VERSION, 1);
	assert_encrypts(staged, TLS1_3_VERSION, 1);
	ticketkeys_unref(staged);

	/* Three keys (next, current, previous): the second still. */
	staged = load_file(path, NULL, k3, 3, 1);
	assert_int_equal(ticketkeys_encrypting(staged), 1);
	ticketkeys_unref(staged);

	/* One key, staged: it encrypts, and the file is named in a warning. */
	testpki_capture_start();
	one = load_file(path, NULL, k3, 1, 1);
	out = testpki_capture_end();
	assert_non_null(strstr(out, path));
	assert_non_null(strstr(out, "ticket_keys_staged needs 2 keys or "
	    "more: its only key encrypts"));
	free(out);
	assert_int_equal(ticketkeys_encrypting(one), 0);
	snprintf(want, sizeof(want), "1 key from x.keys, encrypting with key "
	    "%s", id0);
	assert_string_equal(ticketkeys_describe(one, "x.keys", line,
	    sizeof(line)), want);
	assert_encrypts(one, TLS1_3_VERSION, 0);
	ticketkeys_unref(one);

	/* Not staged, one key: no warning. */
	testpki_capture_start();
	one = load_file(path, NULL, k3, 1, 0);
	out = testpki_capture_end();
	assert_null(strstr(out, "staged"));
	free(out);
	ticketkeys_unref(one);
	ticketkeys_unref(plain);
	ticketkeys_unref(k3);
}

/*
 * A fleet mid-rotation.  Instance A has read the rotated file [K2, K1],
 * instance B still has [K1].  Staged, A encrypts with K1 and B resumes A's
 * sessions; not staged, A encrypts with K2 and B cannot: the full
 * handshakes staging exists to avoid.
 */
static void
staged_across(int maxver)
{
	struct ticketkeys *k1, *k2, *a_staged, *a_plain, *b_keys;
	struct site a, ap, b;
	SSL_SESSION *s1, *s2;
	char path[64];
	int reused;

	assert_non_null(k1 = ticketkeys_generate(1));
	assert_non_null(k2 = ticketkeys_generate(1));
	a_staged = load_file(path, k2, k1, 3, 1);
	a_plain = load_file(path, k2, k1, 3, 0);
	b_keys = load_file(path, NULL, k1, 3, 0);
	site_init(&a, "mail", P->leaf, P->leaf_key, a_staged);
	site_init(&ap, "mail", P->leaf, P->leaf_key, a_plain);
	site_init(&b, "mail", P->leaf, P->leaf_key, b_keys);

	s1 = connect_with(a.ctx, "localhost", maxver, NULL, &reused);
	assert_false(reused);
	assert_ticket_key(s1, b_keys, 0);		/* K1 */
	s2 = connect_with(b.ctx, "localhost", maxver, s1, &reused);
	assert_true(reused);
	SSL_SESSION_free(s2);
	SSL_SESSION_free(s1);
	/* And back: B's ticket (K1) resumes on A. */
	s1 = connect_with(b.ctx, "localhost", maxver, NULL, &reused);
	s2 = connect_with(a.ctx, "localhost", maxver, s1, &reused);
	assert_true(reused);
	SSL_SESSION_free(s2);
	SSL_SESSION_free(s1);

	/* Without staging: a ticket under K2, which B does not have. */
	s1 = connect_with(ap.ctx, "localhost", maxver, NULL, &reused);
	assert_ticket_key(s1, a_plain, 0);		/* K2 */
	s2 = connect_with(b.ctx, "localhost", maxver, s1, &reused);
	assert_false(reused);
	SSL_SESSION_free(s2);
	/* The staged A takes it (K2 is its next key). */
	s2 = connect_with(a.ctx, "localhost", maxver, s1, &reused);
	assert_true(reused);
	SSL_SESSION_free(s2);
	SSL_SESSION_free(s1);

	site_clear(&b);
	site_clear(&ap);
	site_clear(&a);
	ticketkeys_unref(b_keys);
	ticketkeys_unref(a_plain);
	ticketkeys_unref(a_staged);
	ticketkeys_unref(k2);
	ticketkeys_unref(k1);
}

static void
test_staged_across_tls12(void **state)
{
	(void)state;
	staged_across(TLS1_2_VERSION);
}

static void
test_staged_across_tls13(void **state)
{
	(void)state;
	staged_across(TLS1_3_VERSION);
}

/* Do a and b hold the very same ticket (not a renewed one)? */
static int
same_ticket(SSL_SESSION *a, SSL_SESSION *b)
{
	const unsigned char *ta, *tb;
	size_t la, lb;

	SSL_SESSION_get0_ticket(a, &ta, &la);
	SSL_SESSION_get0_ticket(b, &tb, &lb);
	return la == lb && la > 0 && memcmp(ta, tb, la) == 0;
}

/*
 * TLS 1.2 renewal on a staged ring [K2, K1, K0] (K1 encrypts): a ticket
 * under K0, older, comes back under K1; one under K1 needs no new ticket;
 * one under the staged K2, newer, is kept as it is rather than traded for
 * an older key.
 */
static void
test_staged_renewal(void **state)
{
	struct ticketkeys *g0, *g1, *g2, *r0, *r2, *r10, *staged;
	struct site a, s0, s2;
	SSL_SESSION *t, *r;
	char path[64];
	int reused;

	(void)state;
	assert_non_null(g0 = ticketkeys_generate(1));
	assert_non_null(g1 = ticketkeys_generate(1));
	assert_non_null(g2 = ticketkeys_generate(1));
	r0 = load_file(path, NULL, g0, 1, 0);
	r2 = load_file(path, NULL, g2, 1, 0);
	r10 = load_file(path, g1, g0, 3, 0);
	staged = load_file(path, g2, r10, 3, 1);
	assert_int_equal(ticketkeys_count(staged), 3);
	site_init(&a, "mail", P->leaf, P->leaf_key, staged);
	site_init(&s0, "mail", P->leaf, P->leaf_key, r0);
	site_init(&s2, "mail", P->leaf, P->leaf_key, r2);

	t = connect_with(s0.ctx, "localhost", TLS1_2_VERSION, NULL, &reused);
	assert_ticket_key(t, staged, 2);		/* K0 */
	r = connect_with(a.ctx, "localhost", TLS1_2_VERSION, t, &reused);
	assert_true(reused);
	assert_ticket_key(r, staged, 1);		/* renewed: K1 */
	assert_false(same_ticket(r, t));
	SSL_SESSION_free(t);
	t = r;
	r = connect_with(a.ctx, "localhost", TLS1_2_VERSION, t, &reused);
	assert_true(reused);
	assert_true(same_ticket(r, t));			/* K1: kept */
	SSL_SESSION_free(r);
	SSL_SESSION_free(t);

	t = connect_with(s2.ctx, "localhost", TLS1_2_VERSION, NULL, &reused);
	assert_ticket_key(t, staged, 0);		/* K2 */
	r = connect_with(a.ctx, "localhost", TLS1_2_VERSION, t, &reused);
	assert_true(reused);
	assert_ticket_key(r, staged, 0);
	assert_true(same_ticket(r, t));			/* K2: kept */
	SSL_SESSION_free(r);
	SSL_SESSION_free(t);

	site_clear(&s2);
	site_clear(&s0);
	site_clear(&a);
	ticketkeys_unref(staged);
	ticketkeys_unref(r10);
	ticketkeys_unref(r2);
	ticketkeys_unref(r0);
	ticketkeys_unref(g2);
	ticketkeys_unref(g1);
	ticketkeys_unref(g0);
}

/* Written files: the right keys in order, modes without others' access. */
static void
test_write(void **state)
{
	struct ticketkeys *a, *b, *r;
	unsigned char n[16], m[16];
	char path[] = "/tmp/test_ticketkeys.XXXXXX", *out, b64[200];
	struct stat st;
	int fd;

	(void)state;
	assert_int_not_equal(fd = mkstemp(path), -1);
	close(fd);
	unlink(path);
	assert_non_null(a = ticketkeys_generate(1));
	assert_non_null(b = ticketkeys_generate(3));
	assert_int_equal(ticketkeys_write(path, a, b, 3), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_non_null(r = ticketkeys_load(path, 0));
	assert_int_equal(ticketkeys_count(r), 3);
	assert_int_equal(ticketkeys_name(r, 0, n), 0);
	assert_int_equal(ticketkeys_name(a, 0, m), 0);
	assert_memory_equal(n, m, 16);
	assert_int_equal(ticketkeys_name(r, 2, n), 0);
	assert_int_equal(ticketkeys_name(b, 1, m), 0);
	assert_memory_equal(n, m, 16);
	ticketkeys_unref(r);

	/* A file readable by all: warned about, rewritten without that. */
	assert_int_equal(chmod(path, 0644), 0);
	testpki_capture_start();
	r = ticketkeys_load(path, 0);
	out = testpki_capture_end();
	assert_non_null(r);
	assert_non_null(strstr(out, path));
	assert_non_null(strstr(out, "readable by others"));
	/* The warning never shows the key (its base64 starts with the name). */
	assert_int_equal(ticketkeys_name(r, 0, n), 0);
	EVP_EncodeBlock((unsigned char *)b64, n, 15);
	assert_null(strstr(out, b64));
	free(out);
	ticketkeys_unref(r);
	assert_int_equal(ticketkeys_write(path, NULL, b, 1), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_non_null(r = ticketkeys_load(path, 0));
	assert_int_equal(ticketkeys_count(r), 1);
	ticketkeys_unref(r);

	unlink(path);
	ticketkeys_unref(b);
	ticketkeys_unref(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_text),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_resume_across_tls12),
		cmocka_unit_test(test_resume_across_tls13),
		cmocka_unit_test(test_other_keys),
		cmocka_unit_test(test_nginx_binary),
		cmocka_unit_test(test_rotation_file),
		cmocka_unit_test(test_cross_site_tls12),
		cmocka_unit_test(test_cross_site_tls13),
		cmocka_unit_test(test_generated),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_staged_selection),
		cmocka_unit_test(test_staged_across_tls12),
		cmocka_unit_test(test_staged_across_tls13),
		cmocka_unit_test(test_staged_renewal),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
