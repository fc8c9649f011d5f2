/* The timing loop shared by the arithmetic-peak micro-kernels (float_peak.c, int8_peak.c). */
#ifndef CMLX_LM_BENCH_PEAK_TIMER_H
#define CMLX_LM_BENCH_PEAK_TIMER_H

/* One run of `iters` passes of a micro-kernel; returns a checksum (kept so the work is not
 * optimised away). */
typedef double (*peak_pass_fn)(const void *ctx, long iters);

/* Calibrates on one thread to about `seconds` of passes, then runs that many on `threads`
 * threads at once; returns passes per second summed over the threads that ran. */
double peak_passes_per_second(peak_pass_fn run, const void *ctx, int threads, double seconds);

#endif
