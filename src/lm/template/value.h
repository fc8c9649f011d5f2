/* The values a Jinja template computes with: a small tagged union over the Python types
 * that chat templates meet (None, Undefined, bool, int, float, str, list/tuple, dict,
 * namespace, callables, the loop object). Heap values are reference counted; a tv is
 * passed by value and owns one reference when a function says it returns "a new tv". */
#ifndef CMLX_LM_TEMPLATE_VALUE_H
#define CMLX_LM_TEMPLATE_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "util/hashmap.h"
#include "util/strbuf.h"

typedef enum {
    TV_UNDEF,  /* Jinja2's default Undefined; u.o is a tv_str message or NULL */
    TV_NONE,
    TV_BOOL,
    TV_INT,
    TV_FLOAT,
    TV_STR,
    TV_LIST,   /* flag TVF_TUPLE marks a Python tuple (prints with parentheses) */
    TV_DICT,   /* insertion ordered, like a Python dict */
    TV_NS,     /* jinja2 namespace(): a dict whose entries are attributes */
    TV_FUNC,   /* builtin global, bound method, macro, joiner ... */
    TV_LOOP,   /* the `loop` variable of a for loop */
} tv_type;

enum {
    TVF_TUPLE = 1,    /* TV_LIST */
    TVF_ITEMS = 2,    /* TV_LIST made by dict.items(): prints as dict_items([...]) */
    TVF_KEYS = 4,     /* ... dict.keys() */
    TVF_VALUES = 8,   /* ... dict.values() */
    TVF_SECURITY = 1, /* TV_UNDEF: using it raises SecurityError, not UndefinedError */
    TVF_SAFE = 1,     /* TV_STR: markupsafe.Markup (made by escape/safe) */
};
#define TVF_VIEW (TVF_ITEMS | TVF_KEYS | TVF_VALUES)

typedef struct tv_obj {
    int32_t refs;
} tv_obj;

typedef struct tv {
    uint8_t type;
    uint8_t flag;
    union {
        int b;
        int64_t i;
        double f;
        tv_obj *o;
    } u;
} tv;

typedef struct tv_str {
    tv_obj h;
    size_t len;
    char data[];
} tv_str;

typedef struct tv_list {
    tv_obj h;
    size_t len, cap;
    tv *items;
} tv_list;

typedef struct tv_dict {
    tv_obj h;
    size_t len, cap;
    tv *keys;
    tv *vals;
    hashmap *index; /* string key -> slot; built once the dict grows past a few entries */
} tv_dict;

struct interp;
struct tv_func;
struct node;

/* Call arguments: positional values, then keyword values with their names. */
typedef struct targs {
    tv *pos;
    int npos;
    const char **kwnames;
    tv *kwvals;
    int nkw;
} targs;

typedef int (*tv_native_fn)(struct interp *in, struct tv_func *f, const targs *a, tv *out);

typedef enum { FN_NATIVE, FN_MACRO } tv_func_kind;

typedef struct tv_func {
    tv_obj h;
    tv_func_kind kind;
    const char *name;     /* static string for natives, owned by the AST for macros */
    tv_native_fn fn;      /* FN_NATIVE */
    tv self;              /* bound object of a method (TV_UNDEF when none) */
    tv state;             /* per-object state (joiner) */
    const struct node *macro;  /* FN_MACRO: the macro (or call block) node */
    struct scope *closure;     /* FN_MACRO: scope the macro was defined in */
    tv caller;                 /* FN_MACRO: `caller` for a call block body (TV_UNDEF if none) */
} tv_func;

typedef struct tv_loop {
    tv_obj h;
    tv_list *items;
    int64_t index0;
    int64_t depth0;
    tv last_changed;     /* argument list of the last loop.changed() call (TV_UNDEF: none) */
    const struct node *recursive_for; /* the for node when marked recursive */
    struct scope *scope;              /* scope the for loop runs in (for recursion) */
} tv_loop;

/* Constructors of immediate values. */
static inline tv tv_undef(void) { tv v = {TV_UNDEF, 0, {.o = NULL}}; return v; }
static inline tv tv_none(void) { tv v = {TV_NONE, 0, {.i = 0}}; return v; }
static inline tv tv_bool(int b) { tv v = {TV_BOOL, 0, {.b = b ? 1 : 0}}; return v; }
static inline tv tv_int(int64_t i) { tv v = {TV_INT, 0, {.i = i}}; return v; }
static inline tv tv_float(double f) { tv v = {TV_FLOAT, 0, {.f = f}}; return v; }
static inline int tv_is_heap(tv v) { return v.type >= TV_STR || (v.type == TV_UNDEF && v.u.o); }

static inline tv_str *tv_as_str(tv v) { return (tv_str *)v.u.o; }
static inline tv_list *tv_as_list(tv v) { return (tv_list *)v.u.o; }
static inline tv_dict *tv_as_dict(tv v) { return (tv_dict *)v.u.o; }
static inline tv_func *tv_as_func(tv v) { return (tv_func *)v.u.o; }
static inline tv_loop *tv_as_loop(tv v) { return (tv_loop *)v.u.o; }

/* Reference counting. tv_ref returns its argument with one more reference. */
tv tv_ref(tv v);
void tv_unref(tv v);

/* Heap constructors return a new tv. On OOM the tv has its type but a NULL object and
 * the mx error is set: check with tv_oom(). */
tv tv_str_new(const char *s, size_t len);
tv tv_str_cstr(const char *s);
tv tv_str_from_buf(strbuf *sb);      /* takes the buffer's content and resets it */
tv tv_undef_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
tv tv_list_new(size_t cap);
tv tv_dict_new(size_t cap);
tv tv_ns_new(void);
int tv_oom(tv v); /* 1 when a constructor failed */

/* Lists. tv_list_push takes ownership of item (also on failure). */
int tv_list_push(tv list, tv item);

/* Dicts and namespaces (same storage). tv_dict_set takes ownership of key and value. */
int tv_dict_set(tv dict, tv key, tv val);
int tv_dict_set_cstr(tv dict, const char *key, tv val);
/* Borrowed pointer to the value for key, or NULL. */
tv *tv_dict_get(tv dict, tv key);
tv *tv_dict_get_str(tv dict, const char *key, size_t len);

/* Python semantics. */
int tv_truthy(tv v);
int tv_equal(tv a, tv b);
const char *tv_type_name(tv v);     /* Python's type(x).__name__: 'str', 'NoneType' ... */
/* Jinja's object_type_repr: "None", "dict object", "list object" ... */
void tv_object_type_repr(tv v, strbuf *sb);

/* str(x) and repr(x) as Python prints them. */
int tv_write_str(tv v, strbuf *sb);
int tv_write_repr(tv v, strbuf *sb);
/* Python repr of a float (shortest round trip, "1.0", "1e+16", "inf"). */
void tv_write_float(double f, strbuf *sb);
/* repr of a str: single quotes unless the text holds ' and no ". */
void tv_write_str_repr(const char *s, size_t len, strbuf *sb);

/* New tv holding str(x). */
tv tv_to_str(tv v);

#endif
