/* cmlx chat: an interactive session (as mlx_lm.chat) that keeps the KV cache across turns.
 * Line editing and history come from libedit; Ctrl-C stops the current answer only. */
#include <editline/readline.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "cli/commands.h"

static volatile int interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static void print_help(void) {
    printf("The command list:\n");
    printf("- 'q' to exit\n");
    printf("- 'r' to reset the chat\n");
    printf("- 'h' to display these commands\n");
}

static int print_token(const lm_response *r, void *ctx) {
    (void)ctx;
    if (r->text && *r->text) {
        fputs(r->text, stdout);
        fflush(stdout);
    }
    return 0;
}

/* One query, without its newline; NULL at end of input. On a terminal through libedit (line
 * editing, history); otherwise a plain line read after printing the prompt, as Python's
 * input() does for mlx_lm.chat (libedit prints no prompt when stdin is not a terminal). */
static char *read_query(int tty) {
    if (tty) return readline(">> ");
    fputs(">> ", stdout);
    fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
    return line;
}

static void usage(FILE *f) {
    fprintf(f, "usage: cmlx chat --model MODEL [options]\n\n"
               "Chat with a model in the terminal (as mlx_lm.chat).\n\n"
               "  --model MODEL          local directory or Hugging Face repo id\n"
               "  --system-prompt TEXT   system message for the first turn\n"
               "  -m, --max-tokens N     tokens per answer (default 256)\n"
               "  --temp T, --top-p P, --top-k K, --min-p P, --seed N   sampling (default greedy)\n"
               "  --max-kv-size N        rotating KV cache of N positions\n"
               "  --dtype DTYPE          float32, bfloat16 or float16\n"
               "  --adapter-path DIR     LoRA adapters\n\n"
               "In the session: 'q' quits, 'r' resets the conversation, 'h' shows help;\n"
               "Ctrl-C stops the current answer, Ctrl-D quits.\n");
}

enum { O_MODEL = 256, O_SYSTEM, O_TEMP, O_TOPP, O_TOPK, O_MINP, O_SEED, O_MAXKV, O_DTYPE, O_ADAPTER };

int cmd_chat(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"system-prompt", required_argument, 0, O_SYSTEM},
        {"max-tokens", required_argument, 0, 'm'}, {"temp", required_argument, 0, O_TEMP},
        {"top-p", required_argument, 0, O_TOPP}, {"top-k", required_argument, 0, O_TOPK},
        {"min-p", required_argument, 0, O_MINP}, {"seed", required_argument, 0, O_SEED},
        {"max-kv-size", required_argument, 0, O_MAXKV}, {"dtype", required_argument, 0, O_DTYPE},
        {"adapter-path", required_argument, 0, O_ADAPTER}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
    };
    const char *model = NULL, *system = NULL;
    lm_generate_params gp = lm_generate_default();
    lm_load_options lo = lm_load_options_default();
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_SYSTEM: system = optarg; break;
        case 'm': gp.max_tokens = atoi(optarg); break;
        case O_TEMP: gp.sampler.temp = strtof(optarg, NULL); break;
        case O_TOPP: gp.sampler.top_p = strtof(optarg, NULL); break;
        case O_TOPK: gp.sampler.top_k = atoi(optarg); break;
        case O_MINP: gp.sampler.min_p = strtof(optarg, NULL); break;
        case O_SEED: gp.sampler.seed = strtoull(optarg, NULL, 10); gp.sampler.use_seed = 1; break;
        case O_MAXKV: gp.cache_options.max_kv_size = atoll(optarg); break;
        case O_DTYPE:
            if (cli_parse_dtype(optarg, &lo.dtype)) return cli_fail("chat", NULL);
            break;
        case O_ADAPTER: return cli_fail("chat", "--adapter-path: LoRA adapters are not supported yet by this build");
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!model) {
        fprintf(stderr, "cmlx chat: --model is required\n");
        return 2;
    }
    lm_model *m = lm_model_load(model, &lo);
    lm_tokenizer *tok = m ? lm_tokenizer_load(lm_model_dir(m)) : NULL;
    lm_cache *cache = tok ? lm_cache_new(m, &gp.cache_options) : NULL;
    if (!m || !tok || !cache) {
        int rc = cli_fail("chat", NULL);
        lm_cache_free(cache);
        lm_tokenizer_free(tok);
        lm_model_free(m);
        return rc;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    gp.interrupt = &interrupted;
    printf("[INFO] Starting chat session with %s.\n", model);
    print_help();
    int first = 1, rc = 0, tty = isatty(STDIN_FILENO);
    for (;;) {
        char *line = read_query(tty);
        if (!line) { /* Ctrl-D or end of input */
            printf("\n");
            break;
        }
        if (!*line) { /* as mlx_lm.chat: an empty query is skipped */
            free(line);
            continue;
        }
        if (!strcmp(line, "q")) {
            free(line);
            break;
        }
        if (!strcmp(line, "r")) {
            lm_cache_free(cache);
            cache = lm_cache_new(m, &gp.cache_options);
            first = 1;
            free(line);
            if (!cache) {
                rc = cli_fail("chat", NULL);
                break;
            }
            continue;
        }
        if (!strcmp(line, "h")) {
            print_help();
            free(line);
            continue;
        }
        if (tty) add_history(line);
        char *messages = cli_messages_json(first ? system : NULL, line);
        int32_t *ids = NULL;
        size_t n = 0;
        /* Only the new message is templated: the conversation so far lives in the cache. */
        if (!messages || cli_encode_prompt(lm_model_dir(m), tok, messages, 0, line, NULL, &ids, &n)) {
            cli_fail("chat", NULL);
        } else {
            interrupted = 0;
            gp.cache = cache;
            if (lm_generate(m, tok, ids, n, &gp, print_token, NULL, NULL)) cli_fail("chat", NULL);
            printf("\n");
            first = 0;
        }
        free(ids);
        free(messages);
        free(line);
    }
    lm_cache_free(cache);
    lm_tokenizer_free(tok);
    lm_model_free(m);
    return rc;
}
