/* tests/unit/test_ckpt.c - the checkpoint container (core/ckpt.h): round
 * trip, every kind of damage refused with its reason, directory order and
 * pruning. */
#include "core/ckpt.h"
#include "core/err.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/sr-ckpt-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A checkpoint with a small section and a big one (crosses the 64-byte
 * alignment and the buffer's first growth). */
static void write_sample(const char *name)
{
    struct ck_writer *w = ck_writer_new();
    struct ck_buf *a = ck_section(w, CK_SEC_META, "meta");
    struct ck_buf *b = ck_section(w, CK_SEC_MF_USERS, "mf_users");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_null(ck_section(w, CK_SEC_META, "again")); /* ids are unique */
    ck_put_str(a, "hello", 5);
    ck_put_u32(a, 7);
    ck_put_i64(a, -3);
    ck_put_f32(a, 1.5f);
    for (uint32_t i = 0; i < 5000; i++)
        ck_put_u32(b, i * 2654435761u);
    char err[256];
    ck_assert_int_eq(ck_write_file(w, dir, name, "123-456", 1700000000123LL, err, sizeof err), 0);
    ck_writer_free(w);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = malloc(*len);
    ck_assert_uint_eq(fread(d, 1, *len, f), *len);
    fclose(f);
    return d;
}

START_TEST(round_trip)
{
    write_sample("a.ckpt");
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/a.ckpt", dir);
    struct ck_file *f = ck_open(path, err, sizeof err);
    ck_assert_msg(f != NULL, "%s", err);
    ck_assert_uint_eq(ck_format(f), CK_FORMAT);
    ck_assert_str_eq(ck_model_version(f), "123-456");
    ck_assert_int_eq(ck_created_ms(f), 1700000000123LL);
    ck_assert_uint_eq(ck_n_sections(f), 2);
    struct ck_rd r;
    ck_assert_int_eq(ck_find(f, CK_SEC_META, &r), 0);
    uint32_t len;
    const char *s = ck_get_str(&r, &len);
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(memcmp(s, "hello", 5), 0);
    ck_assert_uint_eq(ck_get_u32(&r), 7);
    ck_assert_int_eq(ck_get_i64(&r), -3);
    ck_assert(ck_get_f32(&r) == 1.5f);
    ck_assert(ck_rd_ok(&r));
    ck_assert_int_eq(ck_find(f, CK_SEC_MF_USERS, &r), 0);
    for (uint32_t i = 0; i < 5000; i++)
        ck_assert_uint_eq(ck_get_u32(&r), i * 2654435761u);
    ck_assert(ck_rd_ok(&r));
    /* reading past the end fails and yields zeros */
    ck_assert_uint_eq(ck_get_u64(&r), 0);
    ck_assert(r.failed);
    ck_assert(!ck_rd_ok(&r));
    ck_assert_int_eq(ck_find(f, CK_SEC_FEAT_POP, &r), SR_ENOENT);
    struct ck_section_info info;
    ck_section_at(f, 1, &info);
    ck_assert_str_eq(info.name, "mf_users");
    ck_assert_uint_eq(info.length, 20000);
    ck_close(f);
    /* no temporary file is left behind */
    snprintf(path, sizeof path, "%s/a.ckpt.tmp", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

/* Opens data with byte at flips it, expects a refusal mentioning want. */
static void expect_refused(const char *data, size_t len, size_t at, size_t cut, const char *want)
{
    char *copy = malloc(len);
    memcpy(copy, data, len);
    if (at < len)
        copy[at] ^= 0x20;
    char err[256] = "";
    struct ck_file *f = ck_open_mem(copy, len - cut, "x.ckpt", err, sizeof err);
    ck_assert_msg(f == NULL, "damage at %zu (cut %zu) not detected", at, cut);
    ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s'", err, want);
    ck_assert_msg(strstr(err, "x.ckpt") != NULL, "'%s' does not name the file", err);
    free(copy);
}

START_TEST(damage_refused)
{
    write_sample("b.ckpt");
    char path[128];
    snprintf(path, sizeof path, "%s/b.ckpt", dir);
    size_t len;
    char *d = slurp(path, &len);
    char err[256];
    struct ck_file *ok = ck_open_mem(d, len, "x.ckpt", err, sizeof err);
    ck_assert_msg(ok != NULL, "%s", err); /* the control: undamaged opens */
    ck_close(ok);
    expect_refused(d, len, 0, 0, "bad magic");
    expect_refused(d, len, 30, 0, "header checksum");
    expect_refused(d, len, 96 + 20, 0, "table checksum");
    expect_refused(d, len, len - 100, 0, "section mf_users checksum");
    expect_refused(d, len, len, 1, "truncated");
    expect_refused(d, len, len, len - 50, "truncated");
    /* another format number, with a valid header checksum */
    uint32_t fmt = CK_FORMAT + 1;
    memcpy(d + 8, &fmt, 4);
    XXH64_hash_t h = XXH3_64bits(d, 88);
    memcpy(d + 88, &h, 8);
    struct ck_file *f = ck_open_mem(d, len, "x.ckpt", err, sizeof err);
    ck_assert_ptr_null(f);
    ck_assert_msg(strstr(err, "format 2") != NULL, "%s", err);
    free(d);
    /* a missing file names it */
    snprintf(path, sizeof path, "%s/none.ckpt", dir);
    ck_assert_ptr_null(ck_open(path, err, sizeof err));
    ck_assert_msg(strstr(err, "none.ckpt") != NULL, "%s", err);
}
END_TEST

START_TEST(directory_order_and_prune)
{
    char name[128];
    for (uint64_t seq = 1; seq <= 5; seq++) {
        ck_name(name, sizeof name, seq, 1000 + (int64_t)(6 - seq)); /* time not monotone */
        write_sample(name);
    }
    ck_assert_int_eq(ck_name_seq(name), 5);
    ck_assert_int_eq(ck_name_seq("ckpt-1-2.ckpt"), -1);
    ck_assert_int_eq(ck_name_seq("other"), -1);
    /* a stale temporary and an unrelated file */
    char path[256];
    snprintf(path, sizeof path, "%s/%s.tmp", dir, name);
    FILE *t = fopen(path, "w");
    fclose(t);
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    t = fopen(path, "w");
    fclose(t);

    char **names;
    size_t n;
    ck_assert_int_eq(ck_list(dir, &names, &n), 0);
    ck_assert_uint_eq(n, 5);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(ck_name_seq(names[i]), 5 - (int64_t)i); /* newest first */
    ck_names_free(names, n);

    ck_assert_int_eq(ck_prune(dir, 2), 4); /* three old ones and the .tmp */
    ck_assert_int_eq(ck_list(dir, &names, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(ck_name_seq(names[0]), 5);
    ck_assert_int_eq(ck_name_seq(names[1]), 4);
    ck_names_free(names, n);
    ck_assert_int_eq(access(path, F_OK), 0); /* notes.txt kept */

    ck_assert_int_eq(ck_list("/nonexistent/sr-ckpt", &names, &n), SR_ENOENT);
}
END_TEST

START_TEST(unwritable_directory)
{
    struct ck_writer *w = ck_writer_new();
    ck_put_u32(ck_section(w, CK_SEC_META, "meta"), 1);
    char err[256];
    int rc = ck_write_file(w, "/nonexistent/sr-ckpt", "c.ckpt", "v", 1, err, sizeof err);
    ck_assert_int_eq(rc, SR_EIO);
    ck_assert_msg(strstr(err, "c.ckpt.tmp") != NULL, "%s", err);
    ck_writer_free(w);
}
END_TEST

Suite *ckpt_suite(void)
{
    Suite *s = suite_create("ckpt");
    TCase *tc = tcase_create("container");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, damage_refused);
    tcase_add_test(tc, directory_order_and_prune);
    tcase_add_test(tc, unwritable_directory);
    suite_add_tcase(s, tc);
    return s;
}
