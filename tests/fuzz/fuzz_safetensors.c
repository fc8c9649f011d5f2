/* libFuzzer target for the safetensors header parser (src/io/safetensors_parse.c): any
 * byte string is a candidate file. Built with clang -fsanitize=fuzzer,address,undefined by
 * tests/cmake/io.cmake from the parser's own sources, so ASan and UBSan watch every read. An
 * accepted header must satisfy st_check_invariants, and every byte it maps is read. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cmlx/error.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_header h;
    mx_clear_error();
    if (st_parse(data, size, "fuzz-input", &h) != 0) {
        if (mx_last_error()[0] == '\0') {
            fprintf(stderr, "st_parse failed without an error message\n");
            __builtin_trap();
        }
        return 0;
    }
    unsigned acc = 0;
    const char *broken = st_check_invariants(&h, data, size, &acc);
    if (broken) {
        fprintf(stderr, "invariant violated: %s\n", broken);
        __builtin_trap();
    }
    st_header_free(&h);
    /* Keep the reads from being optimised away. */
    volatile unsigned sink = acc;
    (void)sink;
    return 0;
}
