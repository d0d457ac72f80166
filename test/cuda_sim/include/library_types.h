// CUDA simulator: libraryPropertyType, as in CUDA's library_types.h (used by cublasGetProperty).
#pragma once

typedef enum libraryPropertyType_t {
  MAJOR_VERSION = 0,
  MINOR_VERSION = 1,
  PATCH_LEVEL = 2,
} libraryPropertyType;
