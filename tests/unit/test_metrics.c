/* Unit tests for lib/metrics: exact Prometheus exposition bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static int setup(void **state)
{
    *state = outbox_metrics_buf_new();
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    outbox_metrics_buf_destroy(*state);
    return 0;
}

static void assert_text(outbox_metrics_buf *buf, const char *expected)
{
    char err[160];
    size_t len = 0;
    if (outbox_metrics_buf_status(buf, err, sizeof err) != 0)
        fail_msg("buffer failed: %s", err);
    const char *text = outbox_metrics_buf_data(buf, &len);
    assert_non_null(text);
    assert_string_equal(text, expected);
    assert_int_equal(len, strlen(expected));
}

static void test_counter_with_labels_exact_bytes(void **state)
{
    outbox_metrics_buf *buf = *state;
    const outbox_metrics_label labels[] = {{"topic", "outbox.event.post"}, {"partition", "3"}};

    outbox_metrics_header(buf, "outbox_relay_events_published_total", OUTBOX_METRICS_COUNTER,
                          "Events acknowledged by Kafka.");
    outbox_metrics_counter(buf, "outbox_relay_events_published_total", labels, 2,
                           18446744073709551615ULL);
    outbox_metrics_counter(buf, "outbox_relay_events_published_total", NULL, 0, 0);
    assert_text(buf, "# HELP outbox_relay_events_published_total Events acknowledged by Kafka.\n"
                     "# TYPE outbox_relay_events_published_total counter\n"
                     "outbox_relay_events_published_total{topic=\"outbox.event.post\","
                     "partition=\"3\"} 18446744073709551615\n"
                     "outbox_relay_events_published_total 0\n");
}

static void test_gauges_signed_and_double(void **state)
{
    outbox_metrics_buf *buf = *state;

    outbox_metrics_header(buf, "outbox_relay_slot_lag_bytes", OUTBOX_METRICS_GAUGE,
                          "WAL bytes behind.");
    outbox_metrics_gauge(buf, "outbox_relay_slot_lag_bytes", NULL, 0, -42);
    outbox_metrics_gauge_double(buf, "outbox_relay_lag_seconds", NULL, 0, 0.1);
    outbox_metrics_gauge_double(buf, "outbox_relay_lag_seconds", NULL, 0, 1e21);
    outbox_metrics_gauge_double(buf, "outbox_relay_lag_seconds", NULL, 0, INFINITY);
    outbox_metrics_gauge_double(buf, "outbox_relay_lag_seconds", NULL, 0, -INFINITY);
    outbox_metrics_gauge_double(buf, "outbox_relay_lag_seconds", NULL, 0, NAN);
    assert_text(buf, "# HELP outbox_relay_slot_lag_bytes WAL bytes behind.\n"
                     "# TYPE outbox_relay_slot_lag_bytes gauge\n"
                     "outbox_relay_slot_lag_bytes -42\n"
                     "outbox_relay_lag_seconds 0.1\n"
                     "outbox_relay_lag_seconds 1e+21\n"
                     "outbox_relay_lag_seconds +Inf\n"
                     "outbox_relay_lag_seconds -Inf\n"
                     "outbox_relay_lag_seconds NaN\n");
}

static void test_label_values_and_help_are_escaped(void **state)
{
    outbox_metrics_buf *buf = *state;
    const outbox_metrics_label labels[] = {{"reason", "bad \"json\"\nat C:\\tmp"}};

    outbox_metrics_header(buf, "outbox_errors_total", OUTBOX_METRICS_COUNTER,
                          "Errors \"by\" reason\nsee C:\\docs");
    outbox_metrics_counter(buf, "outbox_errors_total", labels, 1, 7);
    assert_text(buf, "# HELP outbox_errors_total Errors \"by\" reason\\nsee C:\\\\docs\n"
                     "# TYPE outbox_errors_total counter\n"
                     "outbox_errors_total{reason=\"bad \\\"json\\\"\\nat C:\\\\tmp\"} 7\n");
}

static void test_invalid_names_fail_the_buffer(void **state)
{
    outbox_metrics_buf *buf = *state;
    const outbox_metrics_label labels[] = {{"bad-label", "x"}};
    char err[160];

    outbox_metrics_counter(buf, "ok_total", NULL, 0, 1);
    assert_int_equal(outbox_metrics_buf_status(buf, err, sizeof err), 0);
    outbox_metrics_counter(buf, "ok_total", labels, 1, 1);
    assert_int_equal(outbox_metrics_buf_status(buf, err, sizeof err), -1);
    assert_string_equal(err, "invalid label name 'bad-label' on ok_total");
    assert_null(outbox_metrics_buf_data(buf, NULL));
    assert_null(outbox_metrics_buf_steal(buf, NULL));

    outbox_metrics_buf *other = outbox_metrics_buf_new();
    outbox_metrics_gauge(other, "9starts_with_digit", NULL, 0, 1);
    assert_int_equal(outbox_metrics_buf_status(other, err, sizeof err), -1);
    assert_string_equal(err, "invalid metric name '9starts_with_digit'");
    outbox_metrics_buf_destroy(other);
}

static void test_histogram_buckets_are_cumulative(void **state)
{
    outbox_metrics_buf *buf = *state;
    const double bounds[] = {0.005, 0.1, 1, 2.5};
    const outbox_metrics_label labels[] = {{"projection", "posts"}};
    outbox_metrics_histogram *hist = outbox_metrics_histogram_new(bounds, 4);

    assert_non_null(hist);
    outbox_metrics_histogram_observe(hist, 0.001); /* le 0.005 */
    outbox_metrics_histogram_observe(hist, 0.005); /* le 0.005: bounds are inclusive */
    outbox_metrics_histogram_observe(hist, 0.5);   /* le 1 */
    outbox_metrics_histogram_observe(hist, 2);     /* le 2.5 */
    outbox_metrics_histogram_observe(hist, 10);    /* +Inf */
    outbox_metrics_histogram_observe(hist, NAN);   /* ignored */

    outbox_metrics_header(buf, "outbox_projector_batch_seconds", OUTBOX_METRICS_HISTOGRAM,
                          "Batch transaction time.");
    outbox_metrics_histogram_render(buf, "outbox_projector_batch_seconds", labels, 1, hist);
    assert_text(buf, "# HELP outbox_projector_batch_seconds Batch transaction time.\n"
                     "# TYPE outbox_projector_batch_seconds histogram\n"
                     "outbox_projector_batch_seconds_bucket{projection=\"posts\",le=\"0.005\"} 2\n"
                     "outbox_projector_batch_seconds_bucket{projection=\"posts\",le=\"0.1\"} 2\n"
                     "outbox_projector_batch_seconds_bucket{projection=\"posts\",le=\"1\"} 3\n"
                     "outbox_projector_batch_seconds_bucket{projection=\"posts\",le=\"2.5\"} 4\n"
                     "outbox_projector_batch_seconds_bucket{projection=\"posts\",le=\"+Inf\"} 5\n"
                     "outbox_projector_batch_seconds_sum{projection=\"posts\"} 12.506\n"
                     "outbox_projector_batch_seconds_count{projection=\"posts\"} 5\n");
    outbox_metrics_histogram_destroy(hist);
}

static void test_histogram_rejects_unsorted_bounds(void **state)
{
    const double unsorted[] = {1, 0.5};
    const double repeated[] = {1, 1};
    const double infinite[] = {1, INFINITY};

    assert_null(outbox_metrics_histogram_new(unsorted, 2));
    assert_null(outbox_metrics_histogram_new(repeated, 2));
    assert_null(outbox_metrics_histogram_new(infinite, 2));
    assert_null(outbox_metrics_histogram_new(unsorted, 0));
}

#define OBSERVERS 4
#define OBSERVATIONS 20000

static void *observer(void *arg)
{
    for (int i = 0; i < OBSERVATIONS; i++)
        outbox_metrics_histogram_observe(arg, (i % 4) * 0.5); /* 0, .5, 1, 1.5 */
    return NULL;
}

static void test_histogram_observe_is_safe_across_threads(void **state)
{
    outbox_metrics_buf *buf = *state;
    const double bounds[] = {0.75};
    outbox_metrics_histogram *hist = outbox_metrics_histogram_new(bounds, 1);
    pthread_t threads[OBSERVERS];

    for (int i = 0; i < OBSERVERS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, observer, hist), 0);
    for (int i = 0; i < OBSERVERS; i++)
        pthread_join(threads[i], NULL);
    outbox_metrics_histogram_render(buf, "h", NULL, 0, hist);
    /* every observation counted exactly once; the sum is exact in binary (multiples of .5) */
    assert_text(buf, "h_bucket{le=\"0.75\"} 40000\n"
                     "h_bucket{le=\"+Inf\"} 80000\n"
                     "h_sum 60000\n"
                     "h_count 80000\n");
    outbox_metrics_histogram_destroy(hist);
}

static void test_steal_hands_over_the_text(void **state)
{
    outbox_metrics_buf *buf = *state;
    size_t len = 0;

    outbox_metrics_counter(buf, "a_total", NULL, 0, 1);
    char *text = outbox_metrics_buf_steal(buf, &len);
    assert_string_equal(text, "a_total 1\n");
    assert_int_equal(len, 10);
    free(text);
    outbox_metrics_counter(buf, "b_total", NULL, 0, 2);
    assert_text(buf, "b_total 2\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counter_with_labels_exact_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gauges_signed_and_double, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_values_and_help_are_escaped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_names_fail_the_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_histogram_buckets_are_cumulative, setup, teardown),
        cmocka_unit_test(test_histogram_rejects_unsorted_bounds),
        cmocka_unit_test_setup_teardown(test_histogram_observe_is_safe_across_threads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_steal_hands_over_the_text, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
