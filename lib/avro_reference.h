#ifndef OUTBOX_AVRO_REFERENCE_H
#define OUTBOX_AVRO_REFERENCE_H

/*
 * avro-c (Apache Avro's C library) as the reference parser: every schema the toolkit loads
 * (the *.avsc files of schemas/, reader schemas, registry schemas) must also be accepted by it, so
 * a schema that another Avro implementation would refuse is refused here too, with avro-c's
 * message. Our own parser (avro_schema.h) runs first and keeps its more precise messages.
 *
 * Thread-safety: any thread (avro-c keeps its error text per thread).
 */

#include <stddef.h>

/*
 * Parse `len` bytes of schema JSON (NUL-terminated at json[len]) with avro-c. Returns 0 when
 * it accepts it; OUTBOX_AVRO_ERR_SCHEMA with errstr "avro-c rejects the schema: <its
 * message>", or OUTBOX_AVRO_ERR_NOMEM.
 */
int outbox_avro_reference_check(const char *json, size_t len, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

#endif
