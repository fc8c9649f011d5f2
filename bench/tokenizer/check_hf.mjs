// Replays the expectations of tests/unit/test_tokenizer_components.c on the Hugging
// Face library itself (npm `tokenizers`, the Rust code), to check that the expected
// values written in the test are what HF computes. Cases whose tokenizer also needs a
// tokenizer_config.json (transformers behaviour) are not dumped.
//   CMLX_TOK_DUMP=/tmp/tok_cases.jsonl build-tok/test_tokenizer_components
//   NODE_PATH=/work/scratch/tok/node_modules node bench/tokenizer/check_hf.mjs /tmp/tok_cases.jsonl
import { createRequire } from "node:module";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_PATH || process.cwd(), "x.js"));
const { Tokenizer } = require("tokenizers");
const dir = mkdtempSync(path.join(os.tmpdir(), "hfcheck-"));
let pass = 0, fail = 0, n = 0;
for (const line of readFileSync(process.argv[2], "utf8").split("\n")) {
  if (!line.trim()) continue;
  const c = JSON.parse(line);
  const file = path.join(dir, `t${n++}.json`);
  // the tests abbreviate added tokens; HF wants every field
  const j = JSON.parse(c.json);
  for (const a of j.added_tokens || [])
    for (const k of ["single_word", "lstrip", "rstrip", "normalized", "special"]) if (!(k in a)) a[k] = k === "normalized" ? !a.special : false;
  writeFileSync(file, JSON.stringify(j));
  let tok;
  try {
    tok = Tokenizer.fromFile(file);
  } catch (e) {
    console.log(`HF cannot load: ${e.message.slice(0, 200)}\n  ${c.json.slice(0, 200)}`);
    fail++;
    continue;
  }
  if (c.kind === "encode") {
    const enc = await tok.encode(c.text, null, { addSpecialTokens: c.flag });
    const got = Array.from(enc.getIds());
    if (JSON.stringify(got) === JSON.stringify(c.ids)) pass++;
    else { fail++; console.log(`encode ${JSON.stringify(c.text)} special=${c.flag}: test expects ${JSON.stringify(c.ids)}, HF gives ${JSON.stringify(got)}\n  ${c.json.slice(0, 300)}`); }
  } else {
    const got = await tok.decode(c.ids, c.flag);
    if (got === c.text) pass++;
    else { fail++; console.log(`decode ${JSON.stringify(c.ids)} skip=${c.flag}: test expects ${JSON.stringify(c.text)}, HF gives ${JSON.stringify(got)}\n  ${c.json.slice(0, 300)}`); }
  }
}
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
