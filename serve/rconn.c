/* serve/rconn.c - connect, AUTH and SELECT; key names. */
#include "serve/rconn.h"
#include "serve/publisher.h"
#include "core/err.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

static const char *const kind_names[PUB_KIND_COUNT] = {"rec", "sim", "trending"};

const char *rconn_kind_name(int kind)
{
    return kind >= 0 && kind < PUB_KIND_COUNT ? kind_names[kind] : NULL;
}

static struct timeval ms_tv(int64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

void rconn_scrub(const struct sr_redis_cfg *cfg, const char *msg, char *buf, size_t len)
{
    const char *pw = cfg->password;
    size_t pl = strlen(pw), used = 0;
    if (len == 0)
        return;
    while (*msg && used + 1 < len) {
        if (pl && strncmp(msg, pw, pl) == 0) {
            int w = snprintf(buf + used, len - used, "***");
            used = w < 0 || (size_t)w >= len - used ? len - 1 : used + (size_t)w;
            msg += pl;
            continue;
        }
        buf[used++] = *msg++;
    }
    buf[used] = '\0';
}

/* Sends one command and checks for a non-error reply; fills errbuf on failure. */
static int command_ok(const struct sr_redis_cfg *cfg, redisContext *c, int argc, const char **argv,
                      const char *what, int fail_code, char *errbuf, size_t errlen)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (!r)
        return sr_seterr(errbuf, errlen, SR_EIO, "Redis at %s:%lld: %s failed: %s", cfg->host,
                         (long long)cfg->port, what, c->errstr[0] ? c->errstr : "no reply");
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        char msg[256];
        rconn_scrub(cfg, r->str ? r->str : "", msg, sizeof msg);
        rc = sr_seterr(errbuf, errlen, fail_code, "Redis at %s:%lld refused %s: %s", cfg->host,
                       (long long)cfg->port, what, msg);
    }
    freeReplyObject(r);
    return rc;
}

int rconn_open(const struct sr_redis_cfg *cfg, redisContext **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    redisContext *c =
        redisConnectWithTimeout(cfg->host, (int)cfg->port, ms_tv(cfg->connect_timeout_ms));
    if (!c)
        return sr_seterr(errbuf, errlen, SR_ENOMEM, "Redis at %s:%lld: out of memory", cfg->host,
                         (long long)cfg->port);
    int rc;
    if (c->err) {
        rc = sr_seterr(errbuf, errlen, SR_EIO, "Redis at %s:%lld unreachable: %s", cfg->host,
                       (long long)cfg->port, c->errstr);
        goto err_free_context;
    }
    /* AUTH and SELECT run under the connect timeout, then writes get theirs. */
    if (redisSetTimeout(c, ms_tv(cfg->connect_timeout_ms)) != REDIS_OK) {
        rc = sr_seterr(errbuf, errlen, SR_EIO, "Redis at %s:%lld: cannot set timeout", cfg->host,
                       (long long)cfg->port);
        goto err_free_context;
    }
    if (cfg->password[0]) {
        char what[192];
        if (cfg->user[0]) {
            const char *argv[] = {"AUTH", cfg->user, cfg->password};
            snprintf(what, sizeof what, "authentication (user '%s')", cfg->user);
            rc = command_ok(cfg, c, 3, argv, what, SR_ECONFIG, errbuf, errlen);
        } else {
            const char *argv[] = {"AUTH", cfg->password};
            rc = command_ok(cfg, c, 2, argv, "authentication (password only)", SR_ECONFIG, errbuf,
                            errlen);
        }
        if (rc)
            goto err_free_context;
    }
    if (cfg->db != 0) {
        char db[24];
        snprintf(db, sizeof db, "%lld", (long long)cfg->db);
        const char *argv[] = {"SELECT", db};
        rc = command_ok(cfg, c, 2, argv, "SELECT", SR_ECONFIG, errbuf, errlen);
        if (rc)
            goto err_free_context;
    }
    if (redisSetTimeout(c, ms_tv(cfg->timeout_ms)) != REDIS_OK) {
        rc = sr_seterr(errbuf, errlen, SR_EIO, "Redis at %s:%lld: cannot set timeout", cfg->host,
                       (long long)cfg->port);
        goto err_free_context;
    }
    redisEnableKeepAlive(c);
    *out = c;
    return 0;

err_free_context:
    redisFree(c);
    return rc;
}

int rconn_key(const struct sr_redis_cfg *cfg, int kind, const char *id, size_t id_len, char *buf,
              size_t len)
{
    int w;
    if (kind < 0)
        w = snprintf(buf, len, "%s:model", cfg->namespace);
    else
        w = snprintf(buf, len, "%s:%s:", cfg->namespace, rconn_kind_name(kind));
    if (w < 0 || (size_t)w + (kind < 0 ? 0 : id_len) >= len)
        return SR_ERANGE;
    if (kind >= 0) {
        memcpy(buf + w, id, id_len);
        w += (int)id_len;
        buf[w] = '\0';
    }
    return w;
}
