/* tests/fuzz/ckpt.c - libFuzzer target: the checkpoint loader.
 *
 * Each input is a checkpoint file. It is opened with ck_open_mem
 * (core/ckpt.h) as it is, and then once more with its header, table and
 * section checksums recomputed (where the structure allows), so mutations
 * get past the checksums to the structure checks and to the section
 * readers. Every opened file is walked: every section found by id with
 * ck_find and read to its end, as bytes, as ck_put_str strings and as
 * mixed scalars.
 *
 * Then the module loaders (app/state.h: features, model, serving history,
 * evaluation, offsets, meta) run over it on state built from the file's
 * own configuration section. The seed corpus/ckpt/replay-400-k8 is a real
 * one: `streamrec gen --events 400 --users 40 --items 80 --seed 9`, then
 * `streamrec replay --checkpoint-every 400 -o learner.k=8
 * -o features.dedup_capacity=1024 -o state.dir=...`.
 *
 * Oracle besides the sanitizers: a reader never hands out bytes outside
 * its section, reading exactly ck_rd_left() bytes leaves it ck_rd_ok(), and
 * reading past the end fails and yields zeros. */
#include "app/state.h"
#include "core/ckpt.h"
#include "core/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile double g_sink; /* keeps reads from being optimised away */

/* Layout constants of core/ckpt.h's file format. */
#define HEADER_BYTES 96
#define ENTRY_BYTES  48

static uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void wr64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* Rewrites the checksums of d[0..len) to match its contents, as far as the
 * header and table fit. */
static void fix_checksums(unsigned char *d, size_t len)
{
    if (len < HEADER_BYTES + 8)
        return;
    uint32_t n;
    memcpy(&n, d + 12, 4);
    if (n <= 256 && len >= HEADER_BYTES + (size_t)n * ENTRY_BYTES + 8) {
        unsigned char *t = d + HEADER_BYTES;
        for (uint32_t i = 0; i < n; i++, t += ENTRY_BYTES) {
            uint64_t off = rd64(t + 8), slen = rd64(t + 16);
            if (off <= len && slen <= len - off)
                wr64(t + 24, XXH3_64bits(d + off, (size_t)slen));
        }
        t = d + HEADER_BYTES;
        wr64(t + (size_t)n * ENTRY_BYTES, XXH3_64bits(t, (size_t)n * ENTRY_BYTES));
    }
    wr64(d + 88, XXH3_64bits(d, 88));
}

static void read_bytes(struct ck_rd r, size_t length)
{
    if (ck_rd_left(&r) != length)
        abort();
    const unsigned char *p = ck_take(&r, length);
    if (length && !p)
        abort();
    unsigned sum = 0;
    for (size_t i = 0; i < length; i++)
        sum += p[i];
    g_sink += sum;
    if (!ck_rd_ok(&r))
        abort();
    unsigned char past[8];
    ck_get(&r, past, sizeof past); /* one read past the end */
    if (!r.failed || ck_rd_ok(&r))
        abort();
    for (size_t i = 0; i < sizeof past; i++)
        if (past[i])
            abort();
}

static void read_strings(struct ck_rd r)
{
    while (!r.failed && ck_rd_left(&r) > 0) {
        uint32_t len;
        const char *s = ck_get_str(&r, &len);
        if (s) {
            g_sink += len ? s[len - 1] : 0;
        } else if (!r.failed || len != 0) {
            abort();
        }
    }
}

static void read_scalars(struct ck_rd r)
{
    double acc = 0;
    for (unsigned k = 0; !r.failed; k++) {
        switch (k % 6) {
        case 0:
            acc += ck_get_u8(&r);
            break;
        case 1:
            acc += ck_get_u32(&r);
            break;
        case 2:
            acc += (double)ck_get_u64(&r);
            break;
        case 3:
            acc += (double)ck_get_i64(&r);
            break;
        case 4:
            acc += ck_get_f32(&r);
            break;
        default:
            acc += ck_get_f64(&r);
            break;
        }
    }
    g_sink += acc;
    if (ck_rd_ok(&r))
        abort();
}

/* Every module loader over the file, on state built from the checkpoint's
 * own configuration: each returns 0 or a negative sr_err, and what it half
 * loaded frees cleanly (ASan watches). */
static void load_modules(const struct ck_file *f)
{
    struct sr_config cfg;
    char err[512];
    sr_config_defaults(&cfg);
    if (state_config(f, &cfg, err, sizeof err) != 0)
        return;
    struct feat *feat = feat_new(&cfg.features, err, sizeof err);
    struct mf *mf = mf_new(&cfg.learner, err, sizeof err);
    struct srv *srv = mf ? srv_new(&cfg, mf, 0, err, sizeof err) : NULL;
    struct eval *ev = eval_new(&cfg.eval, &cfg.serve, 0, 0, err, sizeof err);
    if (feat && mf && srv && ev) {
        struct state_parts p = {.feat = feat, .mf = mf, .srv = srv, .eval = ev};
        int rc = state_load(f, &cfg, &p, err, sizeof err);
        if (rc > 0 || !memchr(err, '\0', sizeof err))
            abort();
    }
    struct ks_offset *offs = NULL;
    size_t n = 0;
    if (state_offsets(f, &offs, &n) == 0)
        for (size_t i = 0; i < n; i++)
            g_sink += (double)offs[i].next + (double)strlen(offs[i].topic);
    free(offs);
    size_t len = 0;
    const char *meta = state_meta(f, &len);
    g_sink += meta && len ? meta[len - 1] : 0;
    eval_free(ev);
    srv_free(srv);
    mf_free(mf);
    feat_free(feat);
}

static void walk(const struct ck_file *f)
{
    g_sink += (double)(strlen(ck_model_version(f)) + (size_t)ck_created_ms(f) + ck_file_bytes(f) +
                       ck_format(f));
    size_t n = ck_n_sections(f);
    for (size_t i = 0; i < n; i++) {
        struct ck_section_info info;
        ck_section_at(f, i, &info);
        if (!memchr(info.name, '\0', sizeof info.name))
            abort();
        struct ck_rd r;
        if (ck_find(f, info.id, &r) != 0)
            abort();
        /* ck_find gives the first section with this id. */
        size_t first = 0;
        for (struct ck_section_info o; first < i; first++) {
            ck_section_at(f, first, &o);
            if (o.id == info.id)
                break;
        }
        if (first == i) {
            read_bytes(r, (size_t)info.length);
            read_strings(r);
            read_scalars(r);
        }
    }
    struct ck_rd none;
    uint32_t unused = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        struct ck_section_info info;
        ck_section_at(f, i, &info);
        if (info.id == unused)
            return;
    }
    if (ck_find(f, unused, &none) != SR_ENOENT || !none.failed)
        abort();

    load_modules(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    memset(err, 'x', sizeof err);
    struct ck_file *f = ck_open_mem(data, size, "fuzz", err, sizeof err);
    if (f) {
        walk(f);
        ck_close(f);
    } else if (!memchr(err, '\0', sizeof err)) {
        abort();
    }

    /* The same bytes with matching checksums. */
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    fix_checksums(copy, size);
    f = ck_open_mem(copy, size, "fuzz", err, sizeof err);
    free(copy);
    if (f) {
        walk(f);
        ck_close(f);
    }
    return 0;
}
