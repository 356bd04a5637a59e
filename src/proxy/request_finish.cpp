#include "proxy/request_finish.h"

#include "observe/request_record.h"
#include "proxy/worker_context.h"

namespace sluice::proxy {

void finish_request(WorkerContext& ctx, observe::RequestRecord& record) {
  (void)ctx;
  (void)record;
}

}  // namespace sluice::proxy
