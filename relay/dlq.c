#include "dlq.h"

#include <string.h>

#include "kafka_topics.h"

static const char *const dlq_reason_names[RELAY_DLQ_REASONS] = {
    "invalid_json",  "null_column",       "unknown_event_type", "schema_mismatch",
    "invalid_topic", "registry_rejected", "bad_table",          "too_large",
};

const char *relay_dlq_reason_name(relay_dlq_reason why)
{
    return (unsigned)why < RELAY_DLQ_REASONS ? dlq_reason_names[why] : "unknown";
}

/* The template with its ${topic} replaced by event_topic, NUL-terminated in out (reset first).
 * 0, or -1 on ENOMEM. */
static int dlq_expand(const char *template, const char *event_topic, outbox_buf *out)
{
    outbox_buf_reset(out);
    const char *ph = strstr(template, "${topic}");
    if (!ph)
        return outbox_buf_append(out, template, strlen(template) + 1);
    if (outbox_buf_append(out, template, (size_t)(ph - template)) ||
        outbox_buf_append(out, event_topic, strlen(event_topic)) ||
        outbox_buf_append(out, ph + 8, strlen(ph + 8) + 1))
        return -1;
    return 0;
}

bool relay_dlq_template_valid(const char *template)
{
    outbox_buf name;
    outbox_buf_init(&name);
    bool valid = dlq_expand(template, "t", &name) == 0 &&
                 outbox_kafka_topic_name_valid((const char *)name.data);
    outbox_buf_free(&name);
    return valid;
}

int relay_dlq_topic(const char *template, const char *fallback, const char *event_topic,
                    outbox_buf *out)
{
    outbox_buf_reset(out);
    if (!event_topic)
        return outbox_buf_append(out, fallback, strlen(fallback) + 1);
    if (dlq_expand(template, event_topic, out) != 0)
        return -1;
    /* A legal event topic of 246-249 characters makes "<topic>.dlq" longer than Kafka allows:
     * producing there would fail for good and stop the relay. The fallback takes it instead
     * (the outbox.dlq.topic header still names the event's topic). */
    if (!outbox_kafka_topic_name_valid((const char *)out->data)) {
        outbox_buf_reset(out);
        return outbox_buf_append(out, fallback, strlen(fallback) + 1);
    }
    return 0;
}

size_t relay_dlq_headers(relay_dlq_reason why, const char *reason, const char *intended_topic,
                         relay_header out[RELAY_DLQ_NHEADERS])
{
    const char *cls = relay_dlq_reason_name(why);
    const char *intended = intended_topic ? intended_topic : "";
    out[0] = (relay_header){"outbox.dlq.reason", reason, strlen(reason)};
    out[1] = (relay_header){"outbox.dlq.class", cls, strlen(cls)};
    out[2] = (relay_header){"outbox.dlq.topic", intended, strlen(intended)};
    out[3] = (relay_header){"outbox.dlq.source", "outbox-relay", 12};
    return RELAY_DLQ_NHEADERS;
}

size_t relay_dlq_too_large_headers(const relay_header *in, size_t n, relay_header *out, size_t cap,
                                   size_t *omitted)
{
    size_t count = 0, own = 0, own_bytes = 0;
    for (size_t i = 0; i < n && count < cap; i++)
        if (relay_route_header_reserved(in[i].name))
            out[count++] = in[i];
    for (size_t i = 0; i < n && count < cap; i++) {
        if (relay_route_header_reserved(in[i].name))
            continue;
        size_t bytes = strlen(in[i].name) + in[i].value_len;
        if (own == RELAY_DLQ_TOO_LARGE_MAX_HEADERS ||
            own_bytes + bytes > RELAY_DLQ_TOO_LARGE_HEADER_BYTES)
            continue;
        out[count++] = in[i];
        own++;
        own_bytes += bytes;
    }
    *omitted = n - count;
    return count;
}
