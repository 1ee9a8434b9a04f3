/* core/chunked.h - a growable array whose elements never move.
 *
 * Elements live in fixed-size chunks, so a pointer to an element stays valid
 * while the array grows: another thread may read elements that were
 * published to it while the owner appends more (DESIGN.md: shared tables are
 * never reallocated in place). Growth allocates whole chunks; the per-element
 * path never mallocs. Only the owner thread appends. */
#ifndef SR_CHUNKED_H
#define SR_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#define SR_CHUNKED_MAX_CHUNKS 65536
#define SR_CHUNKED_RETIRED    16         /* chunk tables outgrown (kept: see struct sr_chunked) */
#define SR_CHUNKED_ALIGN      64         /* every chunk starts on a cache line */
#define SR_CHUNKED_HUGE       (1u << 21) /* chunks this big use transparent huge pages */

struct sr_chunked {
    size_t elem_size;    /* bytes per element */
    unsigned chunk_bits; /* elements per chunk = 1 << chunk_bits */
    size_t n_chunks;     /* chunks allocated */
    void **chunks;       /* [cap_chunks] chunk table, owned; doubles as it fills */
    size_t cap_chunks;
    /* Outgrown tables stay allocated (and valid) until sr_chunked_free, so
     * a reader on another thread holding an old table pointer never reads
     * freed memory; doubling from 8 to SR_CHUNKED_MAX_CHUNKS retires at
     * most 13, less than half the final table's bytes. */
    void **retired[SR_CHUNKED_RETIRED];
    size_t n_retired;
};

/** Initializes an empty array; returns 0 or SR_ENOMEM. Chunks are zeroed and
 * SR_CHUNKED_ALIGN-aligned. */
int sr_chunked_init(struct sr_chunked *c, size_t elem_size, unsigned chunk_bits);
/** Frees every chunk; the struct can be initialized again. NULL-safe. */
void sr_chunked_free(struct sr_chunked *c);
/** Makes sure elements [0, n) exist (zero-filled when new); 0, SR_ENOMEM or SR_EFULL. */
int sr_chunked_reserve(struct sr_chunked *c, size_t n);
/** Elements that exist without further allocation. */
static inline size_t sr_chunked_capacity(const struct sr_chunked *c)
{
    return c->n_chunks << c->chunk_bits;
}
/** Pointer to element i; i must be below the capacity. */
static inline void *sr_chunked_at(const struct sr_chunked *c, size_t i)
{
    return (char *)c->chunks[i >> c->chunk_bits] +
           (i & (((size_t)1 << c->chunk_bits) - 1)) * c->elem_size;
}
/** Bytes held by the chunks (for memory reports). */
size_t sr_chunked_bytes(const struct sr_chunked *c);

#endif
