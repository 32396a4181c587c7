/*
 * clienthello.h: the server name (SNI) of a TLS ClientHello, read from the
 * raw bytes a client sent, before any TLS library sees them: what a
 * passthrough site is chosen by.
 *
 * The input is hostile: every length is checked against what encloses it,
 * nothing is read past the bytes given, and nothing is allocated.  The
 * ClientHello may span several TLS records (each a handshake record of at
 * most 2^14 bytes); it is reassembled up to CLIENTHELLO_MAX bytes.
 */
#ifndef CHAINFIX_CLIENTHELLO_H
#define CHAINFIX_CLIENTHELLO_H

#include <stddef.h>

/* The largest ClientHello message taken (a post-quantum key share and a
   long extension list fit several times over). */
#define CLIENTHELLO_MAX		16384

/* At most this many records may carry it (legal: 1-byte records; seen:
   one, or two for a large one). */
#define CLIENTHELLO_RECORDS	32

/* The most bytes a caller ever has to hold for clienthello_parse(). */
#define CLIENTHELLO_BUFMAX	(CLIENTHELLO_MAX + 4 + CLIENTHELLO_RECORDS * 5)

/* Room for a server name: 253 bytes and the NUL, rounded. */
#define CLIENTHELLO_NAMELEN	256

enum clienthello_result {
	CLIENTHELLO_OK,		/* complete: the name (maybe none) is in sni */
	CLIENTHELLO_MORE,	/* well-formed so far: need more bytes */
	CLIENTHELLO_INVALID	/* not a TLS ClientHello, or malformed */
};

/*
 * clienthello_parse(buf, len, sni, snilen, need, why):
 * Look at the first len bytes a client sent.  CLIENTHELLO_OK: sni holds
 * the host_name of the server_name extension, lowercased and without a
 * trailing dot, or "" if there is none (no extensions, no server_name).
 * CLIENTHELLO_MORE: *need is the total number of bytes to have before
 * calling again (at least len + 1; never more than CLIENTHELLO_BUFMAX).  CLIENTHELLO_INVALID: *why (static) says what is
 * wrong ("not a TLS handshake record", "server_name: bad host name", ...).
 * snilen must be at least CLIENTHELLO_NAMELEN.  need and why may be NULL.
 */
enum clienthello_result clienthello_parse(const unsigned char *buf,
    size_t len, char *sni, size_t snilen, size_t *need, const char **why);

#endif /* CHAINFIX_CLIENTHELLO_H */
