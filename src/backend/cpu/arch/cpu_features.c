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
#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#define ARCH_REQ_XCOMP_PERM 0x1023 /* arch/x86/include/uapi/asm/prctl.h */
#define XFEATURE_XTILEDATA 18
#endif

static struct {
    int avx2_fma, avx512bf16, avx512vnni, avx_vnni, amx_bf16;
    int forced, amx_on, vnni256_on;
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
    /* AMX: CPUID.7.0 EDX bit 22 (AMX-BF16), 24 (AMX-TILE); XCR0 bits 17-18 (tile config and
     * data) enabled by the OS; Linux then hands the 8 KB tile state to a process only on
     * request (once per process, for all its threads). */
    int amx_bf16 = (d7 >> 22) & 1, amx_tile = (d7 >> 24) & 1, os_tiles = (xcr0 & 0x60000) == 0x60000;
#if defined(__x86_64__) && defined(__linux__)
    if (feat.avx512bf16 && amx_bf16 && amx_tile && os_tiles)
        feat.amx_bf16 = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
    (void)amx_bf16, (void)amx_tile, (void)os_tiles;
#endif
#endif
}

static void init(void) {
    detect();
    cpu_path best = feat.avx512bf16 ? CPU_PATH_AVX512 : feat.avx2_fma ? CPU_PATH_AVX2 : CPU_PATH_PORTABLE;
    feat.forced = -1;
    feat.amx_on = feat.amx_bf16;
    feat.vnni256_on = feat.avx_vnni;
    const char *e = getenv("CMLX_CPU_PATH");
    if (e && *e) {
        if (!strcmp(e, "portable")) feat.forced = CPU_PATH_PORTABLE;
        else if (!strcmp(e, "avx2")) feat.forced = CPU_PATH_AVX2, feat.vnni256_on = 0;
        else if (!strcmp(e, "avxvnni")) {
            feat.forced = CPU_PATH_AVX2;
            if (!feat.avx_vnni && feat.avx2_fma)
                fprintf(stderr, "cmlx: CMLX_CPU_PATH=avxvnni: this CPU has no AVX-VNNI; using avx2 without it\n");
        }
        else if (!strcmp(e, "avx512")) feat.forced = CPU_PATH_AVX512, feat.amx_on = 0;
        else if (!strcmp(e, "amx")) {
            feat.forced = CPU_PATH_AVX512;
            if (!feat.amx_bf16) fprintf(stderr, "cmlx: CMLX_CPU_PATH=amx: this CPU or OS has no AMX tiles; using avx512 without them\n");
        } else
            fprintf(stderr, "cmlx: CMLX_CPU_PATH=%s is not one of portable, avx2, avxvnni, avx512, amx; ignored\n", e);
    }
    feat.active = best;
    if (feat.forced >= 0) {
        if (feat.forced > (int)best)
            fprintf(stderr, "cmlx: CMLX_CPU_PATH=%s: this CPU cannot run it; using %s\n", e, cpu_path_name(best));
        else
            feat.active = (cpu_path)feat.forced;
    }
    if (feat.active != CPU_PATH_AVX512) feat.amx_on = 0;
    if (feat.active != CPU_PATH_AVX2) feat.vnni256_on = 0;
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
int cpu_has_amx_bf16(void) {
    pthread_once(&feat_once, init);
    return feat.amx_bf16;
}
int cpu_amx_active(void) {
    pthread_once(&feat_once, init);
    return feat.amx_on;
}
int cpu_avx_vnni_active(void) {
    pthread_once(&feat_once, init);
    return feat.vnni256_on;
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
