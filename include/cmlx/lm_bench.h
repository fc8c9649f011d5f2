/* Benchmarking language models (mirrors mlx_lm.benchmark) against this machine's ceilings.
 *
 * Three parts, used by `cmlx bench` and by the programs in bench/:
 * - the roofline: streaming DRAM read bandwidth, float32 GEMM and int8 dot-product peaks,
 *   measured on this machine (the ceilings decode and prefill are judged against);
 * - random-weight checkpoints: a config.json turned into a real safetensors directory of
 *   the shapes the loader expects (bf16, or MLX affine-quantized as mlx-lm convert writes
 *   it), so that real model shapes can be measured through the real loading path without
 *   downloading weights;
 * - the per-token cost of a loaded model (bytes of weights a decoded token reads, matmul
 *   parameters a token multiplies) and timed trials of lm_generate.
 */
#ifndef CMLX_LM_BENCH_H
#define CMLX_LM_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "cmlx/lm_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- roofline ---- */

/* Sets OpenMP's thread count for the calling thread (omp_set_num_threads) and OpenBLAS's
 * (openblas_set_num_threads). Kernels run on the stream's worker thread, whose OpenMP
 * count comes from OMP_NUM_THREADS at start-up: set that too (cmlx bench --threads re-runs
 * itself with it set). */
void lm_bench_set_threads(int threads);

/* Best GB/s (1e9 bytes/s) of streaming 64-bit reads over a buffer of `bytes` (make it much
 * larger than the last-level cache), with `threads` OpenMP threads, best of `reps` passes of
 * each of three ways to read a thread's share: as one stream, as 8 interleaved streams from
 * 8 places (a core's prefetcher runs per stream), and the same with a software prefetch 2 KB
 * ahead in each stream (the decode kernels read both ways).
 * A negative value with the error set when the buffer cannot be allocated. */
double lm_bench_read_bandwidth(size_t bytes, int threads, int reps);

/* float32 GEMM rate in GFLOP/s (2*n^3 per product) of mx_matmul on n x n operands, best of
 * `reps` products after one warm-up (threads: whatever OpenMP / OpenBLAS are set to). */
double lm_bench_gemm_f32(int n, int reps);
/* bfloat16 GEMM rate in GFLOP/s of mx_matmul(a, transpose(w)) on n x n bf16 operands (the
 * Linear layout of a prefill; on CPUs with AMX tiles this is the tile GEMM), best of `reps`
 * after one warm-up. */
double lm_bench_gemm_bf16(int n, int reps);

/* Which int8 dot-product instructions this CPU has, best first. */
typedef enum lm_int8_path {
    LM_INT8_AVX512_VNNI,         /* vpdpbusd on 512-bit registers */
    LM_INT8_AVX_VNNI,            /* vpdpbusd on 256-bit registers (AVX-VNNI) */
    LM_INT8_AVX2,                /* vpmaddubsw + vpmaddwd (no VNNI) */
    LM_INT8_PORTABLE,            /* plain C, whatever the compiler makes of it */
    LM_INT8_PATH_COUNT
} lm_int8_path;

const char *lm_int8_path_name(lm_int8_path p);
/* The best path the running CPU supports (run-time detection). */
lm_int8_path lm_int8_best_path(void);
/* Peak int8 multiply-accumulate rate in GOP/s (2 ops per multiply-add) of a register-blocked
 * u8 x s8 -> s32 micro-kernel whose operands stay in L1, run on `threads` threads for about
 * `seconds`. This is the arithmetic ceiling of an int8 GEMM; -1 with the error set when the
 * path is not supported by this CPU. */
double lm_bench_int8_peak(lm_int8_path path, int threads, double seconds);

/* Peak float32 FMA rate in GFLOP/s (2 flops per lane) of an L1-resident micro-kernel on the
 * widest FMA the CPU has (lm_bench_fma_path: "avx512", "avx2" or "portable"), and the peak
 * bf16 dot-product rate (AVX512-BF16 vdpbf16ps, 4 flops per float32 lane; 0 when the CPU
 * lacks it). These are the arithmetic ceilings any GEMM is under. */
const char *lm_bench_fma_path(void);
double lm_bench_f32_fma_peak(int threads, double seconds);
double lm_bench_bf16_dot_peak(int threads, double seconds);

typedef struct lm_roofline {
    int threads;
    size_t buffer_bytes;         /* bandwidth buffer */
    double read_gbs_1;           /* one thread */
    double read_gbs_n;           /* `threads` threads */
    int gemm_n;                  /* square size of the float32 GEMM */
    double gemm_f32_gflops;      /* with `threads` threads */
    double gemm_bf16_gflops;     /* bf16 GEMM (x @ W^T), with `threads` threads */
    lm_int8_path int8_path;
    double int8_gops_1;          /* one thread */
    double int8_gops_n;          /* `threads` threads */
    const char *fma_path;
    double fma_gflops_1, fma_gflops_n;   /* float32 FMA peak, 1 and `threads` threads */
    double bf16_gflops_1, bf16_gflops_n; /* bf16 dot peak (0: no AVX512-BF16) */
} lm_roofline;

/* Measures everything above with `threads` threads (and one). quick: small sizes (a 64 MiB
 * buffer, a 256 GEMM, 50 ms peak runs) for tests; otherwise a 1 GiB buffer, a 2048 GEMM,
 * 0.5 s peak runs.
 * 0 or -1 (error set). */
int lm_bench_roofline(int threads, int quick, lm_roofline *r);

/* ---- random-weight checkpoints ---- */

typedef struct lm_random_options {
    int bits;                    /* 0: bf16; else MLX affine quantization with these bits */
    int group_size;              /* default 64 */
    uint64_t seed;
    double std;                  /* weights ~ N(0, std^2); default 0.02 */
    int num_layers;              /* > 0: keep only this many decoder layers (num_hidden_layers
                                  * is rewritten), to measure models too big for the machine */
} lm_random_options;

lm_random_options lm_random_options_default(void);

/* Writes out_dir/config.json (the source config, plus "quantization" and
 * "quantization_config" when quantized, as mlx-lm convert writes them), one safetensors
 * shard per decoder layer plus one for the embeddings / final norm / head, and
 * model.safetensors.index.json. Weights are N(0, std^2) in bfloat16 (inverse-CDF sampling from a
 * table of exact normal quantiles: fast, tails cut at +-3.67 std); norms are ones (zeros
 * where the architecture adds 1, as gemma). Quantization follows mlx-lm's default predicate:
 * every Linear, the embedding and expert stack whose input size divides by the group size;
 * the qwen3_moe router at 8 bits. Memory: one layer at a time. out_dir must exist.
 * 0 or -1 (error set, naming the file). */
int lm_random_checkpoint_write(const char *config_path, const char *out_dir, const lm_random_options *o);

/* ---- per-token cost and trials ---- */

typedef struct lm_model_cost {
    size_t weight_bytes;         /* every weight the model holds */
    size_t bytes_per_token;      /* what one decoded token reads: all matrices except the
                                  * embedding table (one row) when the head is separate;
                                  * for MoE, the router plus experts_per_tok experts */
    double matmul_params;        /* parameters a token multiplies (weights of the matmuls,
                                  * active experts only; the head included) */
    double total_params;          /* unquantized parameter count of every weight */
    size_t kv_bytes_per_position; /* KV cache bytes one position holds in the layers that
                                  * attend to the whole context (keys and values, model dtype) */
    size_t kv_window_bytes_per_position; /* the same for sliding-window layers */
    int64_t sliding_window;       /* their window (0: none) */
} lm_model_cost;

int lm_model_cost_of(const lm_model *m, lm_model_cost *c);

/* The KV cache bytes a decode step reads on average over a trial: the steps after the
 * prompt's n_prompt tokens that produce tokens 2..n_gen each attend to every cached position
 * (sliding-window layers to at most their window). */
double lm_model_kv_bytes_per_step(const lm_model_cost *c, int64_t n_prompt, int64_t n_gen);

typedef struct lm_bench_result {
    int64_t prompt_tokens, generation_tokens;
    double prompt_tps, generation_tps;
    double peak_memory_gb;       /* the allocator's peak (mx_get_peak_memory), as mlx-lm */
    double prompt_s, generation_s;
} lm_bench_result;

/* One run of lm_generate (greedy, no stop on EOS, as mlx_lm.benchmark) from the prompt
 * ids for exactly n_gen tokens. 0 or -1 (error set). */
int lm_bench_trial(lm_model *m, const int32_t *prompt, size_t n_prompt, int n_gen, lm_bench_result *r);
/* The same for `batch` sequences decoded together (mlx_lm.benchmark's -b): prompts holds
 * batch rows of n_prompt ids; one forward pass a step for all of them, greedy, each sequence
 * generating n_gen tokens. prompt_tokens / generation_tokens and the rates count every
 * sequence (prompt_tps = batch * n_prompt / time to the first tokens; generation_tps =
 * batch * n_gen / time from the first tokens to the last). batch == 1 is lm_bench_trial. */
int lm_bench_trial_batch(lm_model *m, const int32_t *prompts, int batch, size_t n_prompt, int n_gen,
                         lm_bench_result *r);

/* The process's resident set (Linux /proc): the peak since the last reset (VmHWM) and now
 * (VmRSS), in GB; 0 when unknown. The reset (writing 5 to /proc/self/clear_refs) lets a
 * benchmark measure the peak of its trials only. 0 or -1 (error set). */
int lm_bench_peak_rss_reset(void);
double lm_bench_peak_rss_gb(void);
double lm_bench_rss_gb(void);

#ifdef __cplusplus
}
#endif
#endif
