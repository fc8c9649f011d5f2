/* The safetensors handle: one or more mapped files (shards) and their tensors merged into
 * one sorted table. Private to src/io. */
#ifndef CMLX_IO_SAFETENSORS_IMPL_H
#define CMLX_IO_SAFETENSORS_IMPL_H

#include "cmlx/io.h"
#include "io/safetensors_map.h"
#include "io/safetensors_parse.h"

typedef struct st_file {
    char *path;
    st_mapping *map;     /* one reference held by the handle */
    st_header hdr;
} st_file;

typedef struct st_entry {
    const st_tensor *t;  /* in files[file].hdr */
    int file;
} st_entry;

struct mx_safetensors {
    char *path;          /* as given to mx_safetensors_open, for messages */
    st_file *files;
    int n_files;
    st_entry *entries;   /* every tensor of every file, sorted by name */
    int n_entries;
    const char **meta_keys, **meta_values;   /* merged __metadata__, sorted; first file wins */
    int n_meta;
};

/* Maps and parses `paths` (taken: the handle frees them, also on failure) and merges their
 * tensors; a name in two files is an error. */
mx_safetensors *st_open_files(const char *display_path, char **paths, int n);
/* A sharded checkpoint through its index JSON (safetensors_index.c). */
mx_safetensors *st_open_index(const char *index_path);
/* The file index within st holding `path`, or -1. */
int st_file_index(const mx_safetensors *st, const char *path);

#endif
