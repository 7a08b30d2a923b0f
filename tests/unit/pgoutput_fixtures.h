#ifndef TESTS_PGOUTPUT_FIXTURES_H
#define TESTS_PGOUTPUT_FIXTURES_H

/*
 * Shared by the unit tests that replay captured walsender frames (tests/fixtures/pgoutput):
 * load a fixture file into its frames, failing the running cmocka test on any error. Include
 * after <cmocka.h>.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pgoutput.h"

#define MAX_FRAMES 32

typedef struct fixture {
    uint8_t *data;
    size_t size;
    size_t nframes;
    const uint8_t *frame[MAX_FRAMES];
    size_t frame_len[MAX_FRAMES];
} fixture;

/* Load FIXTURE_DIR/pgoutput/<name>: records of a 4-byte big-endian length and a frame. */
static inline fixture *fixture_load(const char *name)
{
    char path[512];
    fixture *fx = calloc(1, sizeof(*fx));
    FILE *f;
    long n;
    size_t pos = 0;

    assert_non_null(fx);
    snprintf(path, sizeof(path), "%s/pgoutput/%s", FIXTURE_DIR, name);
    f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open fixture %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    fx->size = (size_t)n;
    fx->data = malloc(fx->size);
    assert_non_null(fx->data);
    assert_int_equal(fread(fx->data, 1, fx->size, f), fx->size);
    fclose(f);
    while (pos < fx->size) {
        size_t len;

        assert_true(fx->size - pos >= 4);
        len = (size_t)fx->data[pos] << 24 | (size_t)fx->data[pos + 1] << 16 |
              (size_t)fx->data[pos + 2] << 8 | fx->data[pos + 3];
        pos += 4;
        assert_true(len <= fx->size - pos);
        assert_true(fx->nframes < MAX_FRAMES);
        fx->frame[fx->nframes] = fx->data + pos;
        fx->frame_len[fx->nframes] = len;
        fx->nframes++;
        pos += len;
    }
    return fx;
}

static inline void fixture_free(fixture *fx)
{
    if (!fx)
        return;
    free(fx->data);
    free(fx);
}

/* The XLogData frame i of a fixture. */
static inline relay_pgoutput_xlogdata frame_xlogdata(const fixture *fx, size_t i)
{
    relay_pgoutput_xlogdata x;
    char err[256] = "";

    assert_true(i < fx->nframes);
    if (relay_pgoutput_read_xlogdata(fx->frame[i], fx->frame_len[i], &x, err, sizeof(err)) != 0)
        fail_msg("frame %zu: %s", i, err);
    return x;
}

#endif
