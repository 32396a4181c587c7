/*
 * mkpki.c: chainfix-mkpki DIR writes the test PKI (testpki.h, and
 * /work/notes/pki.md for the list of files) for the integration tests.
 */
#include <stdio.h>

#include "testpki.h"

int
main(int argc, char *argv[])
{
	struct testpki *pki;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: chainfix-mkpki DIR\n");
		return 2;
	}
	pki = testpki_new();
	testpki_write(pki, argv[1]);
	testpki_free(pki);
	return 0;
}
