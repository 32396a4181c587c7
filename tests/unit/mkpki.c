/*
 * mkpki.c: chainfix-mkpki [--fillers N] DIR writes the test PKI (testpki.h
 * describes it and lists the files) for the integration tests;
 * --fillers adds N unrelated CA certificates to its intermediates directory
 * (testpki_write_fillers()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testpki.h"

int
main(int argc, char *argv[])
{
	struct testpki *pki;
	char *sub;
	long n = 0;

	/* --fillers N: N more certificates in DIR/intermediates (bench/). */
	if (argc == 4 && strcmp(argv[1], "--fillers") == 0) {
		n = strtol(argv[2], NULL, 10);
		argv += 2;
		argc -= 2;
	}
	if (argc != 2 || argv[1][0] == '-' || n < 0) {
		fprintf(stderr, "usage: chainfix-mkpki [--fillers N] DIR\n");
		return 2;
	}
	pki = testpki_new();
	testpki_write(pki, argv[1]);
	if (n > 0) {
		sub = testpki_path(argv[1], "intermediates");
		testpki_write_fillers(pki, sub, (size_t)n);
		free(sub);
	}
	testpki_free(pki);
	return 0;
}
