/* kafka_probe: a metadata request, with the first TLS or SASL error librdkafka reports. */
#include "kafka_probe.h"

#include <stdio.h>
#include <string.h>

#include "errstr.h"

typedef struct probe_errors {
    rd_kafka_resp_err_t err; /* the first __SSL or __AUTHENTICATION error, else 0 */
    char reason[512];
} probe_errors;

static void probe_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    probe_errors *pe = opaque;
    (void)rk;
    if (pe->err != 0)
        return;
    if (err == RD_KAFKA_RESP_ERR__SSL || err == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
        pe->err = (rd_kafka_resp_err_t)err;
        snprintf(pe->reason, sizeof pe->reason, "%s", reason);
    }
}

static const char *kafka_value(const outbox_conf *conf, const char *name)
{
    const char *v = outbox_conf_kafka_get(conf, name);
    return v ? v : "(not set)";
}

static outbox_kafka_probe_result probe_explain(const outbox_conf *conf, const probe_errors *pe,
                                               rd_kafka_resp_err_t err, char *errstr,
                                               size_t errstr_size)
{
    const char *servers = kafka_value(conf, "bootstrap.servers");
    if (pe->err == RD_KAFKA_RESP_ERR__SSL) {
        outbox_errstr_set(errstr, errstr_size,
                          "Kafka at %s: TLS with the brokers failed (%s); kafka.ssl.ca.location "
                          "= %s must name the CA that signed the brokers' certificates, and a "
                          "broker that wants a client certificate needs "
                          "kafka.ssl.certificate.location and kafka.ssl.key.location "
                          "(kafka.security.protocol = %s)",
                          servers, pe->reason, kafka_value(conf, "ssl.ca.location"),
                          kafka_value(conf, "security.protocol"));
        return OUTBOX_KAFKA_PROBE_TLS;
    }
    if (pe->err == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
        outbox_errstr_set(errstr, errstr_size,
                          "Kafka at %s: authentication failed (%s); check kafka.sasl.mechanism, "
                          "kafka.sasl.username and kafka.sasl.password",
                          servers, pe->reason);
        return OUTBOX_KAFKA_PROBE_AUTH;
    }
    outbox_errstr_set(errstr, errstr_size, "Kafka at %s does not answer: %s", servers,
                      rd_kafka_err2str(err));
    return OUTBOX_KAFKA_PROBE_UNREACHABLE;
}

outbox_kafka_probe_result outbox_kafka_probe(const outbox_conf *conf, int timeout_ms, char *errstr,
                                             size_t errstr_size)
{
    probe_errors pe = {0};
    char why[512];
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    if (outbox_conf_kafka_apply_for(conf, kconf, RD_KAFKA_PRODUCER, why, sizeof why) != 0) {
        rd_kafka_conf_destroy(kconf);
        outbox_errstr_set(errstr, errstr_size, "%s", why);
        return OUTBOX_KAFKA_PROBE_SETUP;
    }
    rd_kafka_conf_set_error_cb(kconf, probe_error_cb);
    rd_kafka_conf_set_opaque(kconf, &pe);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, why, sizeof why);
    if (rk == NULL) {
        rd_kafka_conf_destroy(kconf);
        outbox_errstr_set(errstr, errstr_size, "cannot create a Kafka client: %s", why);
        return OUTBOX_KAFKA_PROBE_SETUP;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    rd_kafka_poll(rk, 0); /* serves the error callbacks queued meanwhile */
    rd_kafka_destroy(rk);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return OUTBOX_KAFKA_PROBE_OK;
    return probe_explain(conf, &pe, err, errstr, errstr_size);
}
