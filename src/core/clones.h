/* MX_CLONES: compile a hot loop three times (AVX-512, AVX2, baseline x86-64) and let the
 * dynamic loader pick the copy this CPU runs (GCC target_clones, an ifunc). The library is
 * built for baseline x86-64, whose vectors are 16 bytes; plain loops that GCC's -O2
 * vectorizes get 64-byte vectors this way without hand-written intrinsics. Not under the
 * sanitizers (their builds need no ifunc resolvers) nor with other compilers. */
#ifndef CMLX_CORE_CLONES_H
#define CMLX_CORE_CLONES_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define MX_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MX_CLONES
#endif

#endif
