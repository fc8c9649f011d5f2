/* Parameters of the SCAN primitive (cumsum, cumprod, cummax, cummin), shared by the op
 * builders (src/ops/scan.c) and the kernel (src/backend/cpu/scan.c). */
#ifndef CMLX_OPS_SCAN_H
#define CMLX_OPS_SCAN_H

typedef enum { MX_SCAN_SUM, MX_SCAN_PROD, MX_SCAN_MAX, MX_SCAN_MIN } mx_scan_op;

typedef struct {
    int op;          /* mx_scan_op */
    int axis;        /* normalised */
    int reverse;     /* scan from the end of the axis */
    int inclusive;   /* 0: element i combines elements before i only (identity first) */
} mx_scan_params;

#endif
