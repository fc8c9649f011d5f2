/* eval and async_eval.
 *
 * The caller's thread sorts the graph (iteratively, so a million-node chain needs no deep
 * stack), marks the outputs scheduled and hands one task per node to the node's stream in
 * topological order. Each stream's worker waits for inputs computed elsewhere, runs the
 * kernel, marks outputs available and detaches them from the node, so intermediates are
 * freed as soon as nothing refers to them. Submission in topological order makes the
 * waits acyclic: a task only ever waits for tasks submitted before it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "eval/stream_impl.h"

static pthread_mutex_t schedule_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t done_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static uint64_t visit_counter;

/* Who waits for what. A task that finishes wakes the waiters only when one of its outputs is
 * awaited: before, every task broadcast done_cond, so mx_eval's thread woke (a futex wake
 * and a context switch) once per node of the graph just to go back to sleep. Waiters
 * register under done_mutex; `n_waiting` (seq_cst) lets a publisher skip the mutex when
 * nobody waits: a publisher stores the status then reads n_waiting, a waiter increments
 * n_waiting then reads the status, so one of them sees the other. An overflowing registry
 * falls back to waking on every completion. */
#define MAX_WAITERS 64
static const mx_array *awaited[MAX_WAITERS];
static int n_awaited_overflow;
static atomic_int n_waiting;

/* Caller holds done_mutex. */
static int register_waiter(const mx_array *a) {
    for (int i = 0; i < MAX_WAITERS; i++)
        if (!awaited[i]) {
            awaited[i] = a;
            return i;
        }
    n_awaited_overflow++;
    return -1;
}

static void unregister_waiter(int slot) {
    if (slot >= 0) awaited[slot] = NULL;
    else n_awaited_overflow--;
}

/* Caller holds done_mutex. */
static int is_awaited(mx_array *const *outs, int n) {
    if (n_awaited_overflow) return 1;
    for (int i = 0; i < MAX_WAITERS; i++)
        if (awaited[i])
            for (int j = 0; j < n; j++)
                if (awaited[i] == outs[j]) return 1;
    return 0;
}

typedef struct {
    mx_node *node;
    int next;
} dfs_frame;

/* Appends to *tape, in topological order, every node that must run for `roots`. */
static int build_tape(mx_array *const *roots, int n, mx_node ***tape, size_t *tape_n) {
    uint64_t mark = ++visit_counter;
    size_t cap = 64, tn = 0, sn = 0, scap = 64;
    mx_node **t = malloc(cap * sizeof *t);
    dfs_frame *stack = malloc(scap * sizeof *stack);
    if (!t || !stack) {
        free(t);
        free(stack);
        return mx_set_error("[eval] out of memory sorting the graph");
    }
    for (int r = 0; r < n; r++) {
        mx_array *a = roots[r];
        if (atomic_load(&a->status) != MX_STATUS_UNSCHEDULED || a->node->visit_mark == mark) continue;
        a->node->visit_mark = mark;
        stack[sn++] = (dfs_frame){a->node, 0};
        while (sn) {
            dfs_frame *f = &stack[sn - 1];
            if (f->next < f->node->n_inputs) {
                mx_array *in = f->node->inputs[f->next++];
                if (atomic_load(&in->status) != MX_STATUS_UNSCHEDULED || in->node->visit_mark == mark) continue;
                in->node->visit_mark = mark;
                if (sn == scap) {
                    dfs_frame *ns = realloc(stack, scap * 2 * sizeof *ns);
                    if (!ns) goto oom;
                    stack = ns;
                    scap *= 2;
                }
                stack[sn++] = (dfs_frame){in->node, 0};
            } else {
                if (tn == cap) {
                    mx_node **nt = realloc(t, cap * 2 * sizeof *nt);
                    if (!nt) goto oom;
                    t = nt;
                    cap *= 2;
                }
                t[tn++] = f->node;
                sn--;
            }
        }
    }
    free(stack);
    *tape = t;
    *tape_n = tn;
    return 0;
oom:
    free(t);
    free(stack);
    return mx_set_error("[eval] out of memory sorting the graph");
}

/* Takes a strong reference to a weakly held output, or NULL when it is gone (or dying). */
static mx_array *upgrade_weak_locked(mx_array *a) {
    if (!a) return NULL;
    int r = atomic_load(&a->refs);
    while (r > 0)
        if (atomic_compare_exchange_weak(&a->refs, &r, r + 1)) return a;
    return NULL;
}

static mx_task *make_task(mx_node *node) {
    mx_task *t = calloc(1, sizeof *t + sizeof(mx_array *) * (size_t)node->n_outputs);
    if (!t) return NULL;
    t->node = node;
    t->n_outputs = node->n_outputs;
    mx_graph_lock();
    for (int i = 0; i < node->n_outputs; i++) {
        mx_array *o = upgrade_weak_locked(node->outputs[i]);
        if (!o) {
            /* Nobody holds this sibling, but the kernel still writes it: give it a scratch. */
            const mx_out_desc *d = &node->out_desc[i];
            o = mx_array_alloc_shell(d->shape, d->ndim, d->dtype);
            if (!o) {
                mx_graph_unlock();
                for (int j = 0; j < i; j++) mx_array_release(t->outputs[j]);
                free(t);
                return NULL;
            }
            atomic_store(&o->status, MX_STATUS_UNSCHEDULED);
            o->node = node;
            o->position = i;
            o->stream = node->stream;
            atomic_fetch_add(&node->refs, 1);
            node->outputs[i] = o;
        }
        t->outputs[i] = o;
    }
    mx_graph_unlock();
    mx_node_retain(node);
    return t;
}

int mx_async_eval(mx_array *const *arrays, int n) {
    for (int i = 0; i < n; i++)
        if (!arrays[i]) return -1; /* the op that failed has set the message */
    pthread_mutex_lock(&schedule_mutex);
    mx_node **tape = NULL;
    size_t tn = 0;
    if (build_tape(arrays, n, &tape, &tn)) {
        pthread_mutex_unlock(&schedule_mutex);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < tn; i++) {
        mx_node *node = tape[i];
        stream_state *s = mx_stream_state(node->stream);
        mx_task *t = s ? make_task(node) : NULL;
        if (!t) {
            /* Earlier tasks are queued and will complete; the rest stay unscheduled. */
            rc = s ? mx_set_error("[eval] out of memory scheduling %s", mx_prim_name(node->prim))
                   : mx_set_error("[eval] %s is on an invalid stream", mx_prim_name(node->prim));
            break;
        }
        for (int j = 0; j < t->n_outputs; j++) atomic_store(&t->outputs[j]->status, MX_STATUS_SCHEDULED);
        mx_stream_enqueue(s, t);
    }
    free(tape);
    pthread_mutex_unlock(&schedule_mutex);
    return rc;
}

/* Waits until a is no longer scheduled; 0 when available, -1 (message set) when failed. */
static int wait_array(mx_array *a) {
    if (atomic_load(&a->status) == MX_STATUS_SCHEDULED) {
        pthread_mutex_lock(&done_mutex);
        int slot = register_waiter(a);
        atomic_fetch_add(&n_waiting, 1);
        while (atomic_load(&a->status) == MX_STATUS_SCHEDULED) pthread_cond_wait(&done_cond, &done_mutex);
        atomic_fetch_sub(&n_waiting, 1);
        unregister_waiter(slot);
        pthread_mutex_unlock(&done_mutex);
    }
    int st = atomic_load(&a->status);
    if (st == MX_STATUS_FAILED) return mx_set_error("%s", a->error ? a->error : "[eval] computation failed");
    if (st != MX_STATUS_AVAILABLE) return mx_set_error("[eval] array was not scheduled");
    return 0;
}

int mx_eval(mx_array *const *arrays, int n) {
    if (mx_async_eval(arrays, n)) return -1;
    for (int i = 0; i < n; i++)
        if (wait_array(arrays[i])) return -1;
    return 0;
}

int mx_eval1(mx_array *a) { return mx_eval(&a, 1); }

void mx_run_task(mx_task *t) {
    mx_node *node = t->node;
    char *err = NULL;
    for (int i = 0; i < node->n_inputs && !err; i++) {
        mx_array *in = node->inputs[i];
        if (wait_array(in)) err = strdup(mx_last_error());
    }
    if (!err) {
        const mx_backend *b = mx_backend_for(node->stream.device.type);
        mx_kernel_fn fn = b->kernels[node->prim];
        if (!fn) {
            mx_set_error("[%s] has no %s kernel", mx_prim_name(node->prim), b->name);
            err = strdup(mx_last_error());
        } else {
            mx_kernel_ctx ctx = {node->prim, node->params, node->inputs, node->n_inputs,
                                 t->outputs,  t->n_outputs, node->stream};
            mx_clear_error();
            if (fn(&ctx)) {
                const char *m = mx_last_error();
                if (!m[0]) mx_set_error("[%s] failed", mx_prim_name(node->prim));
                err = strdup(mx_last_error());
                if (!err) err = strdup("[eval] kernel failed");
            }
        }
    }
    for (int i = 0; i < t->n_outputs; i++) {
        mx_array *o = t->outputs[i];
        if (err) {
            if (o->buf) {
                mx_buffer_release(o->buf);
                o->buf = NULL;
            }
            o->error = strdup(err);
        } else if (!o->buf) {
            o->error = strdup("[eval] kernel produced no output buffer");
            err = strdup(o->error);
        }
    }
    /* Detach the outputs from the node (the task still holds it), then publish. */
    for (int i = 0; i < t->n_outputs; i++) {
        mx_array *o = t->outputs[i];
        if (o->node == node) {
            o->node = NULL;
            atomic_fetch_sub(&node->refs, 1);
        }
    }
    /* Inputs are released before the results are published, so memory counters read right
     * after mx_eval returns already reflect the freed intermediates. */
    mx_node_release(node);
    for (int i = 0; i < t->n_outputs; i++)
        atomic_store(&t->outputs[i]->status, err ? MX_STATUS_FAILED : MX_STATUS_AVAILABLE);
    if (atomic_load(&n_waiting) > 0) {
        pthread_mutex_lock(&done_mutex);
        if (is_awaited(t->outputs, t->n_outputs)) pthread_cond_broadcast(&done_cond);
        pthread_mutex_unlock(&done_mutex);
    }
    free(err);
    for (int i = 0; i < t->n_outputs; i++) mx_array_release(t->outputs[i]);
    free(t);
}
