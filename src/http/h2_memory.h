// The allocator both HTTP/2 codecs give nghttp2. nghttp2 allocates about 20
// small blocks per stream (its stream, header buffers, frame items) and
// frees them when the stream closes; from glibc each pair costs ~250
// instructions, a tenth of what a proxied h2 request spends in user space.
// Small blocks come from the worker thread's pooled free lists instead
// (core/frame_allocator.h, the coroutine frames' pool, trimmed the same
// way); large ones (a session's frame buffers) from malloc.
#pragma once

#include <nghttp2/nghttp2.h>

namespace sluice::http {

nghttp2_mem* h2_memory();

}  // namespace sluice::http
