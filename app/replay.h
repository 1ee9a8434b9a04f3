/* app/replay.h - the pipeline driven from dataset files, with prequential
 * evaluation: source -> features -> (evaluate) -> learn, one event at a time,
 * in one thread. The learning code is the same as the daemon's; only the
 * source differs. */
#ifndef SR_REPLAY_H
#define SR_REPLAY_H

#include "core/config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct replay_opts {
    const char *const *paths; /* borrowed: input files, read as one stream */
    size_t n_paths;
    bool progress;  /* progress line on stderr */
    uint64_t limit; /* stop after this many input records; 0 = all */
    /* borrowed, NULL = none: comma-separated user ids whose served lists
     * (app/serving.h, the daemon's code) go into the report as "recs" */
    const char *dump_recs;
    /* Checkpoints in cfg->state.dir (app/state.h), the record number as
     * the offset: one every checkpoint_every records (0 = none) and one at
     * the end; resume: start from the newest valid one, skipping the
     * records it covers (none there: from the start). */
    uint64_t checkpoint_every;
    bool resume;
};

/** Runs the pipeline over the files. Returns a new report (see README,
 * "Report format"; json_decref it), or NULL with one line in errbuf. With
 * o->dump_recs the report also has "recs": {user: {"items": [...],
 * "scores": [...], "fallback": bool} or null for an unknown user}, each the
 * top-K the daemon would serve after the same events. */
json_t *replay_run(const struct sr_config *cfg, const struct replay_opts *o, char *errbuf,
                   size_t errlen);
/** Prints the human-readable summary of a report. */
void replay_print_table(const json_t *report, FILE *f);
/** The effective configuration as {"section": {"key": value}} (secrets
 * left out); a new reference. */
json_t *replay_config_json(const struct sr_config *cfg);
/** Resident set size of this process in bytes (0 when unknown). */
uint64_t replay_rss_bytes(void);

#endif
