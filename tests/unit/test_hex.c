/* outbox_hex_digit, the one hex digit reader of the LSN, UUID, \u escape and bytea parsers:
 * checked against every char value, signed and unsigned. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hex.h"

/* The digit's value by its position in the digit strings, or -1. */
static int expected_digit(int c)
{
    static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
    for (int i = 0; i < 16; i++)
        if (c == lower[i] || c == upper[i])
            return i;
    return -1;
}

static void test_digits_and_letters_of_both_cases(void **state)
{
    (void)state;
    assert_int_equal(outbox_hex_digit('0'), 0);
    assert_int_equal(outbox_hex_digit('9'), 9);
    assert_int_equal(outbox_hex_digit('a'), 10);
    assert_int_equal(outbox_hex_digit('F'), 15);
    assert_int_equal(outbox_hex_digit('f'), 15);
}

static void test_every_other_character_is_refused(void **state)
{
    (void)state;
    for (int c = -128; c < 256; c++)
        assert_int_equal(outbox_hex_digit(c), expected_digit(c));
    assert_int_equal(outbox_hex_digit('g'), -1);
    assert_int_equal(outbox_hex_digit('G'), -1);
    assert_int_equal(outbox_hex_digit('/'), -1); /* just below '0' */
    assert_int_equal(outbox_hex_digit(':'), -1); /* just above '9' */
    assert_int_equal(outbox_hex_digit('@'), -1); /* just below 'A' */
    assert_int_equal(outbox_hex_digit('`'), -1); /* just below 'a' */
    assert_int_equal(outbox_hex_digit((char)0xe1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digits_and_letters_of_both_cases),
        cmocka_unit_test(test_every_other_character_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
