/* serve/lookup.c - one GET of a published key. */
#include "serve/lookup.h"
#include "core/err.h"
#include "serve/rconn.h"

#include <stdlib.h>
#include <string.h>

int lookup_get(const struct sr_redis_cfg *cfg, enum pub_kind kind, const char *id, char **value_out,
               size_t *len_out, char *errbuf, size_t errlen)
{
    char key[PUB_ID_MAX + 128];
    *value_out = NULL;
    if ((unsigned)kind >= PUB_KIND_COUNT)
        return sr_seterr(errbuf, errlen, SR_EINVAL, "unknown key kind %d", (int)kind);
    int kl = rconn_key(cfg, (int)kind, id, strlen(id), key, sizeof key);
    if (kl < 0)
        return sr_seterr(errbuf, errlen, SR_EINVAL, "id too long (at most %d bytes)", PUB_ID_MAX);
    redisContext *c;
    int rc = rconn_open(cfg, &c, errbuf, errlen);
    if (rc)
        return rc;
    const char *argv[] = {"GET", key};
    size_t lens[] = {3, (size_t)kl};
    redisReply *r = redisCommandArgv(c, 2, argv, lens);
    if (!r) {
        rc = sr_seterr(errbuf, errlen, SR_EIO, "Redis at %s:%lld: GET failed: %s", cfg->host,
                       (long long)cfg->port, c->errstr[0] ? c->errstr : "no reply");
        goto out_free_context;
    }
    if (r->type == REDIS_REPLY_NIL) {
        rc = sr_seterr(errbuf, errlen, SR_ENOENT, "no key %s", key);
    } else if (r->type == REDIS_REPLY_STRING) {
        char *v = malloc(r->len + 1);
        if (!v) {
            rc = sr_seterr(errbuf, errlen, SR_ENOMEM, "out of memory");
        } else {
            memcpy(v, r->str, r->len);
            v[r->len] = '\0';
            *value_out = v;
            if (len_out)
                *len_out = r->len;
        }
    } else {
        char msg[256];
        rconn_scrub(cfg, r->type == REDIS_REPLY_ERROR && r->str ? r->str : "not a string", msg,
                    sizeof msg);
        rc = sr_seterr(errbuf, errlen, SR_EPARSE, "Redis at %s:%lld: GET %s: %s", cfg->host,
                       (long long)cfg->port, key, msg);
    }
    freeReplyObject(r);
out_free_context:
    redisFree(c);
    return rc;
}
