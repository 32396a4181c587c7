/*
 * test_config.c: config_load() and the value parsers.
 *
 * Each test writes a configuration into a private temporary directory (with
 * the files it names), loads it with stderr redirected to a file, and checks
 * the typed result or the exact error lines.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "config.h"
#include "log.h"
#include "testpki.h"

static char tdir[64];		/* the test's temporary directory */
static char tconf[128];		/* its configuration file */
static char *outputs[128];	/* captured stderr, freed by teardown() */
static size_t noutputs;

/* ------------------------------------------------------------------ */
/* Helpers */

static void
write_file(const char *path, const char *text)
{
	FILE *f;

	if ((f = fopen(path, "w")) == NULL)
		fail_msg("cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	if (fclose(f) != 0)
		fail_msg("cannot write %s: %s", path, strerror(errno));
}

static void
touch(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tdir, name);
	write_file(path, "placeholder\n");
}

static void
mkdir_in(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tdir, name);
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		fail_msg("mkdir %s: %s", path, strerror(errno));
}

/* A copy of text with every from replaced by to. */
static char *
subst(const char *text, const char *from, const char *to)
{
	size_t flen = strlen(from), tlen = strlen(to), n = 0;
	const char *p, *q;
	char *out, *o;

	for (p = text; (q = strstr(p, from)) != NULL; p = q + flen)
		n++;
	if ((out = malloc(strlen(text) + n * tlen + 1)) == NULL)
		fail_msg("out of memory");
	o = out;
	for (p = text; (q = strstr(p, from)) != NULL; p = q + flen) {
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, to, tlen);
		o += tlen;
	}
	strcpy(o, p);
	return out;
}

static char *
read_all(int fd)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t r;

	for (;;) {
		if (len + 1024 + 1 > cap) {
			cap = (cap + 1024) * 2;
			if ((buf = realloc(buf, cap)) == NULL)
				fail_msg("out of memory");
		}
		if ((r = read(fd, buf + len, cap - len - 1)) <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	return buf;
}

/* config_load(path) with stderr captured into *errs (owned by the test
 * fixture: do not free it). */
static struct config *
load_path(const char *path, char **errs)
{
	struct config *cfg;
	char cap[128];
	int fd, saved;

	snprintf(cap, sizeof(cap), "%s/stderr.txt", tdir);
	if ((fd = open(cap, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		fail_msg("open %s: %s", cap, strerror(errno));
	if ((saved = dup(STDERR_FILENO)) == -1 ||
	    dup2(fd, STDERR_FILENO) == -1)
		fail_msg("dup: %s", strerror(errno));
	cfg = config_load(path);
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	*errs = read_all(fd);
	close(fd);
	unlink(cap);
	/* Freed by teardown(), so a failed assertion leaks nothing. */
	if (noutputs == sizeof(outputs) / sizeof(outputs[0]))
		fail_msg("too many loads in one test");
	outputs[noutputs++] = *errs;
	if (**errs != '\0')
		print_message("--- stderr of config_load:\n%s---\n", *errs);
	return cfg;
}

/* Write text ("@D" stands for the temporary directory) and load it. */
static struct config *
load(const char *text, char **errs)
{
	char *t = subst(text, "@D", tdir);

	write_file(tconf, t);
	free(t);
	return load_path(tconf, errs);
}

static int
count(const char *s, const char *needle)
{
	int n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/* An error line starting "<path>:<line>: <msg>" (line 0: "<path>: <msg>"). */
static void
assert_error(const char *errs, int line, const char *msg)
{
	char want[512];

	if (line > 0)
		snprintf(want, sizeof(want), "error: %s:%d: %s", tconf, line,
		    msg);
	else
		snprintf(want, sizeof(want), "error: %s: %s", tconf, msg);
	assert_contains(errs, want);
}

/* Expect NULL and exactly n error lines. */
static char *
load_fails(const char *text, int n)
{
	struct config *cfg;
	char *errs;

	cfg = load(text, &errs);
	assert_null(cfg);
	assert_int_equal(count(errs, ": error: "), n);
	return errs;
}

/* A valid site, to put next to the error under test. */
#define GOOD_SITE							\
	"[web]\n"							\
	"listen = 127.0.0.1:8443\n"					\
	"cert = @D/cert.pem\n"						\
	"backend = 127.0.0.1:443\n"

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tdir, sizeof(tdir), "/tmp/test_config.XXXXXX");
	if (mkdtemp(tdir) == NULL)
		return -1;
	snprintf(tconf, sizeof(tconf), "%s/test.conf", tdir);
	touch("cert.pem");
	touch("key.pem");
	touch("pass");
	touch("ca.pem");
	touch("roots.pem");
	mkdir_in("inter");
	mkdir_in("rootsdir");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	while (noutputs > 0)
		free(outputs[--noutputs]);
	return nftw(tdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *
my_user(void)
{
	struct passwd *pw = getpwuid(geteuid());

	return pw != NULL ? pw->pw_name : NULL;
}

/* ------------------------------------------------------------------ */
/* Valid files */

static void
test_full(void **state)
{
	static const unsigned char pin[32] = {
		0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
		0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
		0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
		0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
	};
	struct config *cfg;
	struct config_site *s;
	const char *user;
	char *text, *errs;

	(void)state;
	if ((user = my_user()) == NULL)
		skip();
	text = subst(
	    "; a comment\n"
	    "# another\n"
	    "[global]\n"
	    "workers = 4            ; inline comment\n"
	    "user = @U\n"
	    "allow_root = yes\n"
	    "log_level = debug\n"
	    "admin_listen = 127.0.0.1:9100\n"
	    "expiry_warning_days = 14\n"
	    "shutdown_timeout = 2m\n"
	    "\n"
	    "[mail]\n"
	    "listen = 0.0.0.0:443\n"
	    "cert = @D/cert.pem\n"
	    "key = @D/key.pem\n"
	    "password_file = @D/pass\n"
	    "intermediates = @D/inter\n"
	    "roots = @D/roots.pem\n"
	    "send_root = yes\n"
	    "backend = exch1.corp.example:443, exch2.corp.example:8443,[::1]:444\n"
	    "backend_tls = yes\n"
	    "backend_verify = sha256:" "abababababababababababababababab"
	    "abababababababababababababababab\n"
	    "backend_ca = @D/ca.pem\n"
	    "backend_sni = mail.example.com\n"
	    "idle_timeout = 1h\n"
	    "handshake_timeout = 5s\n"
	    "connect_timeout = 3\n"
	    "min_protocol = TLSv1\n"
	    "ciphers = HIGH:!aNULL\n"
	    "ciphersuites = TLS_AES_128_GCM_SHA256\n"
	    "\n"
	    "[autodiscover]\n"
	    "listen = [::1]:443\n"
	    "cert = @D/cert.pem\n"
	    "roots = @D/rootsdir\n"
	    "backend = backend.corp:80\n"
	    "backend_tls = no\n",
	    "@U", user);
	cfg = load(text, &errs);
	free(text);
	assert_non_null(cfg);
	assert_string_equal(errs, "");

	assert_string_equal(cfg->path, tconf);
	assert_int_equal(cfg->workers, 4);
	assert_string_equal(cfg->user, user);
	assert_int_equal(cfg->allow_root, 1);
	assert_int_equal(cfg->log_level, LOG_LEVEL_DEBUG);
	assert_string_equal(cfg->admin_listen.host, "127.0.0.1");
	assert_int_equal(cfg->admin_listen.port, 9100);
	assert_string_equal(cfg->admin_listen.text, "127.0.0.1:9100");
	assert_int_equal(cfg->expiry_warning_days, 14);
	assert_int_equal(cfg->shutdown_timeout, 120);
	assert_int_equal(cfg->nsites, 2);

	s = cfg->sites[0];
	assert_string_equal(s->name, "mail");
	assert_int_equal(s->line, 12);
	assert_string_equal(s->listen.host, "0.0.0.0");
	assert_int_equal(s->listen.port, 443);
	assert_int_equal(s->listen_line, 13);
	assert_non_null(strstr(s->cert, "/cert.pem"));
	assert_non_null(strstr(s->key, "/key.pem"));
	assert_non_null(strstr(s->password_file, "/pass"));
	assert_non_null(strstr(s->intermediates, "/inter"));
	assert_non_null(strstr(s->roots, "/roots.pem"));
	assert_int_equal(s->send_root, 1);
	assert_int_equal(s->nbackends, 3);
	assert_string_equal(s->backends[0].host, "exch1.corp.example");
	assert_int_equal(s->backends[0].port, 443);
	assert_string_equal(s->backends[1].host, "exch2.corp.example");
	assert_int_equal(s->backends[1].port, 8443);
	assert_string_equal(s->backends[1].text, "exch2.corp.example:8443");
	assert_string_equal(s->backends[2].host, "::1");
	assert_int_equal(s->backends[2].port, 444);
	assert_int_equal(s->backend_tls, 1);
	assert_int_equal(s->backend_verify, CONFIG_VERIFY_PIN);
	assert_memory_equal(s->backend_pin, pin, 32);
	assert_non_null(strstr(s->backend_ca, "/ca.pem"));
	assert_string_equal(s->backend_sni, "mail.example.com");
	assert_int_equal(s->idle_timeout, 3600);
	assert_int_equal(s->handshake_timeout, 5);
	assert_int_equal(s->connect_timeout, 3);
	assert_int_equal(s->min_protocol, TLS1_VERSION);
	assert_string_equal(s->ciphers, "HIGH:!aNULL");
	assert_string_equal(s->ciphersuites, "TLS_AES_128_GCM_SHA256");

	/* Keys left out take their defaults, not the first site's values. */
	s = cfg->sites[1];
	assert_string_equal(s->name, "autodiscover");
	assert_int_equal(s->line, 32);
	assert_string_equal(s->listen.host, "::1");
	assert_int_equal(s->listen.port, 443);
	assert_non_null(strstr(s->roots, "/rootsdir"));
	assert_string_equal(s->backends[0].host, "backend.corp");
	assert_int_equal(s->backends[0].port, 80);
	assert_int_equal(s->backend_tls, 0);
	assert_int_equal(s->backend_verify, CONFIG_VERIFY_YES);
	assert_null(s->key);
	assert_int_equal(s->idle_timeout, 3660);
	assert_int_equal(s->min_protocol, TLS1_2_VERSION);
	config_free(cfg);
}

static void
test_defaults(void **state)
{
	struct config *cfg;
	struct config_site *s;
	char *errs;

	(void)state;
	cfg = load(GOOD_SITE, &errs);
	assert_non_null(cfg);
	assert_string_equal(errs, "");
	assert_int_equal(cfg->workers, 0);
	assert_null(cfg->user);
	assert_int_equal(cfg->allow_root, 0);
	assert_int_equal(cfg->log_level, LOG_LEVEL_INFO);
	assert_null(cfg->admin_listen.host);
	assert_int_equal(cfg->expiry_warning_days, 30);
	assert_int_equal(cfg->expiry_check_interval, 86400);
	assert_int_equal(cfg->shutdown_timeout, 30);
	assert_int_equal(cfg->nsites, 1);
	s = cfg->sites[0];
	assert_string_equal(s->name, "web");
	assert_int_equal(s->line, 1);
	assert_null(s->key);
	assert_null(s->password_file);
	assert_null(s->intermediates);
	assert_string_equal(s->roots, "system");
	assert_int_equal(s->send_root, 0);
	assert_int_equal(s->nbackends, 1);
	assert_int_equal(s->backend_tls, 1);
	assert_int_equal(s->backend_verify, CONFIG_VERIFY_YES);
	assert_null(s->backend_ca);
	assert_null(s->backend_sni);
	assert_int_equal(s->idle_timeout, 3660);
	assert_int_equal(s->handshake_timeout, 10);
	assert_int_equal(s->connect_timeout, 10);
	assert_int_equal(s->min_protocol, TLS1_2_VERSION);
	assert_null(s->ciphers);
	assert_null(s->ciphersuites);
	config_free(cfg);

	/* "none" is a word, not a file name. */
	cfg = load(GOOD_SITE "roots = none\nmin_protocol = tlsv1.3\n", &errs);
	assert_non_null(cfg);
	assert_string_equal(cfg->sites[0]->roots, "none");
	assert_int_equal(cfg->sites[0]->min_protocol, TLS1_3_VERSION);
	config_free(cfg);
	config_free(NULL);
}

/* backend_verify = no loads, with a warning naming the line. */
static void
test_verify_no_warns(void **state)
{
	struct config *cfg;
	char *errs;
	char want[256];

	(void)state;
	cfg = load(GOOD_SITE "backend_verify = no\n", &errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->sites[0]->backend_verify, CONFIG_VERIFY_NO);
	assert_int_equal(count(errs, ": warning: "), 1);
	snprintf(want, sizeof(want), "%s:5: [web] backend_verify: ", tconf);
	assert_contains(errs, want);
	config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* The value parsers */

static void
check_hp(const char *s, int need_host, const char *host, unsigned port)
{
	struct config_hostport hp;

	memset(&hp, 0, sizeof(hp));
	if (config_parse_hostport(s, &hp, need_host) != 0)
		fail_msg("\"%s\" rejected", s);
	assert_string_equal(hp.host, host);
	assert_int_equal(hp.port, port);
	assert_string_equal(hp.text, s);
	config_hostport_clear(&hp);
	assert_null(hp.host);
	assert_null(hp.text);
}

static void
check_hp_bad(const char *s, int need_host)
{
	struct config_hostport hp;

	memset(&hp, 0x5a, sizeof(hp));
	if (config_parse_hostport(s, &hp, need_host) != -1)
		fail_msg("\"%s\" accepted", s);
	/* Untouched on failure. */
	assert_int_equal(hp.port, 0x5a5a);
}

static void
test_hostport(void **state)
{
	(void)state;
	check_hp("0.0.0.0:443", 0, "0.0.0.0", 443);
	check_hp("127.0.0.1:1", 1, "127.0.0.1", 1);
	check_hp("[::1]:443", 1, "::1", 443);
	check_hp("[::]:8443", 0, "::", 8443);
	check_hp("[2001:db8::5]:65535", 1, "2001:db8::5", 65535);
	check_hp("exch1.corp.example:443", 1, "exch1.corp.example", 443);
	check_hp("my_host-1:80", 1, "my_host-1", 80);
	check_hp("*:443", 0, "", 443);
	check_hp(":443", 0, "", 443);

	check_hp_bad(":443", 1);
	check_hp_bad("*:443", 1);
	check_hp_bad("host", 0);
	check_hp_bad("host:", 0);
	check_hp_bad("host:0", 0);
	check_hp_bad("host:65536", 0);
	check_hp_bad("host:-1", 0);
	check_hp_bad("host:+80", 0);
	check_hp_bad("host:80x", 0);
	check_hp_bad("host:000443", 0);
	check_hp_bad("host name:80", 0);
	check_hp_bad("::1:443", 0);
	check_hp_bad("[::1]443", 0);
	check_hp_bad("[::1]", 0);
	check_hp_bad("[::1:443", 0);
	check_hp_bad("[]:443", 0);
	check_hp_bad("[not-v6]:443", 0);
	check_hp_bad("", 0);
}

/* Listen addresses may ask for port 0 (the system picks); nothing else may. */
static void
test_listen_port0(void **state)
{
	struct config_hostport hp;

	(void)state;
	memset(&hp, 0, sizeof(hp));
	assert_int_equal(config_parse_listen("127.0.0.1:0", &hp), 0);
	assert_string_equal(hp.host, "127.0.0.1");
	assert_int_equal(hp.port, 0);
	config_hostport_clear(&hp);
	assert_int_equal(config_parse_listen("[::1]:0", &hp), 0);
	assert_string_equal(hp.host, "::1");
	assert_int_equal(hp.port, 0);
	config_hostport_clear(&hp);
	assert_int_equal(config_parse_listen("*:0", &hp), 0);
	assert_string_equal(hp.host, "");
	config_hostport_clear(&hp);
	assert_int_equal(config_parse_listen("127.0.0.1:443", &hp), 0);
	assert_int_equal(hp.port, 443);
	config_hostport_clear(&hp);
	assert_int_equal(config_parse_listen("127.0.0.1:65536", &hp), -1);
	assert_int_equal(config_parse_listen("127.0.0.1:", &hp), -1);
	assert_int_equal(config_parse_listen("::1:0", &hp), -1);
	/* Destinations still need a real port. */
	check_hp_bad("host:0", 1);
	check_hp_bad("127.0.0.1:0", 0);
}

static void
test_duration(void **state)
{
	unsigned v;

	(void)state;
	assert_int_equal(config_parse_duration("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(config_parse_duration("90", &v), 0);
	assert_int_equal(v, 90);
	assert_int_equal(config_parse_duration("90s", &v), 0);
	assert_int_equal(v, 90);
	assert_int_equal(config_parse_duration("15m", &v), 0);
	assert_int_equal(v, 900);
	assert_int_equal(config_parse_duration("1h", &v), 0);
	assert_int_equal(v, 3600);
	assert_int_equal(config_parse_duration("2d", &v), 0);
	assert_int_equal(v, 172800);
	assert_int_equal(config_parse_duration("4294967295", &v), 0);
	assert_int_equal(v, 4294967295u);

	v = 7;
	assert_int_equal(config_parse_duration("", &v), -1);
	assert_int_equal(config_parse_duration("s", &v), -1);
	assert_int_equal(config_parse_duration("-1", &v), -1);
	assert_int_equal(config_parse_duration("+1", &v), -1);
	assert_int_equal(config_parse_duration(" 1", &v), -1);
	assert_int_equal(config_parse_duration("1 m", &v), -1);
	assert_int_equal(config_parse_duration("1x", &v), -1);
	assert_int_equal(config_parse_duration("1ms", &v), -1);
	assert_int_equal(config_parse_duration("1.5h", &v), -1);
	assert_int_equal(config_parse_duration("4294967296", &v), -1);
	assert_int_equal(config_parse_duration("99999999999999999999", &v), -1);
	assert_int_equal(config_parse_duration("50000d", &v), -1);
	assert_int_equal(v, 7);
}

static void
test_bool(void **state)
{
	static const char *const yes[] = { "yes", "YES", "true", "on", "1" };
	static const char *const no[] = { "no", "No", "false", "off", "0" };
	static const char *const bad[] = { "", "y", "n", "2", "yes ", "nope" };
	size_t i;
	int v;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		v = 0;
		assert_int_equal(config_parse_bool(yes[i], &v), 0);
		assert_int_equal(v, 1);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		v = 1;
		assert_int_equal(config_parse_bool(no[i], &v), 0);
		assert_int_equal(v, 0);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 5;
		assert_int_equal(config_parse_bool(bad[i], &v), -1);
		assert_int_equal(v, 5);
	}
}

static void
check_pin_bad(const char *s)
{
	unsigned char pin[32];
	unsigned char untouched[32];

	memset(pin, 0xee, sizeof(pin));
	memset(untouched, 0xee, sizeof(untouched));
	if (config_parse_pin(s, pin) != -1)
		fail_msg("pin \"%s\" accepted", s);
	assert_memory_equal(pin, untouched, 32);
}

static void
check_pin(const char *s, const unsigned char want[32])
{
	unsigned char pin[32];

	memset(pin, 0, sizeof(pin));
	if (config_parse_pin(s, pin) != 0)
		fail_msg("pin \"%s\" rejected", s);
	assert_memory_equal(pin, want, 32);
}

static void
test_pin(void **state)
{
	unsigned char want[32], b33[33];
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char hex[80], colon[120], upper[80], b64[64], buf[160];
	size_t i;

	(void)state;
	for (i = 0; i < 32; i++) {
		want[i] = (unsigned char)(i * 8 + 3);
		snprintf(hex + i * 2, 3, "%02x", want[i]);
		snprintf(upper + i * 2, 3, "%02X", want[i]);
		snprintf(colon + i * 3, 4, "%02x:", want[i]);
	}
	colon[32 * 3 - 1] = '\0';
	assert_int_equal(EVP_EncodeBlock((unsigned char *)b64, want, 32), 44);

	snprintf(buf, sizeof(buf), "sha256:%s", hex);
	check_pin(buf, want);
	snprintf(buf, sizeof(buf), "SHA256:%s", upper);
	check_pin(buf, want);
	snprintf(buf, sizeof(buf), "sha256:%s", colon);
	check_pin(buf, want);
	snprintf(buf, sizeof(buf), "sha256:%s", b64);
	check_pin(buf, want);
	b64[43] = '\0';			/* without the '=' */
	snprintf(buf, sizeof(buf), "sha256:%s", b64);
	check_pin(buf, want);

	/* Leftover bits set: not the canonical spelling of any 32 bytes. */
	snprintf(buf, sizeof(buf), "sha256:%s", b64);
	buf[7 + 42] = alpha[strchr(alpha, buf[7 + 42]) - alpha + 1];
	check_pin_bad(buf);

	check_pin_bad(hex);			/* no "sha256:" */
	snprintf(buf, sizeof(buf), "sha1:%s", hex);
	check_pin_bad(buf);
	snprintf(buf, sizeof(buf), "sha256:%.62s", hex);	/* 31 bytes */
	check_pin_bad(buf);
	snprintf(buf, sizeof(buf), "sha256:%sab", hex);		/* 33 bytes */
	check_pin_bad(buf);
	snprintf(buf, sizeof(buf), "sha256:%s", hex);
	buf[7 + 10] = 'g';
	check_pin_bad(buf);
	snprintf(buf, sizeof(buf), "sha256:%s", colon);
	buf[7 + 5] = '-';			/* a separator that is not ':' */
	check_pin_bad(buf);
	snprintf(buf, sizeof(buf), "sha256:%s:", colon);
	check_pin_bad(buf);
	check_pin_bad("sha256:");
	/* base64 of 31 and of 33 bytes */
	EVP_EncodeBlock((unsigned char *)b64, want, 31);
	snprintf(buf, sizeof(buf), "sha256:%s", b64);
	check_pin_bad(buf);
	memcpy(b33, want, 32);
	b33[32] = 1;
	EVP_EncodeBlock((unsigned char *)b64, b33, 33);
	snprintf(buf, sizeof(buf), "sha256:%s", b64);
	check_pin_bad(buf);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(config_verify_name(CONFIG_VERIFY_YES), "yes");
	assert_string_equal(config_verify_name(CONFIG_VERIFY_NO), "no");
	assert_string_equal(config_verify_name(CONFIG_VERIFY_PIN), "sha256");
}

/* ------------------------------------------------------------------ */
/* One error each */

static void
test_unknown_key(void **state)
{
	char *errs;

	(void)state;
	errs = load_fails(GOOD_SITE "bogus = 1\n", 1);
	assert_error(errs, 5, "[web] bogus: unknown key");
	errs = load_fails("[global]\nWorkers = 2\n" GOOD_SITE, 1);
	assert_error(errs, 2, "[global] Workers: unknown key");
}

static void
test_unknown_section(void **state)
{
	char *errs;

	(void)state;
	errs = load_fails(GOOD_SITE "[bad name]\nlisten = :1\n", 1);
	assert_error(errs, 5, "bad section name [bad name]");
	errs = load_fails(GOOD_SITE "[]\n", 1);
	assert_error(errs, 5, "bad section name []");
	/* Longer than inih keeps (it cuts the name): still one error. */
	errs = load_fails(GOOD_SITE "[a123456789b123456789c123456789d123456789"
	    "e123456789f123456789]\nlisten = :1\n", 1);
	assert_error(errs, 5, "bad section name [a123456789");
	/* Bytes that are not printable are escaped. */
	errs = load_fails(GOOD_SITE "[caf\xc3\xa9]\nlisten = :1\n", 1);
	assert_error(errs, 5, "bad section name [caf\\xc3\\xa9]");
	errs = load_fails(GOOD_SITE "backend_sni = caf\xc3\xa9\n", 1);
	assert_error(errs, 5, "[web] backend_sni: \"caf??\" is not");
	/* Keys before any section. */
	errs = load_fails("workers = 2\n" GOOD_SITE, 1);
	assert_error(errs, 1, "workers: outside any section");
}

static void
test_misplaced_key(void **state)
{
	char *errs;

	(void)state;
	errs = load_fails("[global]\nlisten = :443\n" GOOD_SITE
	    "workers = 2\n", 2);
	assert_error(errs, 2, "[global] listen: is a site key");
	assert_error(errs, 7, "[web] workers: belongs in [global]");
}

static void
test_duplicate_key(void **state)
{
	char *errs;

	(void)state;
	errs = load_fails(GOOD_SITE "idle_timeout = 60\nidle_timeout = 70\n",
	    1);
	assert_error(errs, 6, "[web] idle_timeout: set twice (first at line 5)");
	/* The first value counts even when it was wrong: one error each. */
	errs = load_fails(GOOD_SITE "idle_timeout = x\nidle_timeout = 70\n",
	    2);
	assert_error(errs, 6, "[web] idle_timeout: set twice (first at line 5)");
}

static void
test_duplicate_section(void **state)
{
	char *errs;

	(void)state;
	/* Keys that do not clash still make the second [web] an error. */
	errs = load_fails(GOOD_SITE "[web]\nidle_timeout = 5\n", 1);
	assert_error(errs, 5, "section [web] defined twice (first at line 1)");
	/* An empty repeated section too. */
	errs = load_fails("[global]\n[global]\n" GOOD_SITE, 1);
	assert_error(errs, 2, "section [global] defined twice (first at line 1)");
}

static void
test_missing_required(void **state)
{
	char *errs;

	(void)state;
	errs = load_fails(GOOD_SITE "[a]\ncert = @D/cert.pem\n[b]\n", 5);
	assert_error(errs, 5, "[a]: missing required key listen");
	assert_error(errs, 5, "[a]: missing required key backend");
	assert_error(errs, 7, "[b]: missing required key listen");
	assert_error(errs, 7, "[b]: missing required key cert");
	assert_error(errs, 7, "[b]: missing required key backend");
	/* No site at all. */
	errs = load_fails("[global]\nworkers = 1\n", 1);
	assert_error(errs, 0, "no site");
	errs = load_fails("", 1);
	assert_error(errs, 0, "no site");
}

static void
test_unreadable_files(void **state)
{
	char *errs, want[256], path[256];

	(void)state;
	errs = load_fails("[web]\nlisten = :1\ncert = @D/nope.pem\n"
	    "backend = a:1\n", 1);
	snprintf(want, sizeof(want), "[web] cert: cannot read %s/nope.pem: "
	    "No such file or directory", tdir);
	assert_error(errs, 3, want);

	errs = load_fails(GOOD_SITE "key = @D/inter\n"
	    "intermediates = @D/cert.pem\n"
	    "backend_ca = @D/none.pem\n"
	    "password_file = @D/none.pass\n"
	    "roots = @D/none.d\n", 5);
	snprintf(want, sizeof(want), "[web] key: %s/inter is not a regular "
	    "file", tdir);
	assert_error(errs, 5, want);
	snprintf(want, sizeof(want), "[web] intermediates: cannot read "
	    "directory %s/cert.pem: Not a directory", tdir);
	assert_error(errs, 6, want);
	assert_error(errs, 7, "[web] backend_ca: cannot read");
	assert_error(errs, 8, "[web] password_file: cannot read");
	assert_error(errs, 9, "[web] roots: \"");

	/* Permissions only stop someone who is not root. */
	if (geteuid() != 0) {
		snprintf(path, sizeof(path), "%s/cert.pem", tdir);
		assert_int_equal(chmod(path, 0), 0);
		errs = load_fails(GOOD_SITE, 1);
		assert_error(errs, 3, "[web] cert: cannot read");
		assert_contains(errs, "Permission denied");
		assert_int_equal(chmod(path, 0600), 0);
	}
}

static void
test_bad_port(void **state)
{
	char *errs;

	(void)state;
	errs = load_fails("[web]\nlisten = 127.0.0.1:65536\ncert = @D/cert.pem\n"
	    "backend = a:65536\n", 2);
	assert_error(errs, 2, "[web] listen: \"127.0.0.1:65536\" is not");
	assert_error(errs, 4, "[web] backend: \"a:65536\" is not host:port");
	/* Port 0 is for listening (the system picks), not for a backend. */
	errs = load_fails("[web]\nlisten = 127.0.0.1:0\ncert = @D/cert.pem\n"
	    "backend = a:0\n", 1);
	assert_error(errs, 4, "[web] backend: \"a:0\" is not host:port");
	errs = load_fails("[global]\nadmin_listen = localhost\n" GOOD_SITE, 1);
	assert_error(errs, 2, "[global] admin_listen: \"localhost\" is not");
	errs = load_fails("[web]\nlisten = :1\ncert = @D/cert.pem\n"
	    "backend = a:1, :2\n", 1);
	assert_error(errs, 4, "[web] backend: \":2\" is not host:port");
	errs = load_fails("[web]\nlisten = :1\ncert = @D/cert.pem\n"
	    "backend = a:1,,b:2\n", 1);
	assert_error(errs, 4, "[web] backend: empty entry");
}

static void
test_bad_pin(void **state)
{
	char *errs;

	(void)state;
	errs = load_fails(GOOD_SITE "backend_verify = sha256:abcd\n", 1);
	assert_error(errs, 5, "[web] backend_verify: \"sha256:abcd\" is not");
	errs = load_fails(GOOD_SITE "backend_verify = maybe\n", 1);
	assert_error(errs, 5, "[web] backend_verify: \"maybe\" is not yes, "
	    "no or sha256:<fingerprint>");
	/* A pin is checked on a TLS connection only. */
	errs = load_fails(GOOD_SITE "backend_tls = no\nbackend_verify = "
	    "sha256:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", 1);
	assert_error(errs, 6, "[web] backend_verify: a sha256 pin needs "
	    "backend_tls = yes");
}

static void
test_bad_values(void **state)
{
	char *errs;

	(void)state;
	errs = load_fails("[global]\n"
	    "workers = 0\n"
	    "user = no-such-user-chainfix-test\n"
	    "allow_root = maybe\n"
	    "log_level = loud\n"
	    "expiry_warning_days = -1\n"
	    "shutdown_timeout = soon\n"
	    GOOD_SITE
	    "idle_timeout = 0\n"
	    "min_protocol = SSLv3\n"
	    "ciphers = NO-SUCH-CIPHER\n"
	    "ciphersuites = TLS_NO_SUCH_SUITE\n"
	    "backend_sni = bad name\n"
	    "send_root =\n", 12);
	assert_error(errs, 2, "[global] workers: \"0\" is not auto or a "
	    "number from 1 to 256");
	assert_error(errs, 3, "[global] user: no such user "
	    "\"no-such-user-chainfix-test\"");
	assert_error(errs, 4, "[global] allow_root: \"maybe\" is not yes or no");
	assert_error(errs, 5, "[global] log_level: \"loud\"");
	assert_error(errs, 6, "[global] expiry_warning_days: \"-1\"");
	assert_error(errs, 7, "[global] shutdown_timeout: \"soon\" is not a "
	    "duration");
	assert_error(errs, 12, "[web] idle_timeout: \"0\" is too short");
	assert_error(errs, 13, "[web] min_protocol: \"SSLv3\"");
	assert_error(errs, 14, "[web] ciphers: \"NO-SUCH-CIPHER\"");
	assert_error(errs, 15, "[web] ciphersuites: \"TLS_NO_SUCH_SUITE\"");
	assert_error(errs, 16, "[web] backend_sni: \"bad name\"");
	assert_error(errs, 17, "[web] send_root: empty value");
}

/* The backend's TLS policy: defaults, values, errors. */
static void
test_backend_policy(void **state)
{
	struct config *cfg;
	char *errs;

	(void)state;
	cfg = load(GOOD_SITE, &errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->sites[0]->backend_min_protocol, TLS1_2_VERSION);
	assert_null(cfg->sites[0]->backend_ciphers);
	config_free(cfg);

	cfg = load(GOOD_SITE "backend_min_protocol = TLSv1\n"
	    "backend_ciphers = DEFAULT:@SECLEVEL=0\n", &errs);
	assert_non_null(cfg);
	assert_string_equal(errs, "");
	assert_int_equal(cfg->sites[0]->backend_min_protocol, TLS1_VERSION);
	assert_string_equal(cfg->sites[0]->backend_ciphers,
	    "DEFAULT:@SECLEVEL=0");
	config_free(cfg);

	errs = load_fails(GOOD_SITE "backend_min_protocol = SSLv3\n"
	    "backend_ciphers = NO-SUCH-CIPHER\n", 2);
	assert_error(errs, 5, "[web] backend_min_protocol: \"SSLv3\" is not "
	    "TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3");
	assert_error(errs, 6, "[web] backend_ciphers: \"NO-SUCH-CIPHER\" "
	    "selects no cipher");

	/* Without TLS toward the backend they mean nothing: said so. */
	cfg = load(GOOD_SITE "backend_tls = no\nbackend_min_protocol = TLSv1\n",
	    &errs);
	assert_non_null(cfg);
	assert_contains(errs, "[web] backend_min_protocol: ignored with "
	    "backend_tls = no");
	config_free(cfg);
}

/* Backend health: defaults, the three check forms, bad checks. */
static void
test_backend_health(void **state)
{
	struct config *cfg;
	char *errs;

	(void)state;
	cfg = load(GOOD_SITE, &errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->sites[0]->backend_check, CONFIG_CHECK_NONE);
	assert_null(cfg->sites[0]->backend_check_path);
	assert_int_equal(cfg->sites[0]->backend_retry, 30);
	assert_int_equal(cfg->sites[0]->backend_proxy_protocol, 0);
	assert_int_equal(cfg->sites[0]->backend_check_interval, 10);
	config_free(cfg);

	cfg = load(GOOD_SITE "backend_check = tls\n"
	    "backend_check_interval = 5s\nbackend_retry = 2m\n"
	    "backend_proxy_protocol = v2\n", &errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->sites[0]->backend_check, CONFIG_CHECK_TLS);
	assert_int_equal(cfg->sites[0]->backend_retry, 120);
	assert_int_equal(cfg->sites[0]->backend_proxy_protocol, 2);
	assert_int_equal(cfg->sites[0]->backend_check_interval, 5);
	config_free(cfg);

	cfg = load(GOOD_SITE "backend_check = GET /owa/healthcheck.htm\n",
	    &errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->sites[0]->backend_check, CONFIG_CHECK_GET);
	assert_string_equal(cfg->sites[0]->backend_check_path,
	    "/owa/healthcheck.htm");
	config_free(cfg);

	errs = load_fails(GOOD_SITE "backend_check = ping\n", 1);
	assert_error(errs, 5, "[web] backend_check: \"ping\" is not none, "
	    "tls or GET /path");
	errs = load_fails(GOOD_SITE "backend_check = GET owa\n", 1);
	assert_error(errs, 5, "[web] backend_check: \"GET owa\": the path "
	    "must start with /");
	errs = load_fails(GOOD_SITE "backend_retry = 0\n", 1);
	assert_error(errs, 5, "[web] backend_retry: \"0\" is too short");
	errs = load_fails(GOOD_SITE "backend_proxy_protocol = v1\n", 1);
	assert_error(errs, 5, "[web] backend_proxy_protocol: \"v1\"");
	errs = load_fails(GOOD_SITE "backend_check = GET /a b\n", 1);
	assert_error(errs, 5, "[web] backend_check: the path \"/a b\" holds "
	    "a blank");
}

/* mode = passthrough: names, no cert, what is ignored, what is refused. */
static void
test_passthrough(void **state)
{
	struct config *cfg;
	char *errs;

	(void)state;
	cfg = load("[eas]\nlisten = 127.0.0.1:8443\nmode = passthrough\n"
	    "names = EAS.example.com , *.sync.example.com\n"
	    "backend = 127.0.0.1:443\n", &errs);
	assert_non_null(cfg);
	assert_string_equal(errs, "");
	assert_int_equal(cfg->sites[0]->mode, CONFIG_MODE_PASSTHROUGH);
	assert_int_equal(cfg->sites[0]->nnames, 2);
	assert_string_equal(cfg->sites[0]->names[0], "eas.example.com");
	assert_string_equal(cfg->sites[0]->names[1], "*.sync.example.com");
	assert_null(cfg->sites[0]->cert);
	config_free(cfg);

	/* TLS keys are ignored, said once each. */
	cfg = load("[eas]\nlisten = 127.0.0.1:8443\nmode = passthrough\n"
	    "names = eas.example.com\nbackend = 127.0.0.1:443\n"
	    "cert = @D/cert.pem\nbackend_ca = @D/cert.pem\n", &errs);
	assert_non_null(cfg);
	assert_contains(errs, "[eas] cert: ignored with mode = passthrough");
	assert_contains(errs, "[eas] backend_ca: ignored with mode = "
	    "passthrough");
	config_free(cfg);

	errs = load_fails("[eas]\nlisten = 127.0.0.1:8443\n"
	    "mode = passthrough\nbackend = 127.0.0.1:443\n", 1);
	assert_error(errs, 1, "[eas]: missing required key names");
	errs = load_fails("[eas]\nlisten = 127.0.0.1:8443\n"
	    "mode = passthrough\nnames = a.example, bad name, *.*.x\n"
	    "backend = 127.0.0.1:443\n", 1);
	assert_error(errs, 4, "[eas] names: \"bad name\" is not a host name");
	errs = load_fails("[eas]\nlisten = 127.0.0.1:8443\n"
	    "mode = passthrough\nnames = *.*.x\nbackend = 127.0.0.1:443\n",
	    1);
	assert_error(errs, 4, "[eas] names: \"*.*.x\" is not a host name");
	errs = load_fails("[eas]\nlisten = 127.0.0.1:8443\n"
	    "mode = passthrough\nnames = a.example\n"
	    "backend = 127.0.0.1:443\nbackend_check = GET /x\n", 1);
	assert_error(errs, 6, "[eas] backend_check: GET needs the TLS");
	errs = load_fails(GOOD_SITE "mode = proxy\n", 1);
	assert_error(errs, 5, "[web] mode: \"proxy\"");

	/* A terminated site still needs its certificate. */
	errs = load_fails("[web]\nlisten = 127.0.0.1:8443\n"
	    "backend = 127.0.0.1:443\n", 1);
	assert_error(errs, 1, "[web]: missing required key cert");
}

static void
test_cannot_open(void **state)
{
	struct config *cfg;
	char *errs, path[128], want[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tdir);
	cfg = load_path(path, &errs);
	assert_null(cfg);
	snprintf(want, sizeof(want), "error: %s: cannot open: No such file or "
	    "directory\n", path);
	assert_contains(errs, want);
	assert_int_equal(count(errs, ": error: "), 1);

	cfg = load_path(tdir, &errs);
	assert_null(cfg);
	snprintf(want, sizeof(want), "error: %s: is a directory, not a "
	    "regular file\n", tdir);
	assert_contains(errs, want);

	/* A FIFO is refused at once: reading it would block for ever. */
	snprintf(path, sizeof(path), "%s/fifo.conf", tdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	cfg = load_path(path, &errs);
	assert_null(cfg);
	snprintf(want, sizeof(want), "error: %s: is a FIFO, not a regular "
	    "file\n", path);
	assert_contains(errs, want);
	unlink(path);
}

static void
test_syntax(void **state)
{
	char *errs, *text;
	char longline[400];

	(void)state;
	/* Every bad line is reported, not only the first one inih returns. */
	errs = load_fails(GOOD_SITE "no equals sign\n[unclosed\n"
	    "[web2] trailing\nlisten = :2\ncert = @D/cert.pem\nbackend = b:2\n"
	    "also bad\n", 4);
	assert_error(errs, 5, "syntax error");
	assert_error(errs, 6, "syntax error: no ']'");
	assert_error(errs, 7, "syntax error: text after ']'");
	assert_error(errs, 11, "syntax error");

	/* inih would read an indented line as the previous value's tail. */
	errs = load_fails(GOOD_SITE "idle_timeout = 60\n    handshake_timeout = 5\n",
	    1);
	assert_error(errs, 6, "[web] idle_timeout: indented line");

	/* A line longer than inih's buffer is not cut in two. */
	memset(longline, 'a', sizeof(longline));
	memcpy(longline, "backend_sni = ", 14);
	longline[sizeof(longline) - 1] = '\0';
	text = malloc(strlen(GOOD_SITE) + sizeof(longline) + 2);
	assert_non_null(text);
	sprintf(text, "%s%s\n", GOOD_SITE, longline);
	errs = load_fails(text, 1);
	assert_error(errs, 5, "line too long");
	free(text);
}

/* Everything wrong at once: every error, each once, on its line. */
static void
test_several_errors(void **state)
{
	char *errs;

	(void)state;
	errs = load_fails(
	    "[global]\n"				/* 1 */
	    "workers = lots\n"				/* 2 */
	    "listen = :443\n"				/* 3 */
	    "[mail]\n"					/* 4 */
	    "listen = 0.0.0.0:70000\n"			/* 5 */
	    "cert = @D/missing.pfx\n"			/* 6 */
	    "backend = exch1:443\n"			/* 7 */
	    "backend_verify = sha256:12\n"		/* 8 */
	    "colour = blue\n"				/* 9 */
	    "backend = exch2:443\n"			/* 10 */
	    "[mail]\n"					/* 11 */
	    "[web]\n"					/* 12 */
	    "cert = @D/cert.pem\n"			/* 13 */
	    "garbage\n",				/* 14 */
	    11);
	assert_error(errs, 2, "[global] workers:");
	assert_error(errs, 3, "[global] listen: is a site key");
	assert_error(errs, 5, "[mail] listen:");
	assert_error(errs, 6, "[mail] cert: cannot read");
	assert_error(errs, 8, "[mail] backend_verify:");
	assert_error(errs, 9, "[mail] colour: unknown key");
	assert_error(errs, 10, "[mail] backend: set twice (first at line 7)");
	assert_error(errs, 11, "section [mail] defined twice");
	assert_error(errs, 14, "syntax error");
	assert_error(errs, 12, "[web]: missing required key listen");
	assert_error(errs, 12, "[web]: missing required key backend");
}

/* ------------------------------------------------------------------ */
/* The shipped example */

static char *
example_text(void)
{
	char path[512];
	const char *src = __FILE__, *p;
	int fd;
	char *text;

	/* __FILE__ is .../tests/unit/test_config.c in a CMake build. */
	if ((p = strstr(src, "tests/unit/test_config.c")) == NULL || *src != '/')
		return NULL;
	snprintf(path, sizeof(path), "%.*sconf/chainfix.conf", (int)(p - src),
	    src);
	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	text = read_all(fd);
	close(fd);
	return text;
}

/* expiry_check_interval: a duration of at least one second. */
static void
test_expiry_interval(void **state)
{
	struct config *cfg;
	char *errs;

	(void)state;
	cfg = load("[global]\nexpiry_check_interval = 6h\n" GOOD_SITE, &errs);
	assert_non_null(cfg);
	assert_string_equal(errs, "");
	assert_int_equal(cfg->expiry_check_interval, 6 * 3600);
	config_free(cfg);

	errs = load_fails("[global]\nexpiry_check_interval = 0s\n"
	    GOOD_SITE, 1);
	assert_error(errs, 2, "[global] expiry_check_interval: \"0s\" is too "
	    "short (at least 1 second)");
	errs = load_fails("[global]\nexpiry_check_interval = daily\n"
	    GOOD_SITE, 1);
	assert_error(errs, 2, "[global] expiry_check_interval: \"daily\" is "
	    "not a duration");
}

/* public_intermediates, aia_fetch, aia_cache, legacy_roots. */
static void
test_chain_sources(void **state)
{
	struct config *cfg;
	struct config_site *s;
	char *errs;

	(void)state;
	cfg = load(GOOD_SITE, &errs);
	assert_non_null(cfg);
	s = cfg->sites[0];
	assert_string_equal(s->public_intermediates, "yes");
	assert_int_equal(s->aia_fetch, 0);
	assert_null(s->aia_cache);
	assert_null(s->legacy_roots);
	config_free(cfg);

	/* Words, files and directories; aia_cache may not exist yet. */
	cfg = load(GOOD_SITE "public_intermediates = @D/roots.pem\n"
	    "aia_fetch = yes\naia_cache = @D/new-cache\n"
	    "legacy_roots = @D/rootsdir\n", &errs);
	assert_non_null(cfg);
	assert_string_equal(errs, "");
	s = cfg->sites[0];
	assert_non_null(strstr(s->public_intermediates, "/roots.pem"));
	assert_int_equal(s->aia_fetch, 1);
	assert_non_null(strstr(s->aia_cache, "/new-cache"));
	assert_non_null(strstr(s->legacy_roots, "/rootsdir"));
	config_free(cfg);
	cfg = load(GOOD_SITE "public_intermediates = no\n"
	    "aia_cache = @D/inter\nlegacy_roots = android\n", &errs);
	assert_non_null(cfg);
	assert_string_equal(cfg->sites[0]->public_intermediates, "no");
	assert_string_equal(cfg->sites[0]->legacy_roots, "android");
	config_free(cfg);

	errs = load_fails(GOOD_SITE "public_intermediates = maybe\n"
	    "aia_fetch = sometimes\n"
	    "aia_cache = @D/cert.pem\n"
	    "legacy_roots = ios\n", 4);
	assert_error(errs, 5, "[web] public_intermediates: \"maybe\" is not "
	    "yes, no or a readable file: No such file or directory");
	assert_error(errs, 6, "[web] aia_fetch: ");
	assert_error(errs, 7, "[web] aia_cache: ");
	assert_contains(errs, "/cert.pem is not a directory");
	assert_error(errs, 8, "[web] legacy_roots: \"ios\" is not android or "
	    "a readable file or directory");
	errs = load_fails(GOOD_SITE "public_intermediates = @D/inter\n", 1);
	assert_error(errs, 5, "[web] public_intermediates: ");
	assert_contains(errs, "/inter is not a regular file");
	errs = load_fails(GOOD_SITE "aia_cache = /nonexistent/x/aia\n", 1);
	assert_error(errs, 5, "[web] aia_cache: /nonexistent/x/aia does not "
	    "exist, and neither does the directory /nonexistent/x to create "
	    "it in");
}

/* Append "key = default" for every key of [global] (global) or a site. */
static void
append_defaults(char *text, size_t size, int global)
{
	struct config_keyinfo ki;
	size_t i;

	for (i = 0; config_key_info(i, &ki) == 0; i++)
		if (ki.global == global && ki.def != NULL)
			snprintf(text + strlen(text), size - strlen(text),
			    "%s = %s\n", ki.name, ki.def);
}

/* ticket_keys, ticket_keys_staged, ticket_key_rotation and watch: [global]
 * keys. */
static void
test_fleet_keys(void **state)
{
	struct config *cfg;
	char *errs, want[256];

	(void)state;
	cfg = load(GOOD_SITE, &errs);
	assert_non_null(cfg);
	assert_null(cfg->ticket_keys);
	assert_int_equal(cfg->ticket_keys_staged, 0);
	assert_int_equal(cfg->ticket_key_rotation, 3600);
	assert_int_equal(cfg->watch, 1);
	config_free(cfg);

	touch("ticket.keys");
	cfg = load("[global]\nticket_keys = @D/ticket.keys\nwatch = no\n"
	    GOOD_SITE, &errs);
	assert_non_null(cfg);
	assert_string_equal(errs, "");
	assert_non_null(strstr(cfg->ticket_keys, "/ticket.keys"));
	assert_int_equal(cfg->watch, 0);
	config_free(cfg);

	cfg = load("[global]\nticket_key_rotation = 30m\n" GOOD_SITE, &errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->ticket_key_rotation, 1800);
	config_free(cfg);

	/* Both: the rotation is the key file's business, said once. */
	cfg = load("[global]\nticket_keys = @D/ticket.keys\n"
	    "ticket_key_rotation = 2h\n" GOOD_SITE, &errs);
	assert_non_null(cfg);
	assert_int_equal(count(errs, ": warning: "), 1);
	snprintf(want, sizeof(want), "%s:3: [global] ticket_key_rotation: "
	    "ignored with ticket_keys", tconf);
	assert_contains(errs, want);
	config_free(cfg);

	cfg = load("[global]\nticket_keys = @D/ticket.keys\n"
	    "ticket_keys_staged = yes\n" GOOD_SITE, &errs);
	assert_non_null(cfg);
	assert_string_equal(errs, "");
	assert_int_equal(cfg->ticket_keys_staged, 1);
	config_free(cfg);

	/* Staging generated keys means nothing: said once; "no" is quiet. */
	cfg = load("[global]\nticket_keys_staged = yes\n" GOOD_SITE, &errs);
	assert_non_null(cfg);
	assert_int_equal(count(errs, ": warning: "), 1);
	snprintf(want, sizeof(want), "%s:2: [global] ticket_keys_staged: "
	    "ignored without ticket_keys", tconf);
	assert_contains(errs, want);
	config_free(cfg);
	cfg = load("[global]\nticket_keys_staged = no\n" GOOD_SITE, &errs);
	assert_non_null(cfg);
	assert_string_equal(errs, "");
	config_free(cfg);

	errs = load_fails("[global]\nticket_keys = @D/nope.keys\n"
	    "ticket_key_rotation = 0\nwatch = sometimes\n"
	    "ticket_keys_staged = later\n" GOOD_SITE, 4);
	assert_error(errs, 2, "[global] ticket_keys: cannot read ");
	assert_error(errs, 3, "[global] ticket_key_rotation: \"0\" is too "
	    "short");
	assert_error(errs, 4, "[global] watch: \"sometimes\" is not yes or "
	    "no");
	assert_error(errs, 5, "[global] ticket_keys_staged: \"later\" is not "
	    "yes or no");
}

/*
 * The key table config_key_info() lists is the parser's: every key is
 * accepted in its own section and refused in the other, every default loads
 * when written out and gives the value left out gives, and the annotated
 * example documents every key.
 */
static void
test_key_table(void **state)
{
	struct config_keyinfo ki, kj;
	struct config *implicit, *cfg;
	char *errs, *example, text[4096], want[128];
	size_t i, j, n = 0;
	int both;

	(void)state;
	for (i = 0; config_key_info(i, &ki) == 0; i++) {
		n++;
		assert_non_null(ki.name);
		both = 0;
		for (j = 0; j < i; j++) {
			assert_int_equal(config_key_info(j, &kj), 0);
			/* A name twice: once per section (max_connections). */
			if (strcmp(ki.name, kj.name) == 0) {
				assert_int_not_equal(ki.global, kj.global);
				both = 1;
			}
		}
		for (j = i + 1; config_key_info(j, &kj) == 0; j++)
			if (strcmp(ki.name, kj.name) == 0)
				both = 1;
		if (both) {
			/* Accepted in both: nothing refuses it. */
		} else if (ki.global) {
			snprintf(text, sizeof(text), GOOD_SITE "%s = x\n",
			    ki.name);
			errs = load_fails(text, 1);
			snprintf(want, sizeof(want), "[web] %s: belongs in "
			    "[global]", ki.name);
		} else {
			snprintf(text, sizeof(text), "[global]\n%s = x\n"
			    GOOD_SITE, ki.name);
			errs = load_fails(text, 1);
			snprintf(want, sizeof(want), "[global] %s: is a site "
			    "key", ki.name);
		}
		if (!both)
			assert_error(errs, 2 + (ki.global ? 3 : 0), want);
		/* A required key has no default. */
		if (ki.required)
			assert_null(ki.def);
	}
	assert_true(n >= 26);
	assert_int_equal(config_key_info(n, &ki), -1);

	/* Every default written out: the same configuration. */
	snprintf(text, sizeof(text), "[global]\n");
	append_defaults(text, sizeof(text), 1);
	snprintf(text + strlen(text), sizeof(text) - strlen(text), GOOD_SITE);
	append_defaults(text, sizeof(text), 0);
	cfg = load(text, &errs);
	assert_non_null(cfg);
	assert_string_equal(errs, "");
	implicit = load(GOOD_SITE, &errs);
	assert_non_null(implicit);
#define SAME(f) assert_int_equal(cfg->f, implicit->f)
	SAME(workers);
	SAME(allow_root);
	SAME(log_level);
	SAME(expiry_warning_days);
	SAME(expiry_check_interval);
	SAME(shutdown_timeout);
	SAME(ticket_key_rotation);
	SAME(ticket_keys_staged);
	SAME(watch);
	SAME(client_keepalive);
	SAME(max_connections);
	SAME(sites[0]->max_connections);
	SAME(sites[0]->send_root);
	SAME(sites[0]->backend_tls);
	SAME(sites[0]->backend_verify);
	SAME(sites[0]->idle_timeout);
	SAME(sites[0]->handshake_timeout);
	SAME(sites[0]->connect_timeout);
	SAME(sites[0]->backend_check);
	SAME(sites[0]->backend_check_interval);
	SAME(sites[0]->backend_retry);
	SAME(sites[0]->backend_proxy_protocol);
	SAME(sites[0]->backend_min_protocol);
	SAME(sites[0]->min_protocol);
#undef SAME
	assert_string_equal(cfg->sites[0]->roots, implicit->sites[0]->roots);
	config_free(cfg);
	config_free(implicit);

	/* conf/chainfix.conf documents every key ("key =" or ";key ="). */
	if ((example = example_text()) == NULL)
		skip();
	for (i = 0; config_key_info(i, &ki) == 0; i++) {
		snprintf(want, sizeof(want), "\n%s = ", ki.name);
		snprintf(text, sizeof(text), "\n;%s = ", ki.name);
		if (strstr(example, want) == NULL &&
		    strstr(example, text) == NULL) {
			free(example);
			fail_msg("key %s is not in conf/chainfix.conf", ki.name);
		}
	}
	free(example);
}

static void
test_example(void **state)
{
	struct config *cfg;
	struct config_site *s;
	const char *user;
	char *orig, *t1, *t2, *errs, *site2, *p, userline[128];

	(void)state;
	if ((orig = example_text()) == NULL || (user = my_user()) == NULL) {
		free(orig);
		skip();
	}
	touch("mail.pfx");
	touch("mail.pass");
	touch("corp-ca.pem");
	touch("autodiscover.pem");
	touch("autodiscover.key");
	mkdir_in("intermediates");
	t1 = subst(orig, "/etc/chainfix", tdir);
	snprintf(userline, sizeof(userline), "\nuser = %s", user);
	t2 = subst(t1, "\nuser = chainfix", userline);
	write_file(tconf, t2);
	cfg = load_path(tconf, &errs);
	assert_non_null(cfg);
	assert_string_equal(errs, "");
	assert_int_equal(cfg->workers, 0);
	/* Not node_exporter's 9100. */
	assert_string_equal(cfg->admin_listen.text, "127.0.0.1:8441");
	assert_int_equal(cfg->client_keepalive, 15 * 60);
	assert_int_equal(cfg->nsites, 1);
	s = cfg->sites[0];
	assert_string_equal(s->name, "mail");
	assert_int_equal(s->nbackends, 2);
	assert_string_equal(s->backends[1].host, "exch2.corp.example");
	assert_int_equal(s->idle_timeout, 3660);
	assert_int_equal(s->backend_verify, CONFIG_VERIFY_YES);
	assert_int_equal(s->mode, CONFIG_MODE_TERMINATE);
	config_free(cfg);

	/* The commented sites are valid too once uncommented. */
	if ((site2 = strstr(t2, "\n;[autodiscover]")) == NULL)
		fail_msg("no commented [autodiscover] site in the example");
	for (p = site2; (p = strstr(p, "\n;")) != NULL; p++) {
		if (p[2] >= 'a' && p[2] <= 'z')
			memmove(p + 1, p + 2, strlen(p + 2) + 1);
		else if (p[2] == '[')
			memmove(p + 1, p + 2, strlen(p + 2) + 1);
	}
	write_file(tconf, t2);
	cfg = load_path(tconf, &errs);
	assert_non_null(cfg);
	assert_string_equal(errs, "");
	assert_int_equal(cfg->nsites, 3);
	assert_string_equal(cfg->sites[1]->name, "autodiscover");
	assert_string_equal(cfg->sites[1]->listen.text,
	    cfg->sites[0]->listen.text);
	assert_non_null(cfg->sites[1]->key);
	assert_string_equal(cfg->sites[2]->name, "eas");
	assert_int_equal(cfg->sites[2]->mode, CONFIG_MODE_PASSTHROUGH);
	assert_int_equal(cfg->sites[2]->nnames, 1);
	assert_string_equal(cfg->sites[2]->names[0], "eas.example.com");
	assert_null(cfg->sites[2]->cert);
	config_free(cfg);
	free(orig);
	free(t1);
	free(t2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_full),
		T(test_defaults),
		T(test_verify_no_warns),
		T(test_hostport),
		T(test_listen_port0),
		T(test_duration),
		T(test_bool),
		T(test_pin),
		T(test_names),
		T(test_unknown_key),
		T(test_unknown_section),
		T(test_misplaced_key),
		T(test_duplicate_key),
		T(test_duplicate_section),
		T(test_missing_required),
		T(test_unreadable_files),
		T(test_bad_port),
		T(test_bad_pin),
		T(test_bad_values),
		T(test_backend_policy),
		T(test_backend_health),
		T(test_passthrough),
		T(test_cannot_open),
		T(test_syntax),
		T(test_several_errors),
		T(test_expiry_interval),
		T(test_fleet_keys),
		T(test_chain_sources),
		T(test_example),
		T(test_key_table),
#undef T
	};

	log_init("test_config", LOG_LEVEL_DEBUG, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
