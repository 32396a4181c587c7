/*
 * check.c: `chainfix check HOST[:PORT]`, a strict client's view of a
 * server's certificate chain.
 *
 * XXX: first increment, only the command line; the connection and the
 * analysis follow.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "log.h"

static const char check_usage_text[] =
"usage: chainfix check HOST[:PORT] [--servername NAME] [--roots FILE|DIR|system]\n"
"                      [--intermediates DIR] [--warn-days N] [--activesync] [--json]\n";

int
check_main(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			fputs(check_usage_text, stdout);
			return 0;
		}
	}
	fputs(check_usage_text, stderr);
	return 3;
}
