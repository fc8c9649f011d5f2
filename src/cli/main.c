/* cmlx: the command-line tool. Dispatches to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/runtime_env.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"generate", cmd_generate, "generate text from a prompt (as mlx_lm.generate)"},
    {"chat", cmd_chat, "chat with a model in the terminal (as mlx_lm.chat)"},
    {"cache-prompt", cmd_cache_prompt, "cache the state of a prompt for generate --prompt-cache-file (as mlx_lm.cache_prompt)"},
    {"tokenize", cmd_tokenize, "encode text to token ids (or --decode ids) with a model's tokenizer"},
    {"manage", cmd_manage, "scan or delete models in the Hugging Face cache"},
    {"bench", cmd_bench, "benchmark prompt and generation speed against this machine's ceilings (as mlx_lm.benchmark)"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: cmlx <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nRun `cmlx <command> --help` for a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            cli_runtime_env(argc, argv, 0); /* may re-run this process with GOMP_SPINCOUNT set */
            return commands[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "cmlx: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
