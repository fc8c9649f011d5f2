/* Helpers shared by the hub tests: a private HF_HOME per test, files, deterministic data. */
#ifndef CMLX_TESTS_HUB_FIXTURE_H
#define CMLX_TESTS_HUB_FIXTURE_H

#include <stddef.h>

/* Creates a fresh folder under $TMPDIR (or /tmp), sets HF_HOME to it and clears every
 * other hub variable (HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE, HF_ENDPOINT, ...), so no
 * test touches the user's real cache or token. Returns the folder (static storage). */
const char *hub_fixture_home(const char *tag);
/* rm -rf (never follows symlinks). */
void hub_fixture_remove(const char *path);
/* The whole file (malloc'd, NUL-terminated), NULL when it cannot be read. */
unsigned char *hub_fixture_read(const char *path, size_t *size);
int hub_fixture_write(const char *path, const void *data, size_t size);
/* Fills buf with bytes from a fixed generator seeded by `seed`. */
void hub_fixture_fill(unsigned char *buf, size_t n, unsigned seed);
/* A port on 127.0.0.1 that nothing listens on (bound, then closed). */
unsigned hub_fixture_dead_port(void);

#endif
