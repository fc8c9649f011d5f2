#include "util/file.h"

#include <errno.h>
#include <string.h>

#include "cmlx/error.h"
#include "util/strbuf.h"

char *util_read_stream(FILE *f, const char *name, size_t *len) {
    strbuf sb = STRBUF_INIT;
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        if (strbuf_append(&sb, buf, k)) break;
    if (ferror(f)) {
        strbuf_free(&sb);
        mx_set_error("%s: read error: %s", name, strerror(errno));
        return NULL;
    }
    return strbuf_detach(&sb, len); /* "" for an empty stream; NULL (error set) on OOM */
}

char *util_read_file(const char *path, size_t *len, int *missing) {
    if (missing) *missing = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT && missing) *missing = 1;
        else mx_set_error("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *s = util_read_stream(f, path, len);
    fclose(f);
    return s;
}
