/* core/chunked.c - chunked arrays with stable element addresses.
 *
 * Small chunks come from aligned_alloc() and are zeroed with memset. Chunks
 * of MAP_MIN bytes or more are mapped directly (mmap: page-aligned, and
 * from SR_CHUNKED_HUGE bytes 2 MiB-aligned and offered to transparent huge
 * pages): fresh anonymous pages are zero already, so the kernel zeroes each
 * page once, when it is first touched, instead of a memset faulting every
 * page in up front and the owner then writing it again (the model's rows
 * are all written by their initialiser), and the untouched tail of a
 * half-used chunk costs no memory. */
#include "core/chunked.h"
#include "core/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MAP_MIN ((size_t)1 << 16) /* chunks this big are mmap'd */

/* Bytes of one chunk as allocated: rounded up to its alignment. */
static size_t chunk_bytes(const struct sr_chunked *c, size_t *align)
{
    size_t bytes = ((size_t)1 << c->chunk_bits) * c->elem_size;
    *align = bytes >= SR_CHUNKED_HUGE ? SR_CHUNKED_HUGE
             : bytes >= MAP_MIN       ? MAP_MIN
                                      : SR_CHUNKED_ALIGN;
    return (bytes + *align - 1) & ~(*align - 1);
}

/* A zero-filled mapping of bytes (a multiple of MAP_MIN), or NULL; from
 * SR_CHUNKED_HUGE bytes aligned to it and offered to huge pages. */
static void *map_chunk(size_t bytes)
{
    if (bytes < SR_CHUNKED_HUGE) {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    size_t span = bytes + SR_CHUNKED_HUGE;
    char *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uintptr_t start = ((uintptr_t)p + SR_CHUNKED_HUGE - 1) & ~(uintptr_t)(SR_CHUNKED_HUGE - 1);
    size_t head = start - (uintptr_t)p, tail = span - head - bytes;
    if (head)
        munmap(p, head);
    if (tail)
        munmap((char *)start + bytes, tail);
    (void)madvise((void *)start, bytes, MADV_HUGEPAGE); /* a hint; failure is harmless */
    return (void *)start;
}

int sr_chunked_init(struct sr_chunked *c, size_t elem_size, unsigned chunk_bits)
{
    memset(c, 0, sizeof *c);
    c->elem_size = elem_size;
    c->chunk_bits = chunk_bits;
    return 0; /* the chunk table comes with the first chunk */
}

void sr_chunked_free(struct sr_chunked *c)
{
    if (!c)
        return;
    size_t align;
    size_t bytes = chunk_bytes(c, &align);
    for (size_t i = 0; i < c->n_chunks; i++) {
        if (align >= MAP_MIN)
            munmap(c->chunks[i], bytes);
        else
            free(c->chunks[i]);
    }
    free(c->chunks);
    for (size_t i = 0; i < c->n_retired; i++)
        free(c->retired[i]);
    c->chunks = NULL;
    c->n_chunks = c->cap_chunks = c->n_retired = 0;
}

/* Room for one more chunk pointer: a table twice the size, the old one
 * retired (not freed: see struct sr_chunked). */
static int grow_table(struct sr_chunked *c)
{
    size_t cap = c->cap_chunks ? 2 * c->cap_chunks : 8;
    if (cap > SR_CHUNKED_MAX_CHUNKS || (c->chunks && c->n_retired == SR_CHUNKED_RETIRED))
        return SR_EFULL;
    void **t = calloc(cap, sizeof *t);
    if (!t)
        return SR_ENOMEM;
    if (c->chunks) {
        memcpy(t, c->chunks, c->n_chunks * sizeof *t);
        c->retired[c->n_retired++] = c->chunks;
    }
    c->chunks = t;
    c->cap_chunks = cap;
    return 0;
}

int sr_chunked_reserve(struct sr_chunked *c, size_t n)
{
    while (sr_chunked_capacity(c) < n) {
        if (c->n_chunks >= SR_CHUNKED_MAX_CHUNKS)
            return SR_EFULL;
        int rc;
        if (c->n_chunks == c->cap_chunks && (rc = grow_table(c)) != 0)
            return rc;
        /* Cache-line aligned, so that rows whose size is a multiple of 64
         * bytes never straddle an extra line (calloc gives 16). Chunks of
         * 2 MiB or more are aligned to 2 MiB and offered to transparent huge
         * pages: random row access then costs far fewer TLB misses. */
        size_t align;
        size_t bytes = chunk_bytes(c, &align);
        void *chunk;
        if (align >= MAP_MIN) {
            chunk = map_chunk(bytes);
        } else {
            chunk = aligned_alloc(align, bytes);
            if (chunk)
                memset(chunk, 0, bytes);
        }
        if (!chunk)
            return SR_ENOMEM;
        c->chunks[c->n_chunks++] = chunk;
    }
    return 0;
}

size_t sr_chunked_bytes(const struct sr_chunked *c)
{
    return (c->n_chunks << c->chunk_bits) * c->elem_size;
}
