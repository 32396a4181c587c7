/*
 * test_service.c: systemd notifications (on a NOTIFY_SOCKET of our own) and
 * the privilege drop (in a forked child, since it cannot be undone).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "service.h"
#include "testpki.h"

struct notify {
	char	*dir;
	int	 fd;
};

static int
notify_setup(void **state)
{
	struct notify *n;
	struct sockaddr_un sun;
	char *path;

	assert_non_null(n = calloc(1, sizeof(*n)));
	n->dir = testpki_tmpdir();
	path = testpki_path(n->dir, "notify");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(n->fd >= 0);
	assert_int_equal(bind(n->fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);
	free(path);
	*state = n;
	return 0;
}

static int
notify_teardown(void **state)
{
	struct notify *n = *state;

	unsetenv("NOTIFY_SOCKET");
	close(n->fd);
	testpki_rmtree(n->dir);
	free(n->dir);
	free(n);
	return 0;
}

/* The next datagram already queued, or NULL if there is none. */
static char *
notify_next(struct notify *n, char *buf, size_t len)
{
	ssize_t r;

	r = recv(n->fd, buf, len - 1, MSG_DONTWAIT);
	if (r < 0) {
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		return NULL;
	}
	buf[r] = '\0';
	return buf;
}

static void
test_notify(void **state)
{
	struct notify *n = *state;
	char buf[512], *m, *end;
	unsigned long long usec;

	service_ready();
	service_status("2 sites, %d sessions\nnot a second line", 7);
	service_reloading();
	service_ready();
	service_stopping();

#if CHAINFIX_HAVE_SYSTEMD
	assert_non_null(m = notify_next(n, buf, sizeof(buf)));
	assert_string_equal(m, "READY=1");
	assert_non_null(m = notify_next(n, buf, sizeof(buf)));
	/* One STATUS line: the embedded newline must not leak through. */
	assert_string_equal(m, "STATUS=2 sites, 7 sessions not a second line");
	assert_non_null(m = notify_next(n, buf, sizeof(buf)));
	assert_true(strncmp(m, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
	usec = strtoull(m + 27, &end, 10);
	assert_true(*end == '\0');
	assert_true(usec > 0);
	assert_non_null(m = notify_next(n, buf, sizeof(buf)));
	assert_string_equal(m, "READY=1");
	assert_non_null(m = notify_next(n, buf, sizeof(buf)));
	assert_string_equal(m, "STOPPING=1");
#else
	(void)m;
	(void)end;
	(void)usec;
#endif
	assert_null(notify_next(n, buf, sizeof(buf)));
	/* The environment stays for later notifications. */
	assert_non_null(getenv("NOTIFY_SOCKET"));
}

/*
 * Without NOTIFY_SOCKET every call is a quiet no-op: the socket of the
 * fixture is still there and listening, but nothing reaches it, nothing is
 * logged, and the variable is not set behind our back.
 */
static void
test_notify_absent(void **state)
{
	struct notify *n = *state;
	char buf[512], *log;

	unsetenv("NOTIFY_SOCKET");
	testpki_capture_start();
	service_ready();
	service_reloading();
	service_status("%s", "x");
	service_stopping();
	log = testpki_capture_end();
	assert_string_equal(log, "");
	free(log);
	assert_null(notify_next(n, buf, sizeof(buf)));
	assert_null(getenv("NOTIFY_SOCKET"));
}

static void
need_root(void)
{
	if (getuid() != 0 || geteuid() != 0)
		skip();
}

static void
test_refuse_root(void **state)
{
	char *log;
	int r;

	(void)state;
	need_root();
	testpki_capture_start();
	r = service_drop_privileges(NULL, 0);
	log = testpki_capture_end();
	assert_int_equal(r, -1);
	assert_non_null(strstr(log, "refusing to serve as root"));
	assert_non_null(strstr(log, "user"));
	free(log);
	assert_int_equal(getuid(), 0);

	/* An empty user is no user. */
	testpki_capture_start();
	r = service_drop_privileges("", 0);
	free(testpki_capture_end());
	assert_int_equal(r, -1);

	/* allow_root: serve as root, with a warning. */
	testpki_capture_start();
	r = service_drop_privileges(NULL, 1);
	log = testpki_capture_end();
	assert_int_equal(r, 0);
	assert_non_null(strstr(log, "root"));
	free(log);
	assert_int_equal(getuid(), 0);

	/* user = root is still root. */
	testpki_capture_start();
	r = service_drop_privileges("root", 0);
	log = testpki_capture_end();
	assert_int_equal(r, -1);
	assert_non_null(strstr(log, "uid 0"));
	free(log);
}

static void
test_unknown_user(void **state)
{
	char *log;
	int r;

	(void)state;
	need_root();
	testpki_capture_start();
	r = service_drop_privileges("chainfix-no-such-user", 0);
	log = testpki_capture_end();
	assert_int_equal(r, -1);
	assert_non_null(strstr(log, "chainfix-no-such-user"));
	free(log);
	assert_int_equal(getuid(), 0);
}

/*
 * The drop itself, in a child: 0 = dropped to nobody for good, other exit
 * codes say which check failed.
 */
static void
test_drop(void **state)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid, groups[64];
	pid_t pid;
	int status, i, n;

	(void)state;
	need_root();
	if ((pw = getpwnam("nobody")) == NULL)
		skip();
	uid = pw->pw_uid;
	gid = pw->pw_gid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (service_drop_privileges("nobody", 0) != 0)
			_exit(10);
		if (getuid() != uid || geteuid() != uid)
			_exit(11);
		if (getgid() != gid || getegid() != gid)
			_exit(12);
		if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1)
			_exit(13);
		/* No supplementary group of root's may survive. */
		if ((n = getgroups(64, groups)) < 0)
			_exit(14);
		for (i = 0; i < n; i++)
			if (groups[i] == 0)
				_exit(15);
		/* Already unprivileged: nothing to do, and no refusal. */
		if (service_drop_privileges(NULL, 0) != 0)
			_exit(16);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_notify, notify_setup,
		    notify_teardown),
		cmocka_unit_test_setup_teardown(test_notify_absent,
		    notify_setup, notify_teardown),
		cmocka_unit_test(test_refuse_root),
		cmocka_unit_test(test_unknown_user),
		cmocka_unit_test(test_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
