#include "kafka_topics.h"

#include <stdio.h>
#include <string.h>

#include "kafka_admin.h"

bool outbox_kafka_topic_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!outbox_kafka_topic_char_valid(name[i]))
            return false;
    return true;
}

bool outbox_kafka_topic_char_valid(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

#define AUTO_CREATE "auto.create.topics.enable"

/* The value of configuration `key` in a DescribeConfigs result event, into value. 0, or -1 with
 * errstr. */
static int config_from_result(rd_kafka_event_t *ev, const char *what, const char *key, char *value,
                              size_t value_size, char *errstr, size_t errstr_size)
{
    if (rd_kafka_event_error(ev)) {
        snprintf(errstr, errstr_size, "describing %s's configuration: %s", what,
                 rd_kafka_event_error_string(ev));
        return -1;
    }
    size_t nres = 0, ncfg = 0;
    const rd_kafka_ConfigResource_t **res =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &nres);
    if (nres < 1 || rd_kafka_ConfigResource_error(res[0])) {
        snprintf(errstr, errstr_size, "describing %s's configuration: %s", what,
                 nres < 1 ? "no result" : rd_kafka_ConfigResource_error_string(res[0]));
        return -1;
    }
    const rd_kafka_ConfigEntry_t **cfg = rd_kafka_ConfigResource_configs(res[0], &ncfg);
    for (size_t i = 0; i < ncfg; i++) {
        if (strcmp(rd_kafka_ConfigEntry_name(cfg[i]), key) != 0)
            continue;
        const char *v = rd_kafka_ConfigEntry_value(cfg[i]);
        snprintf(value, value_size, "%s", v ? v : "");
        return 0;
    }
    snprintf(errstr, errstr_size, "%s does not report %s", what, key);
    return -1;
}

/* Configuration `key` of the resource (`type`, `name`), e.g. a broker by id or a topic, into
 * value. `what` names it in errstr. 0, or -1 with errstr. */
static int describe_config(rd_kafka_t *rk, rd_kafka_ResourceType_t type, const char *name,
                           const char *what, const char *key, char *value, size_t value_size,
                           int timeout_ms, char *errstr, size_t errstr_size)
{
    int rc = -1;
    outbox_kafka_admin adm;
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(type, name);
    if (outbox_kafka_admin_init(&adm, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_ms, errstr,
                                errstr_size) != 0)
        goto done;
    if (!res) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    rd_kafka_DescribeConfigs(rk, &res, 1, adm.opts, adm.queue);
    if (!outbox_kafka_admin_wait(&adm, timeout_ms)) {
        snprintf(errstr, errstr_size, "%s did not describe its configuration within %d ms", what,
                 timeout_ms);
        goto done;
    }
    rc = config_from_result(adm.ev, what, key, value, value_size, errstr, errstr_size);
done:
    outbox_kafka_admin_done(&adm);
    if (res)
        rd_kafka_ConfigResource_destroy(res);
    return rc;
}

/* AUTO_CREATE of one broker. 0, or -1 with errstr. */
static int broker_auto_create(rd_kafka_t *rk, int32_t broker, int timeout_ms, bool *on,
                              char *errstr, size_t errstr_size)
{
    char id[16], what[32], value[16];
    snprintf(id, sizeof(id), "%d", (int)broker);
    snprintf(what, sizeof(what), "broker %d", (int)broker);
    if (describe_config(rk, RD_KAFKA_RESOURCE_BROKER, id, what, AUTO_CREATE, value, sizeof(value),
                        timeout_ms, errstr, errstr_size) != 0)
        return -1;
    *on = strcmp(value, "true") == 0;
    return 0;
}

int outbox_kafka_topics_compacted(rd_kafka_t *rk, const char *topic, int timeout_ms, bool *compact,
                                  char *errstr, size_t errstr_size)
{
    bool missing = true;
    char what[300], value[64];
    if (outbox_kafka_topics_missing(rk, &topic, 1, &missing, timeout_ms, errstr, errstr_size) != 0)
        return -1;
    if (missing) {
        snprintf(errstr, errstr_size, "topic %s does not exist", topic);
        return -1;
    }
    snprintf(what, sizeof(what), "topic %s", topic);
    if (describe_config(rk, RD_KAFKA_RESOURCE_TOPIC, topic, what, "cleanup.policy", value,
                        sizeof(value), timeout_ms, errstr, errstr_size) != 0)
        return -1;
    *compact = strstr(value, "compact") != NULL; /* a list of policies ("compact,delete") */
    return 0;
}

int outbox_kafka_topics_auto_create(rd_kafka_t *rk, int timeout_ms, bool *all_on,
                                    int32_t *off_broker, char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
    if (err) {
        snprintf(errstr, errstr_size, "no metadata from the cluster: %s", rd_kafka_err2str(err));
        return -1;
    }
    int rc = 0;
    *all_on = true;
    *off_broker = -1;
    for (int i = 0; i < md->broker_cnt && rc == 0; i++) {
        bool on = false;
        rc = broker_auto_create(rk, md->brokers[i].id, timeout_ms, &on, errstr, errstr_size);
        if (rc == 0 && !on) {
            *all_on = false;
            *off_broker = md->brokers[i].id;
        }
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}

int outbox_kafka_topics_missing(rd_kafka_t *rk, const char *const *names, size_t n, bool *missing,
                                int timeout_ms, char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    /* all topics: asking for one by name may create it where auto-creation is on */
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (err) {
        snprintf(errstr, errstr_size, "no metadata from the cluster: %s", rd_kafka_err2str(err));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        missing[i] = true;
        for (int t = 0; t < md->topic_cnt && missing[i]; t++)
            if (strcmp(md->topics[t].topic, names[i]) == 0 && !md->topics[t].err)
                missing[i] = false;
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}
