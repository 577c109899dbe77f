/*
 * The wire between coordinator and workers: one nanomsg PAIR per worker,
 * messages that carry batches. Every message starts with mp__hdr; records
 * follow, each padded to 8 bytes. Messages are built in nanomsg chunks
 * (nn_allocmsg) and sent with NN_MSG, so a batch is never copied in user
 * space.
 */
#ifndef MP_WIRE_H
#define MP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "mpool.h"

struct event;

/* The largest message either end sends or accepts (NN_RCVMAXSIZE on both
   ends), well below nanomsg's int sizes: one record of MP_MAX_PAYLOAD
   bytes plus a message of MP_MAX_ERROR, on top of a batch filled up to
   its flush threshold (MP_BATCH_MAX). */
#define MP_BATCH_MAX ((size_t)512 << 10)
/* The size both ends fill a batch to before they send it (a record may
   take it past, up to MP_BATCH_MAX), and start its message with: below
   glibc's mmap threshold (128 KiB), so that a batch is built in reused
   heap memory, not in pages mapped fresh for it (a page fault per 4 KiB). */
#define MP_BATCH_FILL ((size_t)60 << 10)
#define MP_BATCH_HINT (MP_BATCH_FILL + 4096) /* mp__msg_begin's hint */
#define MP_MAX_ERROR ((size_t)64 << 10)
#define MP_MAX_MSG (MP_MAX_PAYLOAD + MP_MAX_ERROR + MP_BATCH_MAX + 4096)

enum {
    /* coordinator -> worker */
    MP_MSG_CONFIG = 1, /* mp__config + init argument */
    MP_MSG_TASKS = 2,  /* arg: the task function; records: mp__task_rec */
    MP_MSG_EXIT = 3,   /* leave now: everything you sent has arrived */
    MP_MSG_CANCEL = 4, /* no records: cancel every task you hold; task
                          records (no data): cancel those ids only */
    /* worker -> coordinator */
    MP_MSG_READY = 16,   /* mp__ready + message: init done (or failed) */
    MP_MSG_RESULTS = 17, /* arg: the most tasks the worker has held at
                            once (queued + running); records:
                            mp__result_rec */
};

typedef struct mp__hdr {
    uint32_t type;
    uint32_t count; /* records that follow */
    uint64_t arg;
} mp__hdr;

typedef struct mp__task_rec {
    uint32_t id; /* the coordinator's ledger entry */
    uint32_t len;
} mp__task_rec; /* then len bytes of input */

typedef struct mp__result_rec {
    uint32_t id;
    int32_t status;
    uint32_t len;    /* bytes of data */
    uint32_t errlen; /* bytes of the message with its NUL, 0 if none */
} mp__result_rec;    /* then data, then the message */

typedef struct mp__config {
    uint32_t concurrency;
    uint32_t prefetch;
    uint32_t task_timeout_ms;
    uint32_t slot;
    uint64_t stack_size;
    uint64_t init_fn;
    uint64_t init_len;
    int32_t coordinator; /* its pid: a worker leaves when it is gone */
    uint32_t http_max;   /* http_max_connections of the whole pool */
    uint32_t workers;    /* of the pool: the worker's share of http_max */
    uint32_t reserved;
    uint64_t arg_len;    /* bytes of the pool argument (mp_pool_arg) */
} mp__config; /* then init_len bytes, then arg_len bytes */

typedef struct mp__ready {
    int32_t status;
    int32_t pid;
} mp__ready; /* then a NUL-terminated message */

/* A message under construction in a nanomsg chunk. */
typedef struct mp__msg {
    char *buf;
    size_t len, cap;
    uint32_t count;
} mp__msg;

/* A view of one result record inside a received message. */
typedef struct mp__result_view {
    uint32_t id;
    int32_t status;
    const void *data;
    uint32_t len;
    const char *error; /* NULL if none */
} mp__result_view;

/* Walks the records of a received message. */
typedef struct mp__reader {
    const char *p, *end;
    uint32_t left;
} mp__reader;

/* The spin note: a worker whose task stays on the CPU past its deadline
   writes that task's id, in decimal, to a file beside its endpoint and
   exits with status MP_EXIT_SPIN; the coordinator reads the file. */
#define MP_EXIT_SPIN 71
/* A worker that received a malformed message exits with this status. */
#define MP_EXIT_PROTO 72
#define MP__NO_TASK UINT32_MAX /* no task id */

_Static_assert(sizeof(mp__hdr) == 16, "wire: header of 16 bytes");
_Static_assert(sizeof(mp__task_rec) == 8, "wire: task record of 8 bytes");
_Static_assert(sizeof(mp__result_rec) == 16, "wire: result of 16 bytes");
_Static_assert(sizeof(mp__config) == 64, "wire: config of 64 bytes");
_Static_assert(sizeof(mp__ready) == 8, "wire: ready of 8 bytes");
_Static_assert(MP_MAX_MSG < ((size_t)1 << 31), "wire: nanomsg sizes are int");

/*
 * One end of a worker's PAIR, the one channel type both sides use: send
 * parks one message while the socket is full, receive retries on EINTR.
 * The owner watches the send fd with sev (an event it creates; both
 * nanomsg fds poll as readable) and calls mp__chan_flush when it fires.
 */
typedef struct mp__chan {
    int sock;          /* -1 when closed */
    mp__msg parked;    /* waiting for the socket to be writable */
    struct event *sev; /* the owner's event on the send fd, or NULL */
#ifdef MP_FAULTS
    int fault; /* the parked message's flush is to fail */
#endif
} mp__chan;

#ifdef MP_FAULTS
/* Fault injection, compiled only into the tests' mpool_faults library.
   When mp__fault_send_fail is n > 0, the n-th TASKS message sent from now
   fails at once with MP_ESYS; when mp__fault_flush_fail is n > 0, the n-th
   is parked as if the socket were full, and its flush then fails.
   When mp__fault_cut_tasks is n > 0, the n-th TASKS message sent from now
   goes out malformed (its last record cut short); mp__fault_cut_results
   does the same to the next RESULTS message once it is set (a task sets
   it inside its worker). */
extern int mp__fault_send_fail, mp__fault_flush_fail;
extern int mp__fault_cut_tasks, mp__fault_cut_results;
#endif

#define MP_ALIGN8(n) (((n) + 7u) & ~(size_t)7u)

/* Starts a message of type with header argument arg and room for about
   hint bytes. Returns 0 or MP_ENOMEM. */
int mp__msg_begin(mp__msg *m, uint32_t type, uint64_t arg, size_t hint);
/* Sets the header argument of m, a message being built. */
void mp__msg_set_arg(mp__msg *m, uint64_t arg);
/* Appends n bytes and returns where they go (zero-padded to 8), or NULL
   (MP_ENOMEM). */
void *mp__msg_reserve(mp__msg *m, size_t n);
/* Appends one task record. Returns 0 or MP_ENOMEM. */
int mp__msg_put_task(mp__msg *m, uint32_t id, const void *data,
                     uint32_t len);
/* Appends the CONFIG record: c with its slot set to slot and its
   coordinator to this process (the one that sends CONFIG), then tail_len
   bytes of tail (the init and pool arguments). Returns 0 or MP_ENOMEM. */
int mp__msg_put_config(mp__msg *m, const mp__config *c, uint32_t slot,
                       const void *tail, size_t tail_len);
/* Appends one result record; a message longer than MP_MAX_ERROR - 1 bytes
   is cut. Returns 0 or MP_ENOMEM. */
int mp__msg_put_result(mp__msg *m, uint32_t id, int32_t status,
                       const void *data, uint32_t len, const char *err);
/* Sends m (blocking only if block is set, up to the socket's NN_SNDTIMEO).
   On success m is empty again (buf NULL). Returns 0, MP_EAGAIN (m kept: try
   again when the socket is writable), MP_ETIMEDOUT (blocking, m kept),
   MP_ENOMEM or MP_ESYS. */
int mp__msg_send(int sock, mp__msg *m, int block);
/* Frees an unsent message. */
void mp__msg_discard(mp__msg *m);

/* Checks a received message and positions r after its header. Returns 0,
   or MP_EPROTO if the message is shorter than its header. */
int mp__reader_init(mp__reader *r, const void *msg, size_t len,
                    mp__hdr *hdr);
/* Reads the next task record. Returns 1, 0 at the end, MP_EPROTO if the
   record runs past the message or the header's count disagrees with the
   records (too few, or bytes left after the last). */
int mp__read_task(mp__reader *r, uint32_t *id, const void **data,
                  uint32_t *len);
/* Reads the next result record. Returns 1, 0 at the end, MP_EPROTO as
   mp__read_task does, or if the message is not NUL-terminated. */
int mp__read_result(mp__reader *r, mp__result_view *v);
/* Check every task (result) record of r's message, as mp__read_task
   (mp__read_result) reads them, in one call: r does not move. Return 0,
   or MP_EPROTO as those do. */
int mp__check_tasks(const mp__reader *r);
int mp__check_results(const mp__reader *r);

/* Makes c a closed channel: no socket, nothing parked, no event. */
void mp__chan_init(mp__chan *c);

/* Opens c as one end of a PAIR: bound to endpoint (the coordinator) or
   connected to it (a worker), accepting messages up to MP_MAX_MSG. *rfd and
   *sfd receive the fds that signal "readable" and "writable". Returns 0 or
   MP_ESYS (c is closed then). */
int mp__chan_open(mp__chan *c, const char *endpoint, int bind, int *rfd,
                  int *sfd);

/* Hands c the owner's event on the send fd (NULL: none), which c adds
   while a message is parked and deletes when it went out. */
void mp__chan_watch(mp__chan *c, struct event *sev);

/* Closes c and frees its parked message; sev stays the owner's (c forgets
   it: watch again after the next open). */
void mp__chan_close(mp__chan *c);

/* Returns 1 when c has a message parked. */
int mp__chan_parked(const mp__chan *c);

/* Sends m now, or parks it and adds c->sev when the socket is full.
   Returns 0 (m is empty then: sent or parked), MP_EAGAIN when a message is
   parked already, or another error (MP_ENOMEM, MP_ESYS); m is freed on
   every error. */
int mp__chan_send(mp__chan *c, mp__msg *m);

/* Sends the parked message: call it when sev fires, or with block set to
   wait for the socket as long as it takes. Returns 0 when it went out
   or nothing was parked (sev removed), MP_EAGAIN while the socket is still
   full, or an error (the message is dropped, sev removed). */
int mp__chan_flush(mp__chan *c, int block);

/* Receives one message into *buf (the caller frees it with nn_freemsg),
   retrying on EINTR; block: wait, up to the socket's NN_RCVTIMEO. Returns
   its length, MP_EAGAIN when nothing waits, or MP_ESYS. */
int mp__chan_recv(mp__chan *c, void **buf, int block);

/* Writes the path of the spin note of the worker at endpoint
   ("ipc://path" or "path") into buf. */
void mp__spin_note_path(const char *endpoint, char *buf, size_t n);

/* Writes the spin note naming task id at path (from mp__spin_note_path).
   Async-signal-safe: the worker calls it from its watchdog's handler. */
void mp__spin_note_write(const char *path, uint32_t id);

/* Reads the spin note of the worker at endpoint. Returns the task id it
   names, or MP__NO_TASK when there is none. */
uint32_t mp__spin_note_read(const char *endpoint);

#endif
