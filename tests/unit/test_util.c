/* Unit tests of src/util: strings, hash map, error slot. */
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "test.h"
#include "util/hashmap.h"
#include "util/strbuf.h"

static void test_strbuf(void) {
    strbuf sb = STRBUF_INIT;
    CHECK(strbuf_puts(&sb, "abc") == 0);
    CHECK(strbuf_printf(&sb, "-%d-", 42) == 0);
    CHECK(strbuf_append(&sb, "\0x", 2) == 0);
    CHECK(sb.len == 9);
    CHECK(memcmp(sb.data, "abc-42-\0x", 9) == 0);
    for (int i = 0; i < 10000; i++) strbuf_putc(&sb, 'z');
    CHECK(sb.len == 10009 && sb.data[10009] == '\0');
    size_t n;
    char *s = strbuf_detach(&sb, &n);
    CHECK(s && n == 10009);
    free(s);
    CHECK(sb.data == NULL);
}

static void test_hashmap(void) {
    hashmap *m = hashmap_new(0);
    CHECK(m != NULL);
    char key[32];
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(key, sizeof key, "k%d", i * 7);
        CHECK(hashmap_put(m, key, (size_t)n, i) == 0 || (fprintf(stderr, "put %d\n", i), 0));
    }
    CHECK(hashmap_count(m) == 100000);
    int bad = 0;
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(key, sizeof key, "k%d", i * 7);
        int64_t v = -1;
        if (!hashmap_get(m, key, (size_t)n, &v) || v != i) bad++;
    }
    CHECK(bad == 0);
    CHECK(!hashmap_get(m, "k1", 2, NULL));
    CHECK(hashmap_put(m, "k0", 2, -5) == 0);
    int64_t v;
    CHECK(hashmap_get(m, "k0", 2, &v) && v == -5);
    CHECK(hashmap_count(m) == 100000);
    CHECK(hashmap_put(m, "a\0b", 3, 9) == 0 && hashmap_get(m, "a\0b", 3, &v) && v == 9 && !hashmap_get(m, "a", 1, NULL));
    size_t pos = 0, seen = 0;
    while (hashmap_next(m, &pos, NULL, NULL, NULL)) seen++;
    CHECK(seen == 100001);
    hashmap_free(m);
}

static void test_error(void) {
    mx_clear_error();
    CHECK(mx_last_error()[0] == '\0');
    CHECK(mx_set_error("[%s] bad shape (%d)", "reshape", 3) == -1);
    CHECK(strcmp(mx_last_error(), "[reshape] bad shape (3)") == 0);
    mx_clear_error();
}

int main(void) {
    test_strbuf();
    test_hashmap();
    test_error();
    return test_finish();
}
