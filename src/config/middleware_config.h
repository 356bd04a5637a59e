// The configuration of each middleware kind (docs/config.md,
// "middlewares"): plain structs, one header per kind, gathered here for
// model.h.
#pragma once

#include "config/access_config.h"
#include "config/compress_config.h"
#include "config/forward_auth_config.h"
#include "config/headers_config.h"
#include "config/rate_limit_config.h"
