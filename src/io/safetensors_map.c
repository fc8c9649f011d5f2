/* File mappings shared by a safetensors handle and the arrays taken from it. */
#include "io/safetensors_map.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmlx/error.h"

st_mapping *st_mapping_open(const char *path) {
    /* O_NONBLOCK: a FIFO given by mistake must not hang the open (fstat refuses it below). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        mx_set_error("[safetensors] cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        mx_set_error("[safetensors] cannot stat %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(sb.st_mode)) {
        mx_set_error("[safetensors] %s is not a regular file", path);
        close(fd);
        return NULL;
    }
    if (sb.st_size < 8) {
        mx_set_error("[safetensors] %s: file is %lld bytes, shorter than the 8-byte header length", path,
                     (long long)sb.st_size);
        close(fd);
        return NULL;
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        mx_set_error("[safetensors] %s: file of %lld bytes is too large to map", path, (long long)sb.st_size);
        close(fd);
        return NULL;
    }
    st_mapping *m = calloc(1, sizeof *m);
    if (!m) {
        mx_set_error("[safetensors] %s: out of memory", path);
        close(fd);
        return NULL;
    }
    /* Private and read-only: the page cache backs it, so a large checkpoint costs no
     * anonymous memory, and nothing we do can write to the file. */
    m->addr = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);   /* the mapping keeps the file alive */
    if (m->addr == MAP_FAILED) {
        mx_set_error("[safetensors] cannot map %s (%lld bytes): %s", path, (long long)sb.st_size, strerror(err));
        free(m);
        return NULL;
    }
    m->len = (size_t)sb.st_size;
    atomic_init(&m->refs, 1);
    return m;
}

void st_mapping_retain(st_mapping *m) { atomic_fetch_add(&m->refs, 1); }

void st_mapping_release(st_mapping *m) {
    if (!m || atomic_fetch_sub(&m->refs, 1) != 1) return;
    munmap(m->addr, m->len);
    free(m);
}

void st_mapping_release_cb(void *m) { st_mapping_release(m); }
