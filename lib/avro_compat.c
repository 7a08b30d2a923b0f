/* Schema compatibility levels on top of strict Avro resolution. */
#include "avro_compat.h"

#include <stdio.h>
#include <strings.h>

#include "avro_resolve.h"

static const char *const level_names[] = {
    [OUTBOX_COMPAT_NONE] = "NONE",
    [OUTBOX_COMPAT_BACKWARD] = "BACKWARD",
    [OUTBOX_COMPAT_BACKWARD_TRANSITIVE] = "BACKWARD_TRANSITIVE",
    [OUTBOX_COMPAT_FORWARD] = "FORWARD",
    [OUTBOX_COMPAT_FORWARD_TRANSITIVE] = "FORWARD_TRANSITIVE",
    [OUTBOX_COMPAT_FULL] = "FULL",
    [OUTBOX_COMPAT_FULL_TRANSITIVE] = "FULL_TRANSITIVE",
};

int outbox_compat_level_parse(const char *name, outbox_compat_level *level)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
        if (strcasecmp(name, level_names[i]) == 0) {
            *level = (outbox_compat_level)i;
            return 0;
        }
    return -1;
}

const char *outbox_compat_level_name(outbox_compat_level level)
{
    return (size_t)level < sizeof level_names / sizeof level_names[0] ? level_names[level]
                                                                      : "UNKNOWN";
}

struct direction {
    const char *rule;
    const char *what;
    size_t version;
    outbox_compat_report_fn report;
    void *opaque;
};

static void on_problem(void *opaque, const char *problem)
{
    const struct direction *d = opaque;
    char message[800];
    snprintf(message, sizeof message, "%s: %s: %s", d->rule, d->what, problem);
    d->report(d->opaque, d->version, message);
}

/* One direction: can `reader` read everything `writer` wrote? The number of problems
 * reported, or OUTBOX_AVRO_ERR_NOMEM. */
static int direction(const outbox_schema *writer, const outbox_schema *reader, const char *rule,
                     const char *what, size_t version, outbox_compat_report_fn report, void *opaque)
{
    struct direction d = {rule, what, version, report, opaque};
    return outbox_avro_can_read_each(writer, reader, on_problem, &d);
}

int outbox_compat_check(const outbox_schema *candidate, const outbox_schema *const *previous,
                        size_t n, outbox_compat_level level, outbox_compat_report_fn report,
                        void *opaque)
{
    int backward = level == OUTBOX_COMPAT_BACKWARD || level == OUTBOX_COMPAT_BACKWARD_TRANSITIVE ||
                   level == OUTBOX_COMPAT_FULL || level == OUTBOX_COMPAT_FULL_TRANSITIVE;
    int forward = level == OUTBOX_COMPAT_FORWARD || level == OUTBOX_COMPAT_FORWARD_TRANSITIVE ||
                  level == OUTBOX_COMPAT_FULL || level == OUTBOX_COMPAT_FULL_TRANSITIVE;
    int transitive = level == OUTBOX_COMPAT_BACKWARD_TRANSITIVE ||
                     level == OUTBOX_COMPAT_FORWARD_TRANSITIVE ||
                     level == OUTBOX_COMPAT_FULL_TRANSITIVE;
    const char *rule = outbox_compat_level_name(level);
    int found = 0;

    for (size_t i = transitive || n == 0 ? 0 : n - 1; i < n; i++) {
        int rc = 0;
        if (backward)
            rc = direction(previous[i], candidate, rule,
                           "the new schema cannot read data written with this version", i, report,
                           opaque);
        if (rc >= 0 && forward) {
            int rc2 = direction(candidate, previous[i], rule,
                                "readers of this version cannot read data written with the new "
                                "schema",
                                i, report, opaque);
            rc = rc2 < 0 ? rc2 : rc + rc2;
        }
        if (rc < 0)
            return rc;
        found += rc;
    }
    return found;
}
