/*
 * check_activesync.c: `chainfix check --activesync` (check_int.h): what a
 * phone sends first, OPTIONS /Microsoft-Server-ActiveSync, on the
 * connection whose chain was just looked at, and what came back: the
 * status and the MS-ASProtocolVersions a phone would see.
 *
 * The answer is the server's text: only the head is read, at most
 * CHECK_HTTP_MAX bytes, and every byte of it that is kept is escaped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>

#include "check_int.h"
#include "probe.h"

#define CHECK_HTTP_MAX		16384

/* Copy len bytes of s, escaping anything that is not printable ASCII. */
static void
check_activesync_clean(const char *s, size_t slen, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	unsigned char c;

	if (len == 0)
		return;
	for (i = 0; i < slen; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f) {
			if (o + 1 >= len)
				break;
			buf[o++] = (char)c;
		} else {
			if (o + 4 >= len)
				break;
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 0xf];
		}
	}
	buf[o] = '\0';
}

static void
check_activesync_header(const char *line, size_t len, const char *name, char *out,
    size_t outlen)
{
	size_t nlen = strlen(name);

	if (len <= nlen || strncasecmp(line, name, nlen) != 0 ||
	    line[nlen] != ':')
		return;
	line += nlen + 1;
	len -= nlen + 1;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	check_activesync_clean(line, len, out, outlen);
}

void
check_activesync_run(struct check_report *r, const struct check_opts *o,
    struct probe *pr)
{
	char req[1024], hosthdr[300], *buf = NULL, *eol, *p, *end;
	size_t have = 0, done, off;
	long long deadline = probe_now_ms() + o->timeout_ms;
	int rv;

	r->as_tried = 1;
	r->as_status = -1;
	if (o->sni != NULL)
		snprintf(hosthdr, sizeof(hosthdr), "%s", o->sni);
	else if (strchr(o->host, ':') != NULL)
		snprintf(hosthdr, sizeof(hosthdr), "[%s]", o->host);
	else
		snprintf(hosthdr, sizeof(hosthdr), "%s", o->host);
	if (strcmp(o->port, "443") != 0) {
		off = strlen(hosthdr);
		snprintf(hosthdr + off, sizeof(hosthdr) - off, ":%s", o->port);
	}
	snprintf(req, sizeof(req),
	    "OPTIONS /Microsoft-Server-ActiveSync HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "User-Agent: chainfix-check/%s\r\n"
	    "Accept: */*\r\n"
	    "Content-Length: 0\r\n"
	    "Connection: close\r\n"
	    "\r\n", hosthdr, CHAINFIX_VERSION);
	for (off = 0; off < strlen(req); off += done) {
		if (probe_write(pr, req + off, strlen(req) - off, &done,
		    deadline, "sending the request", r->as_error,
		    sizeof(r->as_error)) != 1) {
			if (r->as_error[0] == '\0')
				snprintf(r->as_error, sizeof(r->as_error),
				    "the server closed the connection");
			return;
		}
	}
	if ((buf = malloc(CHECK_HTTP_MAX + 1)) == NULL) {
		snprintf(r->as_error, sizeof(r->as_error), "out of memory");
		return;
	}
	/* Only the head matters; stop at the blank line or the limit. */
	while (have < CHECK_HTTP_MAX) {
		rv = probe_read(pr, buf + have, CHECK_HTTP_MAX - have, &done,
		    deadline, "reading the response", r->as_error,
		    sizeof(r->as_error));
		if (rv == -1)
			break;
		have += done;
		buf[have] = '\0';
		if (rv == 0 || memmem(buf, have, "\r\n\r\n", 4) != NULL)
			break;
	}
	buf[have] = '\0';
	if (have == 0) {
		if (r->as_error[0] == '\0')
			snprintf(r->as_error, sizeof(r->as_error), "the server "
			    "closed the connection without an answer");
		goto out;
	}
	r->as_error[0] = '\0';
	end = buf + have;
	eol = memmem(buf, have, "\r\n", 2);
	if (eol == NULL)
		eol = end;
	check_activesync_clean(buf, (size_t)(eol - buf), r->as_status_line,
	    sizeof(r->as_status_line));
	if (strncmp(buf, "HTTP/", 5) != 0 || (p = memchr(buf, ' ',
	    (size_t)(eol - buf))) == NULL || eol - p < 4 ||
	    p[1] < '1' || p[1] > '5' || p[2] < '0' || p[2] > '9' ||
	    p[3] < '0' || p[3] > '9') {
		snprintf(r->as_error, sizeof(r->as_error), "not an HTTP "
		    "answer: \"%s\"", r->as_status_line);
		goto out;
	}
	r->as_status = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
	for (p = eol; p < end && p + 2 <= end; p = eol) {
		p += 2;
		if ((eol = memmem(p, (size_t)(end - p), "\r\n", 2)) == NULL)
			eol = end;
		if (eol == p)
			break;		/* end of the head */
		check_activesync_header(p, (size_t)(eol - p), "MS-ASProtocolVersions",
		    r->as_versions, sizeof(r->as_versions));
		check_activesync_header(p, (size_t)(eol - p), "MS-Server-ActiveSync",
		    r->as_server, sizeof(r->as_server));
	}
 out:
	free(buf);
	ERR_clear_error();
}

void
check_activesync_judge(struct check_report *r)
{
	if (!r->as_tried)
		return;
	if (r->as_status == -1)
		check_analyze_problem(r, P_ACTIVESYNC, "OPTIONS "
		    "/Microsoft-Server-ActiveSync got no HTTP answer: %s",
		    r->as_error);
	else if (r->as_status == 401)
		;	/* Exchange wants credentials: the normal answer. */
	else if (r->as_status != 200)
		check_analyze_problem(r, P_ACTIVESYNC, "OPTIONS "
		    "/Microsoft-Server-ActiveSync answered \"%s\"",
		    r->as_status_line);
	else if (r->as_versions[0] == '\0')
		check_analyze_problem(r, P_ACTIVESYNC, "OPTIONS "
		    "/Microsoft-Server-ActiveSync answered 200 without an "
		    "MS-ASProtocolVersions header: not an ActiveSync endpoint");
}
