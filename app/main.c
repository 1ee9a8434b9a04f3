/* app/main.c - the streamrec binary: dispatches to a subcommand. */
#include "app/commands.h"

#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"run", cmd_run, "the daemon: Kafka in, Redis out"},
    {"replay", cmd_replay, "the pipeline from a dataset file, with prequential evaluation"},
    {"gen", cmd_gen, "synthetic event stream with realistic skew"},
    {"recs", cmd_recs, "read a user's recommendations from Redis"},
    {"broker", cmd_broker, "a development Kafka broker on localhost (librdkafka's mock cluster)"},
    {"produce", cmd_produce, "encode a dataset file as events and produce it to Kafka"},
    {"checkpoint", cmd_checkpoint, "inspect a checkpoint of state.dir (inspect PATH)"},
    {"config", cmd_config, "print every configuration key (--dump) or check a file (--check)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: streamrec COMMAND [options]   (streamrec COMMAND --help for more)\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "streamrec: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
