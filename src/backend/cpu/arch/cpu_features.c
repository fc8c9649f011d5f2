/* CPU feature detection and the CMLX_CPU_PATH override (see cpu_features.h). */
#include "backend/cpu/arch/cpu_features.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define CPU_X86 1
#endif

static struct {
    int avx2_fma, avx512bf16, avx512vnni, avx_vnni;
    int forced;
    cpu_path active;
} feat;
static pthread_once_t feat_once = PTHREAD_ONCE_INIT;

#ifdef CPU_X86
static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

static void detect(void) {
#ifdef CPU_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1, avx = (c >> 28) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    int os_ymm = (xcr0 & 0x6) == 0x6, os_zmm = os_ymm && (xcr0 & 0xe0) == 0xe0;
    if (__get_cpuid_max(0, NULL) < 7) return;
    unsigned b7, c7, d7, a71 = 0, b71, c71, d71;
    __cpuid_count(7, 0, a, b7, c7, d7);
    __cpuid_count(7, 1, a71, b71, c71, d71);
    int avx2 = (b7 >> 5) & 1, avx512f = (b7 >> 16) & 1, avx512bw = (b7 >> 30) & 1, avx512vl = (b7 >> 31) & 1;
    int vnni512 = (c7 >> 11) & 1, bf16 = (a71 >> 5) & 1, avxvnni = (a71 >> 4) & 1;
    feat.avx2_fma = os_ymm && avx && avx2 && fma && f16c;
    int base512 = feat.avx2_fma && os_zmm && avx512f && avx512bw && avx512vl;
    feat.avx512bf16 = base512 && bf16;
    feat.avx512vnni = base512 && vnni512;
    feat.avx_vnni = feat.avx2_fma && avxvnni;
    (void)b71, (void)c71, (void)d71;
#endif
}

static void init(void) {
    detect();
    cpu_path best = feat.avx512bf16 ? CPU_PATH_AVX512 : feat.avx2_fma ? CPU_PATH_AVX2 : CPU_PATH_PORTABLE;
    feat.forced = -1;
    const char *e = getenv("CMLX_CPU_PATH");
    if (e && *e) {
        if (!strcmp(e, "portable")) feat.forced = CPU_PATH_PORTABLE;
        else if (!strcmp(e, "avx2")) feat.forced = CPU_PATH_AVX2;
        else if (!strcmp(e, "avx512")) feat.forced = CPU_PATH_AVX512;
        else fprintf(stderr, "cmlx: CMLX_CPU_PATH=%s is not one of portable, avx2, avx512; ignored\n", e);
    }
    feat.active = best;
    if (feat.forced >= 0) {
        if (feat.forced > (int)best)
            fprintf(stderr, "cmlx: CMLX_CPU_PATH=%s: this CPU cannot run it; using %s\n", e, cpu_path_name(best));
        else
            feat.active = (cpu_path)feat.forced;
    }
}

int cpu_has_avx2_fma(void) {
    pthread_once(&feat_once, init);
    return feat.avx2_fma;
}
int cpu_has_avx512bf16(void) {
    pthread_once(&feat_once, init);
    return feat.avx512bf16;
}
int cpu_has_avx512vnni(void) {
    pthread_once(&feat_once, init);
    return feat.avx512vnni;
}
int cpu_has_avx_vnni(void) {
    pthread_once(&feat_once, init);
    return feat.avx_vnni;
}
int cpu_path_forced(void) {
    pthread_once(&feat_once, init);
    return feat.forced;
}
cpu_path cpu_path_active(void) {
    pthread_once(&feat_once, init);
    return feat.active;
}
const char *cpu_path_name(cpu_path p) {
    return p == CPU_PATH_AVX512 ? "avx512" : p == CPU_PATH_AVX2 ? "avx2" : "portable";
}
