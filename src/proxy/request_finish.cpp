#include "proxy/request_finish.h"

#include "observe/request_record.h"
#include "observe/tracer.h"
#include "proxy/worker_context.h"

namespace sluice::proxy {

void finish_request(WorkerContext& ctx, observe::RequestRecord& record) {
  if (ctx.tracer && record.trace.sampled) ctx.tracer->finish(ctx.index, record);
}

}  // namespace sluice::proxy
