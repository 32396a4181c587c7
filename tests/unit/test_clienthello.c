/*
 * test_clienthello.c: the ClientHello reader on what real clients send
 * (OpenSSL's, in memory), on every prefix of it, on the same hello cut
 * into many records, and on hostile input: garbage, truncations, lengths
 * that lie, duplicate names, names that are not host names, oversized and
 * interleaved records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "clienthello.h"
#include "tlsctx.h"

/* The first flight of an OpenSSL client (the ClientHello) into out. */
static size_t
openssl_hello(const char *sni, int max_version, unsigned char *out,
    size_t outlen)
{
	SSL_CTX *ctx;
	SSL *ssl;
	BIO *rb, *wb;
	int n;

	assert_non_null(ctx = SSL_CTX_new(TLS_client_method()));
	if (max_version != 0)
		assert_int_equal(SSL_CTX_set_max_proto_version(ctx,
		    max_version), 1);
	assert_non_null(ssl = SSL_new(ctx));
	assert_non_null(rb = BIO_new(BIO_s_mem()));
	assert_non_null(wb = BIO_new(BIO_s_mem()));
	SSL_set_bio(ssl, rb, wb);
	if (sni != NULL)
		assert_int_equal(tlsctx_set_sni(ssl, sni), 1);
	assert_int_equal(SSL_connect(ssl), -1);	/* wants to read */
	n = BIO_read(wb, out, (int)outlen);
	assert_true(n > 0 && (size_t)n < outlen);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return (size_t)n;
}

static enum clienthello_result
parse(const unsigned char *b, size_t n, char *sni, size_t *need,
    const char **why)
{
	return clienthello_parse(b, n, sni, CLIENTHELLO_NAMELEN, need, why);
}

/* What OpenSSL sends, TLS 1.3 and 1.2, with and without a name. */
static void
test_openssl(void **state)
{
	unsigned char b[4096];
	char sni[CLIENTHELLO_NAMELEN];
	size_t n;

	(void)state;
	n = openssl_hello("mail.example.com", 0, b, sizeof(b));
	assert_int_equal(parse(b, n, sni, NULL, NULL), CLIENTHELLO_OK);
	assert_string_equal(sni, "mail.example.com");
	n = openssl_hello("Autodiscover.Example.COM.", TLS1_2_VERSION, b,
	    sizeof(b));
	assert_int_equal(parse(b, n, sni, NULL, NULL), CLIENTHELLO_OK);
	assert_string_equal(sni, "autodiscover.example.com");
	n = openssl_hello(NULL, 0, b, sizeof(b));
	assert_int_equal(parse(b, n, sni, NULL, NULL), CLIENTHELLO_OK);
	assert_string_equal(sni, "");
}

/* Every prefix asks for more, and says how much is needed at least. */
static void
test_prefixes(void **state)
{
	unsigned char b[4096];
	char sni[CLIENTHELLO_NAMELEN];
	size_t n, i, need;

	(void)state;
	n = openssl_hello("owa.example.com", 0, b, sizeof(b));
	for (i = 0; i < n; i++) {
		need = 0;
		assert_int_equal(parse(b, i, sni, &need, NULL),
		    CLIENTHELLO_MORE);
		assert_true(need > i && need <= n);
	}
	assert_int_equal(parse(b, n, sni, NULL, NULL), CLIENTHELLO_OK);
	assert_string_equal(sni, "owa.example.com");
}

/*
 * The handshake message of b (one record) cut into records of at most
 * size bytes.
 */
static size_t
refragment(const unsigned char *b, size_t n, size_t size, unsigned char *out,
    size_t outlen)
{
	size_t msg = n - 5, off = 0, o = 0, k;

	while (off < msg) {
		k = msg - off < size ? msg - off : size;
		assert_true(o + 5 + k <= outlen);
		out[o] = 22;
		out[o + 1] = 3;
		out[o + 2] = 1;
		out[o + 3] = (unsigned char)(k >> 8);
		out[o + 4] = (unsigned char)k;
		memcpy(out + o + 5, b + 5 + off, k);
		o += 5 + k;
		off += k;
	}
	return o;
}

/* Legal fragmentation, down to one byte per record, up to the limit. */
static void
test_fragmented(void **state)
{
	unsigned char b[4096], f[16384];
	char sni[CLIENTHELLO_NAMELEN];
	const char *why;
	size_t n, m, sizes[] = { 1000, 100, 64, 17 };
	size_t i, j, need;

	(void)state;
	n = openssl_hello("eas.example.com", 0, b, sizeof(b));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		m = refragment(b, n, sizes[i], f, sizeof(f));
		if ((n - 5 + sizes[i] - 1) / sizes[i] > CLIENTHELLO_RECORDS) {
			assert_int_equal(parse(f, m, sni, NULL, &why),
			    CLIENTHELLO_INVALID);
			assert_string_equal(why, "ClientHello spread over too "
			    "many records");
			continue;
		}
		assert_int_equal(parse(f, m, sni, NULL, NULL), CLIENTHELLO_OK);
		assert_string_equal(sni, "eas.example.com");
		for (j = 0; j < m; j++) {
			assert_int_equal(parse(f, j, sni, &need, NULL),
			    CLIENTHELLO_MORE);
			assert_true(need > j && need <= m);
		}
	}
	/* Tiny records are legal: the first 20 bytes in 20 records. */
	m = refragment(b, 5 + 20, 1, f, sizeof(f));
	assert_int_equal(parse(f, m, sni, &need, NULL), CLIENTHELLO_MORE);
	assert_true(need > m);
}

/* A handcrafted ClientHello: body parts as given, into one record. */
struct hello {
	unsigned char	 b[20000];
	size_t		 n;
	size_t		 body;	/* where the message starts */
};

static void
put(struct hello *h, const void *p, size_t n)
{
	assert_true(h->n + n <= sizeof(h->b));
	memcpy(h->b + h->n, p, n);
	h->n += n;
}

static void
put16(struct hello *h, size_t v)
{
	unsigned char x[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	put(h, x, 2);
}

/* Record and handshake headers; lengths filled in by finish(). */
static void
start(struct hello *h)
{
	static const unsigned char hdr[] = { 22, 3, 1, 0, 0, 1, 0, 0, 0 };
	static const unsigned char fixed[2 + 32 + 1 + 4 + 2] = {
		3, 3,					/* legacy_version */
		[34] = 0,				/* no session id */
		[35] = 0, [36] = 2, [37] = 0x13, [38] = 0x01,	/* suites */
		[39] = 1, [40] = 0			/* null compression */
	};

	h->n = 0;
	put(h, hdr, sizeof(hdr));
	h->body = 5;
	put(h, fixed, sizeof(fixed));
}

static void
finish(struct hello *h)
{
	size_t msg = h->n - 5, body = msg - 4;

	h->b[3] = (unsigned char)(msg >> 8);
	h->b[4] = (unsigned char)msg;
	h->b[6] = (unsigned char)(body >> 16);
	h->b[7] = (unsigned char)(body >> 8);
	h->b[8] = (unsigned char)body;
}

/* An extensions block holding one server_name with the given names. */
static void
sni_ext(struct hello *h, const char *const *names, size_t count)
{
	size_t i, list = 0;

	for (i = 0; i < count; i++)
		list += 3 + strlen(names[i]);
	put16(h, 4 + 2 + list);		/* extensions */
	put16(h, 0);			/* server_name */
	put16(h, 2 + list);
	put16(h, list);
	for (i = 0; i < count; i++) {
		put(h, "", 1);		/* host_name */
		put16(h, strlen(names[i]));
		put(h, names[i], strlen(names[i]));
	}
}

static enum clienthello_result
parse_hello(struct hello *h, char *sni, const char **why)
{
	finish(h);
	return parse(h->b, h->n, sni, NULL, why);
}

static void
check_name(const char *name, const char *want)
{
	struct hello h;
	char sni[CLIENTHELLO_NAMELEN];
	const char *why = NULL;

	start(&h);
	sni_ext(&h, &name, 1);
	if (want == NULL) {
		assert_int_equal(parse_hello(&h, sni, &why),
		    CLIENTHELLO_INVALID);
		assert_string_equal(why, "server_name: bad host name");
		return;
	}
	assert_int_equal(parse_hello(&h, sni, &why), CLIENTHELLO_OK);
	assert_string_equal(sni, want);
}

/* Host names: what a DNS name is, and nothing else. */
static void
test_names(void **state)
{
	char label64[80];

	(void)state;
	check_name("a", "a");
	check_name("MAIL.example.com.", "mail.example.com");
	check_name("under_score.example", "under_score.example");
	check_name("", NULL);
	check_name(".", NULL);
	check_name("a..b", NULL);
	check_name(".a", NULL);
	check_name("a b", NULL);
	check_name("a/b", NULL);
	check_name("caf\xc3\xa9.example", NULL);
	check_name("nul\x01", NULL);
	memset(label64, 'x', 64);
	label64[64] = '\0';
	check_name(label64, NULL);
	label64[63] = '\0';
	check_name(label64, label64);
}

/* Lengths that lie, and what the RFCs forbid. */
static void
test_malformed(void **state)
{
	static const char *const two[] = { "a.example", "b.example" };
	struct hello h;
	char sni[CLIENTHELLO_NAMELEN];
	const char *why = NULL;

	(void)state;
	/* No extensions at all: fine, no name. */
	start(&h);
	assert_int_equal(parse_hello(&h, sni, &why), CLIENTHELLO_OK);
	assert_string_equal(sni, "");

	start(&h);
	sni_ext(&h, two, 2);
	assert_int_equal(parse_hello(&h, sni, &why), CLIENTHELLO_INVALID);
	assert_string_equal(why, "server_name: two host names");

	/* Two server_name extensions. */
	start(&h);
	put16(&h, 2 * (4 + 2 + 3 + 1));
	put16(&h, 0); put16(&h, 6); put16(&h, 4); put(&h, "", 1);
	put16(&h, 1); put(&h, "a", 1);
	put16(&h, 0); put16(&h, 6); put16(&h, 4); put(&h, "", 1);
	put16(&h, 1); put(&h, "b", 1);
	assert_int_equal(parse_hello(&h, sni, &why), CLIENTHELLO_INVALID);
	assert_string_equal(why, "two server_name extensions");

	/* An extension longer than what is left. */
	start(&h);
	put16(&h, 4);
	put16(&h, 0); put16(&h, 100);
	assert_int_equal(parse_hello(&h, sni, &why), CLIENTHELLO_INVALID);
	assert_string_equal(why, "truncated extension");

	/* The extensions block says more than the message holds. */
	start(&h);
	put16(&h, 50);
	assert_int_equal(parse_hello(&h, sni, &why), CLIENTHELLO_INVALID);
	assert_string_equal(why, "extensions do not end where the message "
	    "ends");

	/* A host name longer than its list. */
	start(&h);
	put16(&h, 4 + 2 + 3 + 1);
	put16(&h, 0); put16(&h, 6); put16(&h, 4); put(&h, "", 1);
	put16(&h, 9); put(&h, "a", 1);
	assert_int_equal(parse_hello(&h, sni, &why), CLIENTHELLO_INVALID);
	assert_string_equal(why, "server_name: truncated entry");

	/* An empty server_name list. */
	start(&h);
	put16(&h, 6);
	put16(&h, 0); put16(&h, 2); put16(&h, 0);
	assert_int_equal(parse_hello(&h, sni, &why), CLIENTHELLO_INVALID);
	assert_string_equal(why, "server_name: bad list length");

	/* An odd cipher suite length. */
	start(&h);
	h.b[h.body + 4 + 35 + 1] = 3;
	assert_int_equal(parse_hello(&h, sni, &why), CLIENTHELLO_INVALID);
	assert_string_equal(why, "bad cipher suites");

	/* A session id of 33 bytes. */
	start(&h);
	h.b[h.body + 4 + 34] = 33;
	assert_int_equal(parse_hello(&h, sni, &why), CLIENTHELLO_INVALID);
	assert_string_equal(why, "truncated before the cipher suites");

	/* Not a ClientHello: a ServerHello (2). */
	start(&h);
	finish(&h);
	h.b[5] = 2;
	assert_int_equal(parse(h.b, h.n, sni, NULL, &why),
	    CLIENTHELLO_INVALID);
	assert_string_equal(why, "the first handshake message is not a "
	    "ClientHello");
}

/* Records that are wrong in themselves. */
static void
test_records(void **state)
{
	unsigned char b[4096], f[8192];
	char sni[CLIENTHELLO_NAMELEN];
	const char *why = NULL;
	size_t n, m, need;
	struct hello h;

	(void)state;
	n = openssl_hello("x.example", 0, b, sizeof(b));

	/* An alert record in the middle of a fragmented hello. */
	m = refragment(b, n, 200, f, sizeof(f));
	f[5 + 200] = 21;
	assert_int_equal(parse(f, m, sni, NULL, &why), CLIENTHELLO_INVALID);
	assert_string_equal(why, "a record of another kind inside the "
	    "ClientHello");

	/* A zero-length record. */
	memcpy(f, b, 5);
	f[3] = f[4] = 0;
	assert_int_equal(parse(f, 5, sni, NULL, &why), CLIENTHELLO_INVALID);
	assert_string_equal(why, "empty handshake record");

	/* A record longer than 2^14, without waiting for its bytes. */
	f[3] = 0x40;
	f[4] = 0x01;
	assert_int_equal(parse(f, 5, sni, NULL, &why), CLIENTHELLO_INVALID);
	assert_string_equal(why, "record longer than 2^14 bytes");

	/* A record reaching past the end of the hello it carries. */
	memcpy(f, b, n);
	f[3] = (unsigned char)((n - 5 + 10) >> 8);
	f[4] = (unsigned char)(n - 5 + 10);
	assert_int_equal(parse(f, n, sni, &need, &why), CLIENTHELLO_INVALID);
	assert_string_equal(why, "a record reaches past the end of the "
	    "ClientHello");

	/* A ClientHello longer than CLIENTHELLO_MAX, judged at its header. */
	start(&h);
	finish(&h);
	h.b[6] = 0x01;	/* 65536 + ... */
	assert_int_equal(parse(h.b, 9, sni, NULL, &why), CLIENTHELLO_INVALID);
	assert_string_equal(why, "ClientHello longer than 16384 bytes");

	/* Not TLS at all: HTTP, SSLv2's hello, a TLS record version 2. */
	assert_int_equal(parse((const unsigned char *)"GET / HTTP/1.1\r\n",
	    16, sni, NULL, &why), CLIENTHELLO_INVALID);
	assert_string_equal(why, "not a TLS handshake record");
	assert_int_equal(parse((const unsigned char *)"\x80\x2e\x01\x03\x01",
	    5, sni, NULL, &why), CLIENTHELLO_INVALID);
	assert_int_equal(parse((const unsigned char *)"\x16\x02", 2, sni,
	    NULL, &why), CLIENTHELLO_INVALID);
	/* A single byte that could still start one. */
	assert_int_equal(parse((const unsigned char *)"\x16", 1, sni, &need,
	    NULL), CLIENTHELLO_MORE);
	assert_int_equal(need, 5);
	assert_int_equal(parse(b, 0, sni, &need, NULL), CLIENTHELLO_MORE);

	/* No room for the name. */
	assert_int_equal(clienthello_parse(b, n, sni, 10, NULL, &why),
	    CLIENTHELLO_INVALID);
}

/*
 * Garbage, and real hellos with bytes flipped: never a crash (ASan and
 * UBSan watch), a name only when OK, and any request for more within
 * CLIENTHELLO_BUFMAX.
 */
static void
test_garbage(void **state)
{
	unsigned char b[4096], g[4096];
	char sni[CLIENTHELLO_NAMELEN];
	uint32_t x = 2463534242u;
	size_t n, i, k, need;
	enum clienthello_result r;

	(void)state;
	n = openssl_hello("fuzz.example", 0, b, sizeof(b));
	for (i = 0; i < 20000; i++) {
		memcpy(g, b, n);
		for (k = 0; k < 1 + i % 8; k++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			g[x % n] = (unsigned char)(x >> 8);
		}
		need = 0;
		r = parse(g, (i % 3 == 0) ? x % n : n, sni, &need, NULL);
		if (r == CLIENTHELLO_MORE)
			assert_true(need > 0 && need <= CLIENTHELLO_BUFMAX);
		if (r != CLIENTHELLO_OK)
			assert_string_equal(sni, "");
		else
			assert_true(strlen(sni) < CLIENTHELLO_NAMELEN);
	}
	for (i = 0; i < 2000; i++) {
		for (k = 0; k < sizeof(g); k++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			g[k] = (unsigned char)x;
		}
		g[0] = 22;
		g[1] = 3;
		r = parse(g, x % sizeof(g), sni, &need, NULL);
		if (r == CLIENTHELLO_MORE)
			assert_true(need <= CLIENTHELLO_BUFMAX);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openssl),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_fragmented),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
