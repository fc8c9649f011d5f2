/* Replays the fuzz seed corpus (tests/fuzz/corpus/safetensors) through the safetensors
 * parser with the regular compiler, so the corpus is exercised even where clang and
 * libFuzzer are not: valid_* files must parse and satisfy the fuzz target's invariants,
 * invalid_* files must be refused with a message. Under the sanitizer build, ASan watches
 * every read (each input is a heap copy of exactly its size). */
#include <dirent.h>

#include "../fuzz/fuzz_check.h"
#include "cmlx/cmlx.h"
#include "test.h"
#include "test_io_util.h"

#ifndef CMLX_FUZZ_CORPUS
#error "tests/cmake/io.cmake defines CMLX_FUZZ_CORPUS"
#endif

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : CMLX_FUZZ_CORPUS;
    DIR *d = opendir(dir);
    CHECK_MSG(d != NULL, "cannot open the corpus %s", dir);
    if (!d) return test_finish();
    int n_valid = 0, n_invalid = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int valid = strncmp(de->d_name, "valid_", 6) == 0, invalid = strncmp(de->d_name, "invalid_", 8) == 0;
        if (!valid && !invalid) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len = 0;
        unsigned char *buf = io_read_file(path, &len);
        CHECK_MSG(buf != NULL, "read %s", path);
        if (!buf) continue;
        unsigned char *exact = malloc(len ? len : 1);   /* exactly len bytes, for ASan */
        memcpy(exact, buf, len);
        free(buf);
        st_header h;
        mx_clear_error();
        int rc = st_parse(exact, len, de->d_name, &h);
        if (valid) {
            n_valid++;
            CHECK_MSG(rc == 0, "%s refused: %s", de->d_name, mx_last_error());
            if (rc == 0) {
                unsigned acc = 0;
                const char *broken = st_check_invariants(&h, exact, len, &acc);
                CHECK_MSG(broken == NULL, "%s: %s", de->d_name, broken);
                st_header_free(&h);
            }
        } else {
            n_invalid++;
            CHECK_MSG(rc == -1, "%s accepted", de->d_name);
            if (rc == 0) st_header_free(&h);
            CHECK_MSG(strstr(mx_last_error(), de->d_name) != NULL, "%s: message '%s' does not name the file",
                      de->d_name, mx_last_error());
        }
        free(exact);
    }
    closedir(d);
    printf("replayed %d valid and %d invalid inputs from %s\n", n_valid, n_invalid, dir);
    CHECK(n_valid >= 10 && n_invalid >= 10);
    return test_finish();
}
