/* cmlx manage (placeholder until the hub work lands). */
#include <stdio.h>

#include "cli/commands.h"

int cmd_manage(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "cmlx manage: not available yet\n");
    return 1;
}
