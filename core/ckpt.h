/* core/ckpt.h - checkpoint files: a versioned container of checksummed
 * sections, written atomically.
 *
 * A checkpoint is the learned state at one point of the stream: every module
 * that holds state adds its own sections (see enum ck_section_id) to a
 * ck_writer, in memory, on the learner thread; writing the file (any thread)
 * and reading it back are done here.
 *
 * File layout, all integers little-endian:
 *
 *   header (96 bytes)
 *     magic          8  "SRCKPT\r\n"
 *     format         u32 CK_FORMAT (a reader refuses any other)
 *     n_sections     u32
 *     created_ms     i64 wall clock, ms since the epoch
 *     model_version  char[48], NUL-padded
 *     reserved       16 zero bytes
 *     header_xxh64   u64 of the 88 bytes before it
 *   section table: n_sections entries of 48 bytes
 *     id u32, flags u32 (0), offset u64 (from the file start), length u64,
 *     xxh64 u64 (XXH3-64 of the payload), name char[16] NUL-padded
 *   table_xxh64 u64 of the table
 *   payloads, each starting on a 64-byte boundary; the file ends with the
 *   last payload's last byte (no padding after it)
 *
 * A file that is short, has another magic or format, or whose header, table
 * or any section fails its checksum is refused as a whole with a reason
 * naming what failed (ck_open). Files are written to "<name>.tmp" in the
 * directory, fsynced, renamed to "<name>", and the directory is fsynced, so
 * a crash leaves either the old set of checkpoints or the new one.
 *
 * Payload encoding is the module's: ck_put_* append little-endian scalars
 * and raw bytes; ck_get_* read them back with bounds checks (a read past the
 * end sets the reader's failed flag and yields zeros, so a loader checks
 * once at the end with ck_rd_ok()).
 *
 *     struct ck_writer *w = ck_writer_new();
 *     struct ck_buf *b = ck_section(w, CK_SEC_MF_STATE, "mf_state");
 *     ck_put_u64(b, m->updates); ...
 *     ck_write_file(w, dir, "ckpt-...", version, now_ms, err, sizeof err);
 *
 *     struct ck_file *f = ck_open(path, err, sizeof err);
 *     struct ck_rd r;
 *     if (ck_find(f, CK_SEC_MF_STATE, &r) == 0) { m->updates = ck_get_u64(&r); ... }
 *
 * The host must be little-endian (checked at compile time). */
#ifndef SR_CKPT_H
#define SR_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CK_MAGIC       "SRCKPT\r\n"
#define CK_FORMAT      1
#define CK_VERSION_MAX 47 /* bytes of a model version */
#define CK_NAME_MAX    15 /* bytes of a section name */
#define CK_SUFFIX      ".ckpt"

/** Section ids. Stable: a reader finds sections by id; add, never reuse. */
enum ck_section_id {
    CK_SEC_META = 1,         /* app: counters and what the run was (app/state.c) */
    CK_SEC_CONFIG = 2,       /* app: the state-shaping configuration, as text */
    CK_SEC_OFFSETS = 3,      /* app: next offset of every partition */
    CK_SEC_USER_IDS = 10,    /* features: user id strings in dense-id order */
    CK_SEC_ITEM_IDS = 11,    /* features: item id strings in dense-id order */
    CK_SEC_MF_USERS = 20,    /* learner: user factor rows */
    CK_SEC_MF_ITEMS = 21,    /* learner: item factor rows */
    CK_SEC_MF_OPT = 22,      /* learner: AdaGrad accumulators and item biases */
    CK_SEC_MF_STATE = 23,    /* learner: RNG, negative ring, counters */
    CK_SEC_FEAT_USERS = 30,  /* features: per-user sessions, bot window, positives */
    CK_SEC_FEAT_DEDUP = 31,  /* features: de-dup memory */
    CK_SEC_FEAT_POP = 32,    /* features: popularity windows, all-time, first-positive */
    CK_SEC_FEAT_COVIS = 33,  /* features: neighbour lists and users' recent items */
    CK_SEC_FEAT_STATS = 34,  /* features: counters, watermark */
    CK_SEC_FEAT_COUNTS = 35, /* features: applied events per user and per item */
    CK_SEC_FEAT_EVICT = 36,  /* features: eviction sweep positions and counters */
    CK_SEC_HISTORY = 40,     /* serving history (app/serving.c) */
    CK_SEC_EVAL = 50,        /* prequential evaluation state */
    CK_SEC_RANKER = 60,      /* ranker weights (later) */
    CK_SEC_DAEMON = 70,      /* daemon: users waiting for a list */
};

/** A growable byte buffer (one section's payload). On allocation failure
 * `failed` is set and later puts do nothing; ck_write_file refuses it. */
struct ck_buf {
    unsigned char *data; /* [cap], owned */
    size_t len, cap;
    bool failed;
};

void ck_put(struct ck_buf *b, const void *p, size_t n);
/** Appends n uninitialised bytes and returns them to fill, or NULL after a
 * failure. The pointer is valid until the next put on b. */
void *ck_put_space(struct ck_buf *b, size_t n);
static inline void ck_put_u8(struct ck_buf *b, uint8_t v)
{
    ck_put(b, &v, 1);
}
static inline void ck_put_u32(struct ck_buf *b, uint32_t v)
{
    ck_put(b, &v, 4);
}
static inline void ck_put_u64(struct ck_buf *b, uint64_t v)
{
    ck_put(b, &v, 8);
}
static inline void ck_put_i64(struct ck_buf *b, int64_t v)
{
    ck_put(b, &v, 8);
}
static inline void ck_put_f32(struct ck_buf *b, float v)
{
    ck_put(b, &v, 4);
}
static inline void ck_put_f64(struct ck_buf *b, double v)
{
    ck_put(b, &v, 8);
}
/** A length-prefixed (u32) byte string. */
void ck_put_str(struct ck_buf *b, const char *s, size_t len);

/** A bounds-checked reader over one section's payload (borrowed from the
 * ck_file, valid until ck_close). */
struct ck_rd {
    const unsigned char *p, *end;
    bool failed; /* a read went past the end or a value was refused */
};

/** Copies n bytes into out; past the end: zero-fills out, sets failed. */
void ck_get(struct ck_rd *r, void *out, size_t n);
/** Borrowed pointer to the next n bytes (not aligned), or NULL (failed). */
const void *ck_take(struct ck_rd *r, size_t n);
static inline uint8_t ck_get_u8(struct ck_rd *r)
{
    uint8_t v;
    ck_get(r, &v, 1);
    return v;
}
static inline uint32_t ck_get_u32(struct ck_rd *r)
{
    uint32_t v;
    ck_get(r, &v, 4);
    return v;
}
static inline uint64_t ck_get_u64(struct ck_rd *r)
{
    uint64_t v;
    ck_get(r, &v, 8);
    return v;
}
static inline int64_t ck_get_i64(struct ck_rd *r)
{
    int64_t v;
    ck_get(r, &v, 8);
    return v;
}
static inline float ck_get_f32(struct ck_rd *r)
{
    float v;
    ck_get(r, &v, 4);
    return v;
}
static inline double ck_get_f64(struct ck_rd *r)
{
    double v;
    ck_get(r, &v, 8);
    return v;
}
/** A ck_put_str string: borrowed bytes (not NUL-terminated), *len set;
 * NULL and failed when it does not fit. */
const char *ck_get_str(struct ck_rd *r, uint32_t *len);
/** Marks the reader failed (a loader refusing a value it read). */
static inline void ck_rd_fail(struct ck_rd *r)
{
    r->failed = true;
}
/** Bytes not read yet. */
static inline size_t ck_rd_left(const struct ck_rd *r)
{
    return (size_t)(r->end - r->p);
}
/** True when nothing failed and every byte was read. */
static inline bool ck_rd_ok(const struct ck_rd *r)
{
    return !r->failed && r->p == r->end;
}

/* ---- writing ----------------------------------------------------------- */

struct ck_writer;

/** An empty set of sections, or NULL (out of memory). */
struct ck_writer *ck_writer_new(void);
/** NULL-safe. */
void ck_writer_free(struct ck_writer *w);
/** Starts a new section and returns its buffer (owned by w), or NULL when
 * out of memory or id is already there. name: up to CK_NAME_MAX bytes. */
struct ck_buf *ck_section(struct ck_writer *w, uint32_t id, const char *name);
/** Payload bytes held by all sections. */
size_t ck_writer_bytes(const struct ck_writer *w);

/** Writes DIR/NAME atomically (NAME.tmp, fsync, rename, fsync DIR).
 * Returns 0, SR_ENOMEM (a section failed to grow), or SR_EIO with the
 * reason (errno text, path) in errbuf; on failure nothing named NAME is
 * changed and the .tmp file is removed. */
int ck_write_file(const struct ck_writer *w, const char *dir, const char *name,
                  const char *model_version, int64_t created_ms, char *errbuf, size_t errlen);

/* ---- reading ----------------------------------------------------------- */

struct ck_file;

/** One entry of the section table. */
struct ck_section_info {
    uint32_t id;
    char name[CK_NAME_MAX + 1];
    uint64_t length;
    uint64_t xxh64;
};

/** Reads and verifies a whole checkpoint file. NULL with a reason naming
 * the file and what failed (missing, truncated, bad magic, format N, header
 * or table or section "NAME" checksum) in errbuf. */
struct ck_file *ck_open(const char *path, char *errbuf, size_t errlen);
/** The same over a copy of data[0..len) (tests, fuzzing); name is used in
 * messages. */
struct ck_file *ck_open_mem(const void *data, size_t len, const char *name, char *errbuf,
                            size_t errlen);
/** NULL-safe. */
void ck_close(struct ck_file *f);

uint32_t ck_format(const struct ck_file *f);
const char *ck_model_version(const struct ck_file *f);
int64_t ck_created_ms(const struct ck_file *f);
size_t ck_file_bytes(const struct ck_file *f);
size_t ck_n_sections(const struct ck_file *f);
void ck_section_at(const struct ck_file *f, size_t i, struct ck_section_info *out);
/** A reader over section id's payload: 0, or SR_ENOENT when absent. */
int ck_find(const struct ck_file *f, uint32_t id, struct ck_rd *out);

/* ---- a directory of checkpoints ------------------------------------------ */

/** The checkpoint file names (*CK_SUFFIX, no .tmp) in dir, newest first
 * (names sort by creation: ck_name()). *names is malloc'd, each entry
 * too; free with ck_names_free. 0, SR_ENOENT (no such directory), SR_EIO or
 * SR_ENOMEM. */
int ck_list(const char *dir, char ***names, size_t *n);
void ck_names_free(char **names, size_t n);
/** A file name that sorts after every earlier one: "ckpt-<20-digit
 * seq>-<created_ms>" CK_SUFFIX. */
void ck_name(char *out, size_t len, uint64_t seq, int64_t created_ms);
/** Sequence number of a ck_name() name, or -1 when it is not one. */
int64_t ck_name_seq(const char *name);
/** Removes all but the newest keep checkpoints and any stale .tmp files;
 * returns how many files were removed, or a negative sr_err. */
int ck_prune(const char *dir, size_t keep);

#endif
