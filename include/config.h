/*
 * config.h: the INI configuration (every key is documented in
 * conf/chainfix.conf; the key names are a contract), parsed with libinih
 * into typed structures with defaults and validated in full.
 *
 * The structures are public: the proxy, the admin endpoint and the tools all
 * read them.  They are never modified after config_load() returns; a reload
 * builds a whole new struct config.
 */
#ifndef CHAINFIX_CONFIG_H
#define CHAINFIX_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "log.h"

/* A "host:port" pair: "0.0.0.0:443", "[::1]:8443", "exch1.corp:443". */
struct config_hostport {
	char		*host;		/* without brackets; "" = any address */
	uint16_t	 port;
	char		*text;		/* as written, for logs */
};

/* backend_verify values.  X-macro: enum and names cannot drift. */
#define CONFIG_VERIFY_MODES(X)						\
	X(CONFIG_VERIFY_YES, "yes")	/* CA + hostname check */	\
	X(CONFIG_VERIFY_NO,  "no")	/* no check at all (warned) */	\
	X(CONFIG_VERIFY_PIN, "sha256")	/* SHA-256 of the leaf's DER */

enum config_verify {
#define CONFIG_VERIFY_ENUM(sym, name) sym,
	CONFIG_VERIFY_MODES(CONFIG_VERIFY_ENUM)
#undef CONFIG_VERIFY_ENUM
};

/* backend_check values.  X-macro: enum and names cannot drift. */
#define CONFIG_CHECKS(X)						\
	X(CONFIG_CHECK_NONE, "none")	/* passive only: sessions report */ \
	X(CONFIG_CHECK_TLS,  "tls")	/* connect and TLS handshake */	\
	X(CONFIG_CHECK_GET,  "GET")	/* and GET backend_check_path: 200 */

enum config_check {
#define CONFIG_CHECK_ENUM(sym, name) sym,
	CONFIG_CHECKS(CONFIG_CHECK_ENUM)
#undef CONFIG_CHECK_ENUM
};

/* mode values.  X-macro: enum and names cannot drift. */
#define CONFIG_MODES(X)							\
	/* TLS ends here: chainfix serves the chain, re-encrypts */	\
	X(CONFIG_MODE_TERMINATE,   "terminate")				\
	/* the client's TLS goes to the backend untouched (by SNI) */	\
	X(CONFIG_MODE_PASSTHROUGH, "passthrough")

enum config_mode {
#define CONFIG_MODE_ENUM(sym, name) sym,
	CONFIG_MODES(CONFIG_MODE_ENUM)
#undef CONFIG_MODE_ENUM
};

/* One [site] section. */
struct config_site {
	char		*name;		/* the section name */
	int		 line;		/* line of its "[name]" header */

	struct config_hostport listen;
	int		 listen_line;	/* its line in the file, for messages */
	int		 mode;		/* enum config_mode, default terminate */
	char		**names;	/* passthrough: the SNI names it answers,
					   lowercase, "*.x" for a wildcard */
	size_t		 nnames;
	char		*cert;		/* PEM / DER / PKCS#12 */
	char		*key;		/* NULL: in cert (PKCS#12, combined PEM) */
	char		*password_file;	/* NULL: no password */
	char		*intermediates;	/* directory; NULL: none */
	char		*roots;		/* "system" (default), "none", FILE, DIR */
	int		 send_root;	/* default 0 */
	char		*public_intermediates;	/* "yes" (default), "no", FILE */
	int		 aia_fetch;	/* default 0 */
	char		*aia_cache;	/* directory; NULL: nothing kept */
	char		*legacy_roots;	/* "android", FILE, DIR; NULL: none */

	struct config_hostport *backends;	/* failover in order */
	size_t		 nbackends;
	int		 backend_tls;	/* default 1 */
	enum config_verify backend_verify;	/* default CONFIG_VERIFY_YES */
	unsigned char	 backend_pin[32];	/* with CONFIG_VERIFY_PIN */
	char		*backend_ca;	/* NULL: system store */
	char		*backend_sni;	/* NULL: the client's SNI */
	int		 backend_min_protocol;	/* oldest TLS version toward
					   the backend, TLS1_2_VERSION by
					   default; older ones lower the
					   backend context's security level */
	char		*backend_ciphers;	/* TLS <= 1.2 cipher list toward
					   the backend; NULL: default */
	unsigned	 backend_retry;	/* seconds a failed backend is
					   skipped by new sessions */
	enum config_check backend_check;	/* default CONFIG_CHECK_NONE */
	char		*backend_check_path;	/* with CONFIG_CHECK_GET */
	unsigned	 backend_check_interval;	/* seconds, default 10 */
	int		 backend_proxy_protocol;	/* 2: send a PROXY v2
					   header first; 0: no (default) */

	unsigned	 idle_timeout;		/* seconds, default 3660 */
	unsigned	 handshake_timeout;	/* seconds, default 10 */
	unsigned	 connect_timeout;	/* seconds, default 10 */

	int		 min_protocol;	/* TLS1_2_VERSION by default (TLSv1,
					   TLSv1.1, TLSv1.2, TLSv1.3) */
	char		*ciphers;	/* TLS <= 1.2 cipher list; NULL: default */
	char		*ciphersuites;	/* TLS 1.3 suites; NULL: default */
	unsigned	 max_connections;	/* this site's at once, counted
					   from SNI; 0 ("none"): only the
					   global limit */
};

struct config {
	char		*path;		/* the file it was read from */

	unsigned	 workers;	/* 0 = auto (number of cores) */
	char		*user;		/* NULL: do not drop privileges */
	int		 allow_root;	/* serve as root when user is unset */
	enum log_level	 log_level;	/* default LOG_LEVEL_INFO */
	struct config_hostport admin_listen;	/* host NULL: no admin endpoint */
	unsigned	 expiry_warning_days;	/* default 30 */
	unsigned	 expiry_check_interval;	/* seconds, default 1d, min 1 */
	unsigned	 shutdown_timeout;	/* seconds, default 30 */
	char		*ticket_keys;	/* key file; NULL: generated keys */
	int		 ticket_keys_staged;	/* the file's first key only
					   decrypts, the second encrypts */
	unsigned	 ticket_key_rotation;	/* seconds, default 1h */
	int		 watch;		/* reload when files change; def. 1 */
	unsigned	 client_keepalive;	/* seconds idle before TCP
					   keepalive probes clients; 0: off */
	unsigned	 max_connections;	/* client connections at once;
					   0 ("auto"): from the fd limit */

	struct config_site **sites;	/* in file order; sites[0] is the
					   default of its listen address */
	size_t		 nsites;
};

/*
 * config_load(path):
 * Read and validate the whole file.  Every problem is logged (log_errx) as
 * "FILE:LINE: [section] key: what is wrong", the parts that do not apply
 * left out ("FILE:LINE: [site]: missing required key cert", "FILE: no
 * site"), and parsing goes on, so one run reports all of them.  A file
 * that cannot be opened gives "FILE: cannot open: <strerror>".  Unknown
 * keys and misplaced keys (a site key in [global] and the reverse), keys
 * set twice, sections defined twice, bad site names, empty values,
 * indented (continuation) lines and lines too long for inih are errors.
 * Files named by cert, key, password_file, backend_ca, roots,
 * public_intermediates and legacy_roots must be readable regular files;
 * intermediates and a roots or legacy_roots directory readable directories;
 * aia_cache an existing directory or a new one in an existing directory;
 * user must exist.  backend_verify = no and site keys ignored
 * because of backend_tls = no are warned about (log_warnx), not errors.
 * Returns a new struct config owned by the caller (free with
 * config_free()), or NULL if there was any error.
 */
struct config *config_load(const char *path);

/* config_free(cfg): free everything; NULL is a no-op. */
void config_free(struct config *cfg);

/*
 * config_parse_hostport(s, hp, need_host):
 * Parse "host:port", "[v6]:port", "*:port" or ":port" into *hp (strings
 * allocated; release with config_hostport_clear()).  The port must be 1 to
 * 65535 (0 is rejected); an IPv6 address needs its brackets; a host name
 * is letters, digits, '.', '-' and '_'.  need_host rejects an empty host.
 * On success *hp is overwritten without freeing what it held.  Returns 0,
 * or -1 with *hp untouched.
 */
int config_parse_hostport(const char *s, struct config_hostport *hp,
    int need_host);

/*
 * config_parse_listen(s, hp):
 * An address to listen on (listen, admin_listen): as config_parse_hostport()
 * with need_host 0, but port 0 is accepted: the system picks a free port
 * when binding (`chainfix --listen-report` tells which).
 */
int config_parse_listen(const char *s, struct config_hostport *hp);

/* config_hostport_clear(hp): free the strings of *hp and zero it. */
void config_hostport_clear(struct config_hostport *hp);

/*
 * config_parse_duration(s, secs):
 * "90", "90s", "15m", "1h", "2d" into seconds.  Returns 0 or -1.
 */
int config_parse_duration(const char *s, unsigned *secs);

/* config_parse_bool(s, v): yes/no/true/false/on/off/1/0.  Returns 0 or -1. */
int config_parse_bool(const char *s, int *v);

/*
 * config_parse_pin(s, pin):
 * "sha256:" followed by 64 hex digits, optionally with ':' between bytes,
 * or the base64 of the 32 bytes.  Returns 0 or -1.
 */
int config_parse_pin(const char *s, unsigned char pin[32]);

/* One key of the configuration file, as config_key_info() describes it. */
struct config_keyinfo {
	const char	*name;		/* "idle_timeout" */
	int		 global;	/* 1: [global], 0: a [site] */
	const char	*def;		/* default as written in a file, e.g.
					   "3660"; NULL: none */
	int		 required;	/* a site must set it */
};

/*
 * config_key_info(i, info):
 * The i-th key the parser knows (0, 1, ...), in the order of its table, for
 * documentation checks and tools.  Static storage.  Returns 0 with *info
 * filled, or -1 past the last key.
 */
int config_key_info(size_t i, struct config_keyinfo *info);

/* config_verify_name(v): "yes", "no", "sha256". */
const char *config_verify_name(enum config_verify v);

#endif /* CHAINFIX_CONFIG_H */
