/* Memory counters and limits (MLX's names and meanings).
 *
 * Buffers come from a per-device caching allocator: freed buffers are kept for reuse up to
 * the cache limit. Active memory is what live arrays hold; peak is its maximum since the
 * last reset; cache is what the allocator holds for reuse.
 */
#ifndef CMLX_MEMORY_H
#define CMLX_MEMORY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

size_t mx_get_active_memory(void);
size_t mx_get_peak_memory(void);
size_t mx_get_cache_memory(void);
void mx_reset_peak_memory(void);
/* Returns the previous limit. The cache is trimmed at once when above the new limit. */
size_t mx_set_cache_limit(size_t limit);
/* Active memory may not exceed the limit: an allocation that would, fails, and the eval
 * needing it returns an error naming the op and the sizes. Returns the previous limit.
 * The default is the machine's physical memory. */
size_t mx_set_memory_limit(size_t limit);
size_t mx_get_memory_limit(void);
void mx_clear_cache(void);

#ifdef __cplusplus
}
#endif
#endif
