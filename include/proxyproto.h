/*
 * proxyproto.h: the HAProxy PROXY protocol, version 2 (the binary header a
 * backend reads before anything else to learn the client's address),
 * written by chainfix at the start of a backend connection when the site
 * says backend_proxy_protocol = v2.
 */
#ifndef CHAINFIX_PROXYPROTO_H
#define CHAINFIX_PROXYPROTO_H

#include <stddef.h>

#include <sys/socket.h>

/* The largest header written: 16 + 36 (IPv6) + a 3-byte TLV of 255. */
#define PROXYPROTO_MAX		(16 + 36 + 3 + 255)

/*
 * proxyproto_v2(buf, len, src, dst, authority):
 * Write a PROXY v2 header for a TCP connection from src (the client) to
 * dst (the address it connected to, on this host) into buf: command PROXY,
 * family TCP over IPv4 or IPv6 (src's; a dst of the other family is taken
 * as the client's own family's "any" address), and, if authority is not
 * NULL or "", the PP2_TYPE_AUTHORITY TLV with it (the client's SNI; at
 * most 255 bytes).  Returns the header's length, or 0 if src is neither
 * IPv4 nor IPv6 or buf is too small.
 */
size_t proxyproto_v2(unsigned char *buf, size_t len,
    const struct sockaddr *src, const struct sockaddr *dst,
    const char *authority);

#endif /* CHAINFIX_PROXYPROTO_H */
