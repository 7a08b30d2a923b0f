/* The projector's decoder with reader schemas: every version of CommentCreated comes out in
 * the reader's shape; an unresolvable pair or value is a dead letter with the exact reason. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "avro_fixtures.h"
#include "avro_history.h"
#include "avro_json.h"
#include "avro_schema.h"
#include "projector_decode.h"
#include "wire.h"

#define EVOLUTION FIXTURE_DIR "/evolution"

static const char *v1_json = "{\"comment_id\":\"0b7f2d1e-3c4a-4b5c-9d6e-7f8091a2b3c4\","
                             "\"post_id\":\"1b7f2d1e-3c4a-4b5c-9d6e-7f8091a2b3c4\","
                             "\"parent_comment_id\":null,\"author_id\":\"u1\","
                             "\"author_name\":\"Ann\",\"text\":\"hi\",\"created_at\":0}";

static outbox_schemas *load(const char *dir)
{
    outbox_schemas *schemas = NULL;
    char errstr[512];
    if (outbox_schemas_load_dir(dir, &schemas, errstr, sizeof errstr) != 0)
        fail_msg("%s: %s", dir, errstr);
    return schemas;
}

/* `json` encoded with the set's CommentCreated, single-object framed. */
static void framed(const outbox_schemas *set, const char *json, outbox_buf *buf)
{
    const outbox_schema *schema = outbox_schemas_find(set, "CommentCreated");
    char errstr[512];
    json_t *value = json_loads(json, 0, NULL);
    assert_non_null(schema);
    assert_non_null(value);
    outbox_buf_reset(buf);
    assert_int_equal(outbox_wire_single_object_write(buf, outbox_schema_fingerprint(schema), errstr,
                                                     sizeof errstr),
                     0);
    if (outbox_avro_json_encode(schema, value, buf, errstr, sizeof errstr) != 0)
        fail_msg("%s", errstr);
    json_decref(value);
}

/* Decode with writer set `writers` and reader set `readers`: rc and the sorted JSON or the
 * reason in out. */
static int decode(const outbox_schemas *writers, const outbox_schemas *readers, const char *json,
                  char *out, size_t out_size)
{
    projector_decoder *dec = projector_decoder_new(writers, NULL);
    outbox_buf buf = OUTBOX_BUF_INIT;
    const char *name = NULL;
    char *text = NULL;
    assert_non_null(dec);
    projector_decoder_set_readers(dec, readers, NULL);
    framed(writers, json, &buf);
    /* twice: the second run uses the cached plan */
    int rc = PROJECTOR_DECODE_OK;
    for (int i = 0; i < 2; i++) {
        free(text);
        text = NULL;
        rc = projector_decode_value(dec, buf.data, buf.len, &text, &name, out, out_size);
    }
    if (rc == PROJECTOR_DECODE_OK) {
        assert_string_equal(name, "CommentCreated");
        json_t *value = json_loads(text, 0, NULL);
        char *sorted = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(out, out_size, "%s", sorted);
        free(sorted);
        json_decref(value);
    }
    free(text);
    outbox_buf_free(&buf);
    projector_decoder_free(dec);
    return rc;
}

static void test_every_version_reads_as_the_newest(void **state)
{
    (void)state;
    outbox_schemas *v1 = load(SCHEMA_DIR);
    outbox_schemas *v2 = load(EVOLUTION "/v2");
    outbox_schemas *v3 = load(EVOLUTION "/v3");
    char out[2048];
    const char *common = "\"author_id\":\"u1\",\"comment_id\":\"0b7f2d1e-3c4a-4b5c-9d6e-"
                         "7f8091a2b3c4\",\"created_at\":\"1970-01-01T00:00:00.000Z\",";

    assert_int_equal(decode(v1, v3, v1_json, out, sizeof out), PROJECTOR_DECODE_OK);
    char want[1024];
    snprintf(want, sizeof want,
             "{%s\"language\":\"en\",\"parent_comment_id\":null,\"post_id\":\"1b7f2d1e-3c4a-"
             "4b5c-9d6e-7f8091a2b3c4\",\"revision\":0,\"text\":\"hi\",\"visibility\":\"PUBLIC\"}",
             common);
    assert_string_equal(out, want);

    /* v2 with its own values: revision (int) widened, the rest kept */
    char v2_json[1024];
    snprintf(v2_json, sizeof v2_json,
             "%.*s,\"language\":\"fr\",\"revision\":2147483647,"
             "\"visibility\":\"HIDDEN\"}",
             (int)strlen(v1_json) - 1, v1_json);
    assert_int_equal(decode(v2, v3, v2_json, out, sizeof out), PROJECTOR_DECODE_OK);
    snprintf(want, sizeof want,
             "{%s\"language\":\"fr\",\"parent_comment_id\":null,\"post_id\":\"1b7f2d1e-3c4a-"
             "4b5c-9d6e-7f8091a2b3c4\",\"revision\":2147483647,\"text\":\"hi\",\"visibility\":"
             "\"HIDDEN\"}",
             common);
    assert_string_equal(out, want);

    /* without reader schemas the writer's shape is kept */
    assert_int_equal(decode(v1, NULL, v1_json, out, sizeof out), PROJECTOR_DECODE_OK);
    assert_non_null(strstr(out, "\"author_name\":\"Ann\""));
    outbox_schemas_destroy(v1);
    outbox_schemas_destroy(v2);
    outbox_schemas_destroy(v3);
}

static unsigned long long fingerprint(const outbox_schemas *set)
{
    return (unsigned long long)outbox_schema_fingerprint(
        outbox_schemas_find(set, "CommentCreated"));
}

static void test_newer_event_for_an_older_reader_is_dead(void **state)
{
    (void)state;
    outbox_schemas *v2 = load(EVOLUTION "/v2");
    outbox_schemas *v3 = load(EVOLUTION "/v3");
    char out[2048];
    char want[1024];
    const char *json = "{\"comment_id\":\"0b7f2d1e-3c4a-4b5c-9d6e-7f8091a2b3c4\","
                       "\"post_id\":\"1b7f2d1e-3c4a-4b5c-9d6e-7f8091a2b3c4\",\"author_id\":"
                       "\"u1\",\"text\":\"hi\",\"created_at\":0,\"revision\":5,"
                       "\"visibility\":\"MEMBERS\"}";
    /* v3 dropped author_name, which v2 needs (no default): the pair does not resolve */
    assert_int_equal(decode(v3, v2, json, out, sizeof out), PROJECTOR_DECODE_DEAD);
    snprintf(want, sizeof want,
             "writer schema blog.events.CommentCreated (fingerprint %016llx) cannot be read with "
             "the reader schema (fingerprint %016llx): CommentCreated.author_name: reader field "
             "(string) has no default and the writer's blog.events.CommentCreated has no such "
             "field",
             fingerprint(v3), fingerprint(v2));
    assert_string_equal(out, want);
    outbox_schemas_destroy(v2);
    outbox_schemas_destroy(v3);
}

static void test_unresolvable_pair_is_a_dead_letter_with_the_reason(void **state)
{
    (void)state;
    outbox_schemas *v1 = load(SCHEMA_DIR);
    outbox_schemas *bad = load(EVOLUTION "/refused_backward");
    char out[2048];
    assert_int_equal(decode(v1, bad, v1_json, out, sizeof out), PROJECTOR_DECODE_DEAD);
    char want[1024];
    snprintf(want, sizeof want,
             "writer schema blog.events.CommentCreated (fingerprint %016llx) cannot be read with "
             "the reader schema (fingerprint %016llx): CommentCreated.mood: reader field "
             "(string) has no default and the writer's blog.events.CommentCreated has no such "
             "field",
             fingerprint(v1), fingerprint(bad));
    assert_string_equal(out, want);
    outbox_schemas_destroy(v1);
    outbox_schemas_destroy(bad);
}

/* Copy `from` to `to` (test fixture files). */
static void copy_file(const char *from, const char *to)
{
    size_t len = 0;
    char *text = slurp(from, &len);
    FILE *fp = fopen(to, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    fclose(fp);
    free(text);
}

static void test_older_versions_come_from_the_schema_history(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_projector_reader.XXXXXX";
    char path[512];
    char err[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/CommentCreated", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/CommentCreated/1.avsc", dir);
    copy_file(SCHEMA_DIR "/CommentCreated.avsc", path);
    snprintf(path, sizeof path, "%s/CommentCreated/2.avsc", dir);
    copy_file(EVOLUTION "/v2/CommentCreated.avsc", path);
    outbox_schema_history *history = NULL;
    assert_int_equal(outbox_schema_history_load(dir, &history, err, sizeof err), 0);

    /* a v1 single-object event; avro.schema-dir holds only v3 */
    outbox_schemas *v1 = load(SCHEMA_DIR);
    outbox_schemas *v3 = load(EVOLUTION "/v3");
    outbox_buf buf = OUTBOX_BUF_INIT;
    framed(v1, v1_json, &buf);
    projector_decoder *dec = projector_decoder_new(v3, NULL);
    char *json = NULL;
    const char *name = NULL;
    assert_int_equal(projector_decode_value(dec, buf.data, buf.len, &json, &name, err, sizeof err),
                     PROJECTOR_DECODE_DEAD);
    assert_non_null(strstr(err, "avro.schema-history"));
    projector_decoder_set_readers(dec, v3, history);
    assert_int_equal(projector_decode_value(dec, buf.data, buf.len, &json, &name, err, sizeof err),
                     PROJECTOR_DECODE_OK);
    assert_non_null(strstr(json, "\"language\":\"en\""));
    free(json);
    projector_decoder_free(dec);
    outbox_buf_free(&buf);
    outbox_schemas_destroy(v1);
    outbox_schemas_destroy(v3);
    outbox_schema_history_free(history);
    snprintf(path, sizeof path, "%s/CommentCreated/1.avsc", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/CommentCreated/2.avsc", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/CommentCreated", dir);
    rmdir(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_version_reads_as_the_newest),
        cmocka_unit_test(test_newer_event_for_an_older_reader_is_dead),
        cmocka_unit_test(test_unresolvable_pair_is_a_dead_letter_with_the_reason),
        cmocka_unit_test(test_older_versions_come_from_the_schema_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
