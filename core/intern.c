/* core/intern.c - open-addressing intern table over an arena with free lists.
 *
 * Slots hold id+1 (0 = empty), the upper 32 bits of the id's hash and the
 * string's address, so a probe compares strings only on a tag match and
 * reaches the string without another lookup. Strings sit in 1 MiB blocks as
 * [u8 len][bytes][NUL], each entry rounded up to 8 bytes; an id's string
 * address is also kept in a chunked array for id -> string.
 *
 * sr_intern_replace gives an id a new string: the old one leaves the table
 * by backward-shift deletion (linear probing needs no tombstones) and its
 * entry is reused in place when the new string rounds to the same size, or
 * goes to a free list of its size class (the first 8 bytes of a free entry
 * link to the next) from which later entries of that class are taken before
 * the arena grows. A stream of distinct strings over a bounded set of ids
 * therefore holds at most the peak number of live strings per size class.
 *
 * Checkpoints (sr_intern_save/load) hold the strings in id order as
 * [u8 len][bytes]; loading re-hashes each string into a table sized once. */
#include "core/intern.h"
#include "core/chunked.h"
#include "core/ckpt.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define ARENA_BLOCK (1u << 20)
#define MAX_BLOCKS  65536
#define ENTRY_ALIGN 8
#define N_CLASSES   (257 / ENTRY_ALIGN + 2) /* class = rounded entry bytes / 8 */

/* The string's address sits in the slot, so a hit costs two dependent
 * loads (slot, string) rather than three. */
struct slot {
    uint32_t id1;             /* id + 1; 0 = empty */
    uint32_t tag;             /* hash >> 32 */
    const unsigned char *str; /* [len][bytes][NUL] in the arena */
};

struct sr_intern {
    struct slot *slots; /* [mask + 1] */
    size_t mask;
    uint32_t count;
    struct sr_chunked strs; /* [count] const char *: address of [len][bytes][NUL] */
    char **blocks;          /* [MAX_BLOCKS] arena blocks */
    size_t n_blocks;
    size_t block_used;                   /* bytes used in the last block */
    unsigned char *free_list[N_CLASSES]; /* freed entries by size class */
};

/* Bytes an entry of a string of len bytes takes: [len][bytes][NUL], rounded. */
static inline size_t entry_size(size_t len)
{
    return (len + 2 + ENTRY_ALIGN - 1) & ~(size_t)(ENTRY_ALIGN - 1);
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 1024;
    while (p < n)
        p <<= 1;
    return p;
}

struct sr_intern *sr_intern_new(size_t cap_hint)
{
    struct sr_intern *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->mask = pow2_at_least(cap_hint + cap_hint / 3) - 1;
    in->slots = calloc(in->mask + 1, sizeof *in->slots);
    in->blocks = calloc(MAX_BLOCKS, sizeof *in->blocks);
    if (!in->slots || !in->blocks || sr_chunked_init(&in->strs, sizeof(char *), 16) != 0) {
        sr_intern_free(in);
        return NULL;
    }
    return in;
}

void sr_intern_free(struct sr_intern *in)
{
    if (!in)
        return;
    if (in->blocks)
        for (size_t i = 0; i < in->n_blocks; i++)
            free(in->blocks[i]);
    free(in->blocks);
    sr_chunked_free(&in->strs);
    free(in->slots);
    free(in);
}

static inline const unsigned char *entry_of(const struct sr_intern *in, uint32_t id)
{
    return *(const unsigned char **)sr_chunked_at(&in->strs, id);
}

static size_t probe(const struct sr_intern *in, const char *s, size_t len, uint64_t h,
                    uint32_t *found)
{
    uint32_t tag = (uint32_t)(h >> 32);
    size_t i = (size_t)h & in->mask;
    for (;;) {
        const struct slot *sl = &in->slots[i];
        if (sl->id1 == 0)
            return i;
        if (sl->tag == tag) {
            const unsigned char *e = sl->str;
            if (e[0] == len && memcmp(e + 1, s, len) == 0) {
                *found = sl->id1 - 1;
                return i;
            }
        }
        i = (i + 1) & in->mask;
    }
}

static int grow(struct sr_intern *in)
{
    size_t ncap = (in->mask + 1) * 2;
    struct slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return SR_ENOMEM;
    for (uint32_t id = 0; id < in->count; id++) {
        const unsigned char *e = entry_of(in, id);
        uint64_t h = XXH3_64bits(e + 1, e[0]);
        size_t i = (size_t)h & (ncap - 1);
        while (ns[i].id1)
            i = (i + 1) & (ncap - 1);
        ns[i].id1 = id + 1;
        ns[i].tag = (uint32_t)(h >> 32);
        ns[i].str = e;
    }
    free(in->slots);
    in->slots = ns;
    in->mask = ncap - 1;
    return 0;
}

static unsigned char *arena_alloc(struct sr_intern *in, size_t n)
{
    unsigned char **fl = &in->free_list[n / ENTRY_ALIGN];
    if (*fl) { /* a freed entry of this size class */
        unsigned char *p = *fl;
        memcpy(fl, p, sizeof *fl);
        return p;
    }
    if (in->n_blocks == 0 || in->block_used + n > ARENA_BLOCK) {
        if (in->n_blocks >= MAX_BLOCKS)
            return NULL;
        char *b = malloc(ARENA_BLOCK);
        if (!b)
            return NULL;
        in->blocks[in->n_blocks++] = b;
        in->block_used = 0;
    }
    unsigned char *p = (unsigned char *)in->blocks[in->n_blocks - 1] + in->block_used;
    in->block_used += n;
    return p;
}

int sr_intern_add(struct sr_intern *in, const char *s, size_t len, uint32_t *id, bool *added)
{
    if (len == 0 || len > 255)
        return SR_EINVAL;
    uint64_t h = XXH3_64bits(s, len);
    uint32_t found = UINT32_MAX;
    size_t i = probe(in, s, len, h, &found);
    if (found != UINT32_MAX) {
        *id = found;
        if (added)
            *added = false;
        return 0;
    }
    if (in->count == UINT32_MAX - 1)
        return SR_EFULL;
    if ((size_t)in->count + 1 > (in->mask + 1) / 4 * 3) {
        int rc = grow(in);
        if (rc)
            return rc;
        i = probe(in, s, len, h, &found);
    }
    int rc = sr_chunked_reserve(&in->strs, (size_t)in->count + 1);
    if (rc)
        return rc;
    unsigned char *e = arena_alloc(in, entry_size(len));
    if (!e)
        return SR_ENOMEM;
    e[0] = (unsigned char)len;
    memcpy(e + 1, s, len);
    e[len + 1] = '\0';
    *(unsigned char **)sr_chunked_at(&in->strs, in->count) = e;
    in->slots[i].id1 = in->count + 1;
    in->slots[i].tag = (uint32_t)(h >> 32);
    in->slots[i].str = e;
    *id = in->count++;
    if (added)
        *added = true;
    return 0;
}

/* Removes slot i (which holds an id) from the table: backward-shift
 * deletion, so every remaining key stays reachable from its home slot. */
static void slot_delete(struct sr_intern *in, size_t i)
{
    size_t j = i;
    for (;;) {
        j = (j + 1) & in->mask;
        struct slot *sj = &in->slots[j];
        if (sj->id1 == 0)
            break;
        const unsigned char *e = sj->str;
        size_t home = (size_t)XXH3_64bits(e + 1, e[0]) & in->mask;
        /* sj moves to the hole unless its home lies cyclically in (i, j]. */
        if (((j - home) & in->mask) >= ((j - i) & in->mask)) {
            in->slots[i] = *sj;
            i = j;
        }
    }
    in->slots[i] = (struct slot){0};
}

int sr_intern_replace(struct sr_intern *in, uint32_t id, const char *s, size_t len)
{
    if (len == 0 || len > 255 || id >= in->count)
        return SR_EINVAL;
    uint64_t h = XXH3_64bits(s, len);
    uint32_t found = UINT32_MAX;
    probe(in, s, len, h, &found);
    if (found != UINT32_MAX)
        return found == id ? 0 : SR_EINVAL;
    unsigned char *old = *(unsigned char **)sr_chunked_at(&in->strs, id);
    size_t old_size = entry_size(old[0]);
    /* The new entry first: a failure must leave the old string in place. */
    unsigned char *e = old;
    if (old_size != entry_size(len) && !(e = arena_alloc(in, entry_size(len))))
        return SR_ENOMEM;
    uint32_t old_found = UINT32_MAX;
    size_t i = probe(in, (const char *)old + 1, old[0], XXH3_64bits(old + 1, old[0]), &old_found);
    slot_delete(in, i);
    if (e != old) { /* the old entry joins the free list of its class */
        unsigned char **fl = &in->free_list[old_size / ENTRY_ALIGN];
        memcpy(old, fl, sizeof *fl);
        *fl = old;
    }
    e[0] = (unsigned char)len;
    memcpy(e + 1, s, len);
    e[len + 1] = '\0';
    *(unsigned char **)sr_chunked_at(&in->strs, id) = e;
    i = probe(in, s, len, h, &found);
    in->slots[i].id1 = id + 1;
    in->slots[i].tag = (uint32_t)(h >> 32);
    in->slots[i].str = e;
    return 0;
}

int sr_intern_find(const struct sr_intern *in, const char *s, size_t len, uint32_t *id)
{
    if (len == 0 || len > 255)
        return SR_ENOENT;
    uint32_t found = UINT32_MAX;
    probe(in, s, len, XXH3_64bits(s, len), &found);
    if (found == UINT32_MAX)
        return SR_ENOENT;
    *id = found;
    return 0;
}

const char *sr_intern_str(const struct sr_intern *in, uint32_t id, size_t *len)
{
    const unsigned char *e = entry_of(in, id);
    if (len)
        *len = e[0];
    return (const char *)e + 1;
}

int sr_intern_save(const struct sr_intern *in, struct ck_buf *b)
{
    /* The arena's used bytes bound the payload (each entry is one byte
     * longer there: its NUL); fill that much and give back the rest. */
    size_t bound = in->n_blocks ? (in->n_blocks - 1) * (size_t)ARENA_BLOCK + in->block_used : 0;
    size_t start = b->len;
    unsigned char *p = ck_put_space(b, 4 + 8 + bound);
    if (!p)
        return SR_ENOMEM;
    unsigned char *q = p + 12;
    for (uint32_t id = 0; id < in->count; id++) {
        const unsigned char *e = entry_of(in, id);
        memcpy(q, e, (size_t)e[0] + 1);
        q += (size_t)e[0] + 1;
    }
    uint32_t count = in->count;
    uint64_t bytes = (uint64_t)(q - (p + 12));
    memcpy(p, &count, 4);
    memcpy(p + 4, &bytes, 8);
    b->len = start + 12 + (size_t)bytes;
    return 0;
}

int sr_intern_load(struct sr_intern *in, struct ck_rd *r)
{
    if (in->count != 0)
        return SR_EINVAL;
    uint32_t count = ck_get_u32(r);
    uint64_t bytes = ck_get_u64(r);
    /* Each id takes at least 2 bytes, so a count the payload cannot hold is
     * refused before anything is sized by it. */
    if (r->failed || bytes > ck_rd_left(r) || (uint64_t)count * 2 > bytes ||
        count >= UINT32_MAX - 1) {
        ck_rd_fail(r);
        return SR_ECORRUPT;
    }
    const unsigned char *p = ck_take(r, (size_t)bytes), *end = p + bytes;
    size_t want = pow2_at_least((size_t)count + (size_t)count / 3 + 1);
    if (want > in->mask + 1) {
        struct slot *ns = calloc(want, sizeof *ns);
        if (!ns)
            return SR_ENOMEM;
        free(in->slots);
        in->slots = ns;
        in->mask = want - 1;
    }
    int rc = sr_chunked_reserve(&in->strs, count);
    if (rc)
        return rc;
    for (uint32_t id = 0; id < count; id++) {
        size_t len = p < end ? *p : 0;
        if (len == 0 || len > (size_t)(end - p) - 1)
            goto corrupt;
        const char *s = (const char *)p + 1;
        uint64_t h = XXH3_64bits(s, len);
        uint32_t found = UINT32_MAX;
        size_t i = probe(in, s, len, h, &found);
        if (found != UINT32_MAX)
            goto corrupt; /* a repeated string */
        unsigned char *e = arena_alloc(in, entry_size(len));
        if (!e)
            return SR_ENOMEM;
        memcpy(e, p, len + 1);
        e[len + 1] = '\0';
        *(unsigned char **)sr_chunked_at(&in->strs, id) = e;
        in->slots[i].id1 = id + 1;
        in->slots[i].tag = (uint32_t)(h >> 32);
        in->slots[i].str = e;
        in->count = id + 1;
        p += len + 1;
    }
    if (p != end)
        goto corrupt;
    return 0;
corrupt:
    ck_rd_fail(r);
    return SR_ECORRUPT;
}

uint32_t sr_intern_count(const struct sr_intern *in)
{
    return in->count;
}

size_t sr_intern_bytes(const struct sr_intern *in)
{
    /* Count only what ids use: the arena's used bytes, not whole blocks. */
    size_t arena = in->n_blocks ? (in->n_blocks - 1) * (size_t)ARENA_BLOCK + in->block_used : 0;
    return (in->mask + 1) * sizeof(struct slot) + sr_chunked_bytes(&in->strs) + arena;
}
