/* core/ckpt.c - checkpoint container files (core/ckpt.h). */
#include "core/ckpt.h"
#include "core/err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "checkpoints assume a little-endian host");

#define HEADER_BYTES 96
#define ENTRY_BYTES  48
#define ALIGN        64
#define MAX_SECTIONS 256

/* ---- buffers ------------------------------------------------------------ */

void *ck_put_space(struct ck_buf *b, size_t n)
{
    if (b->failed)
        return NULL;
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap < b->len + n)
            ncap *= 2;
        unsigned char *nd = realloc(b->data, ncap);
        if (!nd) {
            b->failed = true;
            return NULL;
        }
        b->data = nd;
        b->cap = ncap;
    }
    void *p = b->data + b->len;
    b->len += n;
    return p;
}

void ck_put(struct ck_buf *b, const void *p, size_t n)
{
    void *dst = ck_put_space(b, n);
    if (dst && n)
        memcpy(dst, p, n);
}

void ck_put_str(struct ck_buf *b, const char *s, size_t len)
{
    ck_put_u32(b, (uint32_t)len);
    ck_put(b, s, len);
}

void ck_get(struct ck_rd *r, void *out, size_t n)
{
    const void *p = ck_take(r, n);
    if (p)
        memcpy(out, p, n);
    else
        memset(out, 0, n);
}

const void *ck_take(struct ck_rd *r, size_t n)
{
    if (r->failed || (size_t)(r->end - r->p) < n) {
        r->failed = true;
        return NULL;
    }
    const void *p = r->p;
    r->p += n;
    return p;
}

const char *ck_get_str(struct ck_rd *r, uint32_t *len)
{
    *len = ck_get_u32(r);
    const char *s = ck_take(r, *len);
    if (!s)
        *len = 0;
    return s;
}

/* ---- writer ------------------------------------------------------------- */

struct ck_wsec {
    uint32_t id;
    char name[CK_NAME_MAX + 1];
    struct ck_buf buf;
};

struct ck_writer {
    struct ck_wsec *sec; /* [MAX_SECTIONS] */
    size_t n;
};

struct ck_writer *ck_writer_new(void)
{
    struct ck_writer *w = calloc(1, sizeof *w);
    if (w && !(w->sec = calloc(MAX_SECTIONS, sizeof *w->sec))) {
        free(w);
        return NULL;
    }
    return w;
}

void ck_writer_free(struct ck_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        free(w->sec[i].buf.data);
    free(w->sec);
    free(w);
}

struct ck_buf *ck_section(struct ck_writer *w, uint32_t id, const char *name)
{
    if (w->n == MAX_SECTIONS)
        return NULL;
    for (size_t i = 0; i < w->n; i++)
        if (w->sec[i].id == id)
            return NULL;
    struct ck_wsec *s = &w->sec[w->n++];
    memset(s, 0, sizeof *s);
    s->id = id;
    snprintf(s->name, sizeof s->name, "%s", name);
    return &s->buf;
}

size_t ck_writer_bytes(const struct ck_writer *w)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n; i++)
        n += w->sec[i].buf.len;
    return n;
}

static void le32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void le64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static size_t align_up(size_t n)
{
    return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int ck_write_file(const struct ck_writer *w, const char *dir, const char *name,
                  const char *model_version, int64_t created_ms, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->sec[i].buf.failed)
            return sr_seterr(errbuf, errlen, SR_ENOMEM, "checkpoint section %s: out of memory",
                             w->sec[i].name);
    /* header + table + table checksum, then payloads on ALIGN boundaries */
    size_t meta = HEADER_BYTES + w->n * ENTRY_BYTES + 8;
    unsigned char *head = calloc(1, align_up(meta));
    if (!head)
        return sr_seterr(errbuf, errlen, SR_ENOMEM, "checkpoint: out of memory");
    memcpy(head, CK_MAGIC, 8);
    le32(head + 8, CK_FORMAT);
    le32(head + 12, (uint32_t)w->n);
    le64(head + 16, (uint64_t)created_ms);
    snprintf((char *)head + 24, CK_VERSION_MAX + 1, "%s", model_version ? model_version : "");
    le64(head + 88, XXH3_64bits(head, 88));
    size_t off = align_up(meta);
    unsigned char *t = head + HEADER_BYTES;
    for (size_t i = 0; i < w->n; i++, t += ENTRY_BYTES) {
        const struct ck_wsec *s = &w->sec[i];
        le32(t, s->id);
        le32(t + 4, 0);
        le64(t + 8, off);
        le64(t + 16, s->buf.len);
        le64(t + 24, XXH3_64bits(s->buf.data, s->buf.len));
        memcpy(t + 32, s->name, strlen(s->name));
        off = align_up(off + s->buf.len);
    }
    le64(t, XXH3_64bits(head + HEADER_BYTES, w->n * ENTRY_BYTES));

    char path[4096], tmp[4096 + 8];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const char *what = "open";
    if (fd < 0)
        goto fail;
    static const unsigned char zeros[ALIGN];
    what = "write";
    if (write_all(fd, head, align_up(meta)) != 0)
        goto fail;
    for (size_t i = 0; i < w->n; i++) {
        const struct ck_buf *b = &w->sec[i].buf;
        size_t pad = i + 1 < w->n ? align_up(b->len) - b->len : 0; /* none at the end */
        if (write_all(fd, b->data, b->len) != 0 || write_all(fd, zeros, pad) != 0)
            goto fail;
    }
    what = "fsync";
    if (fsync(fd) != 0)
        goto fail;
    what = "close";
    int crc = close(fd);
    fd = -1;
    if (crc != 0)
        goto fail;
    what = "rename";
    if (rename(tmp, path) != 0)
        goto fail;
    free(head);
    if (fsync_dir(dir) != 0)
        return sr_seterr(errbuf, errlen, SR_EIO, "checkpoint %s: fsync of the directory: %s", path,
                         strerror(errno));
    return 0;

fail:;
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(head);
    return sr_seterr(errbuf, errlen, SR_EIO, "checkpoint %s: %s: %s", tmp, what, strerror(e));
}

/* ---- reader ------------------------------------------------------------- */

struct ck_file {
    unsigned char *data; /* [len], owned */
    size_t len;
    uint32_t format;
    char version[CK_VERSION_MAX + 1];
    int64_t created_ms;
    size_t n;
    struct ck_section_info *info; /* [n] */
    uint64_t *offset;             /* [n] */
};

static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Parses and verifies f->data; 0 or SR_ECORRUPT with the reason. */
static int parse(struct ck_file *f, const char *name, char *errbuf, size_t errlen)
{
    const unsigned char *d = f->data;
    if (f->len < HEADER_BYTES + 8)
        return sr_seterr(errbuf, errlen, SR_ECORRUPT, "%s: truncated (%zu bytes, no header)", name,
                         f->len);
    if (memcmp(d, CK_MAGIC, 8) != 0)
        return sr_seterr(errbuf, errlen, SR_ECORRUPT, "%s: not a streamrec checkpoint (bad magic)",
                         name);
    if (rd64(d + 88) != XXH3_64bits(d, 88))
        return sr_seterr(errbuf, errlen, SR_ECORRUPT, "%s: header checksum mismatch", name);
    f->format = rd32(d + 8);
    if (f->format != CK_FORMAT)
        return sr_seterr(errbuf, errlen, SR_EUNSUPPORTED,
                         "%s: checkpoint format %" PRIu32 ", this build reads format %d", name,
                         f->format, CK_FORMAT);
    f->n = rd32(d + 12);
    f->created_ms = (int64_t)rd64(d + 16);
    memcpy(f->version, d + 24, CK_VERSION_MAX);
    f->version[CK_VERSION_MAX] = '\0';
    if (f->n > MAX_SECTIONS || f->len < HEADER_BYTES + f->n * ENTRY_BYTES + 8)
        return sr_seterr(errbuf, errlen, SR_ECORRUPT, "%s: truncated (section table)", name);
    const unsigned char *t = d + HEADER_BYTES;
    if (rd64(t + f->n * ENTRY_BYTES) != XXH3_64bits(t, f->n * ENTRY_BYTES))
        return sr_seterr(errbuf, errlen, SR_ECORRUPT, "%s: section table checksum mismatch", name);
    f->info = calloc(f->n ? f->n : 1, sizeof *f->info);
    f->offset = calloc(f->n ? f->n : 1, sizeof *f->offset);
    if (!f->info || !f->offset)
        return sr_seterr(errbuf, errlen, SR_ENOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < f->n; i++, t += ENTRY_BYTES) {
        struct ck_section_info *s = &f->info[i];
        s->id = rd32(t);
        memcpy(s->name, t + 32, CK_NAME_MAX);
        s->name[CK_NAME_MAX] = '\0';
        f->offset[i] = rd64(t + 8);
        s->length = rd64(t + 16);
        s->xxh64 = rd64(t + 24);
        if (f->offset[i] > f->len || s->length > f->len - f->offset[i])
            return sr_seterr(errbuf, errlen, SR_ECORRUPT,
                             "%s: truncated (section %s needs %" PRIu64 " bytes at %" PRIu64
                             ", the file has %zu)",
                             name, s->name, s->length, f->offset[i], f->len);
        if (XXH3_64bits(d + f->offset[i], s->length) != s->xxh64)
            return sr_seterr(errbuf, errlen, SR_ECORRUPT, "%s: section %s checksum mismatch", name,
                             s->name);
    }
    return 0;
}

struct ck_file *ck_open_mem(const void *data, size_t len, const char *name, char *errbuf,
                            size_t errlen)
{
    struct ck_file *f = calloc(1, sizeof *f);
    if (!f || !(f->data = malloc(len ? len : 1))) {
        free(f);
        sr_seterr(errbuf, errlen, SR_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    memcpy(f->data, data, len);
    f->len = len;
    if (parse(f, name, errbuf, errlen) != 0) {
        ck_close(f);
        return NULL;
    }
    return f;
}

struct ck_file *ck_open(const char *path, char *errbuf, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        sr_seterr(errbuf, errlen, SR_ENOENT, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct ck_file *f = calloc(1, sizeof *f);
    size_t len = (size_t)sb.st_size;
    if (!f || !(f->data = malloc(len ? len : 1))) {
        close(fd);
        free(f);
        sr_seterr(errbuf, errlen, SR_ENOMEM, "%s: out of memory (%zu bytes)", path, len);
        return NULL;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t k = read(fd, f->data + got, len - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    f->len = got;
    if (parse(f, path, errbuf, errlen) != 0) {
        ck_close(f);
        return NULL;
    }
    return f;
}

void ck_close(struct ck_file *f)
{
    if (!f)
        return;
    free(f->data);
    free(f->info);
    free(f->offset);
    free(f);
}

uint32_t ck_format(const struct ck_file *f)
{
    return f->format;
}

const char *ck_model_version(const struct ck_file *f)
{
    return f->version;
}

int64_t ck_created_ms(const struct ck_file *f)
{
    return f->created_ms;
}

size_t ck_file_bytes(const struct ck_file *f)
{
    return f->len;
}

size_t ck_n_sections(const struct ck_file *f)
{
    return f->n;
}

void ck_section_at(const struct ck_file *f, size_t i, struct ck_section_info *out)
{
    *out = f->info[i];
}

int ck_find(const struct ck_file *f, uint32_t id, struct ck_rd *out)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->info[i].id == id) {
            out->p = f->data + f->offset[i];
            out->end = out->p + f->info[i].length;
            out->failed = false;
            return 0;
        }
    out->p = out->end = NULL;
    out->failed = true;
    return SR_ENOENT;
}

/* ---- directory ---------------------------------------------------------- */

void ck_name(char *out, size_t len, uint64_t seq, int64_t created_ms)
{
    snprintf(out, len, "ckpt-%020" PRIu64 "-%" PRId64 CK_SUFFIX, seq, created_ms);
}

int64_t ck_name_seq(const char *name)
{
    size_t n = strlen(name), sl = strlen(CK_SUFFIX);
    if (strncmp(name, "ckpt-", 5) != 0 || n < 5 + 20 + 1 + sl || name[25] != '-' ||
        strcmp(name + n - sl, CK_SUFFIX) != 0)
        return -1;
    int64_t seq = 0;
    for (int i = 5; i < 25; i++) {
        if (name[i] < '0' || name[i] > '9' || seq > (INT64_MAX - 9) / 10)
            return -1;
        seq = seq * 10 + (name[i] - '0');
    }
    return seq;
}

static int cmp_desc(const void *a, const void *b)
{
    return strcmp(*(char *const *)b, *(char *const *)a);
}

void ck_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int ck_list(const char *dir, char ***names_out, size_t *n_out)
{
    *names_out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? SR_ENOENT : SR_EIO;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (ck_name_seq(e->d_name) < 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (!nn) {
                rc = SR_ENOMEM;
                break;
            }
            names = nn;
            cap = ncap;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = SR_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc) {
        ck_names_free(names, n);
        return rc;
    }
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_desc);
    *names_out = names;
    *n_out = n;
    return 0;
}

int ck_prune(const char *dir, size_t keep)
{
    char **names;
    size_t n;
    int rc = ck_list(dir, &names, &n);
    if (rc)
        return rc;
    int removed = 0;
    char path[4096];
    for (size_t i = keep; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (unlink(path) == 0)
            removed++;
    }
    ck_names_free(names, n);
    /* .tmp files are left by a crash during a write: never valid. */
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        size_t sl = strlen(CK_SUFFIX ".tmp");
        while ((e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            if (strncmp(e->d_name, "ckpt-", 5) == 0 && len > sl &&
                strcmp(e->d_name + len - sl, CK_SUFFIX ".tmp") == 0) {
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                if (unlink(path) == 0)
                    removed++;
            }
        }
        closedir(d);
    }
    return removed;
}
