/*
 * log.h: the one logging API of chainfix.
 *
 * Lines go to stderr, one write(2) each, so lines from several worker threads
 * never interleave.  Under systemd (JOURNAL_STREAM set, or log_init() told so)
 * every line starts with the "<N>" priority prefix journald understands;
 * otherwise it starts with the level word ("warning: ...").
 */
#ifndef CHAINFIX_LOG_H
#define CHAINFIX_LOG_H

#include <stddef.h>

/* Levels, most severe first.  X-macro: the name strings cannot drift. */
#define LOG_LEVELS(X)                                   \
	X(LOG_LEVEL_ERR,   "error",   3)                    \
	X(LOG_LEVEL_WARN,  "warning", 4)                    \
	X(LOG_LEVEL_INFO,  "info",    6)                    \
	X(LOG_LEVEL_DEBUG, "debug",   7)

enum log_level {
#define LOG_ENUM(sym, name, prio) sym,
	LOG_LEVELS(LOG_ENUM)
#undef LOG_ENUM
};

/*
 * log_init(progname, level, journald):
 * Set the program name and the most verbose level written.  journald < 0
 * means "detect": stderr is the stream JOURNAL_STREAM names; 0 plain
 * lines, 1 "<N>" prefixes.
 */
void log_init(const char *progname, enum log_level level, int journald);

/*
 * log_timestamps(on):
 * Start each line with the time (UTC, "2026-12-04T20:30:24.123Z "), as a
 * daemon's log read from a file or `docker logs` needs; never when lines
 * go to the journal, which stamps them itself.  Off by default (the
 * command-line tools).
 */
void log_timestamps(int on);

/* log_setlevel(level): change the most verbose level written. */
void log_setlevel(enum log_level level);

/*
 * log_enabled(level):
 * 1 if a message of this level is written now, 0 if it is dropped: for a
 * caller that would gather or format a line's arguments for nothing (a
 * system call, addresses turned into text) on a hot path.
 */
int log_enabled(enum log_level level);

/*
 * log_level_parse(s, level):
 * Parse a level name ("error", "warning"/"warn", "info", "debug") into
 * *level.  Returns 0, or -1 if the name is unknown.
 */
int log_level_parse(const char *s, enum log_level *level);

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* log_err*: an error that is not fatal (a config error, a failed reload). */
void log_err(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_errx(const char *fmt, ...) LOG_PRINTF(1, 2);
/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);

/*
 * log_ssl(level, fmt, ...):
 * Log the message followed by every entry of this thread's OpenSSL error
 * queue (reason, library, file:line, data), draining the queue.  With an
 * empty queue only the message is written.
 */
void log_ssl(enum log_level level, const char *fmt, ...) LOG_PRINTF(2, 3);

/*
 * log_ssl_reason(buf, len):
 * Drain this thread's OpenSSL error queue into buf as one short string
 * ("reason; reason"), for one-line summaries such as a session's close
 * reason.  Returns buf; "" when the queue was empty.
 */
char *log_ssl_reason(char *buf, size_t len);

/*
 * log_escape(s, buf, len):
 * Copy s into buf with every byte outside printable ASCII (and '\\', '"')
 * escaped as \xNN, truncated to fit.  Use it for every string a peer controls
 * (SNI, certificate subjects, HTTP headers) before logging it.  Returns buf;
 * s == NULL gives "-".
 */
char *log_escape(const char *s, char *buf, size_t len);

/*
 * log_escape_mem(s, slen, buf, len):
 * log_escape() of the slen bytes at s, which may hold a NUL (escaped as
 * \x00 like any other control byte).  Returns buf.
 */
char *log_escape_mem(const void *s, size_t slen, char *buf, size_t len);

/* Where a captured line goes: the whole line, its newline included. */
typedef void log_capture_fn(void *arg, const char *line, size_t len);

/*
 * log_capture(fn, arg):
 * Hand this thread's lines to fn(arg, ...) instead of writing them to
 * stderr, until log_capture(NULL, NULL): for a caller that must put them
 * in order with output it holds back (configtest, whose sites' self-tests
 * run side by side).  Other threads' lines are not affected.
 */
void log_capture(log_capture_fn *fn, void *arg);

#endif /* CHAINFIX_LOG_H */
