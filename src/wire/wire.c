/* Batched messages in nanomsg chunks, and the channel that carries them:
   see wire.h. */
#include "wire/wire.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <nanomsg/nn.h>
#include <nanomsg/pair.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mp__msg_begin(mp__msg *m, uint32_t type, uint64_t arg, size_t hint)
{
    size_t cap = hint < 256 ? 256 : hint;
    m->buf = nn_allocmsg(cap, 0);
    if (!m->buf)
        return MP_ENOMEM;
    m->cap = cap;
    m->len = sizeof(mp__hdr);
    m->count = 0;
    mp__hdr h = {.type = type, .count = 0, .arg = arg};
    memcpy(m->buf, &h, sizeof(h));
    return 0;
}

void mp__msg_set_arg(mp__msg *m, uint64_t arg)
{
    mp__hdr h;
    memcpy(&h, m->buf, sizeof(h));
    h.arg = arg;
    memcpy(m->buf, &h, sizeof(h));
}

void *mp__msg_reserve(mp__msg *m, size_t n)
{
    size_t need = m->len + MP_ALIGN8(n);
    if (need > m->cap) {
        size_t cap = m->cap * 2;
        while (cap < need)
            cap *= 2;
        char *nb = nn_reallocmsg(m->buf, cap);
        if (!nb)
            return NULL;
        m->buf = nb;
        m->cap = cap;
    }
    char *at = m->buf + m->len;
    size_t pad = MP_ALIGN8(n) - n;
    if (pad)
        memset(at + n, 0, pad);
    m->len = need;
    return at;
}

int mp__msg_put_task(mp__msg *m, uint32_t id, const void *data, uint32_t len)
{
    char *at = mp__msg_reserve(m, sizeof(mp__task_rec) + len);
    if (!at)
        return MP_ENOMEM;
    mp__task_rec rec = {.id = id, .len = len};
    memcpy(at, &rec, sizeof(rec));
    if (len)
        memcpy(at + sizeof(rec), data, len);
    m->count++;
    return 0;
}

int mp__msg_put_config(mp__msg *m, const mp__config *c, uint32_t slot,
                       const void *tail, size_t tail_len)
{
    char *at = mp__msg_reserve(m, sizeof(*c) + tail_len);
    if (!at)
        return MP_ENOMEM;
    mp__config rec = *c;
    rec.slot = slot;
    rec.coordinator = (int32_t)getpid();
    memcpy(at, &rec, sizeof(rec));
    if (tail_len)
        memcpy(at + sizeof(rec), tail, tail_len);
    return 0;
}

int mp__msg_put_result(mp__msg *m, uint32_t id, int32_t status,
                       const void *data, uint32_t len, const char *err)
{
    /* a message is cut to MP_MAX_ERROR with its NUL */
    uint32_t errlen = err ? (uint32_t)strnlen(err, MP_MAX_ERROR - 1) + 1 : 0;
    char *at = mp__msg_reserve(m, sizeof(mp__result_rec) + len + errlen);
    if (!at)
        return MP_ENOMEM;
    mp__result_rec rec = {
        .id = id, .status = status, .len = len, .errlen = errlen};
    memcpy(at, &rec, sizeof(rec));
    if (len)
        memcpy(at + sizeof(rec), data, len);
    if (errlen) {
        memcpy(at + sizeof(rec) + len, err, errlen - 1);
        at[sizeof(rec) + len + errlen - 1] = '\0';
    }
    m->count++;
    return 0;
}

int mp__msg_send(int sock, mp__msg *m, int block)
{
    mp__hdr h;
    memcpy(&h, m->buf, sizeof(h));
    h.count = m->count;
    memcpy(m->buf, &h, sizeof(h));
    if (m->cap != m->len) { /* NN_MSG sends the whole chunk: trim it */
        char *nb = nn_reallocmsg(m->buf, m->len);
        if (!nb)
            return MP_ENOMEM;
        m->buf = nb;
        m->cap = m->len;
    }
    void *buf = m->buf;
    int rc;
    do
        rc = nn_send(sock, &buf, NN_MSG, block ? 0 : NN_DONTWAIT);
    while (rc < 0 && nn_errno() == EINTR);
    if (rc < 0 && nn_errno() == ETIMEDOUT)
        return MP_ETIMEDOUT;
    if (rc < 0)
        return nn_errno() == EAGAIN ? MP_EAGAIN : MP_ESYS;
    m->buf = NULL; /* nanomsg owns the chunk now */
    m->len = m->cap = 0;
    m->count = 0;
    return 0;
}

void mp__msg_discard(mp__msg *m)
{
    if (m->buf)
        nn_freemsg(m->buf);
    m->buf = NULL;
    m->len = m->cap = 0;
    m->count = 0;
}

int mp__reader_init(mp__reader *r, const void *msg, size_t len,
                    mp__hdr *hdr)
{
    if (len < sizeof(mp__hdr))
        return MP_EPROTO;
    memcpy(hdr, msg, sizeof(*hdr));
    r->p = (const char *)msg + sizeof(mp__hdr);
    r->end = (const char *)msg + len;
    r->left = hdr->count;
    return 0;
}

/* Claims the next record of size n (plus padding). Returns its start, or
   NULL if it runs past the message. */
static const char *take(mp__reader *r, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return NULL;
    const char *at = r->p;
    size_t adv = MP_ALIGN8(n);
    r->p = (size_t)(r->end - r->p) < adv ? r->end : r->p + adv;
    return at;
}

/* The end of the records: bytes left over mean the count disagrees with
   them. Returns 0 or MP_EPROTO. */
static int at_end(const mp__reader *r)
{
    return r->p == r->end ? 0 : MP_EPROTO;
}

/* mp__read_task's body, inlined into mp__check_tasks' loop. */
static inline int read_task(mp__reader *r, uint32_t *id, const void **data,
                            uint32_t *len)
{
    if (r->left == 0)
        return at_end(r);
    mp__task_rec rec;
    if ((size_t)(r->end - r->p) < sizeof(rec))
        return MP_EPROTO;
    memcpy(&rec, r->p, sizeof(rec));
    const char *at = take(r, sizeof(rec) + (size_t)rec.len);
    if (!at)
        return MP_EPROTO;
    *id = rec.id;
    *len = rec.len;
    *data = at + sizeof(rec);
    r->left--;
    return 1;
}

/* mp__read_result's body, inlined into mp__check_results' loop. */
static inline int read_result(mp__reader *r, mp__result_view *v)
{
    if (r->left == 0)
        return at_end(r);
    mp__result_rec rec;
    if ((size_t)(r->end - r->p) < sizeof(rec))
        return MP_EPROTO;
    memcpy(&rec, r->p, sizeof(rec));
    size_t body = (size_t)rec.len + rec.errlen;
    const char *at = take(r, sizeof(rec) + body);
    if (!at)
        return MP_EPROTO;
    const char *err = at + sizeof(rec) + rec.len;
    if (rec.errlen && err[rec.errlen - 1] != '\0')
        return MP_EPROTO;
    v->id = rec.id;
    v->status = rec.status;
    v->len = rec.len;
    v->data = rec.len ? at + sizeof(rec) : NULL;
    v->error = rec.errlen ? err : NULL;
    r->left--;
    return 1;
}

int mp__read_task(mp__reader *r, uint32_t *id, const void **data,
                  uint32_t *len)
{
    return read_task(r, id, data, len);
}

int mp__read_result(mp__reader *r, mp__result_view *v)
{
    return read_result(r, v);
}

int mp__check_tasks(const mp__reader *r)
{
    mp__reader c = *r;
    uint32_t id, len;
    const void *data;
    int rc;
    while ((rc = read_task(&c, &id, &data, &len)) == 1)
        ;
    return rc;
}

int mp__check_results(const mp__reader *r)
{
    mp__reader c = *r;
    mp__result_view v;
    int rc;
    while ((rc = read_result(&c, &v)) == 1)
        ;
    return rc;
}

/* ---- the channel ------------------------------------------------------ */

/* Returns 1 when endpoint's directory exists and we may create a socket
   in it. nanomsg 1.1.5 leaks the endpoint of an ipc nn_bind whose listen
   fails (nanomsg issue #932), so a bind that cannot succeed (the pool's
   directory is gone) is not tried. */
static int ipc_dir_ok(const char *endpoint)
{
    char dir[256];
    if (strncmp(endpoint, "ipc://", 6) != 0)
        return 1;
    snprintf(dir, sizeof(dir), "%s", endpoint + 6);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 1;
    *slash = '\0';
    return access(slash == dir ? "/" : dir, W_OK | X_OK) == 0;
}

void mp__chan_init(mp__chan *c)
{
    c->parked = (mp__msg){0};
    c->sev = NULL;
#ifdef MP_FAULTS
    c->fault = 0;
#endif
    c->sock = -1;
}

int mp__chan_open(mp__chan *c, const char *endpoint, int bind, int *rfd,
                  int *sfd)
{
    int max = (int)MP_MAX_MSG;
    size_t sz = sizeof(int);
    mp__chan_init(c);
    if (bind && !ipc_dir_ok(endpoint))
        return MP_ESYS;
    c->sock = nn_socket(AF_SP, NN_PAIR);
    if (c->sock < 0)
        return MP_ESYS;
    if (nn_setsockopt(c->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max,
                      sizeof(max)) < 0 ||
        (bind ? nn_bind(c->sock, endpoint)
              : nn_connect(c->sock, endpoint)) < 0 ||
        nn_getsockopt(c->sock, NN_SOL_SOCKET, NN_RCVFD, rfd, &sz) < 0 ||
        nn_getsockopt(c->sock, NN_SOL_SOCKET, NN_SNDFD, sfd, &sz) < 0) {
        mp__chan_close(c);
        return MP_ESYS;
    }
    return 0;
}

void mp__chan_watch(mp__chan *c, struct event *sev)
{
    c->sev = sev;
}

void mp__chan_close(mp__chan *c)
{
    mp__msg_discard(&c->parked);
    if (c->sock >= 0)
        nn_close(c->sock);
    c->sock = -1;
    c->sev = NULL;
}

int mp__chan_parked(const mp__chan *c)
{
    return c->parked.buf != NULL;
}

#ifdef MP_FAULTS
int mp__fault_send_fail, mp__fault_flush_fail;
int mp__fault_cut_tasks, mp__fault_cut_results;

/* Counts m against the countdown n. Returns 1 when m is the one to fail. */
static int fault_due(int *n, const mp__msg *m)
{
    mp__hdr h;
    memcpy(&h, m->buf, sizeof(h));
    return h.type == MP_MSG_TASKS && *n > 0 && --*n == 0;
}

/* Cuts the last 8 bytes off m when a cut is due: its last record then
   runs past the end of the message (records are 8-aligned). */
static void fault_cut(mp__msg *m)
{
    mp__hdr h;
    memcpy(&h, m->buf, sizeof(h));
    int due = h.type == MP_MSG_RESULTS ? mp__fault_cut_results > 0 &&
                                             --mp__fault_cut_results == 0
                                       : fault_due(&mp__fault_cut_tasks, m);
    if (due && m->count && m->len >= sizeof(h) + 8)
        m->len -= 8;
}
#endif

int mp__chan_send(mp__chan *c, mp__msg *m)
{
    if (c->parked.buf) {
        mp__msg_discard(m);
        return MP_EAGAIN;
    }
#ifdef MP_FAULTS
    if (fault_due(&mp__fault_send_fail, m)) {
        mp__msg_discard(m);
        return MP_ESYS;
    }
    fault_cut(m);
    c->fault = fault_due(&mp__fault_flush_fail, m);
    int rc = c->fault ? MP_EAGAIN : mp__msg_send(c->sock, m, 0);
#else
    int rc = mp__msg_send(c->sock, m, 0);
#endif
    if (rc == MP_EAGAIN) {
        c->parked = *m;
        *m = (mp__msg){0};
        if (c->sev)
            event_add(c->sev, NULL);
        return 0;
    }
    if (rc < 0)
        mp__msg_discard(m);
    return rc;
}

int mp__chan_flush(mp__chan *c, int block)
{
    int rc = 0;
#ifdef MP_FAULTS
    if (c->fault) {
        c->fault = 0;
        rc = MP_ESYS;
    }
#endif
    if (!rc && c->parked.buf)
        do /* blocking: wait on, however long the peer takes to read */
            rc = mp__msg_send(c->sock, &c->parked, block);
        while (rc == MP_ETIMEDOUT);
    if (rc == MP_EAGAIN && !block)
        return rc;
    if (c->sev)
        event_del(c->sev);
    if (rc < 0)
        mp__msg_discard(&c->parked);
    return rc;
}

int mp__chan_recv(mp__chan *c, void **buf, int block)
{
    for (;;) {
        *buf = NULL;
        int n = nn_recv(c->sock, buf, NN_MSG, block ? 0 : NN_DONTWAIT);
        if (n >= 0)
            return n;
        if (nn_errno() == EINTR)
            continue;
        return nn_errno() == EAGAIN && !block ? MP_EAGAIN : MP_ESYS;
    }
}

/* ---- the spin note ---------------------------------------------------- */

void mp__spin_note_path(const char *endpoint, char *buf, size_t n)
{
    if (strncmp(endpoint, "ipc://", 6) == 0)
        endpoint += 6;
    snprintf(buf, n, "%s.spin", endpoint);
}

void mp__spin_note_write(const char *path, uint32_t id)
{
    char buf[16];
    int n = 0;
    do
        buf[n++] = (char)('0' + id % 10);
    while ((id /= 10));
    for (int i = 0; i < n / 2; i++) {
        char t = buf[i];
        buf[i] = buf[n - 1 - i], buf[n - 1 - i] = t;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    if (write(fd, buf, (size_t)n) < 0) {
    }
    close(fd);
}

uint32_t mp__spin_note_read(const char *endpoint)
{
    char path[256], buf[16] = {0};
    mp__spin_note_path(endpoint, path, sizeof(path));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return MP__NO_TASK;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n > 0 ? (uint32_t)strtoul(buf, NULL, 10) : MP__NO_TASK;
}
