/*
 * replay: runs a fuzz target's LLVMFuzzerTestOneInput over files, without libFuzzer.
 *
 * Linked with every tests/fuzz/fuzz_*.c in a normal build (gcc or clang, OUTBOX_FUZZ=OFF) as
 * replay_<target>, and run by ctest as unit.replay_<target> over the committed corpus and the
 * fixtures reused as seeds. So every build compiles the targets (an API change cannot break only
 * the clang fuzz build), and every input a fuzzer kept, or a finding's reproducer, is checked
 * again by the default, sanitize and valgrind passes with the targets' own assertions.
 *
 *   replay_<target> PATH...     each PATH a file, or a directory whose regular files are read
 *                               (not recursively, in name order)
 *
 * Exit status: 0 when every input ran (a target reports a failed check by aborting), 1 when a
 * path cannot be read or no input was found.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads a whole file; NULL with errno set on failure. The caller frees the buffer. */
static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            uint8_t *n = realloc(buf, ncap);
            if (n == NULL) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = n;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    *size = len;
    return buf;
}

/* Runs one file through the target; 0, or -1 after a message when it cannot be read. */
static int run_file(const char *path, long *count)
{
    size_t size = 0;
    uint8_t *data = read_file(path, &size);
    if (data == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    (*count)++;
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Runs every regular file of a directory; 0, or -1 when one cannot be read. */
static int run_dir(const char *dir, long *count)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc = run_file(path, count);
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    long count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if ((S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) : run_file(argv[i], &count)) != 0)
            return 1;
    }
    if (count == 0) {
        fprintf(stderr, "replay: no input in the paths given\n");
        return 1;
    }
    printf("replay: %ld inputs ran\n", count);
    return 0;
}
