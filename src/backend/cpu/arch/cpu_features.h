/* Run-time CPU dispatch shared by the CPU kernels.
 *
 * The library is built for baseline x86-64 (no -march), so vector kernels are compiled with
 * per-function target attributes and chosen here at run time. Every kernel family offers the
 * same three paths and must give the same results on each (within float rounding):
 *   CPU_PATH_AVX512   AVX-512 F/BW/VL with AVX512-BF16 (dot products of bf16 pairs)
 *   CPU_PATH_AVX2     AVX2 + FMA + F16C (16-bit values widened to float32, FMA)
 *   CPU_PATH_PORTABLE plain C
 * The environment variable CMLX_CPU_PATH=portable|avx2|avxvnni|avx512|amx forces a path (read
 * once, at the first query), so tests can cover every path on one machine. A forced path the
 * machine cannot run falls back to the best path it can (and says so once on stderr).
 *
 * AVX-VNNI (the VEX-encoded 256-bit vpdpbusd of Alder Lake and later client CPUs) is, like AMX,
 * a flag on a path rather than a path of its own, so that the kernel families that have no use
 * for it (the bf16 GEMMs, gemm_bf16.c's path mapping) see plain CPU_PATH_AVX2: the quantized
 * products' integer dots take it on the AVX2 path (cpu_avx_vnni_active()). On by default where
 * the CPU has it and the active path is AVX2 (a CPU with AVX-512 VNNI takes the AVX-512 kernels
 * instead); CMLX_CPU_PATH=avxvnni forces the AVX2 path with it, =avx2 the AVX2 path without it
 * (the vpmaddubsw kernels), so both stay testable on one machine.
 *
 * AMX (Intel's tile unit: 16x16 float32 += 16x32 bf16 @ 32x16 bf16 per instruction) is an
 * addition to the AVX-512 path, not a path of its own for the elementwise and decode kernels:
 * cpu_path_active() says CPU_PATH_AVX512 and cpu_amx_active() says whether the products of
 * many rows (prefill) use the tiles. It is on by default where the CPU has AMX-TILE and
 * AMX-BF16 and Linux grants the process the tile state (arch_prctl ARCH_REQ_XCOMP_PERM);
 * CMLX_CPU_PATH=avx512 turns it off, =amx asks for it. */
#ifndef CMLX_CPU_ARCH_CPU_FEATURES_H
#define CMLX_CPU_ARCH_CPU_FEATURES_H

typedef enum { CPU_PATH_PORTABLE = 0, CPU_PATH_AVX2 = 1, CPU_PATH_AVX512 = 2 } cpu_path;

/* Feature tests (CPUID plus the OS's XSAVE state, so a feature the OS doesn't enable reads 0). */
int cpu_has_avx2_fma(void);     /* AVX2, FMA and F16C */
int cpu_has_avx512bf16(void);   /* AVX-512 F, BW, VL and BF16 */
int cpu_has_avx512vnni(void);   /* AVX-512 F, BW, VL and VNNI */
int cpu_has_avx_vnni(void);     /* AVX2 with the VEX-encoded VNNI (AVX-VNNI) */
int cpu_has_amx_bf16(void);     /* AMX-TILE + AMX-BF16, enabled by the OS and granted to this process */

/* The path named by CMLX_CPU_PATH (avxvnni names CPU_PATH_AVX2, amx CPU_PATH_AVX512), or -1 when it is unset (or unrecognised: warned once). */
int cpu_path_forced(void);
/* The path kernels should take: the forced one when the machine can run it, else the best. */
cpu_path cpu_path_active(void);
/* Whether the many-row products use AMX tiles (AVX-512 path with AMX, see above). */
int cpu_amx_active(void);
/* Whether the AVX2 path's integer dots use AVX-VNNI (see above): the active path is AVX2, the
 * CPU has AVX-VNNI and CMLX_CPU_PATH is not avx2. */
int cpu_avx_vnni_active(void);
/* "portable", "avx2", "avx512". */
const char *cpu_path_name(cpu_path p);

#endif
