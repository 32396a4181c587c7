/*
 * test_proxyproto.c: the PROXY protocol v2 header, byte by byte, for IPv4
 * and IPv6, with and without the AUTHORITY TLV, and its refusals.
 */
#include <netinet/in.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proxyproto.h"

static const unsigned char sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static void
v4(struct sockaddr_in *sin, const char *a, unsigned port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET, a, &sin->sin_addr), 1);
}

static void
v6(struct sockaddr_in6 *sin6, const char *a, unsigned port)
{
	memset(sin6, 0, sizeof(*sin6));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET6, a, &sin6->sin6_addr), 1);
}

static void
test_ipv4(void **state)
{
	static const unsigned char want[] = {
		0x21, 0x11, 0x00, 0x18,			/* v2 PROXY, TCP4, 24 */
		203, 0, 113, 7,				/* client */
		192, 0, 2, 10,				/* reached */
		0xca, 0x16, 0x01, 0xbb,			/* 51734, 443 */
		0x02, 0x00, 0x09, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't'
	};
	struct sockaddr_in src, dst;
	unsigned char b[PROXYPROTO_MAX];

	(void)state;
	v4(&src, "203.0.113.7", 51734);
	v4(&dst, "192.0.2.10", 443);
	assert_int_equal(proxyproto_v2(b, sizeof(b), (struct sockaddr *)&src,
	    (struct sockaddr *)&dst, "localhost"), 12 + sizeof(want));
	assert_memory_equal(b, sig, 12);
	assert_memory_equal(b + 12, want, sizeof(want));

	/* No name: no TLV, length 12. */
	assert_int_equal(proxyproto_v2(b, sizeof(b), (struct sockaddr *)&src,
	    (struct sockaddr *)&dst, NULL), 28);
	assert_int_equal(b[15], 12);
	assert_int_equal(proxyproto_v2(b, sizeof(b), (struct sockaddr *)&src,
	    (struct sockaddr *)&dst, ""), 28);
}

static void
test_ipv6(void **state)
{
	struct sockaddr_in6 src, dst;
	struct sockaddr_in other;
	unsigned char b[PROXYPROTO_MAX], a[16];

	(void)state;
	v6(&src, "2001:db8::7", 40000);
	v6(&dst, "2001:db8::1", 8443);
	assert_int_equal(proxyproto_v2(b, sizeof(b), (struct sockaddr *)&src,
	    (struct sockaddr *)&dst, NULL), 16 + 36);
	assert_int_equal(b[13], 0x21);
	assert_int_equal(b[14] << 8 | b[15], 36);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", a), 1);
	assert_memory_equal(b + 16, a, 16);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", a), 1);
	assert_memory_equal(b + 32, a, 16);
	assert_int_equal(b[48] << 8 | b[49], 40000);
	assert_int_equal(b[50] << 8 | b[51], 8443);

	/* A destination of the other family: the client's family, zeros. */
	v4(&other, "192.0.2.1", 443);
	assert_int_equal(proxyproto_v2(b, sizeof(b), (struct sockaddr *)&src,
	    (struct sockaddr *)&other, NULL), 16 + 36);
	memset(a, 0, sizeof(a));
	assert_memory_equal(b + 32, a, 16);
	assert_int_equal(b[50] << 8 | b[51], 0);
}

static void
test_refusals(void **state)
{
	struct sockaddr_in src, dst;
	struct sockaddr un;
	unsigned char b[PROXYPROTO_MAX];
	char longname[400];

	(void)state;
	v4(&src, "198.51.100.1", 1);
	v4(&dst, "198.51.100.2", 2);
	/* Too small a buffer. */
	assert_int_equal(proxyproto_v2(b, 27, (struct sockaddr *)&src,
	    (struct sockaddr *)&dst, NULL), 0);
	/* Not IP. */
	memset(&un, 0, sizeof(un));
	un.sa_family = AF_UNIX;
	assert_int_equal(proxyproto_v2(b, sizeof(b), &un,
	    (struct sockaddr *)&dst, NULL), 0);
	/* A name longer than a TLV holds is cut at 255. */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(proxyproto_v2(b, sizeof(b), (struct sockaddr *)&src,
	    (struct sockaddr *)&dst, longname), PROXYPROTO_MAX - 36 + 12);
	assert_int_equal(b[28], 0x02);
	assert_int_equal(b[29] << 8 | b[30], 255);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
