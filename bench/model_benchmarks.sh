#!/bin/sh
# The model benchmarks of docs/performance.md ("Model benchmarks (cmlx bench)"): the roofline
# with 1 and 2 threads, then Llama-3.2-1B in bf16, 8-bit and 4-bit (group 64) and Qwen3-0.6B
# in bf16, pp512 + tg128, 1 and 2 threads, from random weights of the real shapes.
#
#   bench/model_benchmarks.sh CMLX_BINARY [OUT.jsonl] [TRIALS]
#
# Random checkpoints are kept in $CMLX_BENCH_DIR (default /tmp/cmlx-bench-models: about
# 5.7 GB) and reused. CMLX_BENCH_MODELS (space-separated names below) restricts the models,
# CMLX_BENCH_ROOFLINE=0 skips the roofline runs. Every trial is one JSON line in OUT.jsonl (default bench-models.jsonl),
# with its CPU utilisation and the load average, since on a shared machine other processes
# take CPU time from the run.
set -e
BIN=${1:?usage: model_benchmarks.sh CMLX_BINARY [OUT.jsonl] [TRIALS]}
OUT=${2:-bench-models.jsonl}
TRIALS=${3:-2}
CONFIGS=${CMLX_SHARED:-$(dirname "$0")/../../shared}/configs
DIR=${CMLX_BENCH_DIR:-/tmp/cmlx-bench-models}
mkdir -p "$DIR"
touch "$OUT"
if [ "${CMLX_BENCH_ROOFLINE:-1}" != 0 ]; then
    for t in 1 2; do
        "$BIN" bench --roofline --threads $t --json >> "$OUT"
    done
fi
run() { # name config bits [more cmlx bench options]
    case " ${CMLX_BENCH_MODELS:-$1} " in *" $1 "*) ;; *) return 0 ;; esac
    for t in 1 2; do
        echo "== $1, $t thread(s)" >&2
        if [ "$3" = 0 ]; then q=""; else q="-q $3 --q-group-size 64"; fi
        "$BIN" bench --model "$CONFIGS/$2" --random-weights $q --random-dir "$DIR/$1" \
            -p 512 -g 128 -n "$TRIALS" --short-warmup --threads $t --json $4 >> "$OUT"
    done
}
run llama-3.2-1b-bf16 llama-3.2-1b.json 0
run llama-3.2-1b-q8 llama-3.2-1b.json 8
run llama-3.2-1b-q4 llama-3.2-1b.json 4
run qwen3-0.6b-bf16 qwen3-0.6b.json 0
# Qwen3-30B-A3B at 4 bits is ~17 GB: too big for a 24 GB machine shared with others. Its
# first 4 of 48 layers (same shapes; the head and embedding whole) are measured instead, only
# when asked for by name in CMLX_BENCH_MODELS.
case " ${CMLX_BENCH_MODELS:-} " in *" qwen3-30b-a3b-4layers-q4 "*)
    run qwen3-30b-a3b-4layers-q4 qwen3-30b-a3b.json 4 "--num-layers 4" ;;
esac
