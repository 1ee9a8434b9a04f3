/* core/intern.h - string id interning: opaque ids -> dense u32.
 *
 * User and item ids arrive as byte strings; the model indexes dense arrays by
 * u32. An intern table hands out 0, 1, 2, ... in order of first sight.
 * Strings are stored once in an arena of large blocks (no malloc per id) and
 * never move, so sr_intern_str() pointers stay valid until the id is given
 * another string (sr_intern_replace, which a capped user table uses to
 * recycle the ids of evicted users) or the table is freed; they may be read
 * by another thread for ids that were published to it and are not replaced
 * meanwhile. Lookups, inserts and replacements: owner thread only. */
#ifndef SR_INTERN_H
#define SR_INTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sr_intern;
struct ck_buf;
struct ck_rd;

/** Returns a new table sized for about cap_hint ids (0 for a default), or
 * NULL when out of memory. Free with sr_intern_free(). */
struct sr_intern *sr_intern_new(size_t cap_hint);
/** NULL-safe. */
void sr_intern_free(struct sr_intern *in);

/** Returns the id of s[0..len), adding it when new (*added = true).
 * len must be 1..255. Returns 0, SR_EINVAL (bad length), SR_ENOMEM or SR_EFULL. */
int sr_intern_add(struct sr_intern *in, const char *s, size_t len, uint32_t *id, bool *added);
/** Gives the existing id (< sr_intern_count) the string s[0..len) in place
 * of its current one, which is forgotten: looking the old string up then
 * fails, and the new one finds id. The old string's storage is reused
 * (in place, or later for a string of the same rounded size), so replacing
 * strings never grows memory beyond the peak of live strings per size.
 * Invalidates earlier sr_intern_str() pointers of id. Returns 0 (also when
 * id already has s), SR_EINVAL (bad length, id out of range, or s belongs to
 * another id) or SR_ENOMEM (nothing changed). */
int sr_intern_replace(struct sr_intern *in, uint32_t id, const char *s, size_t len);
/** Looks s up without adding; returns 0 or SR_ENOENT. */
int sr_intern_find(const struct sr_intern *in, const char *s, size_t len, uint32_t *id);
/** Borrowed NUL-terminated string of id (valid for the table's life); *len
 * gets its length when len is not NULL. id must be below sr_intern_count(). */
const char *sr_intern_str(const struct sr_intern *in, uint32_t id, size_t *len);
/** Number of ids handed out. */
uint32_t sr_intern_count(const struct sr_intern *in);
/** Appends the table to a checkpoint section (core/ckpt.h): u32 count, u64
 * byte length, then every id's string as [u8 len][bytes] in id order. One
 * pass over the ids, no allocation beyond b's growth. Returns 0 or
 * SR_ENOMEM (b failed to grow). */
int sr_intern_save(const struct sr_intern *in, struct ck_buf *b);
/** Reads what sr_intern_save wrote into in, which must be empty (fresh from
 * sr_intern_new): afterwards every id maps to the same string and looking
 * the strings up gives the same ids. The table is sized once for the count;
 * strings go to the arena (no malloc per id). Returns 0, SR_EINVAL (in not
 * empty), SR_ENOMEM, or SR_ECORRUPT (short payload, a length of 0, a
 * repeated string, byte counts that do not add up; r is marked failed).
 * On failure in holds a prefix of the ids and is only fit for
 * sr_intern_free(). */
int sr_intern_load(struct sr_intern *in, struct ck_rd *r);
/** Bytes held (hash table, arena, index), for memory reports. */
size_t sr_intern_bytes(const struct sr_intern *in);

#endif
