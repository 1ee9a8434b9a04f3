/* core/chunked.c - chunked arrays with stable element addresses. */
#include "core/chunked.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int sr_chunked_init(struct sr_chunked *c, size_t elem_size, unsigned chunk_bits)
{
    memset(c, 0, sizeof *c);
    c->elem_size = elem_size;
    c->chunk_bits = chunk_bits;
    c->chunks = calloc(SR_CHUNKED_MAX_CHUNKS, sizeof *c->chunks);
    return c->chunks ? 0 : SR_ENOMEM;
}

void sr_chunked_free(struct sr_chunked *c)
{
    if (!c || !c->chunks)
        return;
    for (size_t i = 0; i < c->n_chunks; i++)
        free(c->chunks[i]);
    free(c->chunks);
    c->chunks = NULL;
    c->n_chunks = 0;
}

int sr_chunked_reserve(struct sr_chunked *c, size_t n)
{
    size_t per = (size_t)1 << c->chunk_bits;
    while (sr_chunked_capacity(c) < n) {
        if (c->n_chunks >= SR_CHUNKED_MAX_CHUNKS)
            return SR_EFULL;
        /* Cache-line aligned, so that rows whose size is a multiple of 64
         * bytes never straddle an extra line (calloc gives 16). Chunks of
         * 2 MiB or more are aligned to 2 MiB and offered to transparent huge
         * pages: random row access then costs far fewer TLB misses. */
        size_t align = SR_CHUNKED_ALIGN;
        size_t bytes = per * c->elem_size;
        if (bytes >= SR_CHUNKED_HUGE)
            align = SR_CHUNKED_HUGE;
        bytes = (bytes + align - 1) & ~(align - 1);
        void *chunk = aligned_alloc(align, bytes);
        if (!chunk)
            return SR_ENOMEM;
        if (align == SR_CHUNKED_HUGE)
            (void)madvise(chunk, bytes, MADV_HUGEPAGE); /* a hint; failure is harmless */
        memset(chunk, 0, bytes);
        c->chunks[c->n_chunks++] = chunk;
    }
    return 0;
}

size_t sr_chunked_bytes(const struct sr_chunked *c)
{
    return (c->n_chunks << c->chunk_bits) * c->elem_size;
}
