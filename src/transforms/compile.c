/* mx_compile: trace a function once per input shapes, merge common subexpressions, fuse
 * elementwise chains, replay the result (see include/cmlx/transforms.h).
 *
 * A trace is a tape: nodes in topological order, each naming its inputs as references to
 * the call's inputs, to arrays captured at trace time (constants), or to an output of an
 * earlier tape node. Replaying creates the tape's nodes afresh on the call's inputs, which
 * costs one node creation per tape node and none of the function's own work. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "cmlx/stream.h"
#include "cmlx/transforms.h"
#include "core/array_impl.h"
#include "core/dtype.h"
#include "ops/elementwise.h"
#include "transforms/fused.h"
#include "util/hashmap.h"

#define MAX_ARGS 64
/* Traces kept per compiled function. A function called with ever new shapes (a server's
 * prompt lengths) would otherwise grow without bound; past this many, new shapes run the
 * function uncompiled (a trace in use by another thread can never be evicted safely). */
#define MAX_TRACES 64

enum { REF_INPUT, REF_CONST, REF_NODE };
typedef struct {
    int kind;
    int index; /* input, constant or tape node */
    int pos;   /* which output of a tape node */
} ref;

typedef struct {
    int prim;
    void *params;
    size_t params_size;
    ref *in;
    int n_in;
    mx_out_desc *out;
    int n_out;
    mx_stream stream;
} tape_node;

typedef struct trace {
    mx_stream stream;      /* the stream current when traced: part of the key */
    mx_out_desc *in_desc;  /* the inputs' dtypes and shapes: the rest of the key */
    tape_node *nodes;
    int n_nodes;
    mx_array **consts;     /* captured arrays, one reference each */
    int n_consts;
    ref *outs;
    int traced_nodes, fused_nodes;
    struct trace *next;
} trace;

struct mx_compiled {
    mx_array_fn fn;
    void *ctx;
    int n_in, n_out;
    pthread_mutex_t mutex;
    trace *traces; /* newest first */
    int n_traces;
};

/* ---- enabling ---- */

static atomic_int compile_state = -1; /* -1: not read from the environment yet */

int mx_compile_enabled(void) {
    int s = atomic_load(&compile_state);
    if (s < 0) {
        const char *e = getenv("CMLX_DISABLE_COMPILE");
        s = !(e && strcmp(e, "0") != 0);
        atomic_store(&compile_state, s);
    }
    return s;
}

void mx_set_compile_enabled(int on) { atomic_store(&compile_state, on ? 1 : 0); }

/* ---- traces ---- */

static void free_trace(trace *t) {
    if (!t) return;
    for (int i = 0; i < t->n_nodes; i++) {
        free(t->nodes[i].params);
        free(t->nodes[i].in);
        free(t->nodes[i].out);
    }
    free(t->nodes);
    for (int i = 0; i < t->n_consts; i++) mx_free(t->consts[i]);
    free(t->consts);
    free(t->outs);
    free(t->in_desc);
    free(t);
}

static void desc_of(const mx_array *a, mx_out_desc *d) {
    memset(d, 0, sizeof *d);
    d->dtype = a->dtype;
    d->ndim = a->ndim;
    memcpy(d->shape, a->shape, sizeof(int64_t) * (size_t)a->ndim);
}

static int same_desc(const mx_out_desc *a, const mx_out_desc *b) {
    return a->dtype == b->dtype && a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim);
}

/* Appends to a growing array of elements of size sz; -1 (error set) on OOM. */
static int grow(void **items, int *cap, int n, size_t sz) {
    if (n < *cap) return 0;
    int nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*items, (size_t)nc * sz);
    if (!p) return mx_set_error("[compile] out of memory recording a trace");
    *items = p;
    *cap = nc;
    return 0;
}

/* The state of tracing one function call. */
typedef struct {
    trace *t;
    int cap_nodes, cap_consts;
    hashmap *seen;   /* node pointer -> tape index, or -1 for a node that does not depend on the inputs */
    hashmap *consts; /* array pointer -> constant index */
    mx_node *const *ph; /* the placeholders' nodes */
    int n_ph;
} tracer;

static int placeholder_index(const tracer *tr, const mx_node *n) {
    for (int i = 0; i < tr->n_ph; i++)
        if (tr->ph[i] == n) return i;
    return -1;
}

static int const_ref(tracer *tr, mx_array *a, ref *r) {
    int64_t idx;
    if (!hashmap_get(tr->consts, &a, sizeof a, &idx)) {
        trace *t = tr->t;
        if (grow((void **)&t->consts, &tr->cap_consts, t->n_consts, sizeof *t->consts)) return -1;
        idx = t->n_consts;
        if (hashmap_put(tr->consts, &a, sizeof a, idx)) return -1;
        t->consts[t->n_consts++] = mx_keep(a);
    }
    *r = (ref){REF_CONST, (int)idx, 0};
    return 0;
}

/* Whether a is computed by a node the tracer must look into (unevaluated, not yet scheduled). */
static mx_node *open_node(const mx_array *a) {
    return atomic_load(&a->status) == MX_STATUS_UNSCHEDULED ? a->node : NULL;
}

/* The reference for array a, whose node (if any) has been visited already. */
static int ref_of(tracer *tr, mx_array *a, ref *r) {
    mx_node *n = open_node(a);
    if (n) {
        int ph = placeholder_index(tr, n);
        if (ph >= 0) {
            *r = (ref){REF_INPUT, ph, 0};
            return 0;
        }
        int64_t idx;
        if (hashmap_get(tr->seen, &n, sizeof n, &idx) && idx >= 0) {
            *r = (ref){REF_NODE, (int)idx, a->position};
            return 0;
        }
    }
    return const_ref(tr, a, r);
}

/* Appends node n to the tape when it depends on an input; otherwise records it as constant. */
static int record_node(tracer *tr, mx_node *n) {
    ref *in = n->n_inputs ? malloc(sizeof(ref) * (size_t)n->n_inputs) : NULL;
    if (n->n_inputs && !in) return mx_set_error("[compile] out of memory recording a trace");
    int dependent = 0;
    /* first pass without capturing constants: a node independent of the inputs is itself
     * captured whole, not its inputs */
    for (int i = 0; i < n->n_inputs; i++) {
        mx_node *m = open_node(n->inputs[i]);
        int64_t idx;
        if (m && (placeholder_index(tr, m) >= 0 || (hashmap_get(tr->seen, &m, sizeof m, &idx) && idx >= 0)))
            dependent = 1;
    }
    if (!dependent) {
        free(in);
        return hashmap_put(tr->seen, &n, sizeof n, -1);
    }
    for (int i = 0; i < n->n_inputs; i++)
        if (ref_of(tr, n->inputs[i], &in[i])) {
            free(in);
            return -1;
        }
    trace *t = tr->t;
    if (grow((void **)&t->nodes, &tr->cap_nodes, t->n_nodes, sizeof *t->nodes)) {
        free(in);
        return -1;
    }
    tape_node *tn = &t->nodes[t->n_nodes];
    memset(tn, 0, sizeof *tn);
    tn->in = in;
    tn->n_in = n->n_inputs;
    tn->prim = n->prim;
    tn->stream = n->stream;
    tn->n_out = n->n_outputs;
    tn->out = malloc(sizeof(mx_out_desc) * (size_t)n->n_outputs);
    tn->params_size = n->params_size;
    tn->params = n->params_size ? malloc(n->params_size) : NULL;
    if (!tn->out || (n->params_size && !tn->params)) {
        free(tn->out);
        free(tn->params);
        free(in);
        return mx_set_error("[compile] out of memory recording a trace");
    }
    memcpy(tn->out, n->out_desc, sizeof(mx_out_desc) * (size_t)n->n_outputs);
    if (n->params_size) memcpy(tn->params, n->params, n->params_size);
    if (hashmap_put(tr->seen, &n, sizeof n, t->n_nodes)) return -1;
    t->n_nodes++;
    return 0;
}

/* Depth-first from the outputs, recording nodes after their inputs (iterative: a deep graph
 * cannot overflow the stack). */
static int record_graph(tracer *tr, mx_array **outs, int n_out) {
    typedef struct {
        mx_node *n;
        int next;
    } frame;
    frame *stack = NULL;
    int cap = 0, depth = 0, rc = 0;
    for (int o = 0; o < n_out && !rc; o++) {
        mx_node *root = open_node(outs[o]);
        int64_t idx;
        if (!root || placeholder_index(tr, root) >= 0 || hashmap_get(tr->seen, &root, sizeof root, &idx)) continue;
        if ((rc = grow((void **)&stack, &cap, depth, sizeof *stack))) break;
        stack[depth++] = (frame){root, 0};
        if ((rc = hashmap_put(tr->seen, &root, sizeof root, -2))) break; /* -2: on the stack */
        while (depth && !rc) {
            frame *f = &stack[depth - 1];
            if (f->next < f->n->n_inputs) {
                mx_node *m = open_node(f->n->inputs[f->next++]);
                if (!m || placeholder_index(tr, m) >= 0 || hashmap_get(tr->seen, &m, sizeof m, &idx)) continue;
                if ((rc = grow((void **)&stack, &cap, depth, sizeof *stack))) break;
                stack[depth++] = (frame){m, 0};
                rc = hashmap_put(tr->seen, &m, sizeof m, -2);
                continue;
            }
            rc = record_node(tr, f->n);
            depth--;
        }
    }
    free(stack);
    return rc;
}

/* ---- common subexpressions ---- */

/* Merges nodes with the same primitive, parameters, inputs and outputs into the first of
 * them, and drops the merged ones (outputs refer to the survivor). CUSTOM nodes are kept
 * apart: their function may have effects. */
static int merge_common(trace *t, int n_out) {
    int n = t->n_nodes, rc = 0, kept = 0;
    int *target = malloc(sizeof(int) * (size_t)(n + 1)), *new_index = malloc(sizeof(int) * (size_t)(n + 1));
    hashmap *m = hashmap_new((size_t)n + 1);
    if (!target || !new_index || !m) {
        rc = mx_set_error("[compile] out of memory merging common subexpressions");
        goto out;
    }
    for (int i = 0; i < n && !rc; i++) {
        tape_node *tn = &t->nodes[i];
        for (int k = 0; k < tn->n_in; k++)
            if (tn->in[k].kind == REF_NODE) tn->in[k].index = target[tn->in[k].index];
        target[i] = i;
        if (tn->prim == MX_PRIM_CUSTOM) continue;
        size_t len = sizeof(int) * 4 + tn->params_size + sizeof(ref) * (size_t)tn->n_in +
                     sizeof(mx_out_desc) * (size_t)tn->n_out;
        char *key = calloc(1, len), *p = key;
        if (!key) {
            rc = mx_set_error("[compile] out of memory merging common subexpressions");
            break;
        }
        int head[4] = {tn->prim, tn->n_in, tn->n_out, tn->stream.index};
        memcpy(p, head, sizeof head);
        p += sizeof head;
        if (tn->params_size) memcpy(p, tn->params, tn->params_size);
        p += tn->params_size;
        if (tn->n_in) memcpy(p, tn->in, sizeof(ref) * (size_t)tn->n_in);
        p += sizeof(ref) * (size_t)tn->n_in;
        for (int k = 0; k < tn->n_out; k++, p += sizeof(mx_out_desc)) { /* unused dimensions zeroed */
            mx_out_desc d;
            memset(&d, 0, sizeof d);
            d.dtype = tn->out[k].dtype;
            d.ndim = tn->out[k].ndim;
            memcpy(d.shape, tn->out[k].shape, sizeof(int64_t) * (size_t)d.ndim);
            memcpy(p, &d, sizeof d);
        }
        int64_t first;
        if (hashmap_get(m, key, len, &first)) target[i] = (int)first;
        else rc = hashmap_put(m, key, len, i);
        free(key);
    }
    if (rc) goto out;
    for (int i = 0; i < n; i++) new_index[i] = target[i] == i ? kept++ : -1;
    for (int i = 0, j = 0; i < n; i++) {
        tape_node *tn = &t->nodes[i];
        if (target[i] != i) {
            free(tn->params);
            free(tn->in);
            free(tn->out);
            continue;
        }
        for (int k = 0; k < tn->n_in; k++)
            if (tn->in[k].kind == REF_NODE) tn->in[k].index = new_index[tn->in[k].index];
        t->nodes[j++] = *tn;
    }
    t->n_nodes = kept;
    for (int o = 0; o < n_out; o++)
        if (t->outs[o].kind == REF_NODE) t->outs[o].index = new_index[target[t->outs[o].index]];
out:
    hashmap_free(m);
    free(new_index);
    free(target);
    return rc;
}

/* ---- elementwise fusion ---- */

static int is_float_type(mx_dtype t) { return t == MX_FLOAT32 || t == MX_FLOAT16 || t == MX_BFLOAT16; }

static mx_dtype ref_dtype(const trace *t, ref r) {
    if (r.kind == REF_INPUT) return t->in_desc[r.index].dtype;
    if (r.kind == REF_CONST) return t->consts[r.index]->dtype;
    return t->nodes[r.index].out[r.pos].dtype;
}

/* Whether tape node i can be a step of a fused chain: a float16/bfloat16/float32 unary,
 * binary or astype computed in float32 on the CPU (the fused kernel's domain). */
static int fusable(const trace *t, int i) {
    const tape_node *tn = &t->nodes[i];
    if (tn->n_out != 1 || tn->stream.device.type != MX_CPU || !is_float_type(tn->out[0].dtype)) return 0;
    for (int k = 0; k < tn->n_in; k++)
        if (!is_float_type(ref_dtype(t, tn->in[k]))) return 0;
    if (tn->prim == MX_PRIM_UNARY) {
        const mx_unary_params *p = tn->params;
        return p->decimals >= -128 && p->decimals <= 127;
    }
    if (tn->prim == MX_PRIM_BINARY) return is_float_type((mx_dtype)((const mx_binary_params *)tn->params)->compute);
    return tn->prim == MX_PRIM_ASTYPE;
}

static int same_shape(const mx_out_desc *a, const mx_out_desc *b) {
    return a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim);
}

static int same_ref(ref a, ref b) { return a.kind == b.kind && a.index == b.index && a.pos == b.pos; }

/* The fused node replacing the chain whose members (ascending tape order) end at root. */
static int build_fused(const trace *t, const int *group, int root, const int *new_index, tape_node *dst) {
    mx_fused_params p;
    memset(&p, 0, sizeof p);
    ref ext[MX_FUSED_MAX_INPUTS];
    int step_of[MX_FUSED_MAX_STEPS], members[MX_FUSED_MAX_STEPS], nm = 0, ne = 0;
    for (int u = 0; u <= root; u++)
        if (group[u] == root) members[nm++] = u;
    for (int k = 0; k < nm; k++) {
        const tape_node *tn = &t->nodes[members[k]];
        for (int j = 0; j < tn->n_in; j++) {
            ref r = tn->in[j];
            if (r.kind == REF_NODE && group[r.index] == root) continue;
            int e = 0;
            while (e < ne && !same_ref(ext[e], r)) e++;
            if (e == ne) ext[ne++] = r; /* ne <= MX_FUSED_MAX_INPUTS: checked by the caller */
        }
    }
    p.n_inputs = ne;
    p.n_steps = nm;
    for (int k = 0; k < nm; k++) {
        const tape_node *tn = &t->nodes[members[k]];
        mx_fused_step *st = &p.steps[k];
        step_of[k] = members[k];
        st->dtype = (uint8_t)tn->out[0].dtype;
        if (tn->prim == MX_PRIM_UNARY) {
            const mx_unary_params *up = tn->params;
            st->kind = MX_FUSED_UNARY;
            st->op = (uint8_t)up->op;
            st->decimals = (int8_t)up->decimals;
        } else if (tn->prim == MX_PRIM_BINARY) {
            st->kind = MX_FUSED_BINARY;
            st->op = (uint8_t)((const mx_binary_params *)tn->params)->op;
        } else {
            st->kind = MX_FUSED_ASTYPE;
        }
        uint8_t regs[2] = {0, 0};
        for (int j = 0; j < tn->n_in && j < 2; j++) {
            ref r = tn->in[j];
            if (r.kind == REF_NODE && group[r.index] == root) {
                int s = 0;
                while (step_of[s] != r.index) s++; /* an earlier member */
                regs[j] = (uint8_t)(ne + s);
            } else {
                int e = 0;
                while (!same_ref(ext[e], r)) e++;
                regs[j] = (uint8_t)e;
            }
        }
        st->a = regs[0];
        st->b = regs[1];
    }
    const tape_node *rt = &t->nodes[root];
    memset(dst, 0, sizeof *dst);
    dst->prim = MX_PRIM_FUSED;
    dst->stream = rt->stream;
    dst->n_in = ne;
    dst->n_out = 1;
    dst->params_size = sizeof p;
    dst->params = malloc(sizeof p);
    dst->in = malloc(sizeof(ref) * (size_t)ne);
    dst->out = malloc(sizeof(mx_out_desc));
    if (!dst->params || !dst->in || !dst->out) {
        free(dst->params);
        free(dst->in);
        free(dst->out);
        return mx_set_error("[compile] out of memory fusing an elementwise chain");
    }
    memcpy(dst->params, &p, sizeof p);
    for (int e = 0; e < ne; e++) {
        dst->in[e] = ext[e];
        if (ext[e].kind == REF_NODE) dst->in[e].index = new_index[ext[e].index];
    }
    dst->out[0] = rt->out[0];
    return 0;
}

/* Groups chains of fusable nodes of one shape in which every member but the last is used only
 * inside the chain, and replaces each group of two or more by one MX_PRIM_FUSED node. */
static int fuse_elementwise(trace *t, int n_out) {
    int n = t->n_nodes, rc = 0;
    if (n < 2) return 0;
    int *group = malloc(sizeof(int) * (size_t)n), *new_index = malloc(sizeof(int) * (size_t)n);
    int *n_cons = calloc((size_t)n + 1, sizeof(int)), *cons = NULL;
    char *is_out = calloc((size_t)n, 1), *can = calloc((size_t)n, 1);
    tape_node *nodes = malloc(sizeof(tape_node) * (size_t)n);
    int total = 0;
    for (int i = 0; i < n; i++) total += t->nodes[i].n_in;
    cons = malloc(sizeof(int) * (size_t)(total + 1));
    if (!group || !new_index || !n_cons || !cons || !is_out || !can || !nodes) {
        rc = mx_set_error("[compile] out of memory fusing elementwise chains");
        goto out;
    }
    /* consumers of each node, as offsets into cons (n_cons[i] .. n_cons[i + 1]) */
    for (int i = 0; i < n; i++)
        for (int k = 0; k < t->nodes[i].n_in; k++)
            if (t->nodes[i].in[k].kind == REF_NODE) n_cons[t->nodes[i].in[k].index + 1]++;
    for (int i = 0; i < n; i++) n_cons[i + 1] += n_cons[i];
    {
        int *fill = new_index; /* scratch */
        for (int i = 0; i < n; i++) fill[i] = n_cons[i];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < t->nodes[i].n_in; k++)
                if (t->nodes[i].in[k].kind == REF_NODE) cons[fill[t->nodes[i].in[k].index]++] = i;
    }
    for (int o = 0; o < n_out; o++)
        if (t->outs[o].kind == REF_NODE) is_out[t->outs[o].index] = 1;
    for (int i = 0; i < n; i++) {
        can[i] = (char)fusable(t, i);
        group[i] = -1;
    }
    for (int v = n - 1; v >= 0; v--) {
        if (!can[v] || group[v] != -1) continue;
        group[v] = v;
        int members = 1;
        for (int u = v - 1; u >= 0 && members < MX_FUSED_MAX_STEPS; u--) {
            if (!can[u] || group[u] != -1 || is_out[u] || n_cons[u] == n_cons[u + 1]) continue;
            if (t->nodes[u].stream.index != t->nodes[v].stream.index || !same_shape(&t->nodes[u].out[0], &t->nodes[v].out[0]))
                continue;
            int inside = 1;
            for (int c = n_cons[u]; c < n_cons[u + 1] && inside; c++) inside = group[cons[c]] == v;
            if (inside) {
                group[u] = v;
                members++;
            }
        }
        /* distinct inputs from outside the chain */
        ref ext[MX_FUSED_MAX_INPUTS + 1];
        int ne = 0;
        for (int u = 0; u <= v && ne <= MX_FUSED_MAX_INPUTS; u++) {
            if (group[u] != v) continue;
            for (int k = 0; k < t->nodes[u].n_in && ne <= MX_FUSED_MAX_INPUTS; k++) {
                ref r = t->nodes[u].in[k];
                if (r.kind == REF_NODE && group[r.index] == v) continue;
                int e = 0;
                while (e < ne && !same_ref(ext[e], r)) e++;
                if (e == ne) ext[ne++] = r;
            }
        }
        if (members < 2 || ne > MX_FUSED_MAX_INPUTS) { /* not worth it, or too wide: leave as is */
            for (int u = 0; u < v; u++)
                if (group[u] == v) group[u] = -1;
            group[v] = -2;
        }
    }
    int kept = 0, fused = 0;
    for (int i = 0; i < n && !rc; i++) {
        tape_node *tn = &t->nodes[i];
        if (group[i] >= 0 && group[i] != i) { /* a member: becomes part of its root's node */
            new_index[i] = -1;
            continue;
        }
        if (group[i] == i) {
            rc = build_fused(t, group, i, new_index, &nodes[kept]);
            fused++;
        } else {
            nodes[kept] = *tn;
            for (int k = 0; k < tn->n_in; k++)
                if (tn->in[k].kind == REF_NODE) nodes[kept].in[k].index = new_index[tn->in[k].index];
        }
        new_index[i] = kept++;
    }
    if (rc) { /* the new nodes built so far: fused ones own fresh memory, copies share the old */
        for (int i = 0, j = 0; i < n && j < kept; i++) {
            if (group[i] >= 0 && group[i] != i) continue;
            if (group[i] == i) {
                free(nodes[j].params);
                free(nodes[j].in);
                free(nodes[j].out);
            }
            j++;
        }
        goto out;
    }
    for (int i = 0; i < n; i++)
        if (group[i] >= 0) { /* members and roots: replaced by the fused nodes */
            free(t->nodes[i].params);
            free(t->nodes[i].in);
            free(t->nodes[i].out);
        }
    memcpy(t->nodes, nodes, sizeof(tape_node) * (size_t)kept);
    t->n_nodes = kept;
    t->fused_nodes = fused;
    for (int o = 0; o < n_out; o++)
        if (t->outs[o].kind == REF_NODE) t->outs[o].index = new_index[t->outs[o].index];
out:
    free(group);
    free(new_index);
    free(n_cons);
    free(cons);
    free(is_out);
    free(can);
    free(nodes);
    return rc;
}

/* ---- tracing and replaying ---- */

/* Traces c's function on placeholders shaped like in; the new trace is not yet linked. */
static int make_trace(mx_compiled *c, mx_array *const *in, trace **result) {
    *result = NULL;
    trace *t = calloc(1, sizeof *t);
    mx_array *ph[MAX_ARGS], *outs[MAX_ARGS];
    mx_node *ph_nodes[MAX_ARGS];
    tracer tr = {.t = t, .ph = ph_nodes, .n_ph = c->n_in};
    int rc = 0;
    mx_pool *pool = mx_pool_begin();
    if (!t || !pool) {
        free(t);
        mx_pool_end(pool);
        return mx_set_error("[compile] out of memory tracing a function");
    }
    t->stream = mx_stream_for_new_ops();
    t->in_desc = calloc((size_t)c->n_in, sizeof *t->in_desc);
    t->outs = calloc((size_t)c->n_out, sizeof *t->outs);
    tr.seen = hashmap_new(256);
    tr.consts = hashmap_new(64);
    if (!t->in_desc || !t->outs || !tr.seen || !tr.consts) {
        rc = mx_set_error("[compile] out of memory tracing a function");
        goto out;
    }
    for (int i = 0; i < c->n_in; i++) {
        desc_of(in[i], &t->in_desc[i]);
        ph[i] = mx_node_create1(MX_PRIM_PLACEHOLDER, NULL, 0, NULL, 0, in[i]->dtype, in[i]->shape, in[i]->ndim);
        if (!ph[i]) {
            rc = -1;
            goto out;
        }
        ph_nodes[i] = ph[i]->node;
    }
    for (int o = 0; o < c->n_out; o++) outs[o] = NULL;
    mx_clear_error();
    if (c->fn(ph, c->n_in, outs, c->n_out, c->ctx)) {
        if (!mx_last_error()[0]) mx_set_error("[compile] the compiled function failed without saying why");
        rc = -1;
        goto out;
    }
    for (int o = 0; o < c->n_out; o++)
        if (!outs[o]) {
            rc = mx_set_error("[compile] the compiled function returned success but left output %d of %d NULL", o,
                              c->n_out);
            goto out;
        }
    for (int i = 0; i < c->n_in; i++)
        if (atomic_load(&ph[i]->status) != MX_STATUS_UNSCHEDULED) { /* it tried to evaluate: the kernel said why */
            rc = mx_set_error("[compile] the compiled function evaluated an array computed from input %d while it "
                              "was traced; compiled functions must only build graphs",
                              i);
            goto out;
        }
    if ((rc = record_graph(&tr, outs, c->n_out))) goto out;
    for (int o = 0; o < c->n_out && !rc; o++) rc = ref_of(&tr, outs[o], &t->outs[o]);
    if (rc) goto out;
    t->traced_nodes = t->n_nodes;
    if ((rc = merge_common(t, c->n_out))) goto out;
    rc = fuse_elementwise(t, c->n_out);
out:
    hashmap_free(tr.seen);
    hashmap_free(tr.consts);
    mx_pool_end(pool); /* the placeholders and the traced graph (outputs the function made in our pool) */
    if (rc) {
        free_trace(t);
        return -1;
    }
    *result = t;
    return 0;
}

static mx_array *resolve(const trace *t, mx_array *const *in, mx_array **made, const int *first, ref r) {
    if (r.kind == REF_INPUT) return in[r.index];
    if (r.kind == REF_CONST) return t->consts[r.index];
    return made[first[r.index] + r.pos];
}

/* Builds the trace's nodes on the inputs in; outputs go to out under the ownership rule. */
static int replay(const trace *t, mx_array *const *in, int n_out, mx_array **out) {
    int total = 0, rc = 0;
    for (int i = 0; i < t->n_nodes; i++) total += t->nodes[i].n_out;
    mx_array **made = calloc((size_t)total + 1, sizeof *made);
    int *first = malloc(sizeof(int) * ((size_t)t->n_nodes + 1));
    mx_pool *pool = mx_pool_begin();
    if (!made || !first || !pool) {
        free(made);
        free(first);
        mx_pool_end(pool);
        return mx_set_error("[compile] out of memory replaying a trace");
    }
    mx_array *args[MAX_ARGS * 4], **argv = args;
    for (int i = 0, f = 0; i < t->n_nodes && !rc; i++) {
        const tape_node *tn = &t->nodes[i];
        first[i] = f;
        if (tn->n_in > (int)(sizeof args / sizeof args[0])) {
            argv = malloc(sizeof *argv * (size_t)tn->n_in);
            if (!argv) {
                rc = mx_set_error("[compile] out of memory replaying a trace");
                break;
            }
        }
        for (int k = 0; k < tn->n_in; k++) argv[k] = resolve(t, in, made, first, tn->in[k]);
        mx_stream cur = mx_stream_for_new_ops();
        int pushed = cur.index != tn->stream.index && !mx_stream_push(tn->stream);
        rc = mx_node_create(tn->prim, tn->params, tn->params_size, argv, tn->n_in, tn->out, tn->n_out, made + f);
        if (pushed) mx_stream_pop();
        if (argv != args) free(argv);
        argv = args;
        f += tn->n_out;
    }
    if (!rc) {
        for (int o = 0; o < n_out; o++) out[o] = mx_keep(resolve(t, in, made, first, t->outs[o]));
    }
    mx_pool_end(pool);
    if (!rc)
        for (int o = 0; o < n_out; o++) {
            if (!mx_pool_track(out[o])) { /* the enclosing pool could not take it: it was released */
                for (int k = o + 1; k < n_out; k++) mx_free(out[k]);
                for (int k = 0; k < n_out; k++) out[k] = NULL;
                rc = -1;
                break;
            }
        }
    free(made);
    free(first);
    return rc;
}

/* ---- the public functions ---- */

mx_compiled *mx_compile(mx_array_fn fn, void *ctx, int n_in, int n_out) {
    if (!fn) {
        mx_set_error("[compile] no function given");
        return NULL;
    }
    if (n_in < 1 || n_in > MAX_ARGS || n_out < 1 || n_out > MAX_ARGS) {
        mx_set_error("[compile] %d inputs and %d outputs: each must be between 1 and %d", n_in, n_out, MAX_ARGS);
        return NULL;
    }
    mx_compiled *c = calloc(1, sizeof *c);
    if (!c) {
        mx_set_error("[compile] out of memory");
        return NULL;
    }
    if (pthread_mutex_init(&c->mutex, NULL)) {
        free(c);
        mx_set_error("[compile] cannot create a mutex");
        return NULL;
    }
    c->fn = fn;
    c->ctx = ctx;
    c->n_in = n_in;
    c->n_out = n_out;
    return c;
}

static int matches(const trace *t, mx_stream s, mx_array *const *in, int n_in) {
    if (t->stream.index != s.index) return 0;
    for (int i = 0; i < n_in; i++) {
        mx_out_desc d;
        desc_of(in[i], &d);
        if (!same_desc(&d, &t->in_desc[i])) return 0;
    }
    return 1;
}

static int call_uncompiled(mx_compiled *c, mx_array *const *in, mx_array **out) {
    int rc = c->fn(in, c->n_in, out, c->n_out, c->ctx);
    for (int o = 0; o < c->n_out && !rc; o++)
        if (!out[o]) rc = mx_set_error("[compile] the function returned success but left output %d of %d NULL", o, c->n_out);
    return rc;
}

int mx_compiled_call(mx_compiled *c, mx_array *const *in, mx_array **out) {
    if (!c || !in || !out) return mx_set_error("[compile] mx_compiled_call needs a compiled function, inputs and outputs");
    for (int o = 0; o < c->n_out; o++) out[o] = NULL;
    for (int i = 0; i < c->n_in; i++)
        if (!in[i]) {
            if (!mx_last_error()[0]) mx_set_error("[compile] input %d of %d is NULL", i, c->n_in);
            return -1;
        }
    if (!mx_compile_enabled()) return call_uncompiled(c, in, out);
    mx_stream s = mx_stream_for_new_ops();
    pthread_mutex_lock(&c->mutex);
    trace *t = c->traces;
    while (t && !matches(t, s, in, c->n_in)) t = t->next;
    if (!t && c->n_traces >= MAX_TRACES) {
        pthread_mutex_unlock(&c->mutex);
        return call_uncompiled(c, in, out);
    }
    if (!t) {
        if (make_trace(c, in, &t)) {
            pthread_mutex_unlock(&c->mutex);
            return -1;
        }
        t->next = c->traces;
        c->traces = t;
        c->n_traces++;
    }
    pthread_mutex_unlock(&c->mutex); /* traces are never changed once made, nor freed before c */
    return replay(t, in, c->n_out, out);
}

void mx_compiled_free(mx_compiled *c) {
    if (!c) return;
    for (trace *t = c->traces, *next; t; t = next) {
        next = t->next;
        free_trace(t);
    }
    pthread_mutex_destroy(&c->mutex);
    free(c);
}

int mx_compiled_stats(const mx_compiled *c, mx_compile_stats *st) {
    if (!c || !st) return mx_set_error("[compile] mx_compiled_stats needs a compiled function and a result");
    memset(st, 0, sizeof *st);
    st->traces = c->n_traces;
    const trace *t = c->traces;
    st->traced_nodes = t ? t->traced_nodes : -1;
    st->replayed_nodes = t ? t->n_nodes : -1;
    st->fused_nodes = t ? t->fused_nodes : -1;
    return 0;
}
