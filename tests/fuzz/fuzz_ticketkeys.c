/*
 * fuzz_ticketkeys.c: any bytes as a session ticket key file (ticket_keys)
 * must give keys or a reason, never crash, leak or read past the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ticketkeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ticketkeys *tk;
	unsigned char *copy, name[16];
	char why[512];

	log_init("fuzz", LOG_LEVEL_ERR, 0);
	/* An exact-size copy: ASan sees any read past the end. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	why[0] = '\0';
	if ((tk = ticketkeys_parse(copy, size, "fuzz", why, sizeof(why))) !=
	    NULL) {
		if (ticketkeys_count(tk) == 0 ||
		    ticketkeys_name(tk, 0, name) != 0)
			abort();
		ticketkeys_unref(tk);
	} else if (why[0] == '\0')
		abort();	/* a refusal always says why */
	free(copy);
	return 0;
}
