/* outbox_buf, the byte buffer under the Avro encoder. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "buf.h"

static void test_new_buffer_is_empty_without_allocation(void **state)
{
    outbox_buf buf;

    (void)state;
    outbox_buf_init(&buf);
    assert_null(buf.data);
    assert_int_equal(buf.len, 0);
    assert_int_equal(buf.cap, 0);
    outbox_buf_free(&buf);
}

static void test_append_concatenates_bytes(void **state)
{
    outbox_buf buf = OUTBOX_BUF_INIT;

    (void)state;
    assert_int_equal(outbox_buf_append(&buf, "ab", 2), 0);
    assert_int_equal(outbox_buf_append_byte(&buf, 'c'), 0);
    assert_int_equal(outbox_buf_append(&buf, NULL, 0), 0);
    assert_int_equal(buf.len, 3);
    assert_memory_equal(buf.data, "abc", 3);
    outbox_buf_free(&buf);
}

static void test_growth_keeps_contents(void **state)
{
    outbox_buf buf = OUTBOX_BUF_INIT;
    size_t i;

    (void)state;
    for (i = 0; i < 100000; i++)
        assert_int_equal(outbox_buf_append_byte(&buf, (uint8_t)i), 0);
    assert_int_equal(buf.len, 100000);
    assert_true(buf.cap >= buf.len);
    for (i = 0; i < 100000; i++)
        assert_int_equal(buf.data[i], (uint8_t)i);
    outbox_buf_free(&buf);
}

static void test_reset_keeps_the_allocation(void **state)
{
    outbox_buf buf = OUTBOX_BUF_INIT;
    uint8_t *data;

    (void)state;
    assert_int_equal(outbox_buf_append(&buf, "hello", 5), 0);
    data = buf.data;
    outbox_buf_reset(&buf);
    assert_int_equal(buf.len, 0);
    assert_int_equal(outbox_buf_append(&buf, "world", 5), 0);
    assert_ptr_equal(buf.data, data);
    outbox_buf_free(&buf);
}

static void test_reserve_makes_room_without_changing_length(void **state)
{
    outbox_buf buf = OUTBOX_BUF_INIT;

    (void)state;
    assert_int_equal(outbox_buf_reserve(&buf, 1000), 0);
    assert_int_equal(buf.len, 0);
    assert_true(buf.cap >= 1000);
    outbox_buf_free(&buf);
}

static void test_impossible_reserve_fails_and_leaves_buffer_intact(void **state)
{
    outbox_buf buf = OUTBOX_BUF_INIT;

    (void)state;
    assert_int_equal(outbox_buf_append(&buf, "x", 1), 0);
    assert_int_equal(outbox_buf_reserve(&buf, SIZE_MAX), -1);
    assert_int_equal(buf.len, 1);
    assert_int_equal(buf.data[0], 'x');
    outbox_buf_free(&buf);
}

static void test_free_returns_to_empty_state(void **state)
{
    outbox_buf buf = OUTBOX_BUF_INIT;

    (void)state;
    assert_int_equal(outbox_buf_append(&buf, "x", 1), 0);
    outbox_buf_free(&buf);
    assert_null(buf.data);
    assert_int_equal(buf.len, 0);
    assert_int_equal(buf.cap, 0);
    outbox_buf_free(&buf);
    outbox_buf_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_buffer_is_empty_without_allocation),
        cmocka_unit_test(test_append_concatenates_bytes),
        cmocka_unit_test(test_growth_keeps_contents),
        cmocka_unit_test(test_reset_keeps_the_allocation),
        cmocka_unit_test(test_reserve_makes_room_without_changing_length),
        cmocka_unit_test(test_impossible_reserve_fails_and_leaves_buffer_intact),
        cmocka_unit_test(test_free_returns_to_empty_state),
    };

    return cmocka_run_group_tests_name("avro_buf", tests, NULL, NULL);
}
