/* cmlx generate: mlx_lm.generate's flags, defaults and output. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/cmd_cache_prompt.h"
#include "cli/commands.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: cmlx generate --model MODEL [options]\n\n"
            "Generate text from a prompt (as mlx_lm.generate).\n\n"
            "  --model MODEL              local directory or Hugging Face repo id (org/name)\n"
            "  --revision REV             hub revision (branch, tag or commit)\n"
            "  -p, --prompt TEXT          the prompt; '-' reads it from stdin (default: \"hello\")\n"
            "  --system-prompt TEXT       a system message for the chat template\n"
            "  -m, --max-tokens N         tokens to generate (default 100)\n"
            "  --temp T                   sampling temperature (default 0.0: greedy)\n"
            "  --top-p P                  nucleus sampling (default 1.0: off)\n"
            "  --min-p P                  min-p sampling (default 0.0: off)\n"
            "  --min-tokens-to-keep N     for min-p (default 1)\n"
            "  --top-k K                  top-k sampling (default 0: off)\n"
            "  --xtc-probability P, --xtc-threshold T   XTC sampling (default off)\n"
            "  --repetition-penalty R, --repetition-context-size N\n"
            "  --presence-penalty P, --frequency-penalty F\n"
            "  --seed N                   random seed\n"
            "  --ignore-chat-template     use the prompt as is\n"
            "  --chat-template-config JSON  extra template variables, e.g. '{\"enable_thinking\": false}'\n"
            "  --extra-eos-token TOKEN    another token that ends generation (repeatable)\n"
            "  --max-kv-size N            rotating KV cache of N positions\n"
            "  --kv-bits B, --kv-group-size G (64), --quantized-kv-start N (5000)   quantized KV cache\n"
            "  --prompt-cache-file FILE   start from a prompt cache saved by cmlx cache-prompt\n"
            "  --draft-model MODEL, --num-draft-tokens N   speculative decoding\n"
            "  --adapter-path DIR         LoRA adapters\n"
            "  --dtype DTYPE              run float weights as float32, bfloat16 or float16\n"
            "  --prefill-step-size N      prompt tokens per prefill step (default 2048)\n"
            "  --verbose BOOL             print the ===== framing and statistics (default true)\n");
}

typedef struct {
    size_t printed;   /* bytes of text shown */
} gen_ctx;

/* --draft-model: loaded with the model's dtype; like mlx-lm, its tokenizer must have the
 * model tokenizer's vocabulary size (the draft proposes ids the model then checks). */
static lm_model *load_draft_model(const char *path, const lm_load_options *model_lo, const lm_tokenizer *tok) {
    lm_load_options lo = *model_lo;
    lo.revision = NULL; /* --revision names the model's revision */
    lm_model *d = lm_model_load(path, &lo);
    lm_tokenizer *dt = d ? lm_tokenizer_load(lm_model_dir(d)) : NULL;
    if (!dt) {
        lm_model_free(d);
        return NULL;
    }
    size_t nd = lm_tokenizer_vocab_size(dt), nm = lm_tokenizer_vocab_size(tok);
    lm_tokenizer_free(dt);
    if (nd != nm) {
        mx_set_error("--draft-model %s: draft model tokenizer does not match model tokenizer (%zu tokens vs %zu)", path,
                     nd, nm);
        lm_model_free(d);
        return NULL;
    }
    return d;
}

static int on_token(const lm_response *r, void *ctx) {
    gen_ctx *g = ctx;
    if (r->text && *r->text) {
        fputs(r->text, stdout);
        fflush(stdout);
        g->printed += strlen(r->text);
    }
    return 0;
}

enum {
    O_MODEL = 256, O_REVISION, O_SYSTEM, O_TEMP, O_TOPP, O_MINP, O_MINKEEP, O_TOPK, O_XTCP, O_XTCT, O_REP, O_REPCTX,
    O_PRES, O_FREQ, O_SEED, O_IGNORE, O_TPLCFG, O_EXTRA_EOS, O_MAXKV, O_KVBITS, O_KVGROUP, O_QKVSTART, O_PCACHE,
    O_DRAFT, O_NDRAFT, O_ADAPTER, O_DTYPE, O_PREFILL, O_VERBOSE
};

int cmd_generate(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"revision", required_argument, 0, O_REVISION},
        {"prompt", required_argument, 0, 'p'}, {"system-prompt", required_argument, 0, O_SYSTEM},
        {"max-tokens", required_argument, 0, 'm'}, {"temp", required_argument, 0, O_TEMP},
        {"top-p", required_argument, 0, O_TOPP}, {"min-p", required_argument, 0, O_MINP},
        {"min-tokens-to-keep", required_argument, 0, O_MINKEEP}, {"top-k", required_argument, 0, O_TOPK},
        {"xtc-probability", required_argument, 0, O_XTCP}, {"xtc-threshold", required_argument, 0, O_XTCT},
        {"repetition-penalty", required_argument, 0, O_REP}, {"repetition-context-size", required_argument, 0, O_REPCTX},
        {"presence-penalty", required_argument, 0, O_PRES}, {"frequency-penalty", required_argument, 0, O_FREQ},
        {"seed", required_argument, 0, O_SEED}, {"ignore-chat-template", no_argument, 0, O_IGNORE},
        {"chat-template-config", required_argument, 0, O_TPLCFG}, {"extra-eos-token", required_argument, 0, O_EXTRA_EOS},
        {"max-kv-size", required_argument, 0, O_MAXKV}, {"kv-bits", required_argument, 0, O_KVBITS},
        {"kv-group-size", required_argument, 0, O_KVGROUP}, {"quantized-kv-start", required_argument, 0, O_QKVSTART},
        {"prompt-cache-file", required_argument, 0, O_PCACHE}, {"draft-model", required_argument, 0, O_DRAFT},
        {"num-draft-tokens", required_argument, 0, O_NDRAFT}, {"adapter-path", required_argument, 0, O_ADAPTER},
        {"dtype", required_argument, 0, O_DTYPE}, {"prefill-step-size", required_argument, 0, O_PREFILL},
        {"verbose", required_argument, 0, O_VERBOSE}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
    };
    const char *model = NULL, *revision = NULL, *prompt = "hello", *system = NULL, *tplcfg = NULL;
    const char *pcache = NULL, *draft = NULL, *adapter = NULL;
    const char *extra_eos[16];
    int n_extra = 0, ignore_tpl = 0, verbose = 1;
    lm_generate_params gp = lm_generate_default();
    gp.max_tokens = 100;
    gp.cache_options.quantized_kv_start = 5000; /* mlx_lm.generate's default */
    lm_load_options lo = lm_load_options_default();
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:m:h", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_REVISION: revision = optarg; break;
        case 'p': prompt = optarg; break;
        case O_SYSTEM: system = optarg; break;
        case 'm': gp.max_tokens = atoi(optarg); break;
        case O_TEMP: gp.sampler.temp = strtof(optarg, NULL); break;
        case O_TOPP: gp.sampler.top_p = strtof(optarg, NULL); break;
        case O_MINP: gp.sampler.min_p = strtof(optarg, NULL); break;
        case O_MINKEEP: gp.sampler.min_tokens_to_keep = atoi(optarg); break;
        case O_TOPK: gp.sampler.top_k = atoi(optarg); break;
        case O_XTCP: gp.sampler.xtc_probability = strtof(optarg, NULL); break;
        case O_XTCT: gp.sampler.xtc_threshold = strtof(optarg, NULL); break;
        case O_REP: gp.sampler.repetition_penalty = strtof(optarg, NULL); break;
        case O_REPCTX: gp.sampler.repetition_context_size = atoi(optarg); break;
        case O_PRES: gp.sampler.presence_penalty = strtof(optarg, NULL); break;
        case O_FREQ: gp.sampler.frequency_penalty = strtof(optarg, NULL); break;
        case O_SEED: gp.sampler.seed = strtoull(optarg, NULL, 10); gp.sampler.use_seed = 1; break;
        case O_IGNORE: ignore_tpl = 1; break;
        case O_TPLCFG: tplcfg = optarg; break;
        case O_EXTRA_EOS:
            if (n_extra == 16) {
                fprintf(stderr, "cmlx generate: at most 16 --extra-eos-token values\n");
                return 2;
            }
            extra_eos[n_extra++] = optarg;
            break;
        case O_MAXKV: gp.cache_options.max_kv_size = atoll(optarg); break;
        case O_KVBITS: gp.cache_options.kv_bits = atoi(optarg); break;
        case O_KVGROUP: gp.cache_options.kv_group_size = atoi(optarg); break;
        case O_QKVSTART: gp.cache_options.quantized_kv_start = atoll(optarg); break;
        case O_PCACHE: pcache = optarg; break;
        case O_DRAFT: draft = optarg; break;
        case O_NDRAFT: gp.num_draft_tokens = atoi(optarg); break;
        case O_ADAPTER: adapter = optarg; break;
        case O_DTYPE:
            if (cli_parse_dtype(optarg, &lo.dtype)) return cli_fail("generate", NULL);
            break;
        case O_PREFILL: gp.prefill_step_size = atoi(optarg); break;
        case O_VERBOSE: verbose = !(optarg[0] == 'f' || optarg[0] == 'F' || optarg[0] == '0'); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cmlx generate: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!model && !pcache) { /* a prompt cache names its model */
        fprintf(stderr, "cmlx generate: --model is required\n");
        usage(stderr);
        return 2;
    }
    if (adapter) return cli_fail("generate", "--adapter-path: LoRA adapters are not supported yet by this build");
    /* --prompt-cache-file (mlx-lm): the file names its model; a different --model is an error */
    char *pcache_model = NULL;
    if (pcache && draft) return cli_fail("generate", "--prompt-cache-file cannot be combined with --draft-model");
    if (pcache && !(pcache_model = cli_prompt_cache_model(pcache, model))) return cli_fail("generate", NULL);
    if (pcache_model) model = pcache_model;
    char *stdin_prompt = NULL;
    if (!strcmp(prompt, "-")) {
        stdin_prompt = cli_read_stdin();
        if (!stdin_prompt) {
            free(pcache_model);
            return cli_fail("generate", NULL);
        }
        prompt = stdin_prompt;
    }
    lo.revision = revision;
    int rc = 1;
    lm_model *m = lm_model_load(model, &lo);
    lm_tokenizer *tok = m ? lm_tokenizer_load(lm_model_dir(m)) : NULL;
    int32_t *ids = NULL, *extra_ids = NULL;
    size_t n_ids = 0;
    char *messages = NULL;
    lm_model *draft_m = NULL;
    if (!m || !tok) {
        cli_fail("generate", NULL);
        goto out;
    }
    if (draft && !(gp.draft_model = draft_m = load_draft_model(draft, &lo, tok))) {
        cli_fail("generate", NULL);
        goto out;
    }
    extra_ids = calloc((size_t)n_extra + 1, sizeof *extra_ids);
    for (int i = 0; i < n_extra; i++) {
        extra_ids[i] = lm_tokenizer_token_to_id(tok, extra_eos[i]);
        if (extra_ids[i] < 0) {
            fprintf(stderr, "cmlx generate: --extra-eos-token '%s' is not a token of this tokenizer\n", extra_eos[i]);
            goto out;
        }
    }
    gp.extra_eos = extra_ids;
    gp.n_extra_eos = n_extra;
    messages = cli_messages_json(system, prompt);
    /* with a prompt cache the templated prompt is a suffix of the cached one */
    if (!messages ||
        (pcache ? cli_encode_cached_suffix(lm_model_dir(m), tok, system, prompt, ignore_tpl, tplcfg, &ids, &n_ids)
                : cli_encode_prompt(lm_model_dir(m), tok, messages, ignore_tpl, prompt, tplcfg, &ids, &n_ids))) {
        cli_fail("generate", NULL);
        goto out;
    }
    if (pcache && !(gp.cache = cli_load_prompt_cache(m, pcache, &gp.cache_options))) {
        cli_fail("generate", NULL);
        goto out;
    }
    if (verbose) printf("==========\n");
    fflush(stdout);
    lm_generation_stats st;
    gen_ctx g = {0};
    if (lm_generate(m, tok, ids, n_ids, &gp, on_token, &g, &st)) {
        printf("\n");
        cli_fail("generate", NULL);
        goto out;
    }
    if (verbose && g.printed == 0) {
        printf("\n==========\nNo text generated for this prompt\n");
    } else if (verbose) {
        printf("\n==========\n");
        printf("Prompt: %lld tokens, %.3f tokens-per-sec\n", (long long)st.prompt_tokens, st.prompt_tps);
        printf("Generation: %lld tokens, %.3f tokens-per-sec\n", (long long)st.generation_tokens, st.generation_tps);
        printf("Peak memory: %.3f GB\n", st.peak_memory_gb);
    } else {
        printf("\n");
    }
    rc = 0;
out:
    free(ids);
    free(extra_ids);
    free(messages);
    free(stdin_prompt);
    lm_tokenizer_free(tok);
    lm_model_free(draft_m);
    lm_model_free(m);
    lm_cache_free(gp.cache);
    free(pcache_model);
    return rc;
}
