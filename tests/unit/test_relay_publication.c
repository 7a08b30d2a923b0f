/* relay_publication_names_option: the publication name as START_REPLICATION's
 * publication_names option, which the walsender splits as a list of identifiers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "publication.h"

static void test_plain_name_is_quoted(void **state)
{
    char out[64];
    assert_int_equal(relay_publication_names_option("outbox_pub", out, sizeof(out)), 0);
    assert_string_equal(out, "\"outbox_pub\"");
}

/* A double quote is doubled inside the quoted identifier; commas and spaces stay inside it. */
static void test_double_quote_is_doubled(void **state)
{
    char out[64];
    assert_int_equal(relay_publication_names_option("it\"q pub,x", out, sizeof(out)), 0);
    assert_string_equal(out, "\"it\"\"q pub,x\"");
    assert_int_equal(relay_publication_names_option("\"\"", out, sizeof(out)), 0);
    assert_string_equal(out, "\"\"\"\"\"\"");
}

static void test_too_long_is_refused(void **state)
{
    char out[8];
    assert_int_equal(relay_publication_names_option("abcde", out, sizeof(out)), 0); /* 7 + NUL */
    assert_string_equal(out, "\"abcde\"");
    assert_int_equal(relay_publication_names_option("abcdef", out, sizeof(out)), -1);
    assert_int_equal(relay_publication_names_option("ab\"cd", out, sizeof(out)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_name_is_quoted),
        cmocka_unit_test(test_double_quote_is_doubled),
        cmocka_unit_test(test_too_long_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
