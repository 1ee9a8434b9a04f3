/* ingest/reader.h - a line reader over gzip or plain files.
 *
 * zlib's gzread() handles gzip and uncompressed files alike (decided by
 * content). The reader pulls big blocks into one buffer allocated at open
 * and splits lines with memchr(): no allocation per line. A line is handed
 * out without its "\n" (and without a trailing "\r"), borrowed from the
 * buffer until the next reader_next(). The benchmark's raw read rate
 * ("decompress + split, nothing else") is this reader alone.
 *
 *     struct reader *r = reader_open(path, err, sizeof err);
 *     while ((rc = reader_next(r, &line, &len)) != SR_EEOF) ...
 *     reader_close(r);
 *
 * Also here: reader_fopen(), a stdio stream over a gzip-or-plain file, for
 * libraries that want a FILE * (Avro C's file reader). */
#ifndef SR_READER_H
#define SR_READER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define READER_BLOCK    (256u * 1024u) /* bytes decompressed per gzread() */
#define READER_MAX_LINE (64u * 1024u)  /* longer lines are skipped, see reader_next() */

struct reader;

/** Opens path for reading. Returns a new reader (free with reader_close()),
 * or NULL with a one-line reason in errbuf. */
struct reader *reader_open(const char *path, char *errbuf, size_t errlen);
/** Next line: 0 with *line and *len set (borrowed, valid until the next call;
 * the bytes may be modified in place by the caller), SR_ERANGE when the
 * line was longer than READER_MAX_LINE (it was skipped; *line and *len hold its
 * first bytes), SR_EEOF at the end, SR_EIO on a read or gzip error
 * (reader_error() says what). The last line needs no "\n". */
int reader_next(struct reader *r, char **line, size_t *len);
/** Number of the line last handed out, 1-based. */
uint64_t reader_line_no(const struct reader *r);
/** Uncompressed bytes read so far. */
uint64_t reader_bytes(const struct reader *r);
/** Last error message, "" when none. */
const char *reader_error(const struct reader *r);
/** NULL-safe. */
void reader_close(struct reader *r);

/** Opens path as a read-only stdio stream of its uncompressed bytes (gzip or
 * plain). *bytes (may be NULL; borrowed, must outlive the stream) is
 * increased by every byte read. Returns a new stream (fclose() it) or NULL
 * with a reason in errbuf. */
FILE *reader_fopen(const char *path, uint64_t *bytes, char *errbuf, size_t errlen);

#endif
