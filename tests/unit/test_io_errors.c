/* Malformed safetensors files: each is refused with a message that names the file, the
 * tensor and where in the file the problem is. Every case is a real file on disk opened
 * through mx_safetensors_open. */
#include <sys/stat.h>

#include "cmlx/cmlx.h"
#include "io/safetensors_parse.h"
#include "test.h"
#include "test_io_util.h"

static char dir[256];

typedef struct bad_case {
    const char *what;
    const char *header;
    size_t data_len;             /* zero bytes of data after the header */
    const char *expect[4];       /* substrings of the message (the file name is checked too) */
} bad_case;

static const bad_case cases[] = {
    {"invalid JSON", "{\"a\": {\"dtype\": \"F32\",", 0, {"not valid JSON", "line 1", "column", "file byte"}},
    {"JSON on two lines", "{\"a\":\n  nope}", 0, {"not valid JSON", "line 2", NULL}},
    {"not UTF-8", "{\"\xff\xfe\": 1}", 0, {"not valid JSON", NULL}},
    {"empty header", "", 0, {"not valid JSON", NULL}},
    {"header is an array", "[1, 2]", 0, {"an array, not a JSON object", NULL}},
    {"header is a string", "\"hello\"", 0, {"not valid JSON", "'{' expected", NULL}},
    {"duplicate key", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                      "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
     1, {"not valid JSON", "duplicate", NULL}},
    {"entry not an object", "{\"w\": 5}", 0, {"tensor 'w'", "not an object", "file byte 9", NULL}},
    {"missing dtype", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, {"tensor 'w'", "no \"dtype\"", "file byte", NULL}},
    {"missing shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, {"tensor 'w'", "no \"shape\"", NULL}},
    {"missing data_offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, {"tensor 'w'", "no \"data_offsets\"", NULL}},
    {"dtype not a string", "{\"w\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     {"tensor 'w'", "dtype is an integer", NULL}},
    {"unknown dtype", "{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     {"tensor 'w'", "unknown dtype \"F33\"", NULL}},
    {"negative dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,4]}}", 4,
     {"tensor 'w'", "shape[1]", "below 0", NULL}},
    {"fractional dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,4]}}", 4,
     {"tensor 'w'", "shape[0] is a real number", NULL}},
    {"shape not an array", "{\"w\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 4,
     {"tensor 'w'", "shape is a string", NULL}},
    {"too many dims", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
     {"tensor 'w'", "11 dimensions", NULL}},
    {"one offset", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
     {"tensor 'w'", "data_offsets must be [begin, end]", NULL}},
    {"negative offset", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4,
     {"tensor 'w'", "data_offsets must be", NULL}},
    {"offsets past the data", "{\"w\":{\"dtype\":\"F32\",\"shape\":[25],\"data_offsets\":[0,100]}}", 8,
     {"tensor 'w'", "[0, 100] run past the data section (8 bytes", NULL}},
    {"huge offsets", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[9223372036854775806,9223372036854775807]}}",
     8, {"tensor 'w'", "run past the data section", NULL}},
    {"end before begin", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
     {"tensor 'w'", "[8, 4] end before they begin", NULL}},
    {"size mismatch", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
     {"tensor 'w'", "hold 8 bytes but F32[3] needs 12", NULL}},
    {"numel overflow", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
     {"tensor 'w'", "not a whole number of bytes", NULL}},
    {"half a byte", "{\"w\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2,
     {"tensor 'w'", "F4[3] is not a whole number of bytes", NULL}},
    {"overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     12, {"'a' [0, 8] and 'b' [4, 12] overlap", NULL}},
    {"overlap inside", "{\"a\":{\"dtype\":\"U8\",\"shape\":[16],\"data_offsets\":[0,16]},"
                       "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},"
                       "\"c\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[8,10]}}",
     16, {"overlap", NULL}},
    {"metadata not an object", "{\"__metadata__\":[1]}", 0, {"__metadata__ is an array", NULL}},
    {"metadata value not a string", "{\"__metadata__\":{\"format\":1}}", 0,
     {"__metadata__ value of 'format' is an integer", NULL}},
};

static void test_cases(void) {
    unsigned char zeros[256] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case *c = &cases[i];
        char path[512];
        snprintf(path, sizeof path, "%s/bad%02zu.safetensors", dir, i);
        CHECK(io_write_st(path, c->header, zeros, c->data_len) == 0);
        mx_clear_error();
        mx_safetensors *st = mx_safetensors_open(path);
        CHECK_MSG(st == NULL, "case '%s' was accepted", c->what);
        mx_safetensors_close(st);
        int ok = io_error_has(path, NULL);
        for (int k = 0; k < 4 && c->expect[k]; k++) ok &= io_error_has(c->expect[k], NULL);
        CHECK_MSG(ok, "case '%s': message lacks an expected part", c->what);
    }
}

/* The byte offsets in messages are the real ones. */
static void test_offsets_are_exact(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/offset.safetensors", dir);
    /* header of 16 + ... bytes: data starts at 8 + strlen(header); 'w' begins 4 into it. */
    const char *hdr = "{\"v\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                      "\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[4,12]}}";
    unsigned char zeros[12] = {0};
    CHECK(io_write_st(path, hdr, zeros, sizeof zeros) == 0);
    CHECK(mx_safetensors_open(path) == NULL);
    char want[64];
    snprintf(want, sizeof want, "(file byte %zu)", 8 + strlen(hdr) + 4);
    CHECK(io_error_has("tensor 'w'", want, NULL));
    /* Entry position: the key "w" sits after the first entry. */
    snprintf(path, sizeof path, "%s/offset2.safetensors", dir);
    const char *hdr2 = "{\"v\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},\"w\":{\"shape\":[1]}}";
    CHECK(io_write_st(path, hdr2, zeros, 4) == 0);
    CHECK(mx_safetensors_open(path) == NULL);
    snprintf(want, sizeof want, "file byte %zu", 8 + (size_t)(strstr(hdr2, "\"w\"") - hdr2));
    CHECK(io_error_has("tensor 'w'", "no \"dtype\"", want, NULL));
}

static void test_length_field(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/short.safetensors", dir);
    CHECK(io_write_bytes(path, "\x05\0\0\0\0", 5) == 0);
    CHECK(mx_safetensors_open(path) == NULL && io_error_has(path, "5 bytes, shorter than the 8-byte", NULL));
    CHECK(io_write_bytes(path, "", 0) == 0);
    CHECK(mx_safetensors_open(path) == NULL && io_error_has(path, "0 bytes, shorter than the 8-byte", NULL));

    snprintf(path, sizeof path, "%s/pastend.safetensors", dir);
    CHECK(io_write_st_len(path, 1000, "{}", NULL, 0) == 0);
    CHECK(mx_safetensors_open(path) == NULL &&
          io_error_has(path, "header length 1000", "runs past the end of the file (10 bytes)", NULL));

    snprintf(path, sizeof path, "%s/absurd.safetensors", dir);
    CHECK(io_write_st_len(path, 1ull << 40, "{}", NULL, 0) == 0);
    CHECK(mx_safetensors_open(path) == NULL && io_error_has(path, "absurdly large", NULL));
    CHECK(io_write_st_len(path, UINT64_MAX - 1, "{}", NULL, 0) == 0);   /* UINT64_MAX means "true length" */
    CHECK(mx_safetensors_open(path) == NULL && io_error_has(path, "absurdly large", NULL));

    /* Trailing data after the last tensor is tolerated (see docs/formats.md). */
    snprintf(path, sizeof path, "%s/ok.safetensors", dir);
    CHECK(io_write_st(path, "{}", "abc", 3) == 0);
    mx_safetensors *st = mx_safetensors_open(path);
    CHECK_MSG(st && mx_safetensors_count(st) == 0, "%s", mx_last_error());
    mx_safetensors_close(st);
    /* __metadata__: null is accepted, as by the reference implementation. */
    CHECK(io_write_st(path, "{\"__metadata__\":null}", NULL, 0) == 0);
    st = mx_safetensors_open(path);
    CHECK_MSG(st && mx_safetensors_metadata_count(st) == 0, "%s", mx_last_error());
    mx_safetensors_close(st);
}

static void test_paths(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/does-not-exist.safetensors", dir);
    CHECK(mx_safetensors_open(path) == NULL && io_error_has("cannot open", path, "No such file", NULL));
    CHECK(mx_safetensors_open(NULL) == NULL && io_error_has("NULL", NULL));
    /* A FIFO would block a plain open() forever. */
    snprintf(path, sizeof path, "%s/fifo.safetensors", dir);
    CHECK(mkfifo(path, 0644) == 0);
    CHECK(mx_safetensors_open(path) == NULL && io_error_has(path, "neither a regular file nor a directory", NULL));
    snprintf(path, sizeof path, "%s/emptydir", dir);
    CHECK(mkdir(path, 0755) == 0);
    CHECK(mx_safetensors_open(path) == NULL && io_error_has(path, "no .safetensors files", NULL));
}

/* The in-memory parser directly: never reads outside what it was given. */
static void test_parse_buffer(void) {
    st_header h;
    CHECK(st_parse("", 0, "mem", &h) == -1 && io_error_has("mem: file is 0 bytes", NULL));
    /* A heap copy of exact size, so ASan would see a read past the end. */
    const char *hdr = "{\"a\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,4]}}";
    size_t hl = strlen(hdr), total = 8 + hl + 4;
    unsigned char *buf = malloc(total);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    memset(buf + 8 + hl, 1, 4);
    CHECK(st_parse(buf, total, "mem", &h) == 0);
    CHECK(h.n_tensors == 1 && strcmp(h.tensors[0].name, "a") == 0 && h.tensors[0].dtype == MX_INT16 &&
          h.data_start == 8 + hl && h.data_len == 4 && st_header_find(&h, "a") && !st_header_find(&h, "b"));
    st_header_free(&h);
    /* One byte short: the tensor runs past the end. */
    CHECK(st_parse(buf, total - 1, "mem", &h) == -1 && io_error_has("run past the data section", NULL));
    free(buf);
}

int main(void) {
    io_tmpdir(dir, sizeof dir);
    test_cases();
    test_offsets_are_exact();
    test_length_field();
    test_paths();
    test_parse_buffer();
    io_rmtree(dir);
    return test_finish();
}
