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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "log.h"

#define CONFIG_MAX_WORKERS	256
#define CONFIG_MAX_WARN_DAYS	3650
#define CONFIG_MAX_SECTION	48	/* inih truncates at 50 */
#define CONFIG_MAX_BACKENDS	64

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
struct config_section;

typedef int (*config_setter)(struct config_ctx *, struct config_section *,
    const char *, char *, size_t);

#define CONFIG_SETTER(fn)						\
static int fn(struct config_ctx *, struct config_section *, const char *, \
    char *, size_t);

/*
 * Every key: its name, its section kind and the function that parses it.
 * The enum and the table come from this one list.
 */
#define CONFIG_KEYS(X)							\
	X(WORKERS,		"workers",		1, config_set_workers)	\
	X(USER,			"user",			1, config_set_user)	\
	X(ALLOW_ROOT,		"allow_root",		1, config_set_allow_root) \
	X(LOG_LEVEL,		"log_level",		1, config_set_log_level) \
	X(ADMIN_LISTEN,		"admin_listen",		1, config_set_admin_listen) \
	X(EXPIRY_WARNING_DAYS,	"expiry_warning_days",	1, config_set_expiry) \
	X(EXPIRY_CHECK_INTERVAL, "expiry_check_interval", 1, config_set_expiry_interval) \
	X(SHUTDOWN_TIMEOUT,	"shutdown_timeout",	1, config_set_shutdown) \
	X(LISTEN,		"listen",		0, config_set_listen)	\
	X(CERT,			"cert",			0, config_set_cert)	\
	X(KEY,			"key",			0, config_set_key)	\
	X(PASSWORD_FILE,	"password_file",	0, config_set_password_file) \
	X(INTERMEDIATES,	"intermediates",	0, config_set_intermediates) \
	X(ROOTS,		"roots",		0, config_set_roots)	\
	X(SEND_ROOT,		"send_root",		0, config_set_send_root) \
	X(BACKEND,		"backend",		0, config_set_backend)	\
	X(BACKEND_TLS,		"backend_tls",		0, config_set_backend_tls) \
	X(BACKEND_VERIFY,	"backend_verify",	0, config_set_backend_verify) \
	X(BACKEND_CA,		"backend_ca",		0, config_set_backend_ca) \
	X(BACKEND_SNI,		"backend_sni",		0, config_set_backend_sni) \
	X(IDLE_TIMEOUT,		"idle_timeout",		0, config_set_idle_timeout) \
	X(HANDSHAKE_TIMEOUT,	"handshake_timeout",	0, config_set_handshake_timeout) \
	X(CONNECT_TIMEOUT,	"connect_timeout",	0, config_set_connect_timeout) \
	X(MIN_PROTOCOL,		"min_protocol",		0, config_set_min_protocol) \
	X(CIPHERS,		"ciphers",		0, config_set_ciphers)	\
	X(CIPHERSUITES,		"ciphersuites",		0, config_set_ciphersuites)

enum config_keyid {
#define CONFIG_KEY_ENUM(sym, name, global, fn) CONFIG_KEY_##sym,
	CONFIG_KEYS(CONFIG_KEY_ENUM)
#undef CONFIG_KEY_ENUM
	CONFIG_NKEYS
};

#define CONFIG_KEY_PROTO(sym, name, global, fn) CONFIG_SETTER(fn)
CONFIG_KEYS(CONFIG_KEY_PROTO)
#undef CONFIG_KEY_PROTO

static const struct config_key {
	const char	*name;
	int		 global;	/* 1: [global], 0: a site */
	config_setter	 set;
} config_keys[CONFIG_NKEYS] = {
#define CONFIG_KEY_ROW(sym, name, global, fn) [CONFIG_KEY_##sym] = { name, global, fn },
	CONFIG_KEYS(CONFIG_KEY_ROW)
#undef CONFIG_KEY_ROW
};

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

static const struct {
	const char	*name;
	int		 version;
} config_protocols[] = {
	{ "TLSv1",	TLS1_VERSION },
	{ "TLSv1.0",	TLS1_VERSION },
	{ "TLSv1.1",	TLS1_1_VERSION },
	{ "TLSv1.2",	TLS1_2_VERSION },
	{ "TLSv1.3",	TLS1_3_VERSION },
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
config_parse_port(const char *s, uint16_t *port)
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
	if (v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int
config_parse_hostport(const char *s, struct config_hostport *hp,
    int need_host)
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
	if (hlen > 253 || config_parse_port(portstr, &port) == -1)
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

const char *
config_protocol_name(int version)
{
	size_t i;

	for (i = 0; i < sizeof(config_protocols) / sizeof(config_protocols[0]);
	    i++) {
		/* TLSv1 and TLSv1.0 share a version: the first name wins. */
		if (config_protocols[i].version == version)
			return config_protocols[i].name;
	}
	return "?";
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

static int
config_uint(const char *v, unsigned lo, unsigned hi, unsigned *out,
    char *why, size_t len)
{
	unsigned long long n = 0;
	const char *p;

	for (p = v; isdigit((unsigned char)*p) && n <= hi; p++)
		n = n * 10 + (unsigned long long)(*p - '0');
	if (p == v || *p != '\0' || n < lo || n > hi) {
		config_why(why, len, "\"%s\" is not a number from %u to %u",
		    v, lo, hi);
		return -1;
	}
	*out = (unsigned)n;
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

static int
config_hostport(const char *v, struct config_hostport *hp, int need_host,
    char *why, size_t len)
{
	struct config_hostport tmp;

	memset(&tmp, 0, sizeof(tmp));
	if (config_parse_hostport(v, &tmp, need_host) == -1) {
		config_why(why, len, "\"%s\" is not %s:port (port 1 to 65535, "
		    "IPv6 in brackets)", v, need_host ? "host" : "[host]");
		return -1;
	}
	config_hostport_clear(hp);
	*hp = tmp;
	return 0;
}

/* ------------------------------------------------------------------ */
/* [global] */

static int
config_set_workers(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)sec;
	if (strcasecmp(v, "auto") == 0) {
		ctx->cfg->workers = 0;
		return 0;
	}
	if (config_uint(v, 1, CONFIG_MAX_WORKERS, &ctx->cfg->workers, why,
	    len) == -1) {
		config_why(why, len, "\"%s\" is not auto or a number from 1 "
		    "to %d", v, CONFIG_MAX_WORKERS);
		return -1;
	}
	return 0;
}

static int
config_set_user(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)sec;
	errno = 0;
	if (getpwnam(v) == NULL) {
		if (errno != 0)
			config_why(why, len, "cannot look up user \"%s\": %s",
			    v, strerror(errno));
		else
			config_why(why, len, "no such user \"%s\"", v);
		return -1;
	}
	return config_setstr(&ctx->cfg->user, v, why, len);
}

static int
config_set_allow_root(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)sec;
	return config_bool(v, &ctx->cfg->allow_root, why, len);
}

static int
config_set_log_level(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)sec;
	if (log_level_parse(v, &ctx->cfg->log_level) == -1) {
		config_why(why, len, "\"%s\" is not error, warning, info or "
		    "debug", v);
		return -1;
	}
	return 0;
}

static int
config_set_admin_listen(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)sec;
	return config_hostport(v, &ctx->cfg->admin_listen, 0, why, len);
}

static int
config_set_expiry(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)sec;
	return config_uint(v, 0, CONFIG_MAX_WARN_DAYS,
	    &ctx->cfg->expiry_warning_days, why, len);
}

static int
config_set_expiry_interval(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)sec;
	return config_duration(v, 1, &ctx->cfg->expiry_check_interval, why,
	    len);
}

static int
config_set_shutdown(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)sec;
	return config_duration(v, 0, &ctx->cfg->shutdown_timeout, why, len);
}

/* ------------------------------------------------------------------ */
/* Sites */

static int
config_set_listen(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)ctx;
	return config_hostport(v, &sec->site->listen, 0, why, len);
}

static int
config_set_cert(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)ctx;
	return config_file(v, &sec->site->cert, why, len);
}

static int
config_set_key(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)ctx;
	return config_file(v, &sec->site->key, why, len);
}

static int
config_set_password_file(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)ctx;
	return config_file(v, &sec->site->password_file, why, len);
}

static int
config_set_intermediates(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)ctx;
	return config_dir(v, &sec->site->intermediates, why, len);
}

static int
config_set_roots(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	struct stat st;

	(void)ctx;
	if (strcmp(v, "system") == 0 || strcmp(v, "none") == 0)
		return config_setstr(&sec->site->roots, v, why, len);
	if (stat(v, &st) == -1) {
		config_why(why, len, "\"%s\" is not system, none or a readable "
		    "file or directory: %s", v, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return config_dir(v, &sec->site->roots, why, len);
	return config_file(v, &sec->site->roots, why, len);
}

static int
config_set_send_root(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)ctx;
	return config_bool(v, &sec->site->send_root, why, len);
}

static void
config_backends_free(struct config_hostport *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		config_hostport_clear(&b[i]);
	free(b);
}

/* "a:443, b:443": failover order is file order. */
static int
config_set_backend(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	struct config_site *site = sec->site;
	struct config_hostport *b = NULL;
	const char *p = v, *end;
	char *item = NULL;
	size_t n = 0, ilen;

	(void)ctx;
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
	config_backends_free(site->backends, site->nbackends);
	site->backends = b;
	site->nbackends = n;
	return 0;
 err:
	free(item);
	config_backends_free(b, n);
	return -1;
}

static int
config_set_backend_tls(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)ctx;
	return config_bool(v, &sec->site->backend_tls, why, len);
}

static int
config_set_backend_verify(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	struct config_site *site = sec->site;
	int b;

	(void)ctx;
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

static int
config_set_backend_ca(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)ctx;
	return config_file(v, &sec->site->backend_ca, why, len);
}

static int
config_set_backend_sni(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	size_t n = strlen(v);

	(void)ctx;
	if (n > 253 || config_hostchars(v, n) == -1 || v[0] == '.' ||
	    v[0] == '-') {
		config_why(why, len, "\"%s\" is not a host name", v);
		return -1;
	}
	return config_setstr(&sec->site->backend_sni, v, why, len);
}

static int
config_set_idle_timeout(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)ctx;
	return config_duration(v, 1, &sec->site->idle_timeout, why, len);
}

static int
config_set_handshake_timeout(struct config_ctx *ctx,
    struct config_section *sec, const char *v, char *why, size_t len)
{
	(void)ctx;
	return config_duration(v, 1, &sec->site->handshake_timeout, why, len);
}

static int
config_set_connect_timeout(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	(void)ctx;
	return config_duration(v, 1, &sec->site->connect_timeout, why, len);
}

static int
config_set_min_protocol(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	size_t i;

	(void)ctx;
	for (i = 0; i < sizeof(config_protocols) / sizeof(config_protocols[0]);
	    i++) {
		if (strcasecmp(v, config_protocols[i].name) == 0) {
			sec->site->min_protocol = config_protocols[i].version;
			return 0;
		}
	}
	config_why(why, len, "\"%s\" is not TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3",
	    v);
	return -1;
}

/*
 * Cipher strings are tried on a scratch SSL_CTX so a typo is a config error
 * that names the key, not a failure later while the TLS contexts are built.
 */
static SSL_CTX *
config_sslctx(struct config_ctx *ctx, char *why, size_t len)
{
	if (ctx->sslctx == NULL &&
	    (ctx->sslctx = SSL_CTX_new(TLS_method())) == NULL) {
		ERR_clear_error();
		config_why(why, len, "cannot create a TLS context to check it");
	}
	return ctx->sslctx;
}

static int
config_set_ciphers(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	char reason[256];
	SSL_CTX *sc;

	if ((sc = config_sslctx(ctx, why, len)) == NULL)
		return -1;
	if (SSL_CTX_set_cipher_list(sc, v) != 1) {
		config_why(why, len, "\"%s\" selects no cipher (%s)", v,
		    log_ssl_reason(reason, sizeof(reason)));
		return -1;
	}
	return config_setstr(&sec->site->ciphers, v, why, len);
}

static int
config_set_ciphersuites(struct config_ctx *ctx, struct config_section *sec,
    const char *v, char *why, size_t len)
{
	char reason[256];
	SSL_CTX *sc;

	if ((sc = config_sslctx(ctx, why, len)) == NULL)
		return -1;
	if (SSL_CTX_set_ciphersuites(sc, v) != 1) {
		config_why(why, len, "\"%s\" is not a list of TLS 1.3 cipher "
		    "suites (%s)", v, log_ssl_reason(reason, sizeof(reason)));
		return -1;
	}
	return config_setstr(&sec->site->ciphersuites, v, why, len);
}

/* ------------------------------------------------------------------ */
/* Sections */

static struct config_site *
config_site_new(void)
{
	struct config_site *site;

	if ((site = calloc(1, sizeof(*site))) == NULL)
		return NULL;
	if ((site->roots = strdup("system")) == NULL) {
		free(site);
		return NULL;
	}
	site->backend_tls = 1;
	site->backend_verify = CONFIG_VERIFY_YES;
	site->idle_timeout = 3660;
	site->handshake_timeout = 10;
	site->connect_timeout = 10;
	site->min_protocol = TLS1_2_VERSION;
	return site;
}

static void
config_site_free(struct config_site *site)
{
	if (site == NULL)
		return;
	free(site->name);
	config_hostport_clear(&site->listen);
	free(site->cert);
	free(site->key);
	free(site->password_file);
	free(site->intermediates);
	free(site->roots);
	config_backends_free(site->backends, site->nbackends);
	free(site->backend_ca);
	free(site->backend_sni);
	free(site->ciphers);
	free(site->ciphersuites);
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
		if (sites == NULL || (site = config_site_new()) == NULL ||
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

static int
config_key_find(const char *name)
{
	int i;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (strcmp(config_keys[i].name, name) == 0)
			return i;
	}
	return -1;
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
	if ((k = config_key_find(name)) == -1) {
		config_err(ctx, line, sec, name, "unknown key");
		return 1;
	}
	if (config_keys[k].global && !sec->global) {
		config_err(ctx, line, sec, name, "belongs in [global], not in "
		    "a site");
		return 1;
	}
	if (!config_keys[k].global && sec->global) {
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
	if (config_keys[k].set(ctx, sec, value, why, sizeof(why)) == -1)
		config_err(ctx, line, sec, name, "%s", why);
	return 1;
}

/* Checks that need the whole section. */
static void
config_finish(struct config_ctx *ctx)
{
	static const enum config_keyid required[] = {
		CONFIG_KEY_LISTEN, CONFIG_KEY_CERT, CONFIG_KEY_BACKEND
	};
	struct config_section *sec;
	struct config_site *site;
	size_t i;
	int k;

	for (sec = ctx->sections; sec != NULL; sec = sec->next) {
		if (sec->global || sec->ignore)
			continue;
		site = sec->site;
		for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
			k = required[i];
			if (sec->seen[k] == 0)
				config_err(ctx, sec->line, sec, NULL,
				    "missing required key %s",
				    config_keys[k].name);
		}
		if (!site->backend_tls) {
			if (site->backend_verify == CONFIG_VERIFY_PIN)
				config_err(ctx,
				    sec->seen[CONFIG_KEY_BACKEND_VERIFY], sec,
				    "backend_verify", "a sha256 pin needs "
				    "backend_tls = yes");
			for (k = CONFIG_KEY_BACKEND_CA;
			    k <= CONFIG_KEY_BACKEND_SNI; k++) {
				if (sec->seen[k] != 0)
					config_warn(ctx, sec->seen[k], sec,
					    config_keys[k].name, "ignored "
					    "with backend_tls = no");
			}
		} else if (site->backend_verify == CONFIG_VERIFY_NO)
			config_warn(ctx, sec->seen[CONFIG_KEY_BACKEND_VERIFY],
			    sec, "backend_verify", "no: the backend's "
			    "certificate is not checked at all");
	}
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
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.path = path;
	if ((ctx.fp = fopen(path, "re")) == NULL) {
		log_errx("%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(ctx.fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		log_errx("%s: cannot open: %s", path, strerror(EISDIR));
		goto done;
	}
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL ||
	    (cfg->path = strdup(path)) == NULL) {
		log_errx("%s: out of memory", path);
		ctx.errors++;
		goto done;
	}
	cfg->workers = 0;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->expiry_warning_days = 30;
	cfg->expiry_check_interval = 86400;
	cfg->shutdown_timeout = 30;
	ctx.cfg = cfg;

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
	free(cfg->user);
	config_hostport_clear(&cfg->admin_listen);
	free(cfg);
}
