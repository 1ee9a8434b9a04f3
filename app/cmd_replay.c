/* app/cmd_replay.c - `streamrec replay` (being written). */
#include "app/commands.h"

#include <stdio.h>

int cmd_replay(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "streamrec replay: not built yet\n");
    return 1;
}
