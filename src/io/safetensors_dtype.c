/* The safetensors dtype names and their cmlx types. Kept free of the array core so the
 * header parser (and its fuzz target) can be built alone. */
#include <string.h>

#include "io/safetensors.h"

typedef struct st_dtype_row {
    const char *name;
    int bits;
    int mx;   /* mx_dtype, or -1 where cmlx has no such type */
} st_dtype_row;

/* Every dtype the safetensors format defines (huggingface/safetensors, Dtype enum). */
static const st_dtype_row rows[] = {
    {"BOOL", 8, MX_BOOL},       {"U8", 8, MX_UINT8},        {"I8", 8, MX_INT8},
    {"U16", 16, MX_UINT16},     {"I16", 16, MX_INT16},      {"U32", 32, MX_UINT32},
    {"I32", 32, MX_INT32},      {"U64", 64, MX_UINT64},     {"I64", 64, MX_INT64},
    {"F16", 16, MX_FLOAT16},    {"BF16", 16, MX_BFLOAT16},  {"F32", 32, MX_FLOAT32},
    {"F64", 64, MX_FLOAT64},    {"F8_E4M3", 8, -1},         {"F8_E5M2", 8, -1},
    {"F8_E8M0", 8, -1},         {"F6_E2M3", 6, -1},         {"F6_E3M2", 6, -1},
    {"F4", 4, -1},              {"C64", 64, -1},
};
#define N_ROWS (sizeof rows / sizeof rows[0])

static const st_dtype_row *find_row(const char *s) {
    if (!s) return NULL;
    for (size_t i = 0; i < N_ROWS; i++)
        if (strcmp(rows[i].name, s) == 0) return &rows[i];
    return NULL;
}

int mx_safetensors_dtype_from_string(const char *s, mx_dtype *out) {
    const st_dtype_row *r = find_row(s);
    if (!r) return MX_ST_DTYPE_UNKNOWN;
    if (r->mx < 0) return MX_ST_DTYPE_UNSUPPORTED;
    if (out) *out = (mx_dtype)r->mx;
    return MX_ST_DTYPE_SUPPORTED;
}

const char *mx_safetensors_dtype_to_string(mx_dtype t) {
    for (size_t i = 0; i < N_ROWS; i++)
        if (rows[i].mx >= 0 && rows[i].mx == (int)t) return rows[i].name;
    return NULL;
}

int mx_safetensors_dtype_bits(const char *s) {
    const st_dtype_row *r = find_row(s);
    return r ? r->bits : 0;
}

const char *mx_safetensors_supported_list(void) {
    return "BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F16, BF16, F32, F64";
}
