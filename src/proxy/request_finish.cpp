#include "proxy/request_finish.h"

#include "observe/access_log.h"
#include "observe/request_record.h"
#include "proxy/worker_context.h"

namespace sluice::proxy {

void finish_request(WorkerContext& ctx, observe::RequestRecord& record) {
  if (ctx.access_log) ctx.access_log->log(record);
}

}  // namespace sluice::proxy
