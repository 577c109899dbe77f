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

enum {
    /* coordinator -> worker */
    MP_MSG_CONFIG = 1, /* mp__config + init argument */
    MP_MSG_TASKS = 2,  /* arg: the task function; records: mp__task_rec */
    MP_MSG_EXIT = 3,   /* leave now: everything you sent has arrived */
    MP_MSG_CANCEL = 4, /* cancel every task you hold */
    /* worker -> coordinator */
    MP_MSG_READY = 16,   /* mp__ready + message: init done (or failed) */
    MP_MSG_RESULTS = 17, /* records: mp__result_rec */
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
} mp__config; /* then init_len bytes */

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
   writes that task's id, in decimal, to its endpoint's path plus
   MP_SPIN_SUFFIX and exits with status MP_EXIT_SPIN. */
#define MP_EXIT_SPIN 71
#define MP_SPIN_SUFFIX ".spin"
#define MP__NO_TASK UINT32_MAX /* no task id */

#define MP_ALIGN8(n) (((n) + 7u) & ~(size_t)7u)

/* Starts a message of type with header argument arg and room for about
   hint bytes. Returns 0 or MP_ENOMEM. */
int mp__msg_begin(mp__msg *m, uint32_t type, uint64_t arg, size_t hint);
/* Appends n bytes and returns where they go (zero-padded to 8), or NULL
   (MP_ENOMEM). */
void *mp__msg_reserve(mp__msg *m, size_t n);
/* Appends one task record. Returns 0 or MP_ENOMEM. */
int mp__msg_put_task(mp__msg *m, uint32_t id, const void *data,
                     uint32_t len);
/* Appends one result record. Returns 0 or MP_ENOMEM. */
int mp__msg_put_result(mp__msg *m, uint32_t id, int32_t status,
                       const void *data, uint32_t len, const char *err);
/* Sends m (blocking only if block is set, up to the socket's NN_SNDTIMEO).
   On success m is empty again (buf NULL). Returns 0, MP_EAGAIN (m kept: try
   again when the socket is writable), MP_ENOMEM or MP_ESYS. */
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

#endif
