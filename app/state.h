/* app/state.h - checkpoints of the whole learned state (DESIGN.md "Delivery
 * and state"), shared by `streamrec run` and `streamrec replay`.
 *
 * A checkpoint (core/ckpt.h container) holds:
 *   meta      a JSON object of the caller's counters (events applied,
 *             messages, dead letters, the replay record number, ...)
 *   config    every features.* and learner.* key as "section.key=value"
 *             lines: what shaped the state
 *   offsets   the next offset of every partition in the model
 *   and the sections of each stateful part: features (ids, users,
 *   de-dup, popularity, co-visitation, counters), the model (factors,
 *   optimizer, RNG, negative ring), the serving history, evaluation.
 *
 * Taking one is split in two so the learner pauses only for a copy:
 * state_capture() serializes into memory on the learner thread, a
 * state_writer thread writes the file (tmp, fsync, rename, fsync dir),
 * keeps the newest state.keep and reports back, so that consumer-group
 * commits can follow durable checkpoints.
 *
 * Recovery: state_open_newest() returns the newest file that passes every
 * checksum, logging each skipped one with its reason; state_load() fills
 * fresh parts from it. */
#ifndef SR_STATE_H
#define SR_STATE_H

#include "app/serving.h"
#include "core/ckpt.h"
#include "core/config.h"
#include "features/feat.h"
#include "ingest/kafka_source.h"
#include "learner/eval.h"
#include "learner/mf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATE_PATH_MAX 4352 /* a directory of up to 4096 bytes, a file name */

/** The stateful parts of a pipeline, borrowed. eval may be NULL. */
struct state_parts {
    struct feat *feat;
    struct mf *mf;
    struct srv *srv;
    struct eval *eval;
};

/** Serializes cfg's state-shaping keys, meta_json (a JSON object, borrowed),
 * offs[0..n_offs) and every part into a new writer (the copy). NULL with
 * the reason in errbuf (out of memory). */
struct ck_writer *state_capture(const struct sr_config *cfg, const struct state_parts *p,
                                const char *meta_json, const struct ks_offset *offs, size_t n_offs,
                                char *errbuf, size_t errlen);

/** The newest checkpoint in dir that opens and passes its checksums; each
 * newer one that does not is skipped with a warning naming the file and
 * the reason. NULL when there is none (no directory, no file, none valid).
 * path (optional) gets the file's path. */
struct ck_file *state_open_newest(const char *dir, char *path, size_t path_len);

/** The same, starting at position *pos of the newest-first list (0: the
 * newest) and leaving *pos after the file returned, so that a caller whose
 * load of it failed can go on to the next older one. */
struct ck_file *state_open_from(const char *dir, size_t *pos, char *path, size_t path_len);

/** Loads f into parts fresh from their constructors with cfg. Keys of
 * cfg that differ from the checkpoint's are logged; a difference the
 * state cannot take (learner.k, window lists, list sizes) is refused by
 * the part's loader: SR_ECONFIG with the reason in errbuf. Other errors:
 * SR_ECORRUPT, SR_ENOMEM. The parts are then to be freed, not used. */
int state_load(const struct ck_file *f, const struct sr_config *cfg, const struct state_parts *p,
               char *errbuf, size_t errlen);

/** The meta section as text (a JSON object), borrowed from f; NULL when
 * absent. *len gets its length (not NUL-terminated). */
const char *state_meta(const struct ck_file *f, size_t *len);

/** The offsets section into *out (malloc'd; free()), *n entries. 0,
 * SR_ECORRUPT or SR_ENOMEM. No section: 0 with *n = 0. */
int state_offsets(const struct ck_file *f, struct ks_offset **out, size_t *n);

/** Applies the checkpoint's features.* and learner.* keys to cfg (to
 * rebuild parts that can read it without the run's config file). */
int state_config(const struct ck_file *f, struct sr_config *cfg, char *errbuf, size_t errlen);

/* ---- the writer thread ------------------------------------------------- */

/** What became of one submitted checkpoint. */
struct state_result {
    bool ok;
    uint64_t seq;
    char path[STATE_PATH_MAX];
    char error[512];        /* when !ok */
    double write_s;         /* write + fsync + rename */
    size_t bytes;           /* file payload bytes */
    struct ks_offset *offs; /* owned: the checkpoint's offsets (free()) */
    size_t n_offs;
    uint64_t messages; /* the submitter's message count at capture */
};

struct state_writer;

/** Creates cfg->dir (and parents) when missing and starts the thread.
 * NULL with the reason (directory not creatable, not writable). */
struct state_writer *state_writer_new(const struct sr_state_cfg *cfg, char *errbuf, size_t errlen);
/** Waits for a write in progress, stops the thread. NULL-safe. */
void state_writer_free(struct state_writer *w);

/** Hands ck (taken: freed by the writer) to the thread, with the offsets it
 * covers (copied) and a message count the caller uses to pace the next one.
 * SR_EAGAIN (ck not taken) while the previous one is still being written;
 * SR_ENOMEM. */
int state_writer_submit(struct state_writer *w, struct ck_writer *ck, const char *model_version,
                        const struct ks_offset *offs, size_t n_offs, uint64_t messages);
/** True while a submitted checkpoint is not written yet. */
bool state_writer_busy(struct state_writer *w);
/** A finished write, once: true with *out filled (free out->offs). */
bool state_writer_take(struct state_writer *w, struct state_result *out);
/** Waits up to timeout_s for the thread to be idle; true when it is. */
bool state_writer_wait(struct state_writer *w, double timeout_s);

#endif
