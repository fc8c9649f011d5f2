/* Streams: one FIFO task queue and one worker thread per stream.
 * Streams are created lazily (the CPU default stream on first use) and live for the
 * process; their workers sleep when the queue is empty. */
#include "eval/stream_impl.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"

#define MAX_STREAMS 64

static stream_state streams[MAX_STREAMS];
static int n_streams;
static pthread_mutex_t streams_mutex = PTHREAD_MUTEX_INITIALIZER;
static mx_device default_device = {MX_CPU, 0};
static int default_stream_of[2] = {-1, -1};

static _Thread_local mx_stream stream_stack[32];
static _Thread_local int stream_depth;

const mx_backend *mx_backend_for(mx_device_type d) { return d == MX_GPU ? &mx_cuda_backend : &mx_cpu_backend; }

static void *worker_main(void *arg) {
    stream_state *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mutex);
        while (!s->head) pthread_cond_wait(&s->cond, &s->mutex);
        mx_task *t = s->head;
        s->head = t->next;
        if (!s->head) s->tail = NULL;
        pthread_mutex_unlock(&s->mutex);
        mx_run_task(t);
        pthread_mutex_lock(&s->mutex);
        s->completed++;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->mutex);
    }
    return NULL;
}

/* Caller holds streams_mutex. */
static int create_stream_locked(mx_device d) {
    if (n_streams == MAX_STREAMS) return mx_set_error("[stream] at most %d streams", MAX_STREAMS);
    stream_state *s = &streams[n_streams];
    memset(s, 0, sizeof *s);
    s->stream.index = n_streams;
    s->stream.device = d;
    if (pthread_mutex_init(&s->mutex, NULL) || pthread_cond_init(&s->cond, NULL))
        return mx_set_error("[stream] cannot create synchronisation objects");
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 8u << 20);
    int rc = pthread_create(&s->thread, &attr, worker_main, s);
    pthread_attr_destroy(&attr);
    if (rc) return mx_set_error("[stream] cannot start a worker thread (error %d)", rc);
    return n_streams++;
}

int mx_device_available(mx_device d) {
    const mx_backend *b = mx_backend_for(d.type);
    return b->available();
}

mx_device mx_default_device(void) { return default_device; }

int mx_set_default_device(mx_device d) {
    if (!mx_device_available(d)) return -1;
    default_device = d;
    return 0;
}

mx_stream mx_default_stream(mx_device d) {
    mx_stream bad = {-1, d};
    if (d.type != MX_CPU && !mx_device_available(d)) return bad;
    pthread_mutex_lock(&streams_mutex);
    int idx = default_stream_of[d.type];
    if (idx < 0) idx = default_stream_of[d.type] = create_stream_locked(d);
    pthread_mutex_unlock(&streams_mutex);
    return idx < 0 ? bad : streams[idx].stream;
}

mx_stream mx_new_stream(mx_device d) {
    mx_stream bad = {-1, d};
    if (!mx_device_available(d)) return bad;
    pthread_mutex_lock(&streams_mutex);
    int idx = create_stream_locked(d);
    pthread_mutex_unlock(&streams_mutex);
    return idx < 0 ? bad : streams[idx].stream;
}

mx_stream mx_current_stream(void) {
    if (stream_depth > 0) return stream_stack[stream_depth - 1];
    return mx_default_stream(default_device);
}

mx_stream mx_stream_for_new_ops(void) { return mx_current_stream(); }

int mx_stream_push(mx_stream s) {
    if (s.index < 0 || s.index >= n_streams) return mx_set_error("[stream] invalid stream %d", s.index);
    if (stream_depth == (int)(sizeof stream_stack / sizeof stream_stack[0]))
        return mx_set_error("[stream] stream stack too deep");
    stream_stack[stream_depth++] = s;
    return 0;
}

void mx_stream_pop(void) {
    if (stream_depth > 0) stream_depth--;
}

stream_state *mx_stream_state(mx_stream s) {
    if (s.index < 0 || s.index >= n_streams) return NULL;
    return &streams[s.index];
}

void mx_stream_enqueue(stream_state *s, mx_task *t) {
    pthread_mutex_lock(&s->mutex);
    t->next = NULL;
    if (s->tail) s->tail->next = t;
    else s->head = t;
    s->tail = t;
    s->submitted++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mutex);
}

int mx_synchronize(mx_stream st) {
    stream_state *s = mx_stream_state(st);
    if (!s) return mx_set_error("[synchronize] invalid stream %d", st.index);
    pthread_mutex_lock(&s->mutex);
    uint64_t target = s->submitted;
    while (s->completed < target) pthread_cond_wait(&s->cond, &s->mutex);
    pthread_mutex_unlock(&s->mutex);
    return mx_backend_for(st.device.type)->synchronize(st);
}
