/* Parameters of the SORT, ARGSORT, PARTITION and ARGPARTITION primitives, shared by the op
 * builders (src/ops/sort.c) and the kernel (src/backend/cpu/sort.c). The order is total:
 * NaN sorts after every number, and equal keys keep their original order (stable). */
#ifndef CMLX_OPS_SORT_H
#define CMLX_OPS_SORT_H

typedef struct {
    int axis;        /* normalised */
    int kth;         /* partitions: normalised (0 <= kth < axis size); 0 for sorts */
} mx_sort_params;

#endif
