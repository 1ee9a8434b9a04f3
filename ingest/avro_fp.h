/* ingest/avro_fp.h - Avro Parsing Canonical Form and CRC-64-AVRO fingerprints.
 *
 * Avro single-object encoding names the writer schema by the 64-bit
 * CRC-64-AVRO ("Rabin") fingerprint of the schema's Parsing Canonical Form
 * (PCF), both defined in the Avro specification ("Parsing Canonical Form
 * for Schemas", "Schema Fingerprints"). Avro C 1.11 has neither, so they are
 * here: the PCF is computed from the schema's JSON text with jansson, then
 * hashed. No I/O.
 *
 *     char *pcf;
 *     if (avro_fp_canonical(json, len, &pcf, err, sizeof err) == 0) {
 *         uint64_t fp = avro_fp_crc64(pcf, strlen(pcf));
 *         free(pcf);
 *     }
 */
#ifndef SR_AVRO_FP_H
#define SR_AVRO_FP_H

#include <stddef.h>
#include <stdint.h>

/** CRC-64-AVRO of buf[0..len): the fingerprint of a schema when buf is its
 * Parsing Canonical Form. */
uint64_t avro_fp_crc64(const void *buf, size_t len);

/** The Parsing Canonical Form of the schema in json[0..len) (borrowed for
 * the call): primitives in simple form, names fully qualified, only the
 * attributes name, type, fields, symbols, items, values, size, in that
 * order, no whitespace. Returns 0 with *out a new NUL-terminated string
 * (free with free()), or SR_EPARSE (not JSON, or not a schema) / SR_ENOMEM
 * with a one-line reason in errbuf. */
int avro_fp_canonical(const char *json, size_t len, char **out, char *errbuf, size_t errlen);

/** The fingerprint of the schema in json[0..len): CRC-64-AVRO of its
 * canonical form. Returns 0 with *fp set, or the error of
 * avro_fp_canonical(). */
int avro_fp_schema(const char *json, size_t len, uint64_t *fp, char *errbuf, size_t errlen);

#endif
