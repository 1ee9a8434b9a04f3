/* app/cmd_gen.c - `streamrec gen` (being written). */
#include "app/commands.h"

#include <stdio.h>

int cmd_gen(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "streamrec gen: not built yet\n");
    return 1;
}
