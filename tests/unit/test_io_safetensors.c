/* Safetensors round trips: every dtype, 0-d and empty tensors, strided arrays written
 * contiguous, metadata, names needing JSON escapes; the written file checked by an
 * independent reader built on jansson alone; array lifetimes across mx_safetensors_close;
 * the temporary-file-and-rename save (an existing file survives a failed save). */
#include <jansson.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <dirent.h>

#include "cmlx/cmlx.h"
#include "io/safetensors.h"
#include "test.h"
#include "test_io_util.h"

#define N_DT 13
static const mx_dtype all_dtypes[N_DT] = {MX_BOOL,  MX_UINT8,   MX_INT8,    MX_UINT16, MX_INT16,
                                          MX_UINT32, MX_INT32,  MX_UINT64,  MX_INT64,  MX_FLOAT16,
                                          MX_BFLOAT16, MX_FLOAT32, MX_FLOAT64};
static const char *const all_names[N_DT] = {"BOOL", "U8", "U16", "U32", "U64", "I8", "I16",
                                            "I32",  "I64", "F16", "BF16", "F32", "F64"};

/* What a tensor of the round trip should read back as. */
typedef struct expect {
    const char *name;
    mx_dtype dtype;
    int ndim;
    int64_t shape[4];
    unsigned char *bytes;
    size_t nbytes;
} expect;

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static unsigned char rand_byte(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (unsigned char)(rng >> 24);
}

/* The independent reader: nothing from src/io, just the format as documented. */
static void check_with_independent_reader(const char *path, const expect *ex, int n_ex, const char *meta_k,
                                          const char *meta_v) {
    size_t len = 0;
    unsigned char *file = io_read_file(path, &len);
    CHECK(file != NULL);
    if (!file) return;
    CHECK(len >= 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | file[i];
    CHECK_MSG((8 + n) % 8 == 0, "data section starts at %llu, not a multiple of 8", (unsigned long long)(8 + n));
    CHECK(8 + n <= len);
    /* Padding is spaces after the closing brace. */
    size_t end = (size_t)n;
    while (end > 0 && file[8 + end - 1] == ' ') end--;
    CHECK(end > 0 && file[8 + end - 1] == '}');
    CHECK((size_t)n - end < 8);

    json_error_t err;
    json_t *root = json_loadb((const char *)file + 8, (size_t)n, 0, &err);
    CHECK_MSG(root != NULL, "header does not parse: %s", root ? "" : err.text);
    if (!root) {
        free(file);
        return;
    }
    CHECK(json_is_object(root));
    /* Keys appear sorted in the file (jansson iterates in file order). */
    const char *key, *prev = NULL;
    json_t *val;
    int n_tensors = 0;
    json_object_foreach(root, key, val) {
        if (prev) CHECK_MSG(strcmp(prev, key) < 0, "keys out of order: '%s' before '%s'", prev, key);
        prev = key;
        if (strcmp(key, "__metadata__") != 0) n_tensors++;
    }
    CHECK(n_tensors == n_ex);
    json_t *meta = json_object_get(root, "__metadata__");
    CHECK(json_is_object(meta) && json_is_string(json_object_get(meta, meta_k)) &&
          strcmp(json_string_value(json_object_get(meta, meta_k)), meta_v) == 0);

    uint64_t data_len = len - 8 - n, covered = 0;
    for (int i = 0; i < n_ex; i++) {
        json_t *e = json_object_get(root, ex[i].name);
        CHECK_MSG(e != NULL, "tensor '%s' missing from the header", ex[i].name);
        if (!e) continue;
        const char *dt = json_string_value(json_object_get(e, "dtype"));
        CHECK_MSG(dt && strcmp(dt, mx_safetensors_dtype_to_string(ex[i].dtype)) == 0, "'%s' dtype %s", ex[i].name,
                  dt ? dt : "(none)");
        json_t *shape = json_object_get(e, "shape");
        CHECK(json_array_size(shape) == (size_t)ex[i].ndim);
        for (int d = 0; d < ex[i].ndim; d++)
            CHECK(json_integer_value(json_array_get(shape, (size_t)d)) == ex[i].shape[d]);
        json_t *offs = json_object_get(e, "data_offsets");
        uint64_t b = (uint64_t)json_integer_value(json_array_get(offs, 0));
        uint64_t en = (uint64_t)json_integer_value(json_array_get(offs, 1));
        CHECK(en - b == ex[i].nbytes && en <= data_len);
        CHECK_MSG((8 + n + b) % mx_dtype_size(ex[i].dtype) == 0, "'%s' at file byte %llu is misaligned",
                  ex[i].name, (unsigned long long)(8 + n + b));
        if (en <= data_len && en - b == ex[i].nbytes)
            CHECK_MSG(ex[i].nbytes == 0 || memcmp(file + 8 + n + b, ex[i].bytes, ex[i].nbytes) == 0,
                      "bytes of '%s' differ", ex[i].name);
        covered += en - b;
    }
    /* Back to back, no holes: what the Hugging Face reader insists on. */
    CHECK(covered == data_len);
    json_decref(root);
    free(file);
}

static void test_round_trip(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/all.safetensors", dir);
    mx_pool *pool = mx_pool_begin();

    enum { MAXT = N_DT + 8 };
    expect ex[MAXT];
    mx_array *arrays[MAXT];
    const char *names[MAXT];
    char name_store[N_DT][32];
    int n = 0;
    for (int i = 0; i < N_DT; i++) {
        mx_dtype t = all_dtypes[i];
        int64_t shape[2] = {3, 5};
        size_t nb = 15 * mx_dtype_size(t);
        unsigned char *b = malloc(nb);
        for (size_t k = 0; k < nb; k++) b[k] = t == MX_BOOL ? (rand_byte() & 1) : rand_byte();
        snprintf(name_store[i], sizeof name_store[i], "t.%s", mx_dtype_name(t));
        ex[n] = (expect){name_store[i], t, 2, {3, 5}, b, nb};
        arrays[n] = mx_array_from_data(b, shape, 2, t);
        names[n] = name_store[i];
        n++;
    }
    /* 0-d */
    float three_half = 3.5f;
    unsigned char *sb = malloc(4);
    memcpy(sb, &three_half, 4);
    ex[n] = (expect){"scalar", MX_FLOAT32, 0, {0}, sb, 4};
    arrays[n] = mx_array_from_data(sb, NULL, 0, MX_FLOAT32), names[n] = "scalar", n++;
    /* empty */
    int64_t eshape[2] = {0, 4};
    ex[n] = (expect){"empty", MX_FLOAT16, 2, {0, 4}, NULL, 0};
    arrays[n] = mx_zeros(eshape, 2, MX_FLOAT16), names[n] = "empty", n++;
    /* strided: a transpose, a stepped slice, a broadcast */
    mx_array *base = mx_arange(0, 12, 1, MX_FLOAT32);
    int64_t s34[2] = {3, 4};
    mx_array *m = mx_reshape(base, s34, 2);
    float tv[12];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 3; c++) tv[r * 3 + c] = (float)(c * 4 + r);
    unsigned char *tb = malloc(sizeof tv);
    memcpy(tb, tv, sizeof tv);
    ex[n] = (expect){"strided.transpose", MX_FLOAT32, 2, {4, 3}, tb, sizeof tv};
    arrays[n] = mx_transpose(m, NULL, 0), names[n] = "strided.transpose", n++;

    mx_array *i16 = mx_arange(0, 10, 1, MX_INT16);
    int64_t st0 = 1, st1 = 10, stp = 3;
    int16_t sv[3] = {1, 4, 7};
    unsigned char *svb = malloc(sizeof sv);
    memcpy(svb, sv, sizeof sv);
    ex[n] = (expect){"strided.slice", MX_INT16, 1, {3}, svb, sizeof sv};
    arrays[n] = mx_slice(i16, &st0, &st1, &stp, 1), names[n] = "strided.slice", n++;

    int64_t row_shape[2] = {1, 3}, bshape[2] = {2, 3};
    uint8_t row[3] = {7, 8, 9};
    unsigned char *bb = malloc(6);
    memcpy(bb, row, 3), memcpy(bb + 3, row, 3);
    ex[n] = (expect){"strided.broadcast", MX_UINT8, 2, {2, 3}, bb, 6};
    arrays[n] = mx_broadcast_to(mx_array_from_data(row, row_shape, 2, MX_UINT8), bshape, 2);
    names[n] = "strided.broadcast", n++;
    /* A lazy result: saving evaluates it. */
    double dv[3] = {1.5, 2.5, 3.5}, dw[3] = {2, 3, 4};
    int64_t s3 = 3;
    unsigned char *db = malloc(sizeof dw);
    memcpy(db, dw, sizeof dw);
    ex[n] = (expect){"lazy \"quoted\" name", MX_FLOAT64, 1, {3}, db, sizeof dw};
    arrays[n] = mx_add_scalar(mx_array_from_data(dv, &s3, 1, MX_FLOAT64), 0.5);
    names[n] = "lazy \"quoted\" name", n++;
    for (int i = 0; i < n; i++) CHECK_MSG(arrays[i] != NULL, "building input %d: %s", i, mx_last_error());

    const char *mk[2] = {"format", "note"}, *mv[2] = {"pt", "h\xc3\xa9llo \"q\"\n"};
    int rc = mx_safetensors_save(path, names, arrays, n, mk, mv, 2);
    CHECK_MSG(rc == 0, "save failed: %s", mx_last_error());
    mx_pool_end(pool);

    check_with_independent_reader(path, ex, n, "note", mv[1]);

    /* Our own reader. */
    mx_safetensors *st = mx_safetensors_open(path);
    CHECK_MSG(st != NULL, "open: %s", mx_last_error());
    if (st) {
        CHECK(mx_safetensors_count(st) == n);
        for (int i = 1; i < mx_safetensors_count(st); i++)
            CHECK(strcmp(mx_safetensors_name(st, i - 1), mx_safetensors_name(st, i)) < 0);
        CHECK(mx_safetensors_metadata_count(st) == 2);
        CHECK(strcmp(mx_safetensors_metadata_key(st, 0), "format") == 0);
        CHECK(mx_safetensors_metadata(st, "note") && strcmp(mx_safetensors_metadata(st, "note"), mv[1]) == 0);
        CHECK(mx_safetensors_metadata(st, "absent") == NULL);
        for (int i = 0; i < n; i++) {
            mx_array *a = mx_safetensors_get(st, ex[i].name);
            CHECK_MSG(a != NULL, "get '%s': %s", ex[i].name, mx_last_error());
            if (!a) continue;
            CHECK(mx_array_dtype(a) == ex[i].dtype && mx_ndim(a) == ex[i].ndim);
            for (int d = 0; d < ex[i].ndim && d < mx_ndim(a); d++) CHECK(mx_shape(a)[d] == ex[i].shape[d]);
            CHECK(mx_nbytes(a) == ex[i].nbytes);
            const void *p = mx_data(a);
            CHECK_MSG(p && (ex[i].nbytes == 0 || memcmp(p, ex[i].bytes, ex[i].nbytes) == 0), "data of '%s'",
                      ex[i].name);
            mx_free(a);
        }
        /* No copy: two arrays of one tensor share the mapped bytes. */
        mx_array *a1 = mx_safetensors_get(st, "t.float32"), *a2 = mx_safetensors_get(st, "t.float32");
        CHECK(a1 && a2 && mx_data(a1) == mx_data(a2));
        mx_free(a1), mx_free(a2);
        CHECK(mx_safetensors_get(st, "nope") == NULL && io_error_has("no tensor named 'nope'", path, NULL));
        CHECK(mx_safetensors_has(st, "scalar") && !mx_safetensors_has(st, "nope"));
        mx_safetensors_close(st);
    }
    for (int i = 0; i < n; i++) free(ex[i].bytes);
}

/* The mapping outlives the handle while an array uses it, and goes with the last one. */
static void test_lifetime(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/life.safetensors", dir);
    float v[4] = {1, 2, 3, 4};
    int64_t s = 4;
    mx_array *a = mx_array_from_data(v, &s, 1, MX_FLOAT32);
    const char *nm = "w";
    CHECK(mx_safetensors_save(path, &nm, &a, 1, NULL, NULL, 0) == 0);
    mx_free(a);
    char real[4096];
    CHECK(realpath(path, real) != NULL);

    CHECK(io_mapping_count(real) == 0);
    mx_safetensors *st = mx_safetensors_open(path);
    CHECK(st != NULL);
    CHECK(io_mapping_count(real) == 1);
    mx_array *w = mx_safetensors_get(st, "w");
    mx_safetensors_close(st);
    CHECK_MSG(io_mapping_count(real) == 1, "mapping gone while an array uses it");
    float got[4] = {0};
    CHECK(w && mx_read(w, MX_FLOAT32, got) == 0 && memcmp(got, v, sizeof v) == 0);
    /* A view of the array keeps it too. */
    mx_array *t = mx_slice_axis(w, 0, 1, 3);
    mx_free(w);
    CHECK(io_mapping_count(real) == 1);
    mx_pool *pool = mx_pool_begin();
    CHECK(t && mx_item_double(mx_slice_axis(t, 0, 0, 1)) == 2.0);
    mx_pool_end(pool);
    mx_free(t);
    CHECK_MSG(io_mapping_count(real) == 0, "mapping still there after the last array");
}

/* Saving over a file that arrays still map: the rename gives the path a new file, and the
 * old arrays keep reading the old bytes (writing in place would change them under us). */
static void test_overwrite_mapped(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/over.safetensors", dir);
    int32_t v1[3] = {1, 2, 3}, v2[3] = {7, 8, 9};
    int64_t s = 3;
    const char *nm = "x";
    mx_array *a = mx_array_from_data(v1, &s, 1, MX_INT32);
    CHECK(mx_safetensors_save(path, &nm, &a, 1, NULL, NULL, 0) == 0);
    mx_free(a);
    mx_safetensors *st = mx_safetensors_open(path);
    mx_array *old = st ? mx_safetensors_get(st, "x") : NULL;
    mx_safetensors_close(st);
    a = mx_array_from_data(v2, &s, 1, MX_INT32);
    CHECK(mx_safetensors_save(path, &nm, &a, 1, NULL, NULL, 0) == 0);
    mx_free(a);
    int32_t got[3] = {0};
    CHECK(old && mx_read(old, MX_INT32, got) == 0 && memcmp(got, v1, sizeof v1) == 0);
    mx_free(old);
    st = mx_safetensors_open(path);
    mx_array *fresh = st ? mx_safetensors_get(st, "x") : NULL;
    CHECK(fresh && mx_read(fresh, MX_INT32, got) == 0 && memcmp(got, v2, sizeof v2) == 0);
    mx_free(fresh);
    mx_safetensors_close(st);
}

static int count_tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

/* A failed save leaves the old file as it was and no temporary behind. */
static void test_atomic_save(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/atomic.safetensors", dir);
    CHECK(io_write_bytes(path, "old contents", 12) == 0);
    int64_t shape = 1 << 16;
    mx_array *big = mx_ones(&shape, 1, MX_FLOAT32);
    const char *nm = "big";

    /* Duplicate names: refused before anything is written. */
    const char *dup[2] = {"x", "x"};
    mx_array *two[2] = {big, big};
    CHECK(mx_safetensors_save(path, dup, two, 2, NULL, NULL, 0) == -1 && io_error_has("'x' given twice", NULL));

    /* A write that fails half way (file size limit): checked, reported, cleaned up. */
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit small = {4096, old.rlim_max};
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    int rc = mx_safetensors_save(path, &nm, &big, 1, NULL, NULL, 0);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK(rc == -1 && io_error_has("writing", ".tmp.", NULL));

    size_t len = 0;
    unsigned char *got = io_read_file(path, &len);
    CHECK_MSG(got && len == 12 && memcmp(got, "old contents", 12) == 0, "the old file was damaged");
    free(got);
    CHECK(count_tmp_files(dir) == 0);

    /* A directory that does not exist. */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.safetensors", dir);
    CHECK(mx_safetensors_save(bad, &nm, &big, 1, NULL, NULL, 0) == -1 && io_error_has("cannot create", bad, NULL));

    /* And a successful save replaces it. */
    CHECK(mx_safetensors_save(path, &nm, &big, 1, NULL, NULL, 0) == 0);
    mx_safetensors *st = mx_safetensors_open(path);
    CHECK(st && mx_safetensors_count(st) == 1);
    mx_safetensors_close(st);
    CHECK(count_tmp_files(dir) == 0);

    /* Argument errors. */
    mx_array *null_arr = NULL;
    CHECK(mx_safetensors_save(path, &nm, &null_arr, 1, NULL, NULL, 0) == -1 && io_error_has("NULL", NULL));
    const char *meta_name = "__metadata__";
    CHECK(mx_safetensors_save(path, &meta_name, &big, 1, NULL, NULL, 0) == -1);
    mx_free(big);

    /* No tensors at all is a valid file. */
    CHECK(mx_safetensors_save(path, NULL, NULL, 0, NULL, NULL, 0) == 0);
    st = mx_safetensors_open(path);
    CHECK(st && mx_safetensors_count(st) == 0);
    mx_safetensors_close(st);
}

/* Dtypes the format has and cmlx lacks: the file opens, the tensor is listed, getting it
 * says which tensor and which dtype. A misaligned tensor is copied, not read unaligned. */
static void test_unsupported_and_unaligned(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/f8.safetensors", dir);
    unsigned char data[12] = {1, 2, 3, 4, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40};
    /* header length 104 + 8 = 112 is a multiple of 8, so 'f' at data offset 4 is aligned. */
    const char *hdr = "{\"q\":{\"dtype\":\"F8_E4M3\",\"shape\":[2,2],\"data_offsets\":[0,4]},"
                      "\"f\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
    CHECK(io_write_st(path, hdr, data, sizeof data) == 0);
    mx_safetensors *st = mx_safetensors_open(path);
    CHECK_MSG(st != NULL, "open: %s", mx_last_error());
    if (st) {
        CHECK(mx_safetensors_has(st, "q"));
        CHECK(mx_safetensors_get(st, "q") == NULL &&
              io_error_has("unsupported dtype F8_E4M3", "'q'", "f8.safetensors", NULL));
        mx_safetensors_info info;
        CHECK(mx_safetensors_info_of(st, "q", &info) == 0 && !info.supported &&
              strcmp(info.dtype_string, "F8_E4M3") == 0 && info.nbytes == 4 && info.ndim == 2);
        mx_pool *pool = mx_pool_begin();
        mx_array *f = mx_safetensors_get(st, "f");
        CHECK(f && mx_item_double(mx_slice_axis(f, 0, 1, 2)) == 2.0);
        mx_pool_end(pool);
        mx_safetensors_close(st);
    }

    /* Header of odd length: the F32 data starts at file byte 8 + 63 = 71. */
    snprintf(path, sizeof path, "%s/odd.safetensors", dir);
    const char *odd = "{\"f\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}         ";
    float fv[2] = {5.0f, -1.25f};
    CHECK(io_write_st(path, odd, fv, sizeof fv) == 0);
    st = mx_safetensors_open(path);
    CHECK_MSG(st != NULL, "open: %s", mx_last_error());
    if (st) {
        mx_array *f = mx_safetensors_get(st, "f");
        float got[2] = {0};
        CHECK(f && ((uintptr_t)mx_data(f) % 4) == 0 && mx_read(f, MX_FLOAT32, got) == 0 && got[0] == 5.0f &&
              got[1] == -1.25f);
        mx_free(f);
        mx_safetensors_close(st);
    }
}

static void test_dtype_strings(void) {
    for (int i = 0; i < N_DT; i++) {
        mx_dtype t = MX_DTYPE_COUNT;
        CHECK(mx_safetensors_dtype_from_string(all_names[i], &t) == MX_ST_DTYPE_SUPPORTED);
        CHECK(strcmp(mx_safetensors_dtype_to_string(t), all_names[i]) == 0);
        CHECK(mx_safetensors_dtype_bits(all_names[i]) == (int)(8 * mx_dtype_size(t)));
    }
    CHECK(mx_safetensors_dtype_from_string("F8_E5M2", NULL) == MX_ST_DTYPE_UNSUPPORTED);
    CHECK(mx_safetensors_dtype_from_string("F4", NULL) == MX_ST_DTYPE_UNSUPPORTED);
    CHECK(mx_safetensors_dtype_bits("F4") == 4);
    CHECK(mx_safetensors_dtype_from_string("float32", NULL) == MX_ST_DTYPE_UNKNOWN);
    CHECK(mx_safetensors_dtype_from_string(NULL, NULL) == MX_ST_DTYPE_UNKNOWN);
    CHECK(mx_safetensors_dtype_to_string(MX_DTYPE_COUNT) == NULL);
}

int main(void) {
    char dir[256];
    io_tmpdir(dir, sizeof dir);
    test_dtype_strings();
    test_round_trip(dir);
    test_lifetime(dir);
    test_atomic_save(dir);
    test_overwrite_mapped(dir);
    test_unsupported_and_unaligned(dir);
    io_rmtree(dir);
    return test_finish();
}
