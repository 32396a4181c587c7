/*
 * clienthello.c: the server name of a raw TLS ClientHello (clienthello.h).
 *
 * RFC 8446 5.1 (records), 4.1.2 (ClientHello), RFC 6066 3 (server_name).
 * A reader is a pointer and a count of bytes left; every read checks the
 * count first, and a length field opens a sub-reader that must end exactly
 * where its length says.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "clienthello.h"

#define CH_RECORD_HEADER	5
#define CH_RECORD_MAX		16384	/* TLSPlaintext.length <= 2^14 */
#define CH_HANDSHAKE		22	/* ContentType handshake */
#define CH_CLIENT_HELLO		1	/* HandshakeType client_hello */
#define CH_EXT_SERVER_NAME	0	/* ExtensionType server_name */
#define CH_NAME_HOST		0	/* NameType host_name */

struct ch_reader {
	const unsigned char	*p;
	size_t			 left;
};

static int
ch_u8(struct ch_reader *r, unsigned *v)
{
	if (r->left < 1)
		return -1;
	*v = r->p[0];
	r->p++;
	r->left--;
	return 0;
}

static int
ch_u16(struct ch_reader *r, unsigned *v)
{
	if (r->left < 2)
		return -1;
	*v = (unsigned)r->p[0] << 8 | r->p[1];
	r->p += 2;
	r->left -= 2;
	return 0;
}

static int
ch_skip(struct ch_reader *r, size_t n)
{
	if (r->left < n)
		return -1;
	r->p += n;
	r->left -= n;
	return 0;
}

/* The next n bytes as a reader of their own; r moves past them. */
static int
ch_sub(struct ch_reader *r, size_t n, struct ch_reader *sub)
{
	if (r->left < n)
		return -1;
	sub->p = r->p;
	sub->left = n;
	return ch_skip(r, n);
}

/* A vector with an 8- or 16-bit length prefix, as a sub-reader. */
static int
ch_vec8(struct ch_reader *r, struct ch_reader *sub)
{
	unsigned n;

	return ch_u8(r, &n) == -1 ? -1 : ch_sub(r, n, sub);
}

static int
ch_vec16(struct ch_reader *r, struct ch_reader *sub)
{
	unsigned n;

	return ch_u16(r, &n) == -1 ? -1 : ch_sub(r, n, sub);
}

/*
 * A host name as RFC 6066 wants it (a DNS name, ASCII): labels of letters,
 * digits, '-' and '_' (seen in the wild), 1 to 63 bytes each.  Copied
 * lowercased, a trailing dot dropped.  Returns 0 or -1.
 */
static int
ch_hostname(const unsigned char *s, size_t n, char *out, size_t outlen)
{
	size_t i, label = 0;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n >= outlen || n > 253)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if (isalnum(s[i]) || s[i] == '-' || s[i] == '_') {
			if (++label > 63)
				return -1;
		} else
			return -1;
		out[i] = (char)tolower(s[i]);
	}
	out[n] = '\0';
	return 0;
}

/* The server_name extension's body. */
static enum clienthello_result
ch_server_name(struct ch_reader *ext, char *sni, size_t snilen,
    const char **why)
{
	struct ch_reader list, name;
	unsigned type;
	int seen = 0;

	if (ch_vec16(ext, &list) == -1 || ext->left != 0 || list.left == 0) {
		*why = "server_name: bad list length";
		return CLIENTHELLO_INVALID;
	}
	while (list.left > 0) {
		if (ch_u8(&list, &type) == -1 || ch_vec16(&list, &name) == -1) {
			*why = "server_name: truncated entry";
			return CLIENTHELLO_INVALID;
		}
		if (type != CH_NAME_HOST)
			continue;
		if (seen++) {
			*why = "server_name: two host names";
			return CLIENTHELLO_INVALID;
		}
		if (ch_hostname(name.p, name.left, sni, snilen) == -1) {
			*why = "server_name: bad host name";
			return CLIENTHELLO_INVALID;
		}
	}
	return CLIENTHELLO_OK;
}

/* The ClientHello message body (after its 4-byte handshake header). */
static enum clienthello_result
ch_body(const unsigned char *p, size_t n, char *sni, size_t snilen,
    const char **why)
{
	struct ch_reader r = { p, n }, v, exts, ext;
	unsigned type;
	int seen = 0;

	/* legacy_version, random, legacy_session_id */
	if (ch_skip(&r, 2 + 32) == -1 || ch_vec8(&r, &v) == -1 ||
	    v.left > 32) {
		*why = "truncated before the cipher suites";
		return CLIENTHELLO_INVALID;
	}
	if (ch_vec16(&r, &v) == -1 || v.left < 2 || v.left % 2 != 0) {
		*why = "bad cipher suites";
		return CLIENTHELLO_INVALID;
	}
	if (ch_vec8(&r, &v) == -1 || v.left < 1) {
		*why = "bad compression methods";
		return CLIENTHELLO_INVALID;
	}
	/* Before TLS 1.2 extensions were optional: no name then. */
	if (r.left == 0)
		return CLIENTHELLO_OK;
	if (ch_vec16(&r, &exts) == -1 || r.left != 0) {
		*why = "extensions do not end where the message ends";
		return CLIENTHELLO_INVALID;
	}
	while (exts.left > 0) {
		if (ch_u16(&exts, &type) == -1 || ch_vec16(&exts, &ext) == -1) {
			*why = "truncated extension";
			return CLIENTHELLO_INVALID;
		}
		if (type != CH_EXT_SERVER_NAME)
			continue;
		if (seen++) {
			*why = "two server_name extensions";
			return CLIENTHELLO_INVALID;
		}
		if (ch_server_name(&ext, sni, snilen, why) != CLIENTHELLO_OK)
			return CLIENTHELLO_INVALID;
	}
	return CLIENTHELLO_OK;
}

/*
 * The first bytes of the handshake message, across records: its type and
 * length.  have bytes are in msg; avail more wait at p.  Returns the
 * message's whole length once known, 0 while not, -1 if it is not a
 * ClientHello or too long.
 */
static long
ch_want(const unsigned char *msg, size_t have, const unsigned char *p,
    size_t avail, const char **why)
{
	unsigned char hdr[4];
	size_t n, i;

	n = have < 4 ? have : 4;
	memcpy(hdr, msg, n);
	for (i = 0; n < 4 && i < avail; i++)
		hdr[n++] = p[i];
	if (n >= 1 && hdr[0] != CH_CLIENT_HELLO) {
		*why = "the first handshake message is not a ClientHello";
		return -1;
	}
	if (n < 4)
		return 0;
	n = 4 + ((size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3]);
	if (n > CLIENTHELLO_MAX + 4) {
		*why = "ClientHello longer than 16384 bytes";
		return -1;
	}
	return (long)n;
}

enum clienthello_result
clienthello_parse(const unsigned char *buf, size_t len, char *sni,
    size_t snilen, size_t *need, const char **why)
{
	unsigned char msg[CLIENTHELLO_MAX + 4];
	const char *dummy;
	size_t off = 0, have = 0, want = 0, rlen, avail;
	unsigned records = 0;
	long w;

	if (why == NULL)
		why = &dummy;
	*why = "";
	if (snilen < CLIENTHELLO_NAMELEN) {
		*why = "no room for a name";
		return CLIENTHELLO_INVALID;
	}
	sni[0] = '\0';
	for (;;) {
		if (len - off < CH_RECORD_HEADER) {
			/* What the header says is judged as soon as seen. */
			if ((len > off && buf[off] != CH_HANDSHAKE) ||
			    (len > off + 1 && buf[off + 1] != 3))
				goto notls;
			if (need != NULL)
				*need = off + CH_RECORD_HEADER;
			return CLIENTHELLO_MORE;
		}
		if (buf[off] != CH_HANDSHAKE || buf[off + 1] != 3)
			goto notls;
		rlen = (size_t)buf[off + 3] << 8 | buf[off + 4];
		if (rlen == 0 || rlen > CH_RECORD_MAX) {
			*why = rlen == 0 ? "empty handshake record" :
			    "record longer than 2^14 bytes";
			return CLIENTHELLO_INVALID;
		}
		if (++records > CLIENTHELLO_RECORDS) {
			*why = "ClientHello spread over too many records";
			return CLIENTHELLO_INVALID;
		}
		avail = len - off - CH_RECORD_HEADER;
		if (avail > rlen)
			avail = rlen;
		if (want == 0) {
			if ((w = ch_want(msg, have,
			    buf + off + CH_RECORD_HEADER, avail, why)) == -1)
				return CLIENTHELLO_INVALID;
			want = (size_t)w;
		}
		/*
		 * Nothing may follow the ClientHello before the server has
		 * answered: a record reaching past its end is malformed (and
		 * so what a caller holds stays within CLIENTHELLO_BUFMAX).
		 */
		if (want > 0 && rlen > want - have) {
			*why = "a record reaches past the end of the ClientHello";
			return CLIENTHELLO_INVALID;
		}
		if (avail < rlen) {
			/* Without the length yet, ask for just enough to
			   judge it. */
			if (need != NULL)
				*need = off + CH_RECORD_HEADER + (want > 0 ||
				    rlen < 4 - have ? rlen : 4 - have);
			return CLIENTHELLO_MORE;
		}
		/* Before want is known have + rlen < 4 < sizeof(msg). */
		memcpy(msg + have, buf + off + CH_RECORD_HEADER, rlen);
		have += rlen;
		off += CH_RECORD_HEADER + rlen;
		if (want > 0 && have == want) {
			if (ch_body(msg + 4, want - 4, sni, snilen, why) ==
			    CLIENTHELLO_OK)
				return CLIENTHELLO_OK;
			/* A name read before a later fault is no name. */
			sni[0] = '\0';
			return CLIENTHELLO_INVALID;
		}
	}
 notls:
	*why = off == 0 ? "not a TLS handshake record" :
	    "a record of another kind inside the ClientHello";
	return CLIENTHELLO_INVALID;
}
