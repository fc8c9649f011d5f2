/* Devices and streams.
 *
 * A device is the CPU or a GPU. Each device has a default stream; more can be created.
 * Each stream runs its work in order on its own worker thread. A thread-local "current
 * stream" (push/pop) decides where newly built ops run, so op signatures carry no stream.
 * Work on one stream that needs results from another waits for them (events).
 */
#ifndef CMLX_STREAM_H
#define CMLX_STREAM_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mx_device_type { MX_CPU = 0, MX_GPU = 1 } mx_device_type;

typedef struct mx_device {
    mx_device_type type;
    int index;
} mx_device;

typedef struct mx_stream {
    int index;          /* global stream id */
    mx_device device;
} mx_stream;

/* 1 when the device can run ops; 0 (with the reason in mx_last_error(), e.g. "cmlx was
 * built without CUDA") otherwise. */
int mx_device_available(mx_device d);
mx_device mx_default_device(void);
/* Sets the default device of new threads and of threads that have not chosen one. */
int mx_set_default_device(mx_device d);

mx_stream mx_default_stream(mx_device d);
/* A new stream on the device, with its own worker thread. index is -1 on failure. */
mx_stream mx_new_stream(mx_device d);
/* The stream new ops use on this thread. */
mx_stream mx_current_stream(void);
/* Makes s the current stream until the matching pop. */
int mx_stream_push(mx_stream s);
void mx_stream_pop(void);
/* Waits until everything scheduled on s has finished, including the release of the
 * intermediates it consumed (so memory counters read afterwards are exact). */
int mx_synchronize(mx_stream s);

#ifdef __cplusplus
}
#endif
#endif
