// Hugging Face `tokenizers` (the Rust library, through its npm binding) measured the
// way bench/bench_tokenizer.c measures cmlx: load time (best of 5), then the corpus
// cut at line ends into ~8 KB chunks, encoded one at a time (add special tokens)
// for at least --seconds. One encode runs at a time, so the library uses one thread
// (RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false are set as well).
//
// Setup, outside the repository:
//   mkdir -p /work/scratch/tok && cd /work/scratch/tok && npm install tokenizers@0.23.2
// Run:
//   NODE_PATH=/work/scratch/tok/node_modules node bench/tokenizer/bench_hf.mjs \
//       --model ../shared/tokenizers/qwen3 --file CORPUS [--seconds 3] [--chunk 8192]
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";

process.env.RAYON_NUM_THREADS = "1";
process.env.TOKENIZERS_PARALLELISM = "false";
const require = createRequire(path.join(process.env.NODE_PATH || process.cwd(), "x.js"));
const { Tokenizer } = require("tokenizers");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (i % 2 === 0 ? [...acc, [a.replace(/^--/, ""), all[i + 1]]] : acc), []),
);
if (!args.model || !args.file) {
  console.error("usage: bench_hf.mjs --model DIR --file CORPUS [--seconds S] [--chunk BYTES]");
  process.exit(2);
}
const seconds = Number(args.seconds || 3);
const chunk = Number(args.chunk || 8192);
const buf = readFileSync(args.file);

let best = Infinity;
let tok;
for (let k = 0; k < 5; k++) {
  const t0 = process.hrtime.bigint();
  tok = Tokenizer.fromFile(path.join(args.model, "tokenizer.json"));
  const dt = Number(process.hrtime.bigint() - t0) / 1e6;
  best = Math.min(best, dt);
}

// the same chunking as bench_tokenizer.c: ~chunk bytes, extended to a line end
const chunks = [];
for (let at = 0; at < buf.length; ) {
  let end = Math.min(at + chunk, buf.length);
  while (end < buf.length && buf[end - 1] !== 0x0a) end++;
  chunks.push(buf.subarray(at, end).toString("utf8"));
  at = end;
}

let tokens = 0, bytes = 0, passes = 0, first = 0, firstTokens = 0;
const t0 = process.hrtime.bigint();
const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e9;
do {
  for (const c of chunks) {
    const enc = await tok.encode(c);
    tokens += enc.getIds().length;
  }
  bytes += buf.length;
  passes++;
  if (passes === 1) { first = elapsed(); firstTokens = tokens; }
} while (elapsed() < seconds);
const dt = elapsed();
console.log(`model ${args.model}\ncorpus ${args.file}: ${buf.length} bytes, ${chunks.length} chunks, ${firstTokens} tokens per pass`);
console.log(`load: ${best.toFixed(1)} ms (best of 5, Tokenizer.fromFile)`);
console.log(`encode, first pass: ${(buf.length / first / 1e6).toFixed(2)} MB/s, ${(firstTokens / first).toFixed(0)} tokens/s`);
console.log(`encode, ${passes} passes: ${(bytes / dt / 1e6).toFixed(2)} MB/s, ${(tokens / dt).toFixed(0)} tokens/s`);
