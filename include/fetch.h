/*
 * fetch.h: one HTTP or HTTPS GET, with libevent's HTTP client (evhttp, evdns
 * and, for https, a verifying bufferevent_openssl), bounded in time and
 * size.  It runs its own event_base to completion on the calling thread, so
 * it is for the command-line tools and for startup and reload (AIA issuers,
 * `chainfix intermediates update`), never for the handshake path.
 * SIGPIPE is the caller's business: the tools and the daemon ignore it.
 */
#ifndef CHAINFIX_FETCH_H
#define CHAINFIX_FETCH_H

#include <stddef.h>

/* What a fetch may do. */
struct fetch_opts {
	unsigned	 timeout;	/* seconds for the whole fetch,
					   redirects included; 0: 10 */
	size_t		 max_size;	/* body cap in bytes; 0: 1 MiB */
	const char	*ca_file;	/* https: trust this PEM file, not the
					   system store; NULL: the system's */
	unsigned	 max_redirects;	/* 301/302/303/307/308 followed */
	int		 https_only;	/* refuse http:// (also as a redirect) */
};

/*
 * fetch_get(url, opts, body, len, err, errlen):
 * GET url (http:// or https://; the certificate of an https server is
 * verified, name included) and, on a 200 answer, return its body in a new
 * buffer *body (free() it; NUL-terminated one byte past *len).  Fails with
 * a one-line reason in err (nothing logged): a URL that is not http(s), a
 * name that does not resolve, a refused connection, a TLS or certificate
 * failure, a status other than 200, too many redirects, a body over the
 * cap, or the timeout.  Returns 0 or -1.
 */
int fetch_get(const char *url, const struct fetch_opts *opts,
    unsigned char **body, size_t *len, char *err, size_t errlen);

#endif /* CHAINFIX_FETCH_H */
