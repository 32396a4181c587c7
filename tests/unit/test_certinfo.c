/*
 * test_certinfo.c: certificate facts and policy (certinfo.h): the one name
 * rendering, AIA URLs, dates, the weak-algorithm rules, the initial-window
 * size, address literals and protocol names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "certinfo.h"
#include "log.h"
#include "testpki.h"

/* A name of (field, UTF-8 value) pairs, NULL-terminated. */
static X509_NAME *
mkname(const char *field, ...)
{
	X509_NAME *n = X509_NAME_new();
	const char *f, *v;
	va_list ap;

	assert_non_null(n);
	va_start(ap, field);
	for (f = field; f != NULL; f = va_arg(ap, const char *)) {
		v = va_arg(ap, const char *);
		assert_int_equal(X509_NAME_add_entry_by_txt(n, f, MBSTRING_UTF8,
		    (const unsigned char *)v, -1, -1, 0), 1);
	}
	va_end(ap);
	return n;
}

static void
expect_name(X509_NAME *n, const char *want)
{
	char buf[CERTINFO_NAMELEN];

	assert_string_equal(certinfo_name(n, buf, sizeof(buf)), want);
	X509_NAME_free(n);
}

/* The rule of certinfo.h, one feature at a time. */
static void
test_name(void **state)
{
	(void)state;
	/* Most specific RDN first, RFC 2253 order. */
	expect_name(mkname("O", "Example", "CN", "www", NULL),
	    "CN=www,O=Example");
	/* Specials keep their backslash. */
	expect_name(mkname("CN", "a,b", NULL), "CN=a\\,b");
	expect_name(mkname("O", "R\\D", NULL), "O=R\\\\D");
	expect_name(mkname("CN", "say \"hi\"; a+b <x>", NULL),
	    "CN=say \\\"hi\\\"\\; a\\+b \\<x\\>");
	expect_name(mkname("CN", "#lead", NULL), "CN=\\#lead");
	/* Non-ASCII: each UTF-8 byte as \XX, whatever the string type. */
	expect_name(mkname("CN", "Root Caf\xc3\xa9", NULL),
	    "CN=Root Caf\\C3\\A9");
	/* Control characters likewise; DEL too. */
	expect_name(mkname("CN", "a\nb\033[31m", NULL),
	    "CN=a\\0Ab\\1B[31m");
	expect_name(mkname("CN", "x\x7fy", NULL), "CN=x\\7Fy");
	/* The empty name. */
	expect_name(X509_NAME_new(), "");
}

/* The same name from a BMPString (UTF-16) renders as from UTF-8. */
static void
test_name_bmp(void **state)
{
	static const unsigned char bmp[] = { 0, 'C', 0, 'a', 0, 'f', 0, 0xe9 };
	X509_NAME *n = X509_NAME_new();

	(void)state;
	assert_non_null(n);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_BMP,
	    bmp, sizeof(bmp), -1, 0), 1);
	expect_name(n, "CN=Caf\\C3\\A9");
}

/* Truncation never cuts an escape in two. */
static void
test_name_truncated(void **state)
{
	X509_NAME *n = mkname("CN", "ab\xc3\xa9", NULL);
	char buf[16];

	(void)state;
	/* "CN=ab\C3\A9" is 11 characters. */
	assert_string_equal(certinfo_name(n, buf, 12), "CN=ab\\C3\\A9");
	assert_string_equal(certinfo_name(n, buf, 11), "CN=ab\\C3");
	assert_string_equal(certinfo_name(n, buf, 10), "CN=ab\\C3");
	assert_string_equal(certinfo_name(n, buf, 8), "CN=ab");
	assert_string_equal(certinfo_name(n, buf, 1), "");
	X509_NAME_free(n);
	n = mkname("CN", "a,b", NULL);
	/* "CN=a\,b": the "\," goes whole or not at all. */
	assert_string_equal(certinfo_name(n, buf, 6), "CN=a");
	assert_string_equal(certinfo_name(n, buf, 7), "CN=a\\,");
	X509_NAME_free(n);
}

static X509 *
cert_with(const char *aia, const EVP_MD *md, EVP_PKEY *key, long nb, long na)
{
	struct testpki_certspec s;

	memset(&s, 0, sizeof(s));
	s.cn = "t";
	s.key = key;
	s.aia = aia;
	s.md = md;
	s.not_before = nb;
	s.not_after = na;
	return testpki_cert(&s);
}

static void
test_aia(void **state)
{
	EVP_PKEY *k = testpki_key_ec();
	X509 *x;
	char buf[256];

	(void)state;
	x = cert_with(NULL, NULL, k, -TESTPKI_DAY, TESTPKI_DAY);
	assert_string_equal(certinfo_aia(x, 8, buf, sizeof(buf)), "");
	X509_free(x);
	x = cert_with("http://pki.invalid/a.cer", NULL, k, -TESTPKI_DAY,
	    TESTPKI_DAY);
	assert_string_equal(certinfo_aia(x, 8, buf, sizeof(buf)),
	    "http://pki.invalid/a.cer");
	/* Too small a buffer: nothing rather than half a URL. */
	assert_string_equal(certinfo_aia(x, 8, buf, 10), "");
	X509_free(x);
	/* Several URLs (OCSP ones are not caIssuers); max counts them. */
	x = cert_with("http://a.invalid/1.cer,OCSP;URI:http://ocsp.invalid,"
	    "caIssuers;URI:ldap://b.invalid/2\"x", NULL, k, -TESTPKI_DAY,
	    TESTPKI_DAY);
	assert_string_equal(certinfo_aia(x, 8, buf, sizeof(buf)),
	    "http://a.invalid/1.cer, ldap://b.invalid/2\\x22x");
	assert_string_equal(certinfo_aia(x, 1, buf, sizeof(buf)),
	    "http://a.invalid/1.cer");
	assert_string_equal(certinfo_aia(x, 8, buf, 30),
	    "http://a.invalid/1.cer");
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_times(void **state)
{
	EVP_PKEY *k = testpki_key_ec();
	time_t now = time(NULL), t;
	X509 *x;
	char buf[64];

	(void)state;
	x = cert_with(NULL, NULL, k, -TESTPKI_DAY, 10 * TESTPKI_DAY);
	assert_int_equal(certinfo_time(X509_get0_notAfter(x), &t), 0);
	assert_true(t >= now + 10 * TESTPKI_DAY - 60 &&
	    t <= now + 10 * TESTPKI_DAY + 60);
	assert_int_equal(certinfo_valid_at(x, now), 1);
	assert_int_equal(certinfo_valid_at(x, t), 1);	/* notAfter included */
	assert_int_equal(certinfo_valid_at(x, t + 1), 0);
	assert_int_equal(certinfo_valid_at(x, now - 2 * TESTPKI_DAY), 0);
	assert_int_equal(certinfo_time(NULL, &t), -1);
	assert_int_equal(t, 0);
	X509_free(x);
	EVP_PKEY_free(k);

	assert_int_equal(certinfo_days_left(1000 + 86400 * 3 - 1, 1000), 2);
	assert_int_equal(certinfo_days_left(1000 + 86400 * 3, 1000), 3);
	assert_int_equal(certinfo_days_left(1000, 1000), 0);
	assert_int_equal(certinfo_days_left(999, 1000), -1);
	assert_int_equal(certinfo_days_left(1000 - 86400, 1000), -1);
	assert_int_equal(certinfo_days_left(1000 - 86401, 1000), -2);

	assert_int_equal(certinfo_expires_before(1000, 1000 + 86400), 0);
	assert_int_equal(certinfo_expires_before(1000, 1000 + 86401), 1);
	assert_int_equal(certinfo_expires_before(2000, 1000), 0);

	t = 1795956498;		/* 2026-11-29 12:48:18 UTC */
	assert_string_equal(certinfo_timestr(t, CERTINFO_TIME_ISO8601, buf,
	    sizeof(buf)), "2026-11-29T12:48:18Z");
	assert_string_equal(certinfo_timestr(t, CERTINFO_TIME_DAY, buf,
	    sizeof(buf)), "2026-11-29");
	assert_string_equal(certinfo_timestr(t, CERTINFO_TIME_UTC, buf,
	    sizeof(buf)), "2026-11-29 12:48:18 UTC");
	assert_string_equal(certinfo_timestr(t, CERTINFO_TIME_LIST, buf,
	    sizeof(buf)), "2026-11-29 12:48:18Z");
	assert_string_equal(certinfo_timestr(t, CERTINFO_TIME_ISO8601, buf, 5),
	    "?");
}

static EVP_PKEY *
pss_key(int bits)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pk = NULL;

	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);
	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits), 1);
	assert_int_equal(EVP_PKEY_generate(ctx, &pk), 1);
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

static void
test_weak(void **state)
{
	EVP_PKEY *rsa1024 = testpki_key_rsa(1024), *rsa2048 =
	    testpki_key_rsa(2048), *ec = testpki_key_ec(), *pss1024, *pss2048;
	X509 *x;

	(void)state;
	assert_true(certinfo_weak_digest(NID_sha1));
	assert_true(certinfo_weak_digest(NID_md5));
	assert_true(certinfo_weak_digest(NID_md5_sha1));
	assert_true(certinfo_weak_digest(NID_md4));
	assert_true(certinfo_weak_digest(NID_md2));
	assert_false(certinfo_weak_digest(NID_sha256));
	assert_false(certinfo_weak_digest(NID_undef));

	pss1024 = pss_key(1024);
	pss2048 = pss_key(2048);
	assert_true(certinfo_weak_key(rsa1024));
	assert_true(certinfo_weak_key(pss1024));
	assert_false(certinfo_weak_key(rsa2048));
	assert_false(certinfo_weak_key(pss2048));
	assert_false(certinfo_weak_key(ec));	/* P-256 */
	assert_false(certinfo_weak_key(NULL));

	/* Self-signed: its own key verifies it. */
	x = cert_with(NULL, NULL, ec, -TESTPKI_DAY, TESTPKI_DAY);
	assert_true(certinfo_self_signed(x));
	X509_free(x);
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(rsa2048);
	EVP_PKEY_free(pss1024);
	EVP_PKEY_free(pss2048);
	EVP_PKEY_free(ec);
}

static void
test_misc(void **state)
{
	(void)state;
	/* One certificate of 1000 bytes: 4 + 3 + 3 + 1000. */
	assert_int_equal(certinfo_msg_size(1, 1000), 1010);
	assert_int_equal(certinfo_msg_size(0, 0), 7);
	assert_int_equal(CERTINFO_INITIAL_WINDOW, 10 * 1460);

	assert_true(certinfo_is_ip("127.0.0.1"));
	assert_true(certinfo_is_ip("::1"));
	assert_true(certinfo_is_ip("2001:db8::1"));
	assert_false(certinfo_is_ip("localhost"));
	assert_false(certinfo_is_ip("1.2.3"));
	assert_false(certinfo_is_ip("[::1]"));

	assert_string_equal(certinfo_protocol_name(TLS1_VERSION), "TLSv1");
	assert_string_equal(certinfo_protocol_name(TLS1_1_VERSION), "TLSv1.1");
	assert_string_equal(certinfo_protocol_name(TLS1_2_VERSION), "TLSv1.2");
	assert_string_equal(certinfo_protocol_name(TLS1_3_VERSION), "TLSv1.3");
	assert_string_equal(certinfo_protocol_name(0), "unknown");
}

/* Lowercase hex; whole bytes only when buf is short; always terminated. */
static void
test_hex(void **state)
{
	static const unsigned char b[] = { 0x00, 0x9f, 0xa0, 0xff };
	char buf[16];

	(void)state;
	assert_string_equal(certinfo_hex(b, sizeof(b), buf, sizeof(buf)),
	    "009fa0ff");
	assert_string_equal(certinfo_hex(b, sizeof(b), buf, 9), "009fa0ff");
	assert_string_equal(certinfo_hex(b, sizeof(b), buf, 8), "009fa0");
	assert_string_equal(certinfo_hex(b, sizeof(b), buf, 2), "");
	assert_string_equal(certinfo_hex(b, 0, buf, sizeof(buf)), "");
	buf[0] = 'x';
	assert_ptr_equal(certinfo_hex(b, sizeof(b), buf, 0), buf);
	assert_int_equal(buf[0], 'x');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_name_bmp),
		cmocka_unit_test(test_name_truncated),
		cmocka_unit_test(test_aia),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_weak),
		cmocka_unit_test(test_misc),
		cmocka_unit_test(test_hex),
	};

	log_init("test_certinfo", LOG_LEVEL_DEBUG, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
