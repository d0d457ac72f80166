// Status codes of the CPU functions in kernels/ (the CUDA launchers return cudaError_t).
// kernels/ never throws, prints or exits: the caller (core/ and above) turns a code into an error.
#pragma once

namespace mrbm::kernels {

enum class Status : int {
  kOk = 0,
  kInvalidArgument = 1,  // a size is negative, a required pointer is null, a unit spec is invalid
  kUnsupported = 2,      // a valid request this build or unit kind cannot serve
};

inline const char* status_string(Status s) {
  switch (s) {
    case Status::kOk: return "ok";
    case Status::kInvalidArgument: return "invalid argument";
    case Status::kUnsupported: return "unsupported";
  }
  return "unknown status";
}

}  // namespace mrbm::kernels
