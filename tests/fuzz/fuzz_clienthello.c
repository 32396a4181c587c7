/*
 * fuzz_clienthello.c: any bytes as what a client sent first must give a
 * name, a request for more (within CLIENTHELLO_BUFMAX) or a refusal; never
 * a read out of bounds, a crash or a hang.  A name is a lowercase host name.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clienthello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char sni[CLIENTHELLO_NAMELEN];
	const char *why;
	size_t need = 0, i;

	switch (clienthello_parse(data, size, sni, sizeof(sni), &need, &why)) {
	case CLIENTHELLO_OK:
		for (i = 0; sni[i] != '\0'; i++)
			if (sni[i] >= 'A' && sni[i] <= 'Z')
				abort();
		break;
	case CLIENTHELLO_MORE:
		if (need <= size || need > CLIENTHELLO_BUFMAX)
			abort();
		break;
	case CLIENTHELLO_INVALID:
		if (why == NULL || why[0] == '\0')
			abort();
		break;
	}
	return 0;
}
