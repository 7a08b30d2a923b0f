#ifndef OUTBOX_KAFKA_PROBE_H
#define OUTBOX_KAFKA_PROBE_H

/*
 * kafka_probe: why the brokers of a [kafka] list cannot be reached, classified by librdkafka's
 * error code (RD_KAFKA_RESP_ERR__SSL, __AUTHENTICATION), never by its message text, so `check`
 * can name the settings to fix.
 *
 * Threads: any thread; the probe makes its own short-lived producer and frees it.
 */

#include <stddef.h>

#include "config.h"

typedef enum outbox_kafka_probe_result {
    OUTBOX_KAFKA_PROBE_OK = 0,      /* the brokers answered a metadata request */
    OUTBOX_KAFKA_PROBE_TLS,         /* TLS failed: handshake, a certificate or a key file */
    OUTBOX_KAFKA_PROBE_AUTH,        /* SASL authentication failed */
    OUTBOX_KAFKA_PROBE_UNREACHABLE, /* no answer (down, wrong address, a timeout, ...) */
    OUTBOX_KAFKA_PROBE_SETUP,       /* the [kafka] settings make no client */
} outbox_kafka_probe_result;

/* Asks the brokers of conf's [kafka] list (producer keys) for metadata, waiting at most
 * timeout_ms. Not OK: errstr says what failed; for TLS it names kafka.security.protocol,
 * kafka.ssl.ca.location (with its value) and the client certificate keys; for AUTH the SASL
 * keys. */
outbox_kafka_probe_result outbox_kafka_probe(const outbox_conf *conf, int timeout_ms, char *errstr,
                                             size_t errstr_size)
    __attribute__((warn_unused_result));

#endif
