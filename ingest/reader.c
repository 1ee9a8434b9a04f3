/* ingest/reader.c - block reads through zlib, lines split with memchr. */
#include "ingest/reader.h"
#include "core/err.h"

#include <errno.h>
#include <stdio.h>
#include <sys/types.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define REPORT_PREFIX 64 /* bytes of an over-long line kept for the report */

struct reader {
    gzFile gz;
    char *buf;     /* [READER_BLOCK + READER_MAX_LINE] */
    size_t cap;    /* bytes in buf */
    size_t start;  /* first byte not yet handed out */
    size_t end;    /* one past the last byte read */
    bool eof;      /* gzread() returned 0 */
    bool skipping; /* inside an over-long line: drop bytes up to the next "\n" */
    uint64_t line_no;
    uint64_t bytes;
    char err[256];
};

static int gz_open_checked(const char *path, gzFile *out, char *errbuf, size_t errlen)
{
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return sr_seterr(errbuf, errlen, errno == ENOENT ? SR_ENOENT : SR_EIO, "cannot open %s: %s",
                         path, errno ? strerror(errno) : "out of memory");
    gzbuffer(gz, READER_BLOCK);
    *out = gz;
    return 0;
}

struct reader *reader_open(const char *path, char *errbuf, size_t errlen)
{
    struct reader *r = calloc(1, sizeof *r);
    if (!r) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory opening %s", path);
        return NULL;
    }
    r->cap = READER_BLOCK + READER_MAX_LINE;
    r->buf = malloc(r->cap);
    if (!r->buf) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory opening %s", path);
        goto err_free_reader;
    }
    if (gz_open_checked(path, &r->gz, errbuf, errlen) != 0)
        goto err_free_buf;
    return r;

err_free_buf:
    free(r->buf);
err_free_reader:
    free(r);
    return NULL;
}

/* Moves the unread tail to the front and reads one more block. Returns 0
 * (possibly setting eof) or SR_EIO. */
static int fill(struct reader *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    size_t room = r->cap - r->end;
    if (room > READER_BLOCK)
        room = READER_BLOCK;
    int n = gzread(r->gz, r->buf + r->end, (unsigned)room);
    if (n < 0) {
        int zerr;
        const char *msg = gzerror(r->gz, &zerr);
        snprintf(r->err, sizeof r->err, "read error: %s", zerr == Z_ERRNO ? strerror(errno) : msg);
        return SR_EIO;
    }
    if (n == 0) {
        /* gzread() returns 0 with an error set for a truncated gzip stream. */
        int zerr;
        const char *msg = gzerror(r->gz, &zerr);
        if (zerr != Z_OK && zerr != Z_STREAM_END) {
            snprintf(r->err, sizeof r->err, "read error: %s", msg);
            return SR_EIO;
        }
        r->eof = true;
    }
    r->end += (size_t)n;
    r->bytes += (uint64_t)n;
    return 0;
}

static void strip_cr(char *line, size_t *len)
{
    if (*len > 0 && line[*len - 1] == '\r')
        (*len)--;
}

int reader_next(struct reader *r, char **line, size_t *len)
{
    for (;;) {
        char *p = r->buf + r->start;
        size_t avail = r->end - r->start;
        char *nl = avail ? memchr(p, '\n', avail) : NULL;
        if (nl || (r->eof && (avail > 0 || r->skipping))) {
            size_t l = nl ? (size_t)(nl - p) : avail;
            r->start += nl ? l + 1 : l;
            r->line_no++;
            *line = p;
            *len = l;
            if (r->skipping || l > READER_MAX_LINE) {
                r->skipping = false;
                *len = l < REPORT_PREFIX ? l : REPORT_PREFIX;
                return SR_ERANGE;
            }
            strip_cr(p, len);
            return 0;
        }
        if (r->eof)
            return SR_EEOF;
        if (r->skipping) {
            r->end = r->start + REPORT_PREFIX; /* drop what came after the kept prefix */
        } else if (avail >= READER_MAX_LINE) {
            /* Too long: keep its first bytes for the report, drop the rest
             * up to the next "\n". */
            memmove(r->buf, p, REPORT_PREFIX);
            r->start = 0;
            r->end = REPORT_PREFIX;
            r->skipping = true;
        }
        int rc = fill(r);
        if (rc)
            return rc;
    }
}

uint64_t reader_line_no(const struct reader *r)
{
    return r->line_no;
}

uint64_t reader_bytes(const struct reader *r)
{
    return r->bytes;
}

const char *reader_error(const struct reader *r)
{
    return r->err;
}

void reader_close(struct reader *r)
{
    if (!r)
        return;
    if (r->gz)
        gzclose(r->gz);
    free(r->buf);
    free(r);
}

/* reader_fopen(): a fopencookie() stream whose reads go through gzread(). */
struct gz_cookie {
    gzFile gz;
    uint64_t *bytes;
};

static ssize_t gz_cookie_read(void *c, char *buf, size_t size)
{
    struct gz_cookie *k = c;
    if (size > READER_BLOCK)
        size = READER_BLOCK;
    int n = gzread(k->gz, buf, (unsigned)size);
    if (n < 0)
        return -1;
    if (n == 0) {
        int zerr;
        gzerror(k->gz, &zerr);
        if (zerr != Z_OK && zerr != Z_STREAM_END)
            return -1; /* truncated gzip stream */
    }
    if (k->bytes)
        *k->bytes += (uint64_t)n;
    return n;
}

static int gz_cookie_close(void *c)
{
    struct gz_cookie *k = c;
    int rc = gzclose(k->gz);
    free(k);
    return rc == Z_OK ? 0 : EOF;
}

FILE *reader_fopen(const char *path, uint64_t *bytes, char *errbuf, size_t errlen)
{
    struct gz_cookie *k = calloc(1, sizeof *k);
    if (!k) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory opening %s", path);
        return NULL;
    }
    k->bytes = bytes;
    if (gz_open_checked(path, &k->gz, errbuf, errlen) != 0)
        goto err_free_cookie;
    cookie_io_functions_t io = {.read = gz_cookie_read, .close = gz_cookie_close};
    FILE *f = fopencookie(k, "r", io);
    if (!f) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "cannot open a stream on %s", path);
        goto err_close_gz;
    }
    return f;

err_close_gz:
    gzclose(k->gz);
err_free_cookie:
    free(k);
    return NULL;
}
