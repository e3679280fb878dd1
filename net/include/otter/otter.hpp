// otter: Erlang/OTP's process model for C++. One header for applications.
#pragma once

#include "otter/core.hpp"
#include "otter/dynamic_supervisor.hpp"
#include "otter/node.hpp"
#include "otter/secret.hpp"
#include "otter/spawn.hpp"
#include "otter/supervisor.hpp"
