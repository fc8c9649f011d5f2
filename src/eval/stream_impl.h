/* Internal stream and task structures shared by stream.c and eval.c. */
#ifndef CMLX_EVAL_STREAM_IMPL_H
#define CMLX_EVAL_STREAM_IMPL_H

#include <pthread.h>
#include <stdint.h>

#include "core/array_impl.h"

/* One scheduled node: the task holds the node and strong references to all its outputs
 * until it has run. */
typedef struct mx_task {
    struct mx_task *next;
    mx_node *node;
    int n_outputs;
    mx_array *outputs[];
} mx_task;

typedef struct stream_state {
    mx_stream stream;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    mx_task *head, *tail;
    uint64_t submitted, completed;
} stream_state;

stream_state *mx_stream_state(mx_stream s);
void mx_stream_enqueue(stream_state *s, mx_task *t);
/* Runs a task on the calling (worker) thread and frees it. */
void mx_run_task(mx_task *t);

#endif
