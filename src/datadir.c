/*
 * datadir.c: the shipped data directory and the state directory
 * (datadir.h).
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datadir.h"

/* From CMake (GNUInstallDirs); these defaults only serve odd builds. */
#ifndef CHAINFIX_INSTALL_BINDIR
#define CHAINFIX_INSTALL_BINDIR		"bin"
#endif
#ifndef CHAINFIX_INSTALL_DATADIR
#define CHAINFIX_INSTALL_DATADIR	"share"
#endif
#ifndef CHAINFIX_FULL_DATADIR
#define CHAINFIX_FULL_DATADIR		"/usr/local/share"
#endif
#ifndef CHAINFIX_FULL_LOCALSTATEDIR
#define CHAINFIX_FULL_LOCALSTATEDIR	"/usr/local/var"
#endif

static pthread_once_t datadir_once = PTHREAD_ONCE_INIT;
static char datadir_data_buf[PATH_MAX];
static char datadir_state_buf[PATH_MAX];

/*
 * PREFIX of a binary at PREFIX/<bindir>/chainfix into prefix; 0, or -1
 * when the binary is elsewhere (a build tree) or /proc is not mounted.
 */
static int
datadir_prefix(char *prefix, size_t len)
{
	char exe[PATH_MAX], *slash;
	const char *bindir = CHAINFIX_INSTALL_BINDIR;
	size_t n, blen = strlen(bindir);
	ssize_t r;

	if ((r = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return -1;
	exe[r] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return -1;
	*slash = '\0';			/* the binary's directory */
	n = strlen(exe);
	if (bindir[0] == '/' || n <= blen || exe[n - blen - 1] != '/' ||
	    strcmp(exe + n - blen, bindir) != 0)
		return -1;
	exe[n - blen - 1] = '\0';
	if (exe[0] == '\0')
		strcpy(exe, "/");
	if ((size_t)snprintf(prefix, len, "%s", exe) >= len)
		return -1;
	return 0;
}

static void
datadir_init(void)
{
	char prefix[PATH_MAX];

	/* GNUInstallDirs' rule: the /usr prefix keeps its state in /var,
	 * any other prefix in PREFIX/var. */
	if (datadir_prefix(prefix, sizeof(prefix)) == 0 &&
	    (size_t)snprintf(datadir_data_buf, sizeof(datadir_data_buf),
	    "%s/%s/chainfix", strcmp(prefix, "/") == 0 ? "" : prefix,
	    CHAINFIX_INSTALL_DATADIR) < sizeof(datadir_data_buf) &&
	    (size_t)snprintf(datadir_state_buf, sizeof(datadir_state_buf),
	    "%s/var/lib/chainfix", strcmp(prefix, "/usr") == 0 ||
	    strcmp(prefix, "/") == 0 ? "" : prefix) <
	    sizeof(datadir_state_buf))
		return;
	snprintf(datadir_data_buf, sizeof(datadir_data_buf), "%s/chainfix",
	    CHAINFIX_FULL_DATADIR);
	snprintf(datadir_state_buf, sizeof(datadir_state_buf),
	    "%s/lib/chainfix", CHAINFIX_FULL_LOCALSTATEDIR);
}

/* An empty variable counts as unset: `CHAINFIX_DATADIR= cmd` must not
 * turn every path relative. */
static const char *
datadir_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

const char *
datadir_data(void)
{
	const char *v;

	if ((v = datadir_env("CHAINFIX_DATADIR")) != NULL)
		return v;
	pthread_once(&datadir_once, datadir_init);
	return datadir_data_buf;
}

const char *
datadir_state(void)
{
	const char *v;

	if ((v = datadir_env("CHAINFIX_STATEDIR")) != NULL)
		return v;
	pthread_once(&datadir_once, datadir_init);
	return datadir_state_buf;
}

char *
datadir_path(const char *dir, const char *name, char *buf, size_t len)
{
	int r;

	r = snprintf(buf, len, "%s/%s", dir, name);
	if (r < 0 || (size_t)r >= len)
		return NULL;
	return buf;
}
