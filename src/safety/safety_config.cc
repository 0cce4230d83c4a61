// The one instance of the safety configuration; api/runtime.cc fills it at start-up.
#include "safety/safety_config.h"

namespace tally {

SafetyConfig g_safety;

}  // namespace tally
