/* tests/unit/test_fuzz_regress.c - what the libFuzzer targets (tests/fuzz/)
 * found, kept as unit tests so `make test-unit` guards the fixes without a
 * fuzzing run. Each crashing input is also kept in tests/fuzz/corpus/. */
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "ingest/framing.h"

#include <check.h>
#include <string.h>

/* framing: an Avro string may hold NUL bytes; the JSON encoder wrote them as
 * \u0000, which the JSON decoder (jansson) refuses, so fr_encode handed out
 * a message its own fr_decode rejects. JSON encoding now refuses such an
 * event; the Avro framings still carry it and decode it back unchanged.
 * (tests/fuzz/corpus/framing/crash-avro-id-with-nul) */
START_TEST(test_framing_json_refuses_nul)
{
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    char err[256];
    struct fr *f = fr_new(&cfg.ingest, err, sizeof err);
    ck_assert_msg(f != NULL, "%s", err);
    struct sr_raw_event ev = {0};
    ev.ts_ms = 1700000000000;
    ev.user_id = (struct sr_str){"u\0x", 3};
    ev.item_id = (struct sr_str){"i1", 2};
    ev.type = SR_CLICK;
    const void *msg;
    size_t len;
    ck_assert_int_eq(fr_encode(f, FR_JSON, &ev, &msg, &len), SR_EINVAL);
    for (int fmt = FR_CONFLUENT; fmt <= FR_SINGLE_OBJECT; fmt++) {
        ck_assert_int_eq(fr_encode(f, (enum fr_format)fmt, &ev, &msg, &len), 0);
        unsigned char copy[256];
        ck_assert_uint_le(len, sizeof copy);
        memcpy(copy, msg, len);
        struct sr_raw_event back;
        struct fr_status st;
        ck_assert_int_eq(fr_decode(f, copy, len, &back, &st), 0);
        ck_assert_uint_eq(back.user_id.len, 3);
        ck_assert(memcmp(back.user_id.p, "u\0x", 3) == 0);
    }
    /* Without the NUL the same event encodes as JSON and decodes back. */
    ev.user_id = (struct sr_str){"ux", 2};
    ck_assert_int_eq(fr_encode(f, FR_JSON, &ev, &msg, &len), 0);
    unsigned char copy[256];
    ck_assert_uint_le(len, sizeof copy);
    memcpy(copy, msg, len);
    struct sr_raw_event back;
    struct fr_status st;
    ck_assert_int_eq(fr_decode(f, copy, len, &back, &st), 0);
    ck_assert_uint_eq(back.user_id.len, 2);
    fr_free(f);
}
END_TEST

Suite *fuzz_regress_suite(void)
{
    Suite *s = suite_create("fuzz_regress");
    TCase *tc = tcase_create("fuzz_regress");
    tcase_add_test(tc, test_framing_json_refuses_nul);
    suite_add_tcase(s, tc);
    return s;
}
