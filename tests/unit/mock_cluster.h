#ifndef TESTS_MOCK_CLUSTER_H
#define TESTS_MOCK_CLUSTER_H

/*
 * Shared by the fault-injection unit tests: a one-broker librdkafka mock cluster, hosted by its
 * own quiet handle, failing the running cmocka test on any error. Include after <cmocka.h>.
 */

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* A new mock cluster of one broker; *host is the handle that hosts it (destroy the cluster,
 * then the handle). */
static inline rd_kafka_mock_cluster_t *mock_cluster_new(rd_kafka_t **host)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
    *host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    assert_non_null(*host);
    rd_kafka_mock_cluster_t *mcluster = rd_kafka_mock_cluster_new(*host, 1);
    assert_non_null(mcluster);
    return mcluster;
}

#endif
