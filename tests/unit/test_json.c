/*
 * test_json.c: json_quote() keeps valid UTF-8, escapes what JSON requires,
 * and turns control characters and invalid UTF-8 into escapes, so that a
 * certificate or site name never breaks a document.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json.h"

static void
expect(const char *in, const char *want)
{
	char *q = json_quote(in);

	assert_non_null(q);
	assert_string_equal(q, want);
	free(q);
}

static void
test_quote(void **state)
{
	(void)state;
	expect(NULL, "null");
	expect("", "\"\"");
	expect("CN=mail.example.com", "\"CN=mail.example.com\"");
	expect("a\"b\\c", "\"a\\\"b\\\\c\"");
	expect("tab\there\nnl\x7f", "\"tab\\u0009here\\u000anl\\u007f\"");
	/* Valid UTF-8 passes: "Türkiye", "東京", an emoji (4 bytes). */
	expect("T\xc3\xbcrkiye", "\"T\xc3\xbcrkiye\"");
	expect("\xe6\x9d\xb1\xe4\xba\xac", "\"\xe6\x9d\xb1\xe4\xba\xac\"");
	expect("\xf0\x9f\x94\x92", "\"\xf0\x9f\x94\x92\"");
}

static void
test_invalid_utf8(void **state)
{
	(void)state;
	/* Latin-1 byte, lone continuation, truncated sequence at the end. */
	expect("T\xfcrkiye", "\"T\\ufffdrkiye\"");
	expect("\x80x", "\"\\ufffdx\"");
	expect("ab\xe6\x9d", "\"ab\\ufffd\\ufffd\"");
	/* Overlong '/', a surrogate, past U+10FFFF. */
	expect("\xc0\xaf", "\"\\ufffd\\ufffd\"");
	expect("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
	expect("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_invalid_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
