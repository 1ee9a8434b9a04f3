/* tests/unit/test_core.c - core/: errors, config table, interning, time. */
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "core/intern.h"
#include "core/time.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(test_defaults_parse)
{
    /* Every default in the table must be a valid value of its own row. */
    size_t n;
    const struct sr_cfg_key *keys = sr_config_keys(&n);
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    char err[512];
    for (size_t i = 0; i < n; i++) {
        int rc = sr_config_set(&cfg, keys[i].section, keys[i].key, keys[i].def, err, sizeof err);
        ck_assert_msg(rc == 0, "default of %s.%s: %s", keys[i].section, keys[i].key, err);
    }
    ck_assert_int_eq(sr_config_validate(&cfg, err, sizeof err), 0);
    ck_assert_int_eq(cfg.learner.k, 32);
    ck_assert_int_eq(cfg.features.session_gap_ms, 30 * 60 * 1000);
}
END_TEST

START_TEST(test_override_and_errors)
{
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    char err[1024];
    ck_assert_int_eq(sr_config_override(&cfg, "learner.k=64", err, sizeof err), 0);
    ck_assert_int_eq(cfg.learner.k, 64);
    ck_assert_int_eq(sr_config_override(&cfg, "learner.loss=logistic", err, sizeof err), 0);
    ck_assert_int_eq(cfg.learner.loss, SR_LOSS_LOGISTIC);
    ck_assert_int_eq(sr_config_override(&cfg, "features.weight.view=0", err, sizeof err), 0);
    ck_assert(cfg.features.weight[SR_VIEW] == 0.0);

    /* A bad value names the key and the allowed values. */
    ck_assert_int_eq(sr_config_override(&cfg, "learner.loss=hinge", err, sizeof err), SR_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "learner.loss"));
    ck_assert_ptr_nonnull(strstr(err, "bpr|logistic"));
    ck_assert_int_eq(sr_config_override(&cfg, "learner.k=0", err, sizeof err), SR_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "from 1 to 512"));
    /* An unknown key names itself and lists the section's keys. */
    ck_assert_int_eq(sr_config_override(&cfg, "learner.kk=3", err, sizeof err), SR_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "learner.kk"));
    ck_assert_ptr_nonnull(strstr(err, "negatives"));
    ck_assert_int_eq(sr_config_override(&cfg, "nosuch.k=3", err, sizeof err), SR_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "sections"));
    ck_assert_int_eq(sr_config_override(&cfg, "garbage", err, sizeof err), SR_ECONFIG);
    /* Values are unchanged by failed sets. */
    ck_assert_int_eq(cfg.learner.k, 64);
}
END_TEST

START_TEST(test_ini_file)
{
    char path[] = "/tmp/sr_cfg_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "; comment\n[learner]\nk = 16\nseed = 7\n[features]\nsession_gap = 10m\n"
               "[kafka]\nbootstrap.servers = localhost:9092\n");
    fclose(f);
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    char err[1024];
    ck_assert_int_eq(sr_config_load_file(&cfg, path, err, sizeof err), 0);
    ck_assert_int_eq(cfg.learner.k, 16);
    ck_assert_int_eq(cfg.learner.seed, 7);
    ck_assert_int_eq(cfg.features.session_gap_ms, 600000);
    ck_assert_uint_eq(cfg.n_kafka, 1);
    ck_assert_str_eq(cfg.kafka[0].key, "bootstrap.servers");
    ck_assert_str_eq(cfg.kafka[0].value, "localhost:9092");

    f = fopen(path, "w");
    fprintf(f, "[learner]\nk = 16\nnegs = 3\n");
    fclose(f);
    ck_assert_int_eq(sr_config_load_file(&cfg, path, err, sizeof err), SR_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, ":3:"));
    ck_assert_ptr_nonnull(strstr(err, "learner.negs"));
    unlink(path);
    ck_assert_int_eq(sr_config_load_file(&cfg, path, err, sizeof err), SR_ENOENT);
}
END_TEST

START_TEST(test_validate_pop_window)
{
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    char err[1024];
    ck_assert_int_eq(sr_config_override(&cfg, "eval.pop_window=2h", err, sizeof err), 0);
    ck_assert_int_eq(sr_config_validate(&cfg, err, sizeof err), SR_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "eval.pop_window"));
    ck_assert_int_eq(sr_config_override(&cfg, "features.pop_windows=2h,24h", err, sizeof err), 0);
    ck_assert_int_eq(sr_config_validate(&cfg, err, sizeof err), 0);
}
END_TEST

START_TEST(test_intern)
{
    struct sr_intern *in = sr_intern_new(0);
    ck_assert_ptr_nonnull(in);
    char buf[32];
    const int n = 200000; /* forces several table growths */
    for (int i = 0; i < n; i++) {
        int len = snprintf(buf, sizeof buf, "user-%d", i);
        uint32_t id;
        bool added;
        ck_assert_int_eq(sr_intern_add(in, buf, (size_t)len, &id, &added), 0);
        ck_assert(added);
        ck_assert_uint_eq(id, (uint32_t)i);
    }
    const char *s0 = sr_intern_str(in, 0, NULL);
    for (int i = n - 1; i >= 0; i -= 7) {
        int len = snprintf(buf, sizeof buf, "user-%d", i);
        uint32_t id;
        bool added = true;
        ck_assert_int_eq(sr_intern_add(in, buf, (size_t)len, &id, &added), 0);
        ck_assert(!added);
        ck_assert_uint_eq(id, (uint32_t)i);
        size_t sl;
        ck_assert_str_eq(sr_intern_str(in, id, &sl), buf);
        ck_assert_uint_eq(sl, (size_t)len);
    }
    /* Strings never move. */
    ck_assert_ptr_eq(sr_intern_str(in, 0, NULL), s0);
    uint32_t id;
    ck_assert_int_eq(sr_intern_find(in, "nope", 4, &id), SR_ENOENT);
    ck_assert_int_eq(sr_intern_find(in, "user-5", 6, &id), 0);
    ck_assert_uint_eq(id, 5);
    ck_assert_int_eq(sr_intern_add(in, "", 0, &id, NULL), SR_EINVAL);
    ck_assert_uint_eq(sr_intern_count(in), (uint32_t)n);
    /* Table, index and arena stay within 80 bytes per short id, even right
     * after a growth leaves the table at 3/8 load. */
    ck_assert_uint_lt(sr_intern_bytes(in) / (size_t)n, 80);
    sr_intern_free(in);
    sr_intern_free(NULL);
}
END_TEST

START_TEST(test_durations_and_types)
{
    int64_t ms;
    ck_assert_int_eq(sr_parse_duration_ms("250ms", &ms), 0);
    ck_assert_int_eq(ms, 250);
    ck_assert_int_eq(sr_parse_duration_ms("1.5h", &ms), 0);
    ck_assert_int_eq(ms, 5400000);
    ck_assert_int_eq(sr_parse_duration_ms("30", &ms), 0);
    ck_assert_int_eq(ms, 30000);
    ck_assert_int_eq(sr_parse_duration_ms("5 weeks", &ms), SR_EPARSE);
    ck_assert_int_eq(sr_parse_duration_ms("-1s", &ms), SR_EPARSE);
    char buf[16];
    sr_format_duration(86400000, buf, sizeof buf);
    ck_assert_str_eq(buf, "1d");
    sr_format_duration(1500, buf, sizeof buf);
    ck_assert_str_eq(buf, "1500ms");

    enum sr_event_type t;
    ck_assert_int_eq(sr_event_type_parse("add_to_cart", 11, &t), 0);
    ck_assert_int_eq(t, SR_ADD_TO_CART);
    ck_assert_int_eq(sr_event_type_parse("PURCHASEX", 9, &t), SR_EPARSE);
    ck_assert_int_eq(sr_event_type_parse("VIE", 3, &t), SR_EPARSE);
    ck_assert_str_eq(sr_event_type_name(SR_FAVORITE), "FAVORITE");
    ck_assert_str_eq(sr_strerror(SR_ECONFIG), "configuration error");
}
END_TEST

Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults_parse);
    tcase_add_test(tc, test_override_and_errors);
    tcase_add_test(tc, test_ini_file);
    tcase_add_test(tc, test_validate_pop_window);
    tcase_add_test(tc, test_intern);
    tcase_add_test(tc, test_durations_and_types);
    suite_add_tcase(s, tc);
    return s;
}
