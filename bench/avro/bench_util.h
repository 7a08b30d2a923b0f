#ifndef BENCH_AVRO_UTIL_H
#define BENCH_AVRO_UTIL_H

/* Shared by the Avro benchmarks: a monotonic clock in ns and a whole file in memory. */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The file, NUL-terminated, malloc'd (the caller frees); *len its size. NULL on any error. */
static inline char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *data = NULL;
    long size;

    if (fp == NULL)
        return NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
        data = malloc((size_t)size + 1);
        if (data != NULL && fread(data, 1, (size_t)size, fp) != (size_t)size) {
            free(data);
            data = NULL;
        } else if (data != NULL) {
            data[size] = '\0';
            *len = (size_t)size;
        }
    }
    fclose(fp);
    return data;
}

#endif
