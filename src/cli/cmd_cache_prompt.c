/* cmlx cache-prompt: mlx_lm.cache_prompt's flags and output. Runs a prompt through the model
 * and saves the KV cache (mlx-lm's prompt-cache file format) for `cmlx generate
 * --prompt-cache-file`, which then continues from it. Also the prompt-cache helpers that
 * generate uses (cmd_cache_prompt.h). */
#include "cli/cmd_cache_prompt.h"

#include <ctype.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cmlx/memory.h"
#include "cmlx/ops.h"

/* mlx-lm's cache_prompt.py default */
#define DEFAULT_QUANTIZED_KV_START 5000

/* Python's str.strip() bounds (whitespace as isspace). */
static void strip_bounds(const char *s, size_t *lo, size_t *hi) {
    size_t a = 0, b = strlen(s);
    while (a < b && isspace((unsigned char)s[a])) a++;
    while (b > a && isspace((unsigned char)s[b - 1])) b--;
    *lo = a;
    *hi = b;
}

/* Last occurrence of needle (length n) in hay, or NULL. */
static const char *rfind(const char *hay, const char *needle, size_t n) {
    size_t hl = strlen(hay);
    if (n > hl) return NULL;
    for (size_t i = hl - n + 1; i-- > 0;)
        if (!memcmp(hay + i, needle, n)) return hay + i;
    return NULL;
}

char *cli_render_continue_final(const lm_chat_template *tpl, const char *messages_json, const char *final_content,
                                const char *kwargs_json) {
    char *text = lm_chat_template_apply(tpl, messages_json, NULL, 0, kwargs_json);
    if (!text) return NULL;
    /* transformers' apply_chat_template(continue_final_message=True) */
    size_t lo, hi;
    strip_bounds(final_content, &lo, &hi);
    const char *loc = rfind(text, final_content + lo, hi - lo);
    if (!loc) {
        free(text);
        mx_set_error("continue_final_message is set but the final message does not appear in the chat after applying "
                     "the chat template");
        return NULL;
    }
    size_t lstripped = strlen(final_content) - lo; /* len(final_message.lstrip()) */
    size_t cut = (size_t)(loc - text);
    if (strlen(loc) >= lstripped && !strncmp(loc, final_content, lstripped) && lo == 0)
        cut += lstripped; /* the template kept the message as is */
    else
        cut += hi - lo;  /* trailing spacing was trimmed by the template */
    text[cut] = '\0';
    return text;
}

/* The chat template of the model, or NULL without error when it has none (or ignored). */
static int load_template(const char *model_dir, int ignore, lm_chat_template **out) {
    *out = NULL;
    if (ignore) return 0;
    lm_chat_template *tpl = lm_chat_template_load(model_dir);
    if (!tpl) return strstr(mx_last_error(), "has no chat template") ? 0 : -1;
    if (!lm_chat_template_source(tpl, 0)) {
        lm_chat_template_free(tpl);
        return 0;
    }
    *out = tpl;
    return 0;
}

int cli_encode_cached_suffix(const char *model_dir, const lm_tokenizer *tok, const char *system_prompt,
                             const char *prompt, int ignore_chat_template, const char *kwargs_json, int32_t **ids,
                             size_t *n) {
    lm_chat_template *tpl;
    if (load_template(model_dir, ignore_chat_template, &tpl)) return -1;
    if (!tpl) return lm_tokenizer_encode(tok, prompt, strlen(prompt), 1, ids, n);
    int rc = -1;
    char *msgs = cli_messages_json(system_prompt, prompt), *probe_msgs = cli_messages_json(system_prompt, "<query>");
    char *full = msgs ? lm_chat_template_apply(tpl, msgs, NULL, 1, kwargs_json) : NULL;
    char *probe = full && probe_msgs ? lm_chat_template_apply(tpl, probe_msgs, NULL, 1, kwargs_json) : NULL;
    if (probe) {
        /* mlx-lm: prompt = prompt[test_prompt.index("<query>"):] */
        const char *q = strstr(probe, "<query>");
        size_t at = q ? (size_t)(q - probe) : 0;
        if (!q || at > strlen(full)) mx_set_error("the chat template does not show the user's message ('<query>')");
        else rc = lm_tokenizer_encode(tok, full + at, strlen(full + at), 0, ids, n);
    }
    free(msgs);
    free(probe_msgs);
    free(full);
    free(probe);
    lm_chat_template_free(tpl);
    return rc;
}

char *cli_prompt_cache_model(const char *cache_file, const char *model) {
    lm_cache_metadata md;
    if (lm_cache_read_metadata(cache_file, &md)) return NULL;
    const char *made_with = lm_cache_metadata_get(&md, "model");
    char *out = NULL;
    if (model && made_with && strcmp(model, made_with))
        mx_set_error("Providing a different model (%s) than that used to create the prompt cache (%s) is an error.",
                     model, made_with);
    else if (!model && !made_with)
        mx_set_error("--model is required: the prompt cache %s does not name its model", cache_file);
    else if (!(out = strdup(model ? model : made_with)))
        mx_set_error("out of memory");
    lm_cache_metadata_free(&md);
    return out;
}

lm_cache *cli_load_prompt_cache(lm_model *m, const char *cache_file, const lm_cache_options *opt) {
    lm_cache *c = lm_cache_load(m, cache_file, NULL);
    if (!c) return NULL;
    int gs = 0, bits = lm_cache_layer_bits(c, 0, &gs);
    /* mlx-lm's generate: a quantized cache must agree with the flags */
    if (bits && opt->kv_bits && opt->kv_bits != bits)
        mx_set_error("--kv-bits does not match the kv cache loaded from --prompt-cache-file (%d vs %d bits).",
                     opt->kv_bits, bits);
    else if (bits && opt->kv_group_size != gs)
        mx_set_error("--kv-group-size does not match the kv cache loaded from --prompt-cache-file (%d vs %d).",
                     opt->kv_group_size, gs);
    else if (lm_cache_set_quantization(c, opt->kv_bits, opt->kv_group_size, opt->quantized_kv_start) == 0)
        return c;
    lm_cache_free(c);
    return NULL;
}

/* ---- the command ---- */

static void usage(FILE *f) {
    fprintf(f,
            "usage: cmlx cache-prompt --model MODEL --prompt TEXT --prompt-cache-file FILE [options]\n\n"
            "Cache the state of a prompt to be reused with cmlx generate (as mlx_lm.cache_prompt).\n\n"
            "  --model MODEL              local directory or Hugging Face repo id (org/name)\n"
            "  --revision REV             hub revision (branch, tag or commit)\n"
            "  --prompt TEXT              message to be processed by the model ('-' reads from stdin)\n"
            "  --prompt-cache-file FILE   the file to save the prompt cache in (.safetensors is appended\n"
            "                             when missing, as MLX does)\n"
            "  --system-prompt TEXT       a system message for the chat template\n"
            "  --ignore-chat-template     use the prompt as is\n"
            "  --chat-template-config JSON  extra template variables\n"
            "  --max-kv-size N            rotating KV cache of N positions\n"
            "  --kv-bits B                quantize the KV cache to B bits (default: no quantization)\n"
            "  --kv-group-size G          group size for KV cache quantization (default 64)\n"
            "  --quantized-kv-start N     with --kv-bits, quantize once the cache holds N tokens (default 5000)\n"
            "  --eos-token TOKEN          end of sequence token for the tokenizer (recorded in the metadata)\n"
            "  --trust-remote-code        recorded in the metadata (cmlx runs no model code)\n"
            "  --dtype DTYPE              run float weights as float32, bfloat16 or float16\n");
}

enum {
    O_MODEL = 256, O_REVISION, O_PROMPT, O_FILE, O_SYSTEM, O_IGNORE, O_TPLCFG, O_MAXKV, O_KVBITS, O_KVGROUP, O_QKVSTART,
    O_EOS, O_TRUST, O_DTYPE, O_ADAPTER
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* mlx-lm's progress callback: "\rProcessed N tokens (S tok/s)" padded to the longest line. */
static void progress(size_t processed, double start, int *max_len) {
    double el = now_s() - start;
    char msg[128];
    int len = snprintf(msg, sizeof msg, "\rProcessed %6zu tokens (%6.2f tok/s)", processed, el > 0 ? processed / el : 0.0);
    if (len > *max_len) *max_len = len;
    printf("%s%*s", msg, *max_len - len, "");
    fflush(stdout);
}

/* The prompt ids for the cache: mlx-lm's cache_prompt renders [user] (here with an optional
 * system message) with continue_final_message, so that generate's prompt continues it. */
static int encode_prefix(const char *model_dir, const lm_tokenizer *tok, const char *system, const char *prompt,
                         int ignore, const char *kwargs, int32_t **ids, size_t *n) {
    lm_chat_template *tpl;
    if (load_template(model_dir, ignore, &tpl)) return -1;
    if (!tpl) return lm_tokenizer_encode(tok, prompt, strlen(prompt), 1, ids, n);
    char *msgs = cli_messages_json(system, prompt);
    char *text = msgs ? cli_render_continue_final(tpl, msgs, prompt, kwargs) : NULL;
    int rc = text ? lm_tokenizer_encode(tok, text, strlen(text), 0, ids, n) : -1;
    free(msgs);
    free(text);
    lm_chat_template_free(tpl);
    return rc;
}

/* generate_step(max_tokens=0): all but the last token in chunks of 2048, then the rest. */
static int prefill(lm_model *m, lm_cache *c, const int32_t *ids, size_t n) {
    const size_t step = 2048;
    double start = now_s();
    int max_len = 0;
    size_t done = 0;
    progress(0, start, &max_len);
    while (n - done > 1) {
        size_t k = n - done - 1 < step ? n - done - 1 : step;
        mx_pool *p = mx_pool_begin();
        mx_array *t = mx_array_from_data(ids + done, (int64_t[]){1, (int64_t)k}, 2, MX_INT32);
        int bad = !lm_model_forward(m, t, c);
        mx_pool_end(p);
        if (bad || lm_cache_eval(c)) return -1;
        done += k;
        progress(done, start, &max_len);
        mx_clear_cache();
    }
    mx_pool *p = mx_pool_begin();
    mx_array *t = mx_array_from_data(ids + done, (int64_t[]){1, (int64_t)(n - done)}, 2, MX_INT32);
    mx_array *lg = lm_model_forward(m, t, c);
    int bad = !lg || mx_eval(&lg, 1);
    mx_pool_end(p);
    if (bad || lm_cache_eval(c)) return -1;
    progress(n, start, &max_len);
    return 0;
}

int cmd_cache_prompt(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"revision", required_argument, 0, O_REVISION},
        {"prompt", required_argument, 0, O_PROMPT}, {"prompt-cache-file", required_argument, 0, O_FILE},
        {"system-prompt", required_argument, 0, O_SYSTEM}, {"ignore-chat-template", no_argument, 0, O_IGNORE},
        {"chat-template-config", required_argument, 0, O_TPLCFG}, {"max-kv-size", required_argument, 0, O_MAXKV},
        {"kv-bits", required_argument, 0, O_KVBITS}, {"kv-group-size", required_argument, 0, O_KVGROUP},
        {"quantized-kv-start", required_argument, 0, O_QKVSTART}, {"eos-token", required_argument, 0, O_EOS},
        {"trust-remote-code", no_argument, 0, O_TRUST}, {"dtype", required_argument, 0, O_DTYPE},
        {"adapter-path", required_argument, 0, O_ADAPTER}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
    };
    const char *model = NULL, *revision = NULL, *prompt = NULL, *file = NULL, *system = NULL, *tplcfg = NULL;
    const char *eos = NULL;
    int ignore_tpl = 0, trust = 0;
    lm_cache_options co = lm_cache_options_default();
    co.quantized_kv_start = DEFAULT_QUANTIZED_KV_START;
    lm_load_options lo = lm_load_options_default();
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_REVISION: revision = optarg; break;
        case O_PROMPT: prompt = optarg; break;
        case O_FILE: file = optarg; break;
        case O_SYSTEM: system = optarg; break;
        case O_IGNORE: ignore_tpl = 1; break;
        case O_TPLCFG: tplcfg = optarg; break;
        case O_MAXKV: co.max_kv_size = atoll(optarg); break;
        case O_KVBITS: co.kv_bits = atoi(optarg); break;
        case O_KVGROUP: co.kv_group_size = atoi(optarg); break;
        case O_QKVSTART: co.quantized_kv_start = atoll(optarg); break;
        case O_EOS: eos = optarg; break;
        case O_TRUST: trust = 1; break;
        case O_DTYPE:
            if (cli_parse_dtype(optarg, &lo.dtype)) return cli_fail("cache-prompt", NULL);
            break;
        case O_ADAPTER: return cli_fail("cache-prompt", "--adapter-path: LoRA adapters are not supported yet by this build");
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cmlx cache-prompt: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!model || !prompt || !file) {
        fprintf(stderr, "cmlx cache-prompt: %s is required\n", !model ? "--model" : !prompt ? "--prompt" : "--prompt-cache-file");
        usage(stderr);
        return 2;
    }
    char *stdin_prompt = NULL;
    if (!strcmp(prompt, "-")) {
        if (!(stdin_prompt = cli_read_stdin())) return cli_fail("cache-prompt", NULL);
        prompt = stdin_prompt;
    }
    lo.revision = revision;
    int rc = 1;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    lm_cache *cache = NULL;
    char *tcfg = NULL;
    lm_model *m = lm_model_load(model, &lo);
    lm_tokenizer *tok = m ? lm_tokenizer_load(lm_model_dir(m)) : NULL;
    if (!m || !tok || encode_prefix(lm_model_dir(m), tok, system, prompt, ignore_tpl, tplcfg, &ids, &n_ids)) {
        cli_fail("cache-prompt", NULL);
        goto out;
    }
    if (n_ids == 0) {
        cli_fail("cache-prompt", "the prompt is empty");
        goto out;
    }
    if (!(cache = lm_cache_new(m, &co))) {
        cli_fail("cache-prompt", NULL);
        goto out;
    }
    mx_reset_peak_memory();
    if (prefill(m, cache, ids, n_ids)) {
        printf("\n");
        cli_fail("cache-prompt", NULL);
        goto out;
    }
    printf("\n");
    printf("Peak memory: %.3f GB\n", mx_get_peak_memory() / 1e9);
    printf("Saving...\n");
    fflush(stdout);
    /* metadata as mlx-lm writes it: the model as given and json.dumps(tokenizer_config) */
    json_t *tc = json_pack("{s:b}", "trust_remote_code", trust);
    if (tc && eos) json_object_set_new(tc, "eos_token", json_string(eos));
    tcfg = tc ? json_dumps(tc, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) : NULL;
    json_decref(tc);
    if (!tcfg) {
        cli_fail("cache-prompt", "out of memory");
        goto out;
    }
    {
        /* without JSON_COMPACT jansson separates with ", " and ": ", as Python's json.dumps */
        const char *keys[2] = {"model", "tokenizer_config"}, *values[2] = {model, tcfg};
        if (lm_cache_save(cache, file, keys, values, 2)) {
            cli_fail("cache-prompt", NULL);
            goto out;
        }
    }
    rc = 0;
out:
    free(tcfg);
    free(ids);
    free(stdin_prompt);
    lm_cache_free(cache);
    lm_tokenizer_free(tok);
    lm_model_free(m);
    return rc;
}
