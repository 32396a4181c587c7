/*
 * fuzz_corpus.c: any bytes as a downloaded corpus of public intermediates
 * (a PEM bundle or a CSV report) must give intermediates or an error
 * string, never a crash, a hang or a leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "certload.h"
#include "corpus.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct certload_set *set;
	struct corpus_stats st;
	char why[256];

	log_init("fuzz", LOG_LEVEL_ERR, 0);
	if ((set = certload_set_new()) == NULL)
		return 0;
	(void)corpus_parse(data, size, "fuzz", set, &st, why, sizeof(why));
	certload_set_free(set);
	return 0;
}
