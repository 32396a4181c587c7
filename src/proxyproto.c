/*
 * proxyproto.c: the PROXY protocol v2 header (proxyproto.h), as the
 * specification (HAProxy's doc/proxy-protocol.txt, section 2.2) lays it
 * out: a 12-byte signature, version and command, family and transport, the
 * length of what follows (big-endian), the addresses and ports, then TLVs.
 */
#include <netinet/in.h>

#include <stdint.h>
#include <string.h>

#include "proxyproto.h"

static const unsigned char proxyproto_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

#define PP2_VERSION_PROXY	0x21	/* version 2, command PROXY */
#define PP2_TCP4		0x11	/* AF_INET, STREAM */
#define PP2_TCP6		0x21	/* AF_INET6, STREAM */
#define PP2_TYPE_AUTHORITY	0x02

size_t
proxyproto_v2(unsigned char *buf, size_t len, const struct sockaddr *src,
    const struct sockaddr *dst, const char *authority)
{
	const struct sockaddr_in *s4, *d4;
	const struct sockaddr_in6 *s6, *d6;
	size_t alen, tlv = 0, n;
	unsigned char *p;

	if (src->sa_family == AF_INET)
		alen = 12;
	else if (src->sa_family == AF_INET6)
		alen = 36;
	else
		return 0;
	if (authority != NULL && authority[0] != '\0') {
		if ((tlv = strlen(authority)) > 255)
			tlv = 255;
		tlv += 3;
	}
	n = 16 + alen + tlv;
	if (n > len)
		return 0;
	memset(buf, 0, n);
	memcpy(buf, proxyproto_sig, sizeof(proxyproto_sig));
	buf[12] = PP2_VERSION_PROXY;
	buf[14] = (unsigned char)((alen + tlv) >> 8);
	buf[15] = (unsigned char)(alen + tlv);
	p = buf + 16;
	/* Addresses and ports stay in network order, as sockaddrs hold them. */
	if (src->sa_family == AF_INET) {
		buf[13] = PP2_TCP4;
		s4 = (const struct sockaddr_in *)(const void *)src;
		memcpy(p, &s4->sin_addr, 4);
		memcpy(p + 8, &s4->sin_port, 2);
		if (dst->sa_family == AF_INET) {
			d4 = (const struct sockaddr_in *)(const void *)dst;
			memcpy(p + 4, &d4->sin_addr, 4);
			memcpy(p + 10, &d4->sin_port, 2);
		}
	} else {
		buf[13] = PP2_TCP6;
		s6 = (const struct sockaddr_in6 *)(const void *)src;
		memcpy(p, &s6->sin6_addr, 16);
		memcpy(p + 32, &s6->sin6_port, 2);
		if (dst->sa_family == AF_INET6) {
			d6 = (const struct sockaddr_in6 *)(const void *)dst;
			memcpy(p + 16, &d6->sin6_addr, 16);
			memcpy(p + 34, &d6->sin6_port, 2);
		}
	}
	if (tlv > 0) {
		p += alen;
		p[0] = PP2_TYPE_AUTHORITY;
		p[1] = (unsigned char)((tlv - 3) >> 8);
		p[2] = (unsigned char)(tlv - 3);
		memcpy(p + 3, authority, tlv - 3);
	}
	return n;
}
