/*
 * config.c: the INI configuration, read with libinih into typed structures.
 *
 * libinih does the parsing.  Two things Debian's build of it does not give
 * us are recovered around it, without parsing values by hand:
 *  - line numbers: the handler has no lineno argument (INI_HANDLER_LINENO
 *    is 0), so the file is fed through our own reader, which inih calls once
 *    per line, and the reader counts;
 *  - section starts: the handler is only called for name = value lines
 *    (INI_CALL_HANDLER_ON_NEW_SECTION is 0), so an empty or repeated
 *    section would go unseen.  The reader recognises "[name]" lines with
 *    inih's own rules and opens the section itself.
 * The reader also flags every line inih would reject, so one run reports
 * all syntax errors, not only the first one inih returns.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "certinfo.h"
#include "config.h"
#include "file.h"
#include "log.h"

#define CONFIG_MAX_WORKERS	256
#define CONFIG_MAX_WARN_DAYS	3650
#define CONFIG_MAX_SECTION	48	/* inih truncates at 50 */
#define CONFIG_MAX_BACKENDS	64
#define CONFIG_MAX_CONNECTIONS	10000000

/* What the reader made of a line, mirroring inih's ini_parse_stream(). */
enum config_linekind {
	CONFIG_LINE_BLANK,	/* empty or only blanks */
	CONFIG_LINE_COMMENT,	/* starts with ';' or '#' */
	CONFIG_LINE_SECTION,	/* "[name]" */
	CONFIG_LINE_KEY,	/* "name = value" or "name: value" */
	CONFIG_LINE_CONT,	/* indented: inih appends it to the last key */
	CONFIG_LINE_BAD		/* inih calls it an error */
};

struct config_ctx;
struct config_key;

/*
 * How a key's value is read and stored.  The type decides the parser and the
 * C type of the field the row's offset points at (which config_free() frees).
 */
enum config_type {
	CONFIG_T_UINT,		/* unsigned: lo to hi, or one of choices */
	CONFIG_T_DURATION,	/* unsigned seconds ("90", "15m"), >= lo */
	CONFIG_T_BOOL,		/* int: yes/no, true/false, on/off, 1/0 */
	CONFIG_T_ENUM,		/* int: the value of one of choices */
	CONFIG_T_STRING,	/* char *: any text */
	CONFIG_T_HOSTNAME,	/* char *: a DNS host name */
	CONFIG_T_FILE,		/* char *: a readable regular file, now */
	CONFIG_T_DIR,		/* char *: a readable directory, now */
	CONFIG_T_HOSTPORT,	/* struct config_hostport: [host]:port to listen
				   on (port 0: the system picks one) */
	CONFIG_T_CIPHERS,	/* char *: OpenSSL cipher list (TLS <= 1.2) */
	CONFIG_T_SUITES,	/* char *: TLS 1.3 cipher suites */
	CONFIG_T_CUSTOM		/* stored as the row's set function says,
				   freed by its clear function */
};

/* The section a key belongs in. */
enum config_scope {
	CONFIG_GLOBAL,		/* [global]: a field of struct config */
	CONFIG_SITE		/* a [site]: a field of struct config_site */
};

/* A word a CONFIG_T_ENUM or CONFIG_T_UINT key accepts; a NULL name ends
 * the list.  An alias is accepted but not offered in error messages. */
struct config_choice {
	const char	*name;
	int		 value;
	int		 alias;
};

/* Row flags. */
#define CONFIG_REQUIRED		0x01	/* every site must set it */
#define CONFIG_BACKEND_TLS	0x02	/* ignored (warned) if backend_tls = no */
#define CONFIG_TERMINATE	0x04	/* ignored (warned) in passthrough, and
					   REQUIRED only when terminating */

/*
 * A setter parses v into the key's field of obj (a struct config or a struct
 * config_site, as the row's scope says).  On error it writes the reason into
 * why, leaves the field as it was and returns -1.
 */
typedef int (*config_setter)(struct config_ctx *, const struct config_key *,
    void *obj, const char *v, char *why, size_t len);

/* One configuration key: one row of config_keys[]. */
struct config_key {
	const char		*name;
	enum config_scope	 scope;
	size_t			 offset;	/* of its field in obj */
	enum config_type	 type;
	unsigned		 lo, hi;	/* UINT range; DURATION min */
	const struct config_choice *choices;	/* ENUM; UINT's words */
	const char		*def;		/* default as written in a file,
						   NULL: none (zero, NULL) */
	int			 flags;		/* CONFIG_REQUIRED, ... */
	config_setter		 set;		/* parses instead of the type's
						   parser (the type still says
						   how the field is stored and
						   freed); CUSTOM needs one */
	void			(*clear)(void *obj);	/* CUSTOM: frees the
							   key's fields */
};

#define CONFIG_GLOBAL_KEY(n, field)					\
	.name = (n), .scope = CONFIG_GLOBAL,				\
	.offset = offsetof(struct config, field)
#define CONFIG_SITE_KEY(n, field)					\
	.name = (n), .scope = CONFIG_SITE,				\
	.offset = offsetof(struct config_site, field)

static int config_set_user(struct config_ctx *, const struct config_key *,
    void *, const char *, char *, size_t);
static int config_set_log_level(struct config_ctx *,
    const struct config_key *, void *, const char *, char *, size_t);
static int config_set_roots(struct config_ctx *, const struct config_key *,
    void *, const char *, char *, size_t);
static int config_set_listen(struct config_ctx *, const struct config_key *,
    void *, const char *, char *, size_t);
static int config_set_public(struct config_ctx *, const struct config_key *,
    void *, const char *, char *, size_t);
static int config_set_aia_cache(struct config_ctx *,
    const struct config_key *, void *, const char *, char *, size_t);
static int config_set_legacy_roots(struct config_ctx *,
    const struct config_key *, void *, const char *, char *, size_t);
static int config_set_backend(struct config_ctx *, const struct config_key *,
    void *, const char *, char *, size_t);
static int config_set_names(struct config_ctx *, const struct config_key *,
    void *, const char *, char *, size_t);
static void config_clear_names(void *);
static int config_set_backend_check(struct config_ctx *,
    const struct config_key *, void *, const char *, char *, size_t);
static void config_clear_backend_check(void *);
static int config_set_backend_verify(struct config_ctx *,
    const struct config_key *, void *, const char *, char *, size_t);
static void config_clear_backends(void *);

static const struct config_choice config_auto[] = {
	{ "auto", 0, 0 },
	{ NULL, 0, 0 }
};

static const struct config_choice config_none[] = {
	{ "none", 0, 0 },
	{ NULL, 0, 0 }
};

static const struct config_choice config_modes[] = {
#define CONFIG_MODE_CHOICE(sym, name) { name, sym, 0 },
	CONFIG_MODES(CONFIG_MODE_CHOICE)
#undef CONFIG_MODE_CHOICE
	{ NULL, 0, 0 }
};

static const struct config_choice config_proxy_protocols[] = {
	{ "no",		0,	0 },
	{ "v2",		2,	0 },
	{ NULL, 0, 0 }
};

/* certinfo.h's names, and "TLSv1.0" for TLSv1. */
static const struct config_choice config_protocols[] = {
#define CONFIG_PROTOCOL_CHOICE(v, name) { name, v, 0 },
	CERTINFO_PROTOCOLS(CONFIG_PROTOCOL_CHOICE)
#undef CONFIG_PROTOCOL_CHOICE
	{ "TLSv1.0",	TLS1_VERSION,	1 },
	{ NULL, 0, 0 }
};

/*
 * Every key of the file, in the order the annotated example documents them.
 * Adding a key is a row here and its field in config.h; config_free() frees
 * it by its type, and the defaults are applied by parsing def.
 */
static const struct config_key config_keys[] = {
	/* [global] */
	{ CONFIG_GLOBAL_KEY("workers", workers), .type = CONFIG_T_UINT,
	    .lo = 1, .hi = CONFIG_MAX_WORKERS, .choices = config_auto,
	    .def = "auto" },
	{ CONFIG_GLOBAL_KEY("user", user), .type = CONFIG_T_STRING,
	    .set = config_set_user },
	{ CONFIG_GLOBAL_KEY("allow_root", allow_root), .type = CONFIG_T_BOOL,
	    .def = "no" },
	{ CONFIG_GLOBAL_KEY("log_level", log_level), .type = CONFIG_T_CUSTOM,
	    .set = config_set_log_level, .def = "info" },
	{ CONFIG_GLOBAL_KEY("admin_listen", admin_listen),
	    .type = CONFIG_T_HOSTPORT },
	{ CONFIG_GLOBAL_KEY("expiry_warning_days", expiry_warning_days),
	    .type = CONFIG_T_UINT, .lo = 0, .hi = CONFIG_MAX_WARN_DAYS,
	    .def = "30" },
	{ CONFIG_GLOBAL_KEY("expiry_check_interval", expiry_check_interval),
	    .type = CONFIG_T_DURATION, .lo = 1, .def = "1d" },
	{ CONFIG_GLOBAL_KEY("shutdown_timeout", shutdown_timeout),
	    .type = CONFIG_T_DURATION, .lo = 0, .def = "30s" },
	/* Its keys are read (and checked) when a generation loads. */
	{ CONFIG_GLOBAL_KEY("ticket_keys", ticket_keys), .type = CONFIG_T_FILE },
	{ CONFIG_GLOBAL_KEY("ticket_keys_staged", ticket_keys_staged),
	    .type = CONFIG_T_BOOL, .def = "no" },
	{ CONFIG_GLOBAL_KEY("ticket_key_rotation", ticket_key_rotation),
	    .type = CONFIG_T_DURATION, .lo = 1, .def = "1h" },
	{ CONFIG_GLOBAL_KEY("watch", watch), .type = CONFIG_T_BOOL,
	    .def = "yes" },
	{ CONFIG_GLOBAL_KEY("client_keepalive", client_keepalive),
	    .type = CONFIG_T_DURATION, .lo = 0, .def = "15m" },
	{ CONFIG_GLOBAL_KEY("max_connections", max_connections),
	    .type = CONFIG_T_UINT, .lo = 1, .hi = CONFIG_MAX_CONNECTIONS,
	    .choices = config_auto, .def = "auto" },

	/* [site] */
	{ CONFIG_SITE_KEY("listen", listen), .type = CONFIG_T_HOSTPORT,
	    .set = config_set_listen, .flags = CONFIG_REQUIRED },
	{ CONFIG_SITE_KEY("mode", mode), .type = CONFIG_T_ENUM,
	    .choices = config_modes, .def = "terminate" },
	{ CONFIG_SITE_KEY("names", names), .type = CONFIG_T_CUSTOM,
	    .set = config_set_names, .clear = config_clear_names },
	{ CONFIG_SITE_KEY("cert", cert), .type = CONFIG_T_FILE,
	    .flags = CONFIG_REQUIRED | CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("key", key), .type = CONFIG_T_FILE,
	    .flags = CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("password_file", password_file),
	    .type = CONFIG_T_FILE, .flags = CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("intermediates", intermediates),
	    .type = CONFIG_T_DIR, .flags = CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("roots", roots), .type = CONFIG_T_STRING,
	    .set = config_set_roots, .def = "system",
	    .flags = CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("send_root", send_root), .type = CONFIG_T_BOOL,
	    .def = "no", .flags = CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("public_intermediates", public_intermediates),
	    .type = CONFIG_T_STRING, .set = config_set_public, .def = "yes",
	    .flags = CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("aia_fetch", aia_fetch), .type = CONFIG_T_BOOL,
	    .def = "no", .flags = CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("aia_cache", aia_cache), .type = CONFIG_T_STRING,
	    .set = config_set_aia_cache, .flags = CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("legacy_roots", legacy_roots),
	    .type = CONFIG_T_STRING, .set = config_set_legacy_roots,
	    .flags = CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("backend", backends), .type = CONFIG_T_CUSTOM,
	    .set = config_set_backend, .clear = config_clear_backends,
	    .flags = CONFIG_REQUIRED },
	{ CONFIG_SITE_KEY("backend_tls", backend_tls), .type = CONFIG_T_BOOL,
	    .def = "yes", .flags = CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("backend_verify", backend_verify),
	    .type = CONFIG_T_CUSTOM, .set = config_set_backend_verify,
	    .def = "yes", .flags = CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("backend_ca", backend_ca), .type = CONFIG_T_FILE,
	    .flags = CONFIG_BACKEND_TLS | CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("backend_sni", backend_sni),
	    .type = CONFIG_T_HOSTNAME,
	    .flags = CONFIG_BACKEND_TLS | CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("backend_min_protocol", backend_min_protocol),
	    .type = CONFIG_T_ENUM, .choices = config_protocols,
	    .def = "TLSv1.2", .flags = CONFIG_BACKEND_TLS | CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("backend_ciphers", backend_ciphers),
	    .type = CONFIG_T_CIPHERS,
	    .flags = CONFIG_BACKEND_TLS | CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("backend_check", backend_check),
	    .type = CONFIG_T_CUSTOM, .set = config_set_backend_check,
	    .clear = config_clear_backend_check, .def = "none" },
	{ CONFIG_SITE_KEY("backend_check_interval", backend_check_interval),
	    .type = CONFIG_T_DURATION, .lo = 1, .def = "10s" },
	{ CONFIG_SITE_KEY("backend_retry", backend_retry),
	    .type = CONFIG_T_DURATION, .lo = 1, .def = "30s" },
	{ CONFIG_SITE_KEY("backend_proxy_protocol", backend_proxy_protocol),
	    .type = CONFIG_T_ENUM, .choices = config_proxy_protocols,
	    .def = "no" },
	{ CONFIG_SITE_KEY("idle_timeout", idle_timeout),
	    .type = CONFIG_T_DURATION, .lo = 1, .def = "3660" },
	{ CONFIG_SITE_KEY("handshake_timeout", handshake_timeout),
	    .type = CONFIG_T_DURATION, .lo = 1, .def = "10" },
	{ CONFIG_SITE_KEY("connect_timeout", connect_timeout),
	    .type = CONFIG_T_DURATION, .lo = 1, .def = "10" },
	{ CONFIG_SITE_KEY("min_protocol", min_protocol), .type = CONFIG_T_ENUM,
	    .choices = config_protocols, .def = "TLSv1.2",
	    .flags = CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("ciphers", ciphers), .type = CONFIG_T_CIPHERS,
	    .flags = CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("ciphersuites", ciphersuites),
	    .type = CONFIG_T_SUITES, .flags = CONFIG_TERMINATE },
	{ CONFIG_SITE_KEY("max_connections", max_connections),
	    .type = CONFIG_T_UINT, .lo = 1, .hi = CONFIG_MAX_CONNECTIONS,
	    .choices = config_none, .def = "none" },
};

#define CONFIG_NKEYS	(sizeof(config_keys) / sizeof(config_keys[0]))

/* A section as the file has it; sites point into cfg->sites. */
struct config_section {
	char			*name;
	int			 line;
	int			 global;
	int			 ignore;	/* duplicate or bad name: reported */
	struct config_site	*site;		/* NULL for [global] */
	int			 seen[CONFIG_NKEYS];	/* line of each key */
	struct config_section	*next;
};

struct config_ctx {
	struct config		*cfg;
	const char		*path;
	FILE			*fp;
	char			*buf;		/* the whole current line */
	size_t			 bufsize;
	int			 lineno;	/* of the line last read */
	enum config_linekind	 kind;		/* of the line last read */
	int			 prev_key;	/* inih has a previous name */
	int			 first_bad;	/* first line flagged bad */
	struct config_section	*sections, *last;
	struct config_section	*cur;
	struct config_section	*global;
	SSL_CTX			*sslctx;	/* to try cipher strings */
	int			 errors;
};

static void config_vmsg(struct config_ctx *, enum log_level, int,
    const struct config_section *, const char *, const char *, va_list)
    __attribute__((format(printf, 6, 0)));
static void config_err(struct config_ctx *, int, const struct config_section *,
    const char *, const char *, ...) LOG_PRINTF(5, 6);
static void config_warn(struct config_ctx *, int,
    const struct config_section *, const char *, const char *, ...)
    LOG_PRINTF(5, 6);
static void config_why(char *, size_t, const char *, ...) LOG_PRINTF(3, 4);

/*
 * One message "FILE:LINE: [section] key: what is wrong".  Parts that do not
 * apply are left out ("FILE: what", "FILE:LINE: [section]: what").
 */
static void
config_vmsg(struct config_ctx *ctx, enum log_level level, int line,
    const struct config_section *sec, const char *key, const char *fmt,
    va_list ap)
{
	char where[64], what[1024], secbuf[160], esc[128], keybuf[128];
	unsigned char *p;

	vsnprintf(what, sizeof(what), fmt, ap);
	/* Values are quoted as written: keep the line one printable line. */
	for (p = (unsigned char *)what; *p != '\0'; p++)
		if (*p < 0x20 || *p >= 0x7f)
			*p = '?';
	if (line > 0)
		snprintf(where, sizeof(where), ":%d", line);
	else
		where[0] = '\0';
	secbuf[0] = keybuf[0] = '\0';
	if (sec != NULL)
		snprintf(secbuf, sizeof(secbuf), "[%s]%s",
		    log_escape(sec->name, esc, sizeof(esc)),
		    key != NULL ? " " : "");
	if (key != NULL)
		log_escape(key, keybuf, sizeof(keybuf));
	if (level == LOG_LEVEL_ERR)
		log_errx("%s%s: %s%s%s%s", ctx->path, where, secbuf, keybuf,
		    sec != NULL || key != NULL ? ": " : "", what);
	else
		log_warnx("%s%s: %s%s%s%s", ctx->path, where, secbuf, keybuf,
		    sec != NULL || key != NULL ? ": " : "", what);
}

static void
config_err(struct config_ctx *ctx, int line, const struct config_section *sec,
    const char *key, const char *fmt, ...)
{
	va_list ap;

	ctx->errors++;
	va_start(ap, fmt);
	config_vmsg(ctx, LOG_LEVEL_ERR, line, sec, key, fmt, ap);
	va_end(ap);
}

static void
config_warn(struct config_ctx *ctx, int line, const struct config_section *sec,
    const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_vmsg(ctx, LOG_LEVEL_WARN, line, sec, key, fmt, ap);
	va_end(ap);
}

static void
config_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Value parsers (exported for the tools and the tests). */

static int
config_hostchars(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '-' && s[i] != '_')
			return -1;
	}
	return 0;
}

static int
config_parse_port(const char *s, unsigned min, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < min || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* config_parse_hostport() and config_parse_listen(): ports from min_port. */
static int
config_hostport_parse(const char *s, struct config_hostport *hp,
    int need_host, unsigned min_port)
{
	const char *hstart, *hend, *portstr, *close, *colon;
	struct in6_addr a6;
	char *host = NULL, *text = NULL;
	size_t hlen;
	uint16_t port;

	if (s[0] == '[') {
		if ((close = strchr(s, ']')) == NULL || close[1] != ':')
			return -1;
		hstart = s + 1;
		hend = close;
		portstr = close + 2;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		hstart = s;
		hend = colon;
		portstr = colon + 1;
		/* "::1:443" is ambiguous: IPv6 needs its brackets. */
		if (memchr(hstart, ':', (size_t)(hend - hstart)) != NULL)
			return -1;
		if (hend - hstart == 1 && *hstart == '*')
			hend = hstart;
		if (config_hostchars(hstart, (size_t)(hend - hstart)) == -1)
			return -1;
	}
	hlen = (size_t)(hend - hstart);
	if (hlen > 253 || config_parse_port(portstr, min_port, &port) == -1)
		return -1;
	if ((host = strndup(hstart, hlen)) == NULL)
		return -1;
	if (s[0] == '[' && inet_pton(AF_INET6, host, &a6) != 1)
		goto err;
	if (need_host && hlen == 0)
		goto err;
	if ((text = strdup(s)) == NULL)
		goto err;
	hp->host = host;
	hp->port = port;
	hp->text = text;
	return 0;
 err:
	free(host);
	return -1;
}

int
config_parse_hostport(const char *s, struct config_hostport *hp,
    int need_host)
{
	return config_hostport_parse(s, hp, need_host, 1);
}

int
config_parse_listen(const char *s, struct config_hostport *hp)
{
	return config_hostport_parse(s, hp, 0, 0);
}

void
config_hostport_clear(struct config_hostport *hp)
{
	if (hp == NULL)
		return;
	free(hp->host);
	free(hp->text);
	memset(hp, 0, sizeof(*hp));
}

int
config_parse_duration(const char *s, unsigned *secs)
{
	unsigned long long v = 0, mult = 1;
	const char *p;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (p = s; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (unsigned long long)(*p - '0');
		if (v > UINT_MAX)
			return -1;
	}
	switch (*p) {
	case '\0':
		break;
	case 's': case 'S':
		p++;
		break;
	case 'm': case 'M':
		mult = 60;
		p++;
		break;
	case 'h': case 'H':
		mult = 3600;
		p++;
		break;
	case 'd': case 'D':
		mult = 86400;
		p++;
		break;
	default:
		return -1;
	}
	if (*p != '\0' || v * mult > UINT_MAX)
		return -1;
	*secs = (unsigned)(v * mult);
	return 0;
}

int
config_parse_bool(const char *s, int *v)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v = 0;
			return 0;
		}
	}
	return -1;
}

static int
config_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
config_b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* 64 hex digits, or 32 pairs separated by ':'. */
static int
config_pin_hex(const char *p, unsigned char out[32])
{
	size_t len = strlen(p), step, i;
	int hi, lo;

	if (len == 64)
		step = 2;
	else if (len == 32 * 3 - 1)
		step = 3;
	else
		return -1;
	for (i = 0; i < 32; i++) {
		if (step == 3 && i > 0 && p[i * 3 - 1] != ':')
			return -1;
		if ((hi = config_hexval(p[i * step])) == -1 ||
		    (lo = config_hexval(p[i * step + 1])) == -1)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/*
 * Base64 of exactly 32 bytes: 43 characters, then an optional '='.  The two
 * bits left over must be zero, so each pin has one spelling.
 */
static int
config_pin_b64(const char *p, unsigned char out[32])
{
	size_t len = strlen(p), i, n = 0;
	unsigned acc = 0;
	int bits = 0, v;

	if (len == 44 && p[43] == '=')
		len = 43;
	if (len != 43)
		return -1;
	for (i = 0; i < len; i++) {
		if ((v = config_b64val(p[i])) == -1)
			return -1;
		acc = (acc << 6 | (unsigned)v) & 0xfff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	if (n != 32 || (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return 0;
}

int
config_parse_pin(const char *s, unsigned char pin[32])
{
	unsigned char tmp[32];

	if (strncasecmp(s, "sha256:", 7) != 0)
		return -1;
	if (config_pin_hex(s + 7, tmp) == -1 && config_pin_b64(s + 7, tmp) == -1)
		return -1;
	memcpy(pin, tmp, sizeof(tmp));
	return 0;
}

const char *
config_verify_name(enum config_verify v)
{
	static const char *const names[] = {
#define CONFIG_VERIFY_NAME(sym, name) [sym] = name,
		CONFIG_VERIFY_MODES(CONFIG_VERIFY_NAME)
#undef CONFIG_VERIFY_NAME
	};

	if ((size_t)v >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[v];
}

/* ------------------------------------------------------------------ */
/* Helpers for the setters: each fills why and returns -1 on error. */

static int
config_setstr(char **dst, const char *v, char *why, size_t len)
{
	char *s;

	if ((s = strdup(v)) == NULL) {
		config_why(why, len, "out of memory");
		return -1;
	}
	free(*dst);
	*dst = s;
	return 0;
}

/* "a, b or c": the words of choices that are not aliases. */
static const char *
config_choices_text(const struct config_choice *c, char *buf, size_t len)
{
	size_t i, n = 0, total = 0;

	for (i = 0; c[i].name != NULL; i++)
		if (!c[i].alias)
			total++;
	buf[0] = '\0';
	for (i = 0; c[i].name != NULL; i++) {
		if (c[i].alias)
			continue;
		n++;
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
		    n == 1 ? "" : n == total ? " or " : ", ", c[i].name);
	}
	return buf;
}

static const struct config_choice *
config_choice_find(const struct config_choice *c, const char *v)
{
	size_t i;

	for (i = 0; c != NULL && c[i].name != NULL; i++)
		if (strcasecmp(v, c[i].name) == 0)
			return &c[i];
	return NULL;
}

static int
config_uint(const char *v, const struct config_key *k, unsigned *out,
    char *why, size_t len)
{
	const struct config_choice *c;
	unsigned long long n = 0;
	const char *p;
	char words[256];

	if ((c = config_choice_find(k->choices, v)) != NULL) {
		*out = (unsigned)c->value;
		return 0;
	}
	for (p = v; isdigit((unsigned char)*p) && n <= k->hi; p++)
		n = n * 10 + (unsigned long long)(*p - '0');
	if (p == v || *p != '\0' || n < k->lo || n > k->hi) {
		if (k->choices != NULL)
			config_why(why, len, "\"%s\" is not %s or a number "
			    "from %u to %u", v, config_choices_text(k->choices,
			    words, sizeof(words)), k->lo, k->hi);
		else
			config_why(why, len, "\"%s\" is not a number from %u "
			    "to %u", v, k->lo, k->hi);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

static int
config_enum(const char *v, const struct config_key *k, int *out, char *why,
    size_t len)
{
	const struct config_choice *c;
	char words[256];

	if ((c = config_choice_find(k->choices, v)) == NULL) {
		config_why(why, len, "\"%s\" is not %s", v,
		    config_choices_text(k->choices, words, sizeof(words)));
		return -1;
	}
	*out = c->value;
	return 0;
}

static int
config_bool(const char *v, int *out, char *why, size_t len)
{
	if (config_parse_bool(v, out) == -1) {
		config_why(why, len, "\"%s\" is not yes or no", v);
		return -1;
	}
	return 0;
}

static int
config_duration(const char *v, unsigned min, unsigned *out, char *why,
    size_t len)
{
	unsigned secs;

	if (config_parse_duration(v, &secs) == -1) {
		config_why(why, len, "\"%s\" is not a duration (seconds, or "
		    "a number with s, m, h or d)", v);
		return -1;
	}
	if (secs < min) {
		config_why(why, len, "\"%s\" is too short (at least %u "
		    "second%s)", v, min, min == 1 ? "" : "s");
		return -1;
	}
	*out = secs;
	return 0;
}

/*
 * A file we will read at startup must be readable now, so the error names
 * the key that points to it.  O_NONBLOCK: a FIFO must not hang the load.
 */
static int
config_file(const char *v, char **dst, char *why, size_t len)
{
	struct stat st;
	int fd;

	if ((fd = open(v, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) == -1) {
		config_why(why, len, "cannot read %s: %s", v, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		config_why(why, len, "cannot read %s: %s", v, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (!S_ISREG(st.st_mode)) {
		config_why(why, len, "%s is not a regular file", v);
		return -1;
	}
	return config_setstr(dst, v, why, len);
}

static int
config_dir(const char *v, char **dst, char *why, size_t len)
{
	DIR *d;

	if ((d = opendir(v)) == NULL) {
		config_why(why, len, "cannot read directory %s: %s", v,
		    strerror(errno));
		return -1;
	}
	closedir(d);
	return config_setstr(dst, v, why, len);
}

/* A local address to listen on: port 0 lets the kernel choose. */
static int
config_listen(const char *v, struct config_hostport *hp, char *why,
    size_t len)
{
	struct config_hostport tmp;

	memset(&tmp, 0, sizeof(tmp));
	if (config_parse_listen(v, &tmp) == -1) {
		config_why(why, len, "\"%s\" is not [host]:port (port 1 to "
		    "65535, or 0 for one the system picks; IPv6 in brackets)",
		    v);
		return -1;
	}
	config_hostport_clear(hp);
	*hp = tmp;
	return 0;
}

static int
config_hostname(const char *v, char **dst, char *why, size_t len)
{
	size_t n = strlen(v);

	if (n > 253 || config_hostchars(v, n) == -1 || v[0] == '.' ||
	    v[0] == '-') {
		config_why(why, len, "\"%s\" is not a host name", v);
		return -1;
	}
	return config_setstr(dst, v, why, len);
}

/*
 * Cipher strings are tried on a scratch SSL_CTX so a typo is a config error
 * that names the key, not a failure later while the TLS contexts are built.
 */
static int
config_ciphers(struct config_ctx *ctx, const char *v, int suites, char **dst,
    char *why, size_t len)
{
	char reason[256];

	if (ctx->sslctx == NULL &&
	    (ctx->sslctx = SSL_CTX_new(TLS_method())) == NULL) {
		ERR_clear_error();
		config_why(why, len, "cannot create a TLS context to check it");
		return -1;
	}
	if (!suites && SSL_CTX_set_cipher_list(ctx->sslctx, v) != 1) {
		config_why(why, len, "\"%s\" selects no cipher (%s)", v,
		    log_ssl_reason(reason, sizeof(reason)));
		return -1;
	}
	if (suites && SSL_CTX_set_ciphersuites(ctx->sslctx, v) != 1) {
		config_why(why, len, "\"%s\" is not a list of TLS 1.3 cipher "
		    "suites (%s)", v, log_ssl_reason(reason, sizeof(reason)));
		return -1;
	}
	return config_setstr(dst, v, why, len);
}

/* ------------------------------------------------------------------ */
/* Setting and clearing a key's field, by its row. */

static void *
config_field(const struct config_key *k, void *obj)
{
	return (char *)obj + k->offset;
}

static int
config_key_set(struct config_ctx *ctx, const struct config_key *k, void *obj,
    const char *v, char *why, size_t len)
{
	void *f = config_field(k, obj);

	if (k->set != NULL)
		return k->set(ctx, k, obj, v, why, len);
	switch (k->type) {
	case CONFIG_T_UINT:
		return config_uint(v, k, f, why, len);
	case CONFIG_T_DURATION:
		return config_duration(v, k->lo, f, why, len);
	case CONFIG_T_BOOL:
		return config_bool(v, f, why, len);
	case CONFIG_T_ENUM:
		return config_enum(v, k, f, why, len);
	case CONFIG_T_STRING:
		return config_setstr(f, v, why, len);
	case CONFIG_T_HOSTNAME:
		return config_hostname(v, f, why, len);
	case CONFIG_T_FILE:
		return config_file(v, f, why, len);
	case CONFIG_T_DIR:
		return config_dir(v, f, why, len);
	case CONFIG_T_HOSTPORT:
		return config_listen(v, f, why, len);
	case CONFIG_T_CIPHERS:
		return config_ciphers(ctx, v, 0, f, why, len);
	case CONFIG_T_SUITES:
		return config_ciphers(ctx, v, 1, f, why, len);
	case CONFIG_T_CUSTOM:
		break;
	}
	config_why(why, len, "internal error: key type %d", (int)k->type);
	return -1;
}

static void
config_clear_str(void *field)
{
	char **s = field;

	free(*s);
	*s = NULL;
}

/* Free what the key's field holds; the numbers need nothing. */
static void
config_key_clear(const struct config_key *k, void *obj)
{
	void *f = config_field(k, obj);

	switch (k->type) {
	case CONFIG_T_STRING:
	case CONFIG_T_HOSTNAME:
	case CONFIG_T_FILE:
	case CONFIG_T_DIR:
	case CONFIG_T_CIPHERS:
	case CONFIG_T_SUITES:
		config_clear_str(f);
		break;
	case CONFIG_T_HOSTPORT:
		config_hostport_clear(f);
		break;
	case CONFIG_T_CUSTOM:
		if (k->clear != NULL)
			k->clear(obj);
		break;
	case CONFIG_T_UINT:
	case CONFIG_T_DURATION:
	case CONFIG_T_BOOL:
	case CONFIG_T_ENUM:
		break;
	}
}

/* Free every key's field of a scope's object. */
static void
config_keys_clear(enum config_scope scope, void *obj)
{
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++)
		if (config_keys[i].scope == scope)
			config_key_clear(&config_keys[i], obj);
}

/*
 * Give every key of a scope its default by parsing the row's def, so the
 * default is written once, as a user would write it.
 */
static void
config_keys_default(struct config_ctx *ctx, enum config_scope scope,
    void *obj)
{
	const struct config_key *k;
	char why[1024];
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		k = &config_keys[i];
		if (k->scope != scope || k->def == NULL)
			continue;
		why[0] = '\0';
		if (config_key_set(ctx, k, obj, k->def, why, sizeof(why)) == -1)
			config_err(ctx, 0, NULL, k->name, "internal error: "
			    "default \"%s\": %s", k->def, why);
	}
}

/*
 * The row of key name, one of scope's if it is not -1 and the name has one
 * (max_connections is both a [global] and a site key), else the first.
 */
static int
config_key_find_in(const char *name, int scope)
{
	size_t i;
	int any = -1;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (strcmp(config_keys[i].name, name) != 0)
			continue;
		if (scope == -1 || (int)config_keys[i].scope == scope)
			return (int)i;
		if (any == -1)
			any = (int)i;
	}
	return any;
}

static int
config_key_find(const char *name)
{
	return config_key_find_in(name, -1);
}

int
config_key_info(size_t i, struct config_keyinfo *info)
{
	if (i >= CONFIG_NKEYS)
		return -1;
	info->name = config_keys[i].name;
	info->global = config_keys[i].scope == CONFIG_GLOBAL;
	info->def = config_keys[i].def;
	info->required = (config_keys[i].flags & CONFIG_REQUIRED) != 0;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Keys with a parser of their own */

static int
config_set_user(struct config_ctx *ctx, const struct config_key *k,
    void *obj, const char *v, char *why, size_t len)
{
	(void)ctx;
	errno = 0;
	if (getpwnam(v) == NULL) {
		if (errno != 0)
			config_why(why, len, "cannot look up user \"%s\": %s",
			    v, strerror(errno));
		else
			config_why(why, len, "no such user \"%s\"", v);
		return -1;
	}
	return config_setstr(config_field(k, obj), v, why, len);
}

/* The level names are log.c's. */
static int
config_set_log_level(struct config_ctx *ctx, const struct config_key *k,
    void *obj, const char *v, char *why, size_t len)
{
	enum log_level level;

	(void)ctx;
	(void)k;
	if (log_level_parse(v, &level) == -1) {
		config_why(why, len, "\"%s\" is not error, warning, info or "
		    "debug", v);
		return -1;
	}
	((struct config *)obj)->log_level = level;
	return 0;
}

/*
 * One of the words (NULL-terminated), else a readable file (or, with
 * dirs, a directory): roots, legacy_roots, public_intermediates.
 */
static int
config_word_or_path(const char *v, char **dst, const char *const *words,
    int dirs, char *why, size_t len)
{
	char list[128];
	struct stat st;
	size_t i;

	list[0] = '\0';
	for (i = 0; words[i] != NULL; i++) {
		if (strcmp(v, words[i]) == 0)
			return config_setstr(dst, v, why, len);
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		    "%s%s", i > 0 ? ", " : "", words[i]);
	}
	if (stat(v, &st) == -1) {
		config_why(why, len, "\"%s\" is not %s or a readable file%s: "
		    "%s", v, list, dirs ? " or directory" : "",
		    strerror(errno));
		return -1;
	}
	if (dirs && S_ISDIR(st.st_mode))
		return config_dir(v, dst, why, len);
	return config_file(v, dst, why, len);
}

/* listen, and its line: a failure to bind it later names the line. */
static int
config_set_listen(struct config_ctx *ctx, const struct config_key *k,
    void *obj, const char *v, char *why, size_t len)
{
	struct config_site *site = obj;

	(void)k;
	if (config_listen(v, &site->listen, why, len) == -1)
		return -1;
	site->listen_line = ctx->lineno;
	return 0;
}

/* system | none | FILE | DIR */
static int
config_set_roots(struct config_ctx *ctx, const struct config_key *k,
    void *obj, const char *v, char *why, size_t len)
{
	static const char *const words[] = { "system", "none", NULL };

	(void)ctx;
	return config_word_or_path(v, config_field(k, obj), words, 1, why,
	    len);
}

/* yes | no | FILE (a PEM bundle of intermediates) */
static int
config_set_public(struct config_ctx *ctx, const struct config_key *k,
    void *obj, const char *v, char *why, size_t len)
{
	static const char *const words[] = { "yes", "no", NULL };

	(void)ctx;
	return config_word_or_path(v, config_field(k, obj), words, 0, why,
	    len);
}

/* A directory, or one to create in an existing directory. */
static int
config_set_aia_cache(struct config_ctx *ctx, const struct config_key *k,
    void *obj, const char *v, char *why, size_t len)
{
	char **dst = config_field(k, obj), *parent, *slash;
	struct stat st;
	int r;

	(void)ctx;
	if (stat(v, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			config_why(why, len, "%s is not a directory", v);
			return -1;
		}
		return config_setstr(dst, v, why, len);
	}
	if (errno != ENOENT) {
		config_why(why, len, "cannot use %s: %s", v, strerror(errno));
		return -1;
	}
	/* Created on the first fetch: its parent must be there. */
	if ((parent = strdup(v)) == NULL) {
		config_why(why, len, "out of memory");
		return -1;
	}
	if ((slash = strrchr(parent, '/')) == NULL)
		strcpy(parent, ".");
	else if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	r = stat(parent, &st) == 0 && S_ISDIR(st.st_mode);
	if (!r)
		config_why(why, len, "%s does not exist, and neither does the "
		    "directory %s to create it in", v, parent);
	free(parent);
	return r ? config_setstr(dst, v, why, len) : -1;
}

/* android | FILE | DIR */
static int
config_set_legacy_roots(struct config_ctx *ctx, const struct config_key *k,
    void *obj, const char *v, char *why, size_t len)
{
	static const char *const words[] = { "android", NULL };

	(void)ctx;
	return config_word_or_path(v, config_field(k, obj), words, 1, why,
	    len);
}

static void
config_backends_free(struct config_hostport *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		config_hostport_clear(&b[i]);
	free(b);
}

static void
config_clear_backends(void *obj)
{
	struct config_site *site = obj;

	config_backends_free(site->backends, site->nbackends);
	site->backends = NULL;
	site->nbackends = 0;
}

/* "a:443, b:443": failover order is file order. */
static int
config_set_backend(struct config_ctx *ctx, const struct config_key *k,
    void *obj, const char *v, char *why, size_t len)
{
	struct config_site *site = obj;
	struct config_hostport *b = NULL;
	const char *p = v, *end;
	char *item = NULL;
	size_t n = 0, ilen;

	(void)ctx;
	(void)k;
	if ((b = calloc(CONFIG_MAX_BACKENDS, sizeof(*b))) == NULL) {
		config_why(why, len, "out of memory");
		return -1;
	}
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		end = strchr(p, ',');
		ilen = end != NULL ? (size_t)(end - p) : strlen(p);
		while (ilen > 0 && (p[ilen - 1] == ' ' || p[ilen - 1] == '\t'))
			ilen--;
		if (ilen == 0) {
			config_why(why, len, "empty entry in the backend list");
			goto err;
		}
		if (n == CONFIG_MAX_BACKENDS) {
			config_why(why, len, "more than %d backends",
			    CONFIG_MAX_BACKENDS);
			goto err;
		}
		if ((item = strndup(p, ilen)) == NULL) {
			config_why(why, len, "out of memory");
			goto err;
		}
		if (config_parse_hostport(item, &b[n], 1) == -1) {
			config_why(why, len, "\"%s\" is not host:port (port 1 "
			    "to 65535, IPv6 in brackets)", item);
			goto err;
		}
		n++;
		free(item);
		item = NULL;
		if (end == NULL)
			break;
		p = end + 1;
	}
	config_clear_backends(site);
	site->backends = b;
	site->nbackends = n;
	return 0;
 err:
	free(item);
	config_backends_free(b, n);
	return -1;
}

/* yes | no | sha256:<pin> */
static void
config_clear_names(void *obj)
{
	struct config_site *site = obj;
	size_t i;

	for (i = 0; i < site->nnames; i++)
		free(site->names[i]);
	free(site->names);
	site->names = NULL;
	site->nnames = 0;
}

/*
 * "mail.example.com, *.sync.example.com": the SNI names a passthrough site
 * answers.  Each is a host name, or "*." and one (a wildcard covers one
 * label); stored lowercase.
 */
static int
config_set_names(struct config_ctx *ctx, const struct config_key *k,
    void *obj, const char *v, char *why, size_t len)
{
	struct config_site *site = obj;
	const char *p = v, *end, *host;
	char **names = NULL, *name;
	size_t n = 0, nlen, i;

	(void)ctx;
	(void)k;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		end = strchr(p, ',');
		nlen = end != NULL ? (size_t)(end - p) : strlen(p);
		while (nlen > 0 && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
			nlen--;
		host = nlen > 2 && p[0] == '*' && p[1] == '.' ? p + 2 : p;
		if (nlen == 0 || nlen > 253 || config_hostchars(host,
		    nlen - (size_t)(host - p)) == -1 || host[0] == '.' ||
		    host[0] == '-' || memchr(host, '*', nlen -
		    (size_t)(host - p)) != NULL) {
			config_why(why, len, "\"%.*s\" is not a host name or "
			    "*. and one", (int)nlen, p);
			goto err;
		}
		if (n == CONFIG_MAX_BACKENDS) {
			config_why(why, len, "more than %d names",
			    CONFIG_MAX_BACKENDS);
			goto err;
		}
		if ((name = strndup(p, nlen)) == NULL ||
		    (names == NULL && (names = calloc(CONFIG_MAX_BACKENDS,
		    sizeof(*names))) == NULL)) {
			free(name);
			config_why(why, len, "out of memory");
			goto err;
		}
		for (i = 0; i < nlen; i++)
			name[i] = (char)tolower((unsigned char)name[i]);
		names[n++] = name;
		if (end == NULL)
			break;
		p = end + 1;
	}
	config_clear_names(site);
	site->names = names;
	site->nnames = n;
	return 0;
 err:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return -1;
}

static void
config_clear_backend_check(void *obj)
{
	struct config_site *site = obj;

	free(site->backend_check_path);
	site->backend_check_path = NULL;
}

/*
 * "none", "tls", or "GET /path": the path goes into the request line as
 * written, so it must be one: printable ASCII without blanks.
 */
static int
config_set_backend_check(struct config_ctx *ctx, const struct config_key *k,
    void *obj, const char *v, char *why, size_t len)
{
	struct config_site *site = obj;
	const char *p;
	char *path;

	(void)ctx;
	(void)k;
	if (strcmp(v, "none") == 0 || strcmp(v, "tls") == 0) {
		config_clear_backend_check(site);
		site->backend_check = v[0] == 'n' ? CONFIG_CHECK_NONE :
		    CONFIG_CHECK_TLS;
		return 0;
	}
	if (strncmp(v, "GET ", 4) != 0) {
		config_why(why, len, "\"%s\" is not none, tls or GET /path", v);
		return -1;
	}
	for (p = v + 4; *p == ' '; p++)
		;
	if (*p != '/' || strlen(p) > 200) {
		config_why(why, len, "\"%s\": the path must start with / (at "
		    "most 200 characters), e.g. GET /owa/healthcheck.htm", v);
		return -1;
	}
	for (v = p; *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f) {
			config_why(why, len, "the path \"%s\" holds a blank or "
			    "a character outside printable ASCII (write it "
			    "%%-encoded)", v);
			return -1;
		}
	}
	if ((path = strdup(v)) == NULL) {
		config_why(why, len, "out of memory");
		return -1;
	}
	config_clear_backend_check(site);
	site->backend_check_path = path;
	site->backend_check = CONFIG_CHECK_GET;
	return 0;
}

static int
config_set_backend_verify(struct config_ctx *ctx, const struct config_key *k,
    void *obj, const char *v, char *why, size_t len)
{
	struct config_site *site = obj;
	int b;

	(void)ctx;
	(void)k;
	if (strncasecmp(v, "sha256:", 7) == 0) {
		if (config_parse_pin(v, site->backend_pin) == -1) {
			config_why(why, len, "\"%s\" is not sha256: followed by "
			    "the 32-byte SHA-256 in hex (64 digits, ':' "
			    "between bytes allowed) or base64", v);
			return -1;
		}
		site->backend_verify = CONFIG_VERIFY_PIN;
		return 0;
	}
	if (config_parse_bool(v, &b) == -1) {
		config_why(why, len, "\"%s\" is not yes, no or "
		    "sha256:<fingerprint>", v);
		return -1;
	}
	site->backend_verify = b ? CONFIG_VERIFY_YES : CONFIG_VERIFY_NO;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Sections */

static struct config_site *
config_site_new(struct config_ctx *ctx)
{
	struct config_site *site;

	if ((site = calloc(1, sizeof(*site))) == NULL)
		return NULL;
	config_keys_default(ctx, CONFIG_SITE, site);
	return site;
}

static void
config_site_free(struct config_site *site)
{
	if (site == NULL)
		return;
	free(site->name);
	config_keys_clear(CONFIG_SITE, site);
	free(site);
}

static struct config_section *
config_section_find(struct config_ctx *ctx, const char *name)
{
	struct config_section *sec;

	for (sec = ctx->sections; sec != NULL; sec = sec->next) {
		if (!sec->ignore && strcmp(sec->name, name) == 0)
			return sec;
	}
	return NULL;
}

static int
config_section_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= CONFIG_MAX_SECTION &&
	    config_hostchars(name, n) == 0;
}

/*
 * The reader saw "[name]" on the current line.  Every section gets a record,
 * even a bad one, so its keys are skipped instead of reported again.
 */
static void
config_section_begin(struct config_ctx *ctx, const char *name)
{
	struct config_section *sec, *prev;
	struct config_site *site = NULL, **sites;
	char esc[128];

	ctx->cur = NULL;
	if ((sec = calloc(1, sizeof(*sec))) == NULL ||
	    (sec->name = strdup(name)) == NULL) {
		free(sec);
		config_err(ctx, ctx->lineno, NULL, NULL, "out of memory");
		return;
	}
	sec->line = ctx->lineno;
	sec->global = strcmp(name, "global") == 0;
	if ((prev = config_section_find(ctx, name)) != NULL) {
		config_err(ctx, ctx->lineno, NULL, NULL, "section [%s] "
		    "defined twice (first at line %d)", name, prev->line);
		sec->ignore = 1;
	} else if (!sec->global && !config_section_name_ok(name)) {
		config_err(ctx, ctx->lineno, NULL, NULL, "bad section name "
		    "[%s]: a site name is 1 to %d letters, digits, '.', '-' "
		    "or '_' ([global] is the only other section)",
		    log_escape(name, esc, sizeof(esc)), CONFIG_MAX_SECTION);
		sec->ignore = 1;
	} else if (!sec->global) {
		sites = reallocarray(ctx->cfg->sites, ctx->cfg->nsites + 1,
		    sizeof(*sites));
		if (sites != NULL)
			ctx->cfg->sites = sites;
		if (sites == NULL || (site = config_site_new(ctx)) == NULL ||
		    (site->name = strdup(name)) == NULL) {
			config_site_free(site);
			config_err(ctx, ctx->lineno, NULL, NULL,
			    "out of memory");
			sec->ignore = 1;
		} else {
			site->line = ctx->lineno;
			sites[ctx->cfg->nsites++] = site;
			sec->site = site;
		}
	} else
		ctx->global = sec;
	if (ctx->last != NULL)
		ctx->last->next = sec;
	else
		ctx->sections = sec;
	ctx->last = sec;
	ctx->cur = sec;
}

static void
config_sections_free(struct config_ctx *ctx)
{
	struct config_section *sec, *next;

	for (sec = ctx->sections; sec != NULL; sec = next) {
		next = sec->next;
		free(sec->name);
		free(sec);
	}
	ctx->sections = ctx->last = ctx->cur = ctx->global = NULL;
}

/* ------------------------------------------------------------------ */
/* The reader and the handler inih calls. */

/* inih's find_chars_or_comment(): an inline ';' needs a blank before it. */
static char *
config_find(char *s, const char *chars)
{
	int was_space = 0;

	while (*s != '\0' && strchr(chars, *s) == NULL &&
	    !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/*
 * Classify the line in ctx->buf the way ini_parse_stream() will, and act on
 * section lines.  Only structure is looked at: inih still splits the names
 * and values and hands them to config_handler().
 */
static void
config_classify(struct config_ctx *ctx)
{
	char *line = ctx->buf, *p, *end, *q, esc[128];

	if (ctx->lineno == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
		line += 3;
	end = line + strlen(line);
	while (end > line && isspace((unsigned char)end[-1]))
		*--end = '\0';
	for (p = line; isspace((unsigned char)*p); p++)
		;
	if (*p == '\0') {
		ctx->kind = CONFIG_LINE_BLANK;
		return;
	}
	if (*p == ';' || *p == '#') {
		ctx->kind = CONFIG_LINE_COMMENT;
		return;
	}
	if (p > ctx->buf && ctx->prev_key) {
		/* Python configparser's continuation line; see the handler. */
		ctx->kind = CONFIG_LINE_CONT;
		return;
	}
	if (*p == '[') {
		q = config_find(p + 1, "]");
		if (*q != ']') {
			ctx->kind = CONFIG_LINE_BAD;
			config_err(ctx, ctx->lineno, NULL, NULL,
			    "syntax error: no ']' after the section name");
			return;
		}
		*q = '\0';
		ctx->kind = CONFIG_LINE_SECTION;
		ctx->prev_key = 0;
		config_section_begin(ctx, p + 1);
		/* inih ignores the rest of the line: we do not. */
		for (q++; isspace((unsigned char)*q); q++)
			;
		if (*q != '\0' && *q != ';')
			config_err(ctx, ctx->lineno, NULL, NULL, "syntax error: "
			    "text after ']': \"%s\"",
			    log_escape(q, esc, sizeof(esc)));
		return;
	}
	q = config_find(p, "=:");
	if (*q != '=' && *q != ':') {
		ctx->kind = CONFIG_LINE_BAD;
		config_err(ctx, ctx->lineno, NULL, NULL, "syntax error: "
		    "expected [section] or key = value");
		return;
	}
	ctx->kind = CONFIG_LINE_KEY;
}

/*
 * inih's fgets-like reader.  inih calls it once per line as long as lines
 * fit its buffer (num bytes); a longer line would be cut and its tail read
 * as a line of its own, so it is reported and replaced by a blank line.
 */
static char *
config_read(char *str, int num, void *stream)
{
	struct config_ctx *ctx = stream;
	ssize_t n;

	n = getline(&ctx->buf, &ctx->bufsize, ctx->fp);
	if (n < 0)
		return NULL;
	ctx->lineno++;
	if (memchr(ctx->buf, '\0', (size_t)n) != NULL) {
		config_err(ctx, ctx->lineno, NULL, NULL, "NUL byte in line");
		ctx->kind = CONFIG_LINE_BAD;
		snprintf(str, (size_t)num, "\n");
		return str;
	}
	if (num < 2 || (size_t)n > (size_t)num - 1) {
		config_err(ctx, ctx->lineno, NULL, NULL, "line too long (at "
		    "most %d characters)", num - 2);
		ctx->kind = CONFIG_LINE_BAD;
		snprintf(str, (size_t)num, "\n");
		return str;
	}
	memcpy(str, ctx->buf, (size_t)n + 1);
	config_classify(ctx);
	if (ctx->kind == CONFIG_LINE_BAD && ctx->first_bad == 0)
		ctx->first_bad = ctx->lineno;
	return str;
}

/* Always returns 1: errors are counted here, so inih's own are syntax. */
static int
config_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct config_ctx *ctx = user;
	struct config_section *sec = ctx->cur;
	char why[1024], esc[128];
	int k, line = ctx->lineno;

	ctx->prev_key = 1;
	if (ctx->kind == CONFIG_LINE_CONT) {
		/*
		 * inih appends an indented line to the previous value
		 * (INI_ALLOW_MULTILINE); we want every value on one line,
		 * and an indented "key = value" would vanish into the last
		 * value otherwise.
		 */
		config_err(ctx, line, sec, name, "indented line would continue "
		    "this value: values fit on one line, keys start at the "
		    "beginning of the line");
		return 1;
	}
	if (sec == NULL || *section == '\0') {
		config_err(ctx, line, NULL, name, "outside any section "
		    "(put it under [global] or a [site])");
		return 1;
	}
	/* Before the name check: inih cuts long (hence bad) names short. */
	if (sec->ignore)
		return 1;
	if (strcmp(sec->name, section) != 0) {
		/* The reader and inih disagree on the section: a bug. */
		config_err(ctx, line, sec, name, "internal error: inih says "
		    "section [%s]", log_escape(section, esc, sizeof(esc)));
		return 1;
	}
	if ((k = config_key_find_in(name, sec->global ? CONFIG_GLOBAL :
	    CONFIG_SITE)) == -1) {
		config_err(ctx, line, sec, name, "unknown key");
		return 1;
	}
	if (config_keys[k].scope == CONFIG_GLOBAL && !sec->global) {
		config_err(ctx, line, sec, name, "belongs in [global], not in "
		    "a site");
		return 1;
	}
	if (config_keys[k].scope == CONFIG_SITE && sec->global) {
		config_err(ctx, line, sec, name, "is a site key: it belongs "
		    "in a [site] section, not in [global]");
		return 1;
	}
	if (sec->seen[k] != 0) {
		config_err(ctx, line, sec, name, "set twice (first at line %d)",
		    sec->seen[k]);
		return 1;
	}
	sec->seen[k] = line;
	if (*value == '\0') {
		config_err(ctx, line, sec, name, "empty value (leave the key "
		    "out for its default)");
		return 1;
	}
	why[0] = '\0';
	if (config_key_set(ctx, &config_keys[k], sec->global ?
	    (void *)ctx->cfg : (void *)sec->site, value, why,
	    sizeof(why)) == -1)
		config_err(ctx, line, sec, name, "%s", why);
	return 1;
}

/*
 * A passthrough site: names required; what only terminating uses is
 * ignored, said once per key; a check needs no TLS of ours.
 */
static void
config_finish_passthrough(struct config_ctx *ctx, struct config_section *sec)
{
	int names = config_key_find("names");
	int check = config_key_find("backend_check");
	size_t k;

	if (sec->seen[names] == 0)
		config_err(ctx, sec->line, sec, NULL, "missing required key "
		    "names (mode = passthrough picks the site by the names "
		    "clients ask for)");
	for (k = 0; k < CONFIG_NKEYS; k++)
		if ((config_keys[k].flags & CONFIG_TERMINATE) &&
		    sec->seen[k] != 0)
			config_warn(ctx, sec->seen[k], sec,
			    config_keys[k].name, "ignored with mode = "
			    "passthrough (client and backend speak TLS end "
			    "to end)");
	if (sec->site->backend_check == CONFIG_CHECK_GET)
		config_err(ctx, sec->seen[check], sec, "backend_check",
		    "GET needs the TLS chainfix does not speak in "
		    "passthrough: tls (a TCP connect there) or none");
}

/* Checks that need the whole section. */
static void
config_finish(struct config_ctx *ctx)
{
	int verify = config_key_find("backend_verify");
	struct config_section *sec;
	struct config_site *site;
	size_t k;

	for (sec = ctx->sections; sec != NULL; sec = sec->next) {
		if (sec->global || sec->ignore)
			continue;
		site = sec->site;
		for (k = 0; k < CONFIG_NKEYS; k++) {
			if ((config_keys[k].flags & CONFIG_REQUIRED) &&
			    sec->seen[k] == 0 && !(site->mode ==
			    CONFIG_MODE_PASSTHROUGH &&
			    (config_keys[k].flags & CONFIG_TERMINATE)))
				config_err(ctx, sec->line, sec, NULL,
				    "missing required key %s",
				    config_keys[k].name);
		}
		if (site->mode == CONFIG_MODE_PASSTHROUGH) {
			config_finish_passthrough(ctx, sec);
			continue;
		}
		if (sec->seen[config_key_find("names")] != 0)
			config_warn(ctx, sec->seen[config_key_find("names")],
			    sec, "names", "ignored with mode = terminate (a "
			    "terminated site answers the names of its "
			    "certificate)");
		if (!site->backend_tls) {
			if (site->backend_verify == CONFIG_VERIFY_PIN)
				config_err(ctx, sec->seen[verify], sec,
				    "backend_verify", "a sha256 pin needs "
				    "backend_tls = yes");
			for (k = 0; k < CONFIG_NKEYS; k++) {
				if ((config_keys[k].flags &
				    CONFIG_BACKEND_TLS) && sec->seen[k] != 0)
					config_warn(ctx, sec->seen[k], sec,
					    config_keys[k].name, "ignored "
					    "with backend_tls = no");
			}
		} else if (site->backend_verify == CONFIG_VERIFY_NO)
			config_warn(ctx, sec->seen[verify], sec,
			    "backend_verify", "no: the backend's certificate "
			    "is not checked at all");
	}
	sec = ctx->global;
	k = (size_t)config_key_find("ticket_key_rotation");
	if (sec != NULL && sec->seen[config_key_find("ticket_keys")] != 0 &&
	    sec->seen[k] != 0)
		config_warn(ctx, sec->seen[k], sec, "ticket_key_rotation",
		    "ignored with ticket_keys (the key file is rotated from "
		    "outside: chainfix ticket-keys rotate)");
	k = (size_t)config_key_find("ticket_keys_staged");
	if (sec != NULL && sec->seen[config_key_find("ticket_keys")] == 0 &&
	    sec->seen[k] != 0 && ctx->cfg->ticket_keys_staged)
		config_warn(ctx, sec->seen[k], sec, "ticket_keys_staged",
		    "ignored without ticket_keys (generated keys belong to one "
		    "instance: nothing to stage)");
	if (ctx->cfg->nsites == 0)
		config_err(ctx, 0, NULL, NULL, "no site: at least one [site] "
		    "section with listen, cert and backend is needed");
}

struct config *
config_load(const char *path)
{
	struct config_ctx ctx;
	struct config *cfg = NULL;
	struct stat st;
	char why[256];
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.path = path;
	/* A regular file only: reading a FIFO would block the daemon. */
	if ((ctx.fp = file_fopen(path, &st, why, sizeof(why))) == NULL) {
		log_errx("%s: %s", path, why);
		return NULL;
	}
	(void)file_warn_exposed(path, &st, "configuration", 0);
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL ||
	    (cfg->path = strdup(path)) == NULL) {
		log_errx("%s: out of memory", path);
		ctx.errors++;
		goto done;
	}
	ctx.cfg = cfg;
	config_keys_default(&ctx, CONFIG_GLOBAL, cfg);

	rc = ini_parse_stream(config_read, &ctx, config_handler, &ctx);
	if (ferror(ctx.fp))
		config_err(&ctx, 0, NULL, NULL, "read error: %s",
		    strerror(errno));
	else if (rc == -2)
		config_err(&ctx, 0, NULL, NULL, "out of memory");
	else if (rc > 0 && rc != ctx.first_bad)
		config_err(&ctx, rc, NULL, NULL, "syntax error");
	else if (rc < 0)
		config_err(&ctx, 0, NULL, NULL, "cannot parse (inih error %d)",
		    rc);
	config_finish(&ctx);
 done:
	fclose(ctx.fp);
	free(ctx.buf);
	config_sections_free(&ctx);
	SSL_CTX_free(ctx.sslctx);
	if (ctx.errors > 0 || cfg == NULL) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nsites; i++)
		config_site_free(cfg->sites[i]);
	free(cfg->sites);
	free(cfg->path);
	config_keys_clear(CONFIG_GLOBAL, cfg);
	free(cfg);
}
