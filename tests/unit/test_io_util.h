/* Helpers shared by the safetensors tests: scratch directories, raw file writers (to build
 * malformed files byte by byte), and error-message checks. Header-only so each test stays
 * one executable. */
#ifndef CMLX_TEST_IO_UTIL_H
#define CMLX_TEST_IO_UTIL_H

#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/cmlx.h"
#include "test.h"

/* A fresh directory under /tmp (or TMPDIR); aborts the test program if impossible. */
static inline void io_tmpdir(char *buf, size_t cap) {
    const char *base = getenv("TMPDIR");
    snprintf(buf, cap, "%s/cmlx_io_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(2);
    }
}

static int io_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static inline void io_rmtree(const char *dir) { nftw(dir, io_rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static inline int io_write_bytes(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(buf, 1, len, f) == len;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* [u64 header length][header][data], with the length field set to header_len_field
 * (pass (uint64_t)-1 for the true length). */
static inline int io_write_st_len(const char *path, uint64_t header_len_field, const char *header,
                                  const void *data, size_t data_len) {
    size_t hl = strlen(header);
    size_t total = 8 + hl + data_len;
    unsigned char *buf = malloc(total ? total : 1);
    if (!buf) return -1;
    uint64_t n = header_len_field == (uint64_t)-1 ? hl : header_len_field;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(n >> (8 * i));
    memcpy(buf + 8, header, hl);
    if (data_len) memcpy(buf + 8 + hl, data, data_len);
    int rc = io_write_bytes(path, buf, total);
    free(buf);
    return rc;
}

static inline int io_write_st(const char *path, const char *header, const void *data, size_t data_len) {
    return io_write_st_len(path, (uint64_t)-1, header, data, data_len);
}

/* Whole file into memory (free it); NULL on failure. */
static inline unsigned char *io_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) *len = (size_t)n;
    return buf;
}

/* 1 when mx_last_error() contains every string given (NULL-terminated list); prints the
 * message otherwise so a failing check shows what was said. */
static inline int io_error_has(const char *first, ...) {
    const char *msg = mx_last_error();
    va_list ap;
    va_start(ap, first);
    int ok = 1;
    for (const char *s = first; s; s = va_arg(ap, const char *))
        if (!strstr(msg, s)) ok = 0;
    va_end(ap);
    if (!ok) printf("  error message was: %s\n", msg);
    return ok;
}

/* Lines of /proc/self/maps that name `path` (a mapping of that file is alive). */
static inline int io_mapping_count(const char *path) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return -1;
    char line[4096];
    int n = 0;
    size_t pl = strlen(path);
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == ' ')) line[--l] = '\0';
        if (l >= pl && strcmp(line + l - pl, path) == 0) n++;
    }
    fclose(f);
    return n;
}

#endif
