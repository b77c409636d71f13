#include "platform/env.h"
