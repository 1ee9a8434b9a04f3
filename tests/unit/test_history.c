/* tests/unit/test_history.c - features/history: per-user items and purchases. */
#include "features/history.h"

#include <check.h>
#include <stdlib.h>

static struct sr_event ev_of(uint32_t user, uint32_t item, enum sr_event_type type)
{
    return (struct sr_event){.user = user, .item = item, .type = (uint8_t)type, .weight = 1};
}

START_TEST(test_history_records)
{
    struct hist *h = hist_new();
    ck_assert_ptr_nonnull(h);
    /* user 3: items 7, 9, 7 (again), 9 bought twice; user 100000: item 1 */
    struct sr_event evs[] = {ev_of(3, 7, SR_VIEW),     ev_of(3, 9, SR_CLICK),
                             ev_of(3, 7, SR_PURCHASE), ev_of(3, 9, SR_PURCHASE),
                             ev_of(3, 9, SR_PURCHASE), ev_of(100000, 1, SR_VIEW)};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        ck_assert_int_eq(hist_add(h, &evs[i]), 0);
    uint32_t n;
    const uint32_t *items = hist_items(h, 3, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(items[0], 7); /* first-touch order */
    ck_assert_uint_eq(items[1], 9);
    const uint32_t *bought = hist_bought(h, 3, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(bought[0], 7);
    ck_assert_uint_eq(bought[1], 9);
    ck_assert(hist_seen(h, 3, 7));
    ck_assert(!hist_seen(h, 3, 1));
    ck_assert(hist_seen(h, 100000, 1));
    ck_assert(!hist_seen(h, 4, 7));
    hist_items(h, 4, &n);
    ck_assert_uint_eq(n, 0);
    hist_bought(h, 5000000, &n); /* beyond every user: empty, no crash */
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_gt(hist_bytes(h), 0);
    hist_free(h);
    hist_free(NULL);
}
END_TEST

/* Many pairs force the pair set to grow; every pair stays findable. */
START_TEST(test_history_grows)
{
    struct hist *h = hist_new();
    for (uint32_t u = 0; u < 300; u++)
        for (uint32_t i = 0; i < 100; i += 1 + u % 3) {
            struct sr_event e = ev_of(u, i * 7 + u, SR_VIEW);
            ck_assert_int_eq(hist_add(h, &e), 0);
        }
    for (uint32_t u = 0; u < 300; u++) {
        uint32_t n, want = 0;
        for (uint32_t i = 0; i < 100; i += 1 + u % 3) {
            ck_assert(hist_seen(h, u, i * 7 + u));
            want++;
        }
        hist_items(h, u, &n);
        ck_assert_uint_eq(n, want);
    }
    hist_free(h);
}
END_TEST

Suite *history_suite(void)
{
    Suite *s = suite_create("history");
    TCase *tc = tcase_create("history");
    tcase_add_test(tc, test_history_records);
    tcase_add_test(tc, test_history_grows);
    suite_add_tcase(s, tc);
    return s;
}
