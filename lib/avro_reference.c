/* avro-c as the reference parser of every schema the toolkit loads. */
#include "avro_reference.h"

#include <errno.h>

#include <avro.h>

#include "avro_schema.h"
#include "errstr.h"

int outbox_avro_reference_check(const char *json, size_t len, char *errstr, size_t errstr_size)
{
    avro_schema_t schema = NULL;

    if (avro_schema_from_json_length(json, len, &schema) != 0) {
        int nomem = errno == ENOMEM;
        outbox_errstr_set(errstr, errstr_size, "avro-c rejects the schema: %s", avro_strerror());
        return nomem ? OUTBOX_AVRO_ERR_NOMEM : OUTBOX_AVRO_ERR_SCHEMA;
    }
    avro_schema_decref(schema);
    return 0;
}
