/* A 16 GiB bf16 checkpoint costs no anonymous memory: the file is sparse (a valid header,
 * then ftruncate, so every tensor is zero pages that take no disk), and after opening it
 * and taking every tensor as an array, RssAnon and VmRSS have hardly moved. */
#include <fcntl.h>
#include <unistd.h>

#include "cmlx/cmlx.h"
#include "io/safetensors.h"
#include "test.h"
#include "test_io_util.h"

/* A field of /proc/self/status in kB, or -1. */
static long status_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            v = strtol(line + fl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

enum { N_TENSORS = 8 };

/* Writes the header for N_TENSORS bf16 tensors of [rows, cols] back to back, padded to 8,
 * then extends the file to its full size without writing the data. */
static int make_sparse(const char *path, int64_t rows, int64_t cols, uint64_t *total) {
    char header[4096];
    size_t len = 0;
    uint64_t bytes = (uint64_t)rows * (uint64_t)cols * 2, off = 0;
    len += (size_t)snprintf(header + len, sizeof header - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < N_TENSORS; i++, off += bytes)
        len += (size_t)snprintf(header + len, sizeof header - len,
                                ",\"layers.%d.weight\":{\"dtype\":\"BF16\",\"shape\":[%lld,%lld],"
                                "\"data_offsets\":[%llu,%llu]}",
                                i, (long long)rows, (long long)cols, (unsigned long long)off,
                                (unsigned long long)(off + bytes));
    header[len++] = '}';
    while (len % 8) header[len++] = ' ';
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)len >> (8 * i));
    int ok = write(fd, len8, 8) == 8 && write(fd, header, len) == (ssize_t)len;
    *total = 8 + len + off;
    ok = ok && ftruncate(fd, (off_t)*total) == 0;
    close(fd);
    return ok ? 0 : -1;
}

int main(void) {
    char dir[256], path[512];
    io_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/big.safetensors", dir);
    /* 8 x [32768, 32768] bf16 = 8 x 2 GiB = 16 GiB. */
    int64_t rows = 32768, cols = 32768;
    uint64_t total = 0;
    if (make_sparse(path, rows, cols, &total) != 0) {
        /* Some file systems cap file sizes; a 2 GiB file still shows the point. */
        printf("note: 16 GiB sparse file refused here; using 8 x 256 MiB\n");
        rows = 8192, cols = 16384;
        CHECK(make_sparse(path, rows, cols, &total) == 0);
    }

    long anon0 = status_kb("RssAnon"), rss0 = status_kb("VmRSS");
    CHECK(anon0 >= 0 && rss0 >= 0);
    mx_safetensors *st = mx_safetensors_open(path);
    CHECK_MSG(st != NULL, "open: %s", mx_last_error());
    mx_array *arrays[N_TENSORS] = {0};
    uint64_t sum_bytes = 0;
    for (int i = 0; st && i < N_TENSORS; i++) {
        char name[64];
        snprintf(name, sizeof name, "layers.%d.weight", i);
        arrays[i] = mx_safetensors_get(st, name);
        CHECK_MSG(arrays[i] != NULL, "get %s: %s", name, mx_last_error());
        if (!arrays[i]) continue;
        CHECK(mx_array_dtype(arrays[i]) == MX_BFLOAT16 && mx_shape(arrays[i])[0] == rows &&
              mx_shape(arrays[i])[1] == cols && mx_is_available(arrays[i]));
        sum_bytes += mx_nbytes(arrays[i]);
    }
    mx_safetensors_close(st);   /* the arrays keep the mapping */
    /* One element of the last tensor, read through the array: one page of page cache. */
    const uint16_t *last = arrays[N_TENSORS - 1] ? mx_data(arrays[N_TENSORS - 1]) : NULL;
    CHECK(last && last[(size_t)rows * (size_t)cols - 1] == 0);

    long anon1 = status_kb("RssAnon"), rss1 = status_kb("VmRSS");
    printf("file %.2f GiB, arrays %.2f GiB; RssAnon %ld -> %ld kB, VmRSS %ld -> %ld kB\n",
           (double)total / (1 << 30), (double)sum_bytes / (1 << 30), anon0, anon1, rss0, rss1);
    CHECK(sum_bytes + 4096 > total - 4096);
    CHECK_MSG(anon1 - anon0 < 8 * 1024, "RssAnon grew by %ld kB", anon1 - anon0);
    CHECK_MSG(rss1 - rss0 < 16 * 1024, "VmRSS grew by %ld kB", rss1 - rss0);

    for (int i = 0; i < N_TENSORS; i++) mx_free(arrays[i]);
    io_rmtree(dir);
    return test_finish();
}
