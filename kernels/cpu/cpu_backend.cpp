// CpuBackend's methods live one op family per file (conv2d.cpp, batchnorm2d.cpp, ...).
#include "kernels/cpu/cpu_backend.h"
