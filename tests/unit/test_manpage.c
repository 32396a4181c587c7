/*
 * test_manpage.c: man/chainfix.conf.5 documents every key the parser knows
 * (config_key_info()), in the right section, with its default (or "No
 * default", and "Required" for required keys), and documents no key the
 * parser does not know.  The keys come from the parser's own table, so a
 * key added there fails this test until the page has it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

#ifndef CHAINFIX_SOURCE_DIR
#error "CHAINFIX_SOURCE_DIR must name the source tree (tests/CMakeLists.txt)"
#endif

#define MANPAGE	CHAINFIX_SOURCE_DIR "/man/chainfix.conf.5"

/* The whole page, NUL-terminated; the caller frees it. */
static char *
manpage_read(void)
{
	FILE *f;
	char *buf;
	long n;

	if ((f = fopen(MANPAGE, "r")) == NULL)
		fail_msg("cannot open %s", MANPAGE);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((n = ftell(f)) > 0);
	rewind(f);
	assert_non_null(buf = malloc((size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The text from the line ".Sh name" to the next ".Sh" (or the end). */
static char *
manpage_section(const char *page, const char *name)
{
	char head[64];
	const char *start, *end;

	snprintf(head, sizeof(head), "\n.Sh %s\n", name);
	if ((start = strstr(page, head)) == NULL)
		fail_msg("%s has no section %s", MANPAGE, name);
	start += strlen(head);
	if ((end = strstr(start, "\n.Sh ")) == NULL)
		end = start + strlen(start);
	return strndup(start, (size_t)(end - start));
}

/*
 * The entry of key in a section: from its ".It Ic key" line to the next
 * ".It" or ".El" line.  NULL if the section has no entry for it.
 */
static char *
manpage_entry(const char *sec, const char *key)
{
	char head[96];
	const char *p, *end, *e1, *e2;
	size_t n;

	n = (size_t)snprintf(head, sizeof(head), "\n.It Ic %s", key);
	for (p = sec; (p = strstr(p, head)) != NULL; p += n) {
		if (p[n] == ' ' || p[n] == '\n')
			break;
	}
	if (p == NULL)
		return NULL;
	p += n;
	e1 = strstr(p, "\n.It ");
	e2 = strstr(p, "\n.El");
	end = e1 == NULL ? e2 : e2 == NULL ? e1 : e1 < e2 ? e1 : e2;
	if (end == NULL)
		end = p + strlen(p);
	return strndup(p, (size_t)(end - p));
}

/*
 * The first word after "Default:" in an entry, with mdoc macro names and
 * trailing punctuation left out ("Default:\n.Cm auto ." gives "auto").
 */
static char *
manpage_default(const char *entry)
{
	const char *p;
	char word[64];
	size_t n;

	if ((p = strstr(entry, "Default:")) == NULL)
		return NULL;
	p += strlen("Default:");
	for (;;) {
		p += strspn(p, " \t\n");
		n = strcspn(p, " \t\n");
		if (n == 0)
			return NULL;
		if (*p != '.' || n == 1)
			break;
		p += n;		/* a macro: .Cm, .Li */
	}
	if (n >= sizeof(word))
		n = sizeof(word) - 1;
	memcpy(word, p, n);
	word[n] = '\0';
	while (n > 0 && (word[n - 1] == '.' || word[n - 1] == ','))
		word[--n] = '\0';
	return strdup(word);
}

static void
test_every_key_documented(void **state)
{
	struct config_keyinfo ki, kj;
	char *page, *global, *site, *entry, *other, *def;
	size_t i, j, n = 0;

	(void)state;
	page = manpage_read();
	global = manpage_section(page, "GLOBAL KEYS");
	site = manpage_section(page, "SITE KEYS");
	for (i = 0; config_key_info(i, &ki) == 0; i++, n++) {
		entry = manpage_entry(ki.global ? global : site, ki.name);
		other = manpage_entry(ki.global ? site : global, ki.name);
		if (entry == NULL)
			fail_msg("%s: key %s is not documented under %s",
			    MANPAGE, ki.name, ki.global ? "GLOBAL KEYS" :
			    "SITE KEYS");
		/* max_connections is a key of both sections. */
		for (j = 0; other != NULL && config_key_info(j, &kj) == 0;
		    j++)
			if (strcmp(kj.name, ki.name) == 0 &&
			    kj.global != ki.global)
				break;
		if (other != NULL && config_key_info(j, &kj) != 0)
			fail_msg("%s: key %s is documented in the wrong section",
			    MANPAGE, ki.name);
		free(other);
		if (ki.required && strstr(entry, "Required") == NULL)
			fail_msg("%s: required key %s does not say Required",
			    MANPAGE, ki.name);
		if (ki.def != NULL) {
			if ((def = manpage_default(entry)) == NULL)
				fail_msg("%s: key %s: no \"Default:\" (%s)",
				    MANPAGE, ki.name, ki.def);
			if (strcmp(def, ki.def) != 0)
				fail_msg("%s: key %s: documented default %s, "
				    "the parser's is %s", MANPAGE, ki.name, def,
				    ki.def);
			free(def);
		} else if (strcasestr(entry, "no default") == NULL)
			fail_msg("%s: key %s has no default: the entry must "
			    "say \"No default\"", MANPAGE, ki.name);
		free(entry);
	}
	/* The parser knows keys: an empty table would prove nothing. */
	assert_true(n >= 20);
	free(global);
	free(site);
	free(page);
}

/* Every ".It Ic name" under the key sections is a key the parser knows. */
static void
test_no_unknown_key_documented(void **state)
{
	static const char *const sections[] = { "GLOBAL KEYS", "SITE KEYS" };
	struct config_keyinfo ki;
	char *page, *sec, name[64];
	const char *p;
	size_t s, i, n;
	int found;

	(void)state;
	page = manpage_read();
	for (s = 0; s < 2; s++) {
		sec = manpage_section(page, sections[s]);
		for (p = sec; (p = strstr(p, "\n.It Ic ")) != NULL; p += 8) {
			n = strcspn(p + 8, " \n");
			assert_true(n > 0 && n < sizeof(name));
			memcpy(name, p + 8, n);
			name[n] = '\0';
			found = 0;
			for (i = 0; config_key_info(i, &ki) == 0; i++)
				if (strcmp(ki.name, name) == 0 &&
				    ki.global == (s == 0))
					found = 1;
			if (!found)
				fail_msg("%s: %s documents %s, which the parser "
				    "does not know there", MANPAGE, sections[s],
				    name);
		}
		free(sec);
	}
	free(page);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key_documented),
		cmocka_unit_test(test_no_unknown_key_documented),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
