/* app/state.c - checkpoints of the learned state (app/state.h). */
#include "app/state.h"
#include "core/err.h"
#include "core/log.h"
#include "core/time.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Sections of the configuration that shape the learned state. */
static const char *const shaping[] = {"features", "learner"};

static bool is_shaping(const char *section)
{
    for (size_t i = 0; i < sizeof shaping / sizeof shaping[0]; i++)
        if (strcmp(section, shaping[i]) == 0)
            return true;
    return false;
}

/* ---- capture ------------------------------------------------------------ */

static void put_config(struct ck_buf *b, const struct sr_config *cfg)
{
    size_t n;
    const struct sr_cfg_key *keys = sr_config_keys(&n);
    char val[SR_CFG_STR_MAX + 64], line[SR_CFG_STR_MAX + 192];
    for (size_t i = 0; i < n; i++) {
        if (!is_shaping(keys[i].section) || keys[i].secret)
            continue;
        sr_config_format(cfg, &keys[i], val, sizeof val);
        int len = snprintf(line, sizeof line, "%s.%s=%s\n", keys[i].section, keys[i].key, val);
        if (len > 0)
            ck_put(b, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
    }
}

struct ck_writer *state_capture(const struct sr_config *cfg, const struct state_parts *p,
                                const char *meta_json, const struct ks_offset *offs, size_t n_offs,
                                char *errbuf, size_t errlen)
{
    struct ck_writer *w = ck_writer_new();
    if (!w)
        goto nomem;
    struct ck_buf *meta = ck_section(w, CK_SEC_META, "meta");
    struct ck_buf *conf = ck_section(w, CK_SEC_CONFIG, "config");
    struct ck_buf *off = ck_section(w, CK_SEC_OFFSETS, "offsets");
    if (!meta || !conf || !off)
        goto nomem;
    ck_put(meta, meta_json, strlen(meta_json));
    put_config(conf, cfg);
    ck_put_u32(off, (uint32_t)n_offs);
    for (size_t i = 0; i < n_offs; i++) {
        ck_put_str(off, offs[i].topic, strlen(offs[i].topic));
        ck_put_u32(off, (uint32_t)offs[i].partition);
        ck_put_i64(off, offs[i].next);
    }
    if (feat_save(p->feat, w) != 0 || mf_save(p->mf, w) != 0 || srv_save(p->srv, w) != 0 ||
        (p->eval && eval_save(p->eval, w) != 0))
        goto nomem;
    return w;

nomem:
    ck_writer_free(w);
    sr_seterr(errbuf, errlen, SR_ENOMEM, "checkpoint: out of memory");
    return NULL;
}

/* ---- recovery ----------------------------------------------------------- */

struct ck_file *state_open_newest(const char *dir, char *path, size_t path_len)
{
    size_t pos = 0;
    return state_open_from(dir, &pos, path, path_len);
}

struct ck_file *state_open_from(const char *dir, size_t *pos, char *path, size_t path_len)
{
    char **names;
    size_t n;
    if (ck_list(dir, &names, &n) != 0)
        return NULL;
    struct ck_file *f = NULL;
    for (size_t i = *pos; i < n && !f; i++) {
        *pos = i + 1;
        char p[STATE_PATH_MAX], err[512];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (!(f = ck_open(p, err, sizeof err))) {
            SR_WARN(SR_MOD_APP, "checkpoint skipped: %s", err);
            continue;
        }
        if (path)
            snprintf(path, path_len, "%s", p);
    }
    ck_names_free(names, n);
    return f;
}

/* Logs every state-shaping key whose value differs from the checkpoint's. */
static void compare_config(const struct ck_file *f, const struct sr_config *cfg)
{
    struct sr_config stored = *cfg;
    char err[512];
    if (state_config(f, &stored, err, sizeof err) != 0) {
        SR_WARN(SR_MOD_APP, "checkpoint config: %s", err);
        return;
    }
    size_t n;
    const struct sr_cfg_key *keys = sr_config_keys(&n);
    char a[SR_CFG_STR_MAX + 64], b[SR_CFG_STR_MAX + 64];
    for (size_t i = 0; i < n; i++) {
        if (!is_shaping(keys[i].section))
            continue;
        sr_config_format(cfg, &keys[i], a, sizeof a);
        sr_config_format(&stored, &keys[i], b, sizeof b);
        if (strcmp(a, b) != 0)
            SR_WARN(SR_MOD_APP, "%s.%s is %s now, %s in the checkpoint: learning goes on with %s",
                    keys[i].section, keys[i].key, a, b, a);
    }
}

int state_load(const struct ck_file *f, const struct sr_config *cfg, const struct state_parts *p,
               char *errbuf, size_t errlen)
{
    compare_config(f, cfg);
    int rc;
    if ((rc = feat_load(p->feat, f, errbuf, errlen)) != 0 ||
        (rc = mf_load(p->mf, f, errbuf, errlen)) != 0 ||
        (rc = srv_load(p->srv, f, errbuf, errlen)) != 0)
        return rc;
    if (p->eval) {
        struct ck_rd r;
        if (ck_find(f, CK_SEC_EVAL, &r) == 0 && (rc = eval_load(p->eval, f, errbuf, errlen)) != 0)
            return rc;
    }
    return 0;
}

const char *state_meta(const struct ck_file *f, size_t *len)
{
    struct ck_rd r;
    if (ck_find(f, CK_SEC_META, &r) != 0)
        return NULL;
    *len = ck_rd_left(&r);
    return (const char *)r.p;
}

int state_offsets(const struct ck_file *f, struct ks_offset **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    struct ck_rd r;
    if (ck_find(f, CK_SEC_OFFSETS, &r) != 0)
        return 0;
    uint32_t n = ck_get_u32(&r);
    if (n > ck_rd_left(&r) / 16) /* each entry takes at least 16 bytes */
        return SR_ECORRUPT;
    struct ks_offset *o = calloc(n ? n : 1, sizeof *o);
    if (!o)
        return SR_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len;
        const char *t = ck_get_str(&r, &len);
        if (!t || len > KS_TOPIC_MAX) {
            ck_rd_fail(&r);
            break;
        }
        memcpy(o[i].topic, t, len);
        o[i].topic[len] = '\0';
        o[i].partition = (int32_t)ck_get_u32(&r);
        o[i].next = ck_get_i64(&r);
    }
    if (!ck_rd_ok(&r)) {
        free(o);
        return SR_ECORRUPT;
    }
    *out = o;
    *n_out = n;
    return 0;
}

int state_config(const struct ck_file *f, struct sr_config *cfg, char *errbuf, size_t errlen)
{
    struct ck_rd r;
    if (ck_find(f, CK_SEC_CONFIG, &r) != 0)
        return sr_seterr(errbuf, errlen, SR_ECORRUPT, "no config section");
    const char *p = (const char *)r.p, *end = (const char *)r.end;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[SR_CFG_STR_MAX + 192];
        if (len >= sizeof line)
            return sr_seterr(errbuf, errlen, SR_ECORRUPT, "config section: line too long");
        memcpy(line, p, len);
        line[len] = '\0';
        p += len + 1;
        if (len == 0)
            continue;
        char *dot = strchr(line, '.'), *eq = strchr(line, '=');
        if (!dot || !eq || eq < dot)
            return sr_seterr(errbuf, errlen, SR_ECORRUPT, "config section: bad line '%s'", line);
        *dot = *eq = '\0';
        if (!is_shaping(line))
            continue;
        /* A key this build does not know was dropped since: ignored. */
        if (!sr_config_find(line, dot + 1))
            continue;
        int rc = sr_config_set(cfg, line, dot + 1, eq + 1, errbuf, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- the writer thread -------------------------------------------------- */

struct state_writer {
    /* settings */
    char dir[SR_CFG_STR_MAX + 1]; /* state.dir */
    size_t keep;

    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* guarded by lock */
    bool stop, busy, have_result;
    struct ck_writer *job;
    char version[CK_VERSION_MAX + 1];
    struct ks_offset *job_offs;
    size_t job_n_offs;
    uint64_t job_messages;
    uint64_t next_seq;
    struct state_result result;
};

static int mkdirs(const char *dir)
{
    char p[STATE_PATH_MAX];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static void write_one(struct state_writer *w, struct ck_writer *ck, const char *version,
                      uint64_t seq, struct state_result *res)
{
    char name[128];
    int64_t now = sr_now_ms();
    ck_name(name, sizeof name, seq, now);
    snprintf(res->path, sizeof res->path, "%s/%s", w->dir, name);
    res->seq = seq;
    res->bytes = ck_writer_bytes(ck);
    double t0 = sr_mono_s();
    int rc = ck_write_file(ck, w->dir, name, version, now, res->error, sizeof res->error);
    res->write_s = sr_mono_s() - t0;
    res->ok = rc == 0;
    if (res->ok) {
        int removed = ck_prune(w->dir, w->keep);
        if (removed < 0)
            SR_WARN(SR_MOD_APP, "checkpoints in %s not pruned: %s", w->dir, sr_strerror(removed));
    }
}

static void *writer_main(void *arg)
{
    struct state_writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->stop && !w->job)
            pthread_cond_wait(&w->cond, &w->lock);
        if (!w->job)
            break; /* stop, nothing pending */
        struct ck_writer *ck = w->job;
        char version[CK_VERSION_MAX + 1];
        memcpy(version, w->version, sizeof version);
        uint64_t seq = w->next_seq;
        w->job = NULL;
        pthread_mutex_unlock(&w->lock);

        struct state_result res;
        memset(&res, 0, sizeof res);
        write_one(w, ck, version, seq, &res);
        ck_writer_free(ck);

        pthread_mutex_lock(&w->lock);
        if (res.ok)
            w->next_seq = seq + 1;
        res.offs = w->job_offs;
        res.n_offs = w->job_n_offs;
        res.messages = w->job_messages;
        w->job_offs = NULL;
        if (w->have_result)
            free(w->result.offs); /* nobody took the previous one */
        w->result = res;
        w->have_result = true;
        w->busy = false;
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct state_writer *state_writer_new(const struct sr_state_cfg *cfg, char *errbuf, size_t errlen)
{
    /* mkdir's EEXIST also covers a regular file of that name, and access()
     * grants root W_OK on anything: the type is checked explicitly. */
    struct stat st;
    if (mkdirs(cfg->dir) != 0 || stat(cfg->dir, &st) != 0 ||
        (!S_ISDIR(st.st_mode) && (errno = ENOTDIR)) || access(cfg->dir, W_OK) != 0) {
        sr_seterr(errbuf, errlen, SR_EIO, "state.dir %s: %s", cfg->dir, strerror(errno));
        return NULL;
    }
    struct state_writer *w = calloc(1, sizeof *w);
    if (!w) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "checkpoint writer: out of memory");
        return NULL;
    }
    snprintf(w->dir, sizeof w->dir, "%s", cfg->dir);
    w->keep = (size_t)cfg->keep;
    char **names;
    size_t n;
    if (ck_list(w->dir, &names, &n) == 0) {
        w->next_seq = n > 0 ? (uint64_t)ck_name_seq(names[0]) + 1 : 1;
        ck_names_free(names, n);
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w);
        sr_seterr(errbuf, errlen, SR_ENOMEM, "checkpoint writer: no thread");
        return NULL;
    }
    return w;
}

void state_writer_free(struct state_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    ck_writer_free(w->job);
    free(w->job_offs);
    if (w->have_result)
        free(w->result.offs);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}

int state_writer_submit(struct state_writer *w, struct ck_writer *ck, const char *model_version,
                        const struct ks_offset *offs, size_t n_offs, uint64_t messages)
{
    struct ks_offset *copy = NULL;
    if (n_offs > 0) {
        if (!(copy = malloc(n_offs * sizeof *copy)))
            return SR_ENOMEM;
        memcpy(copy, offs, n_offs * sizeof *copy);
    }
    pthread_mutex_lock(&w->lock);
    if (w->busy) {
        pthread_mutex_unlock(&w->lock);
        free(copy);
        return SR_EAGAIN;
    }
    w->busy = true;
    w->job = ck;
    snprintf(w->version, sizeof w->version, "%s", model_version);
    w->job_offs = copy;
    w->job_n_offs = n_offs;
    w->job_messages = messages;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

bool state_writer_busy(struct state_writer *w)
{
    pthread_mutex_lock(&w->lock);
    bool busy = w->busy;
    pthread_mutex_unlock(&w->lock);
    return busy;
}

bool state_writer_take(struct state_writer *w, struct state_result *out)
{
    pthread_mutex_lock(&w->lock);
    bool have = w->have_result;
    if (have) {
        *out = w->result;
        w->have_result = false;
    }
    pthread_mutex_unlock(&w->lock);
    return have;
}

bool state_writer_wait(struct state_writer *w, double timeout_s)
{
    double end = sr_mono_s() + timeout_s;
    pthread_mutex_lock(&w->lock);
    while (w->busy && sr_mono_s() < end) {
        pthread_mutex_unlock(&w->lock);
        usleep(2000);
        pthread_mutex_lock(&w->lock);
    }
    bool idle = !w->busy;
    pthread_mutex_unlock(&w->lock);
    return idle;
}
