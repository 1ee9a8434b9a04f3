/* app/commands.h - the subcommands of the streamrec binary.
 *
 * Each returns the process exit code (0 ok, 1 failure, 2 usage error); only
 * main() exits. argv[0] is the subcommand's name. */
#ifndef SR_COMMANDS_H
#define SR_COMMANDS_H

#include "core/config.h"

int cmd_config(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_recs(int argc, char **argv);
int cmd_broker(int argc, char **argv);
int cmd_produce(int argc, char **argv);
int cmd_run(int argc, char **argv);

/** Shared option handling: applies `-c FILE` and `-o section.key=value`
 * (given in order) on top of the defaults, then validates. Prints one error
 * line and returns non-zero on a bad file or key. */
int app_config_add_file(struct sr_config *cfg, const char *path);
int app_config_add_override(struct sr_config *cfg, const char *assignment);
int app_config_finish(struct sr_config *cfg);

#endif
