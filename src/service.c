/*
 * service.c: systemd notifications and dropping root.
 *
 * The notifications go through libsystemd's sd_notify() when the build
 * found it (CHAINFIX_HAVE_SYSTEMD); without it, or without NOTIFY_SOCKET in
 * the environment, every call is a no-op, so the daemon runs the same in a
 * container or a terminal.
 */
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if CHAINFIX_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "service.h"

static void
service_notify(const char *msg)
{
#if CHAINFIX_HAVE_SYSTEMD
	int r;

	/* unset_environment = 0: workers and reloads notify again later. */
	if ((r = sd_notify(0, msg)) < 0)
		log_debug("sd_notify: %s", strerror(-r));
#else
	(void)msg;
#endif
}

void
service_ready(void)
{
	service_notify("READY=1");
}

void
service_reloading(void)
{
	struct timespec ts;
	char msg[96];

	/*
	 * systemd 253+ (Type=notify-reload, and Type=notify when the unit's
	 * ExecReload runs) matches RELOADING=1 to the reload it started by
	 * the CLOCK_MONOTONIC time in microseconds; without it newer
	 * versions log that the reload's timing is unknown.
	 */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1) {
		service_notify("RELOADING=1");
		return;
	}
	(void)snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	service_notify(msg);
}

void
service_stopping(void)
{
	service_notify("STOPPING=1");
}

void
service_status(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int n;
	char *p;

	memcpy(msg, "STATUS=", 7);
	va_start(ap, fmt);
	n = vsnprintf(msg + 7, sizeof(msg) - 7, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* STATUS is one line: a newline would start another assignment. */
	for (p = msg + 7; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	service_notify(msg);
}

int
service_drop_privileges(const char *user, int allow_root)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	if (getuid() != 0 && geteuid() != 0)
		return 0;

	if (user == NULL || *user == '\0') {
		if (allow_root) {
			log_warnx("serving as root: no user is set and "
			    "allow_root is on");
			return 0;
		}
		log_errx("refusing to serve as root: set `user` in [global] "
		    "(e.g. user = chainfix), or allow_root = yes to mean it");
		return -1;
	}

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		if (errno != 0)
			log_warn("user %s", user);
		else
			log_errx("user %s: no such user", user);
		return -1;
	}
	/* pw points into static storage: copy what we need now. */
	uid = pw->pw_uid;
	gid = pw->pw_gid;

	if (uid == 0) {
		if (allow_root) {
			log_warnx("user %s is root: serving as root "
			    "(allow_root is on)", user);
			return 0;
		}
		log_errx("refusing to serve as root: user %s has uid 0", user);
		return -1;
	}

	/*
	 * Groups first: once the uid is gone we could not change them.
	 * setres[ug]id rather than set[ug]id so the saved IDs go too, and
	 * glibc applies them to every thread of the process (the setxid
	 * broadcast), so workers started before the drop are covered.
	 */
	if (initgroups(user, gid) == -1) {
		log_warn("initgroups %s", user);
		return -1;
	}
	if (setresgid(gid, gid, gid) == -1) {
		log_warn("setresgid %u", (unsigned)gid);
		return -1;
	}
	if (setresuid(uid, uid, uid) == -1) {
		log_warn("setresuid %u", (unsigned)uid);
		return -1;
	}

	/* Belt and braces: root must be gone for good. */
	if (setuid(0) != -1 || seteuid(0) != -1) {
		log_errx("dropping privileges to %s failed: root could be "
		    "regained", user);
		return -1;
	}
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid) {
		log_errx("dropping privileges to %s failed: ids are %u/%u "
		    "%u/%u", user, (unsigned)getuid(), (unsigned)geteuid(),
		    (unsigned)getgid(), (unsigned)getegid());
		return -1;
	}
	log_info("dropped privileges to user %s (uid %u, gid %u)", user,
	    (unsigned)uid, (unsigned)gid);
	return 0;
}
