#include "boot.h"
