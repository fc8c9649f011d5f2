/* The cmlx subcommands: each is `int cmd_NAME(int argc, char **argv)` in src/cli/cmd_NAME.c,
 * returning the process exit code (argv[0] is the subcommand's name). */
#ifndef CMLX_CLI_COMMANDS_H
#define CMLX_CLI_COMMANDS_H

int cmd_tokenize(int argc, char **argv);
int cmd_manage(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_cache_prompt(int argc, char **argv);

#endif
