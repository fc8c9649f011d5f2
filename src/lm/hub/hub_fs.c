/* File-system helpers of the hub: paths, mkdir -p, small files written atomically,
 * symlinks placed atomically, rm -rf that never follows a symlink. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmlx/error.h"
#include "lm/hub/hub_internal.h"

char *hub_path_join(const char *a, const char *b) {
    size_t na = strlen(a);
    while (na > 1 && a[na - 1] == '/') na--;
    strbuf sb = STRBUF_INIT;
    strbuf_append(&sb, a, na);
    strbuf_putc(&sb, '/');
    strbuf_puts(&sb, b);
    if (sb.failed) {
        strbuf_free(&sb);
        mx_set_error("hub: out of memory");
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

int hub_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int hub_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int hub_mkdirs(const char *path) {
    char *p = strdup(path);
    if (!p) return mx_set_error("hub: out of memory");
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            mx_set_error("hub: cannot create folder %s: %s", p, strerror(e));
            free(p);
            return -1;
        }
        *s = saved;
        if (saved == '\0') break;
    }
    free(p);
    if (!hub_is_dir(path)) return mx_set_error("hub: %s exists but is not a folder", path);
    return 0;
}

char *hub_read_text(const char *path, size_t max_bytes, int *missing) {
    *missing = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR) {
            *missing = 1;
            return NULL;
        }
        mx_set_error("hub: cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    strbuf sb = STRBUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (sb.len + n > max_bytes) {
            fclose(f);
            strbuf_free(&sb);
            mx_set_error("hub: %s is larger than %zu bytes; it is not a file the hub writes", path, max_bytes);
            return NULL;
        }
        strbuf_append(&sb, buf, n);
    }
    int err = ferror(f);
    fclose(f);
    if (err || sb.failed) {
        strbuf_free(&sb);
        mx_set_error("hub: cannot read %s%s", path, err ? ": read error" : ": out of memory");
        return NULL;
    }
    strbuf_puts(&sb, "");  /* an empty file still gives a string */
    while (sb.len && (sb.data[sb.len - 1] == '\n' || sb.data[sb.len - 1] == '\r' ||
                      sb.data[sb.len - 1] == ' ' || sb.data[sb.len - 1] == '\t'))
        sb.data[--sb.len] = '\0';
    return strbuf_detach(&sb, NULL);
}

/* A unique name next to `path` for a temporary file or link. */
static char *temp_name(const char *path) {
    strbuf sb = STRBUF_INIT;
    strbuf_printf(&sb, "%s.tmp.%ld.%lx", path, (long)getpid(), (unsigned long)random());
    if (sb.failed) {
        strbuf_free(&sb);
        mx_set_error("hub: out of memory");
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

int hub_write_atomic(const char *path, const char *data, size_t n) {
    char *tmp = temp_name(path);
    if (!tmp) return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        mx_set_error("hub: cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            mx_set_error("hub: cannot write %s: %s", tmp, strerror(w < 0 ? errno : EIO));
            close(fd);
            unlink(tmp);
            free(tmp);
            return -1;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        mx_set_error("hub: cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int hub_place_symlink(const char *target, const char *link_path) {
    if (hub_exists(link_path)) return 0;  /* a working file or link: never replaced */
    char *tmp = temp_name(link_path);
    if (!tmp) return -1;
    if (symlink(target, tmp) != 0) {
        mx_set_error("hub: cannot create symlink %s -> %s: %s", tmp, target, strerror(errno));
        free(tmp);
        return -1;
    }
    /* Only a dangling link (or nothing) can be at link_path here; rename replaces it
     * atomically so readers see either the old state or the working link. */
    if (rename(tmp, link_path) != 0) {
        mx_set_error("hub: cannot place symlink %s: %s", link_path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    int rc = (type == FTW_DP) ? rmdir(path) : unlink(path);
    if (rc != 0 && errno != ENOENT) {
        mx_set_error("hub: cannot delete %s: %s", path, strerror(errno));
        return 1;  /* stops the walk; 1 tells it apart from nftw's own -1 */
    }
    return 0;
}

int hub_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : mx_set_error("hub: cannot delete %s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 ? 0 : mx_set_error("hub: cannot delete %s: %s", path, strerror(errno));
    /* FTW_PHYS: symlinks (the snapshots) are removed as links, their targets untouched. */
    int rc = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    if (rc != 0) {
        if (rc < 0) mx_set_error("hub: cannot delete %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
