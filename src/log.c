/*
 * log.c: formatted, leveled, thread-safe lines on stderr.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "log.h"

static const char *log_progname = "chainfix";
/*
 * Set on the main thread (startup, reload), read by every worker on each
 * message: atomic.  Relaxed is enough, nothing else is published with it.
 */
static atomic_int log_maxlevel = LOG_LEVEL_INFO;
static int log_journald;
static int log_stamp;		/* UTC time first (not with journald) */
/* This thread's capture (log_capture()); NULL: stderr. */
static _Thread_local log_capture_fn *log_capture_to;
static _Thread_local void *log_capture_arg;

static const struct {
	const char *name;
	int prio;
} log_levels[] = {
#define LOG_ROW(sym, name, prio) [sym] = { name, prio },
	LOG_LEVELS(LOG_ROW)
#undef LOG_ROW
};

/*
 * 1 if stderr is the journal: systemd sets JOURNAL_STREAM to the device
 * and inode of the stream it connected, and a child whose stderr was
 * redirected (a shell in the unit, a pipe) inherits the variable but not
 * the stream, so the two are compared (systemd.exec(5)).
 */
static int
log_stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (v == NULL || sscanf(v, "%llu:%llu%c", &dev, &ino, &tail) != 2 ||
	    fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *progname, enum log_level level, int journald)
{
	if (progname != NULL)
		log_progname = progname;
	atomic_store_explicit(&log_maxlevel, level, memory_order_relaxed);
	if (journald < 0)
		journald = log_stderr_is_journal();
	log_journald = journald;
}

void
log_capture(log_capture_fn *fn, void *arg)
{
	log_capture_to = fn;
	log_capture_arg = arg;
}

void
log_timestamps(int on)
{
	log_stamp = on;
}

/* "2026-12-04T20:30:24.123Z ": now, UTC, in buf; its length. */
static size_t
log_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    (n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm)) == 0)
		return 0;
	n += (size_t)snprintf(buf + n, len - n, ".%03ldZ ",
	    ts.tv_nsec / 1000000);
	return n < len ? n : len - 1;
}

void
log_setlevel(enum log_level level)
{
	atomic_store_explicit(&log_maxlevel, level, memory_order_relaxed);
}

int
log_enabled(enum log_level level)
{
	return (int)level <= atomic_load_explicit(&log_maxlevel,
	    memory_order_relaxed);
}

int
log_level_parse(const char *s, enum log_level *level)
{
	size_t i;

	if (strcasecmp(s, "warn") == 0) {
		*level = LOG_LEVEL_WARN;
		return 0;
	}
	for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
		if (strcasecmp(s, log_levels[i].name) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/*
 * Format one line into a stack buffer and write it with a single write(2):
 * stdio's stderr is unbuffered and would split a line into several writes.
 */
static void log_vwrite(enum log_level, int, const char *, va_list)
    LOG_PRINTF(3, 0);

static void
log_vwrite(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char line[2048];
	size_t n;
	int r;

	if (!log_enabled(level))
		return;
	n = 0;
	/* The journal stamps each line itself. */
	if (log_stamp && !log_journald)
		n = log_now(line, sizeof(line));
	if (log_journald)
		r = snprintf(line, sizeof(line), "<%d>", log_levels[level].prio);
	else
		r = snprintf(line + n, sizeof(line) - n, "%s: %s: ",
		    log_progname, log_levels[level].name);
	n += r < 0 ? 0 : (size_t)r;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n += (size_t)r;
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	if (errnum != 0) {
		r = snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
		if (r > 0)
			n += (size_t)r;
		if (n >= sizeof(line) - 1)
			n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	if (log_capture_to != NULL) {
		log_capture_to(log_capture_arg, line, n);
		return;
	}
	/* Nothing useful can be done if stderr is gone. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

#define LOG_DEFINE(fn, level, witherr)					\
void									\
fn(const char *fmt, ...)						\
{									\
	va_list ap;							\
	int saved = errno;						\
									\
	va_start(ap, fmt);						\
	log_vwrite(level, (witherr) ? saved : 0, fmt, ap);		\
	va_end(ap);							\
	errno = saved;							\
}

LOG_DEFINE(log_err, LOG_LEVEL_ERR, 1)
LOG_DEFINE(log_errx, LOG_LEVEL_ERR, 0)
LOG_DEFINE(log_warn, LOG_LEVEL_WARN, 1)
LOG_DEFINE(log_warnx, LOG_LEVEL_WARN, 0)
LOG_DEFINE(log_info, LOG_LEVEL_INFO, 0)
LOG_DEFINE(log_debug, LOG_LEVEL_DEBUG, 0)

static void log_write(enum log_level, const char *, ...) LOG_PRINTF(2, 3);

static void
log_write(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, 0, fmt, ap);
	va_end(ap);
}

void
log_ssl(enum log_level level, const char *fmt, ...)
{
	char msg[1024], errbuf[256];
	const char *data;
	unsigned long e;
	int flags;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (ERR_peek_error() == 0) {
		log_write(level, "%s", msg);
		return;
	}
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		ERR_error_string_n(e, errbuf, sizeof(errbuf));
		if ((flags & ERR_TXT_STRING) && data != NULL && *data != '\0')
			log_write(level, "%s: %s (%s)", msg, errbuf, data);
		else
			log_write(level, "%s: %s", msg, errbuf);
	}
}

char *
log_ssl_reason(char *buf, size_t len)
{
	unsigned long e;
	const char *reason;
	size_t n = 0;
	int r;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		if (n + 1 >= len)
			continue;	/* keep draining */
		reason = ERR_reason_error_string(e);
		r = snprintf(buf + n, len - n, "%s%s", n ? "; " : "",
		    reason != NULL ? reason : "unknown error");
		if (r > 0)
			n += (size_t)r < len - n ? (size_t)r : len - n - 1;
	}
	return buf;
}

char *
log_escape(const char *s, char *buf, size_t len)
{
	if (s == NULL)
		s = "-";
	return log_escape_mem(s, strlen(s), buf, len);
}

char *
log_escape_mem(const void *s, size_t slen, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p, *end = (const unsigned char *)s + slen;
	size_t n = 0;

	if (len == 0)
		return buf;
	for (p = s; p < end; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\' && *p != '"') {
			if (n + 1 >= len)
				break;
			buf[n++] = (char)*p;
		} else {
			if (n + 4 >= len)
				break;
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[*p >> 4];
			buf[n++] = hex[*p & 0xf];
		}
	}
	buf[n] = '\0';
	return buf;
}
