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
int cmd_checkpoint(int argc, char **argv);

/** Shared option handling: applies `-c FILE` and `-o section.key=value`
 * (given in order) on top of the defaults, then validates. Prints one error
 * line and returns non-zero on a bad file or key. */
int app_config_add_file(struct sr_config *cfg, const char *path);
int app_config_add_override(struct sr_config *cfg, const char *assignment);
int app_config_finish(struct sr_config *cfg);

/** Configuration given on a command line, kept in order: `-c FILE`,
 * `-o section.key=value`, and options that stand for a key (`--preset`,
 * `--sort`, ...). Built with app_steps_*, applied by app_config_build():
 * defaults, then the preset the steps name (so its values are defaults),
 * then every step in order, then validation. */
struct app_steps {
    struct app_step {
        char kind;       /* 'c' file, 'o' override */
        const char *arg; /* borrowed from argv, or from owned[] */
    } * v;
    char (*owned)[SR_CFG_STR_MAX + 64]; /* "key=value" texts of option keys */
    size_t n;
};

/** Room for argc steps; returns 0 or SR_ENOMEM. */
int app_steps_init(struct app_steps *s, int argc);
void app_steps_free(struct app_steps *s);
/** Adds `-c path` (kind 'c') or `-o assignment` (kind 'o'); borrowed. */
void app_steps_add(struct app_steps *s, char kind, const char *arg);
/** Adds the override key=value (copied). */
void app_steps_set(struct app_steps *s, const char *key, const char *value);
/** Builds cfg as described above; prints one error line on failure and
 * returns 1, else 0. */
int app_config_build(struct sr_config *cfg, const struct app_steps *s, const char *who);

#endif
