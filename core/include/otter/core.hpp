// Everything of otter's node-local runtime (no networking).
#pragma once

#include "otter/api.hpp"
#include "otter/call.hpp"
#include "otter/defaults.hpp"
#include "otter/dynamic.hpp"
#include "otter/error.hpp"
#include "otter/exit_reason.hpp"
#include "otter/gen_server.hpp"
#include "otter/message.hpp"
#include "otter/pid.hpp"
#include "otter/process.hpp"
#include "otter/request.hpp"
#include "otter/runtime.hpp"
#include "otter/scoped_process.hpp"
#include "otter/task.hpp"
