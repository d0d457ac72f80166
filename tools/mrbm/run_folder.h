// The run folder of `mrbm train` (docs/cli.md): what state a folder is in, run.json, and the
// continuity of metrics.jsonl across interruptions.
//
// A folder is empty (no run), started (run.json but no checkpoint yet: the run stopped before
// writing its first checkpoint, e.g. a kill -9 or a full disk within its first seconds) or
// checkpointed. `--resume` continues a checkpointed run and starts a started one again from
// scratch with its run.json, so no folder is a dead end.
//
// metrics.jsonl must read like one uninterrupted run: a resumed run drops the lines logged after
// the checkpoint it continues from (their steps are trained, and logged, again), and its times
// continue from the training time stored in the checkpoint.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace mrbm::tools {

enum class RunFolderState { kEmpty, kStarted, kCheckpointed };

struct RunFolder {
  std::filesystem::path dir;
  std::filesystem::path run_json() const { return dir / "run.json"; }
  std::filesystem::path checkpoint() const { return dir / "checkpoint.safetensors"; }
  std::filesystem::path metrics() const { return dir / "metrics.jsonl"; }
  RunFolderState state() const;
};

// run.json parsed; IoError naming the file when it is missing or not a JSON object.
nlohmann::json read_run_json(const std::filesystem::path& path);

// `text` into `path` through a temporary file in the same folder and a rename.
void write_text_atomically(const std::filesystem::path& path, const std::string& text);

// Rewrites metrics.jsonl (atomically) with only its lines whose "step" is at most `step`; a line
// that is not JSON (a torn last line after a kill) is dropped too. A missing file stays missing.
// Returns the number of lines dropped; `*last_time_s` (when given) gets the largest "time_s" kept
// (0 when none).
int64_t trim_metrics(const std::filesystem::path& metrics, int64_t step, double* last_time_s = nullptr);

// Fails early, before any work, when `dir` cannot become a run folder: IoError naming --out when
// its parent folder does not exist (unless `create_parents`), when it or an existing parent is
// not a folder, or when it cannot be written.
void check_run_folder_writable(const std::filesystem::path& dir, bool create_parents);

// Removes the temporary files that a `mrbm train` killed in the middle of a write leaves in its
// run folder: a checkpoint's ".checkpoint.safetensors.tmp-PID-N" (core/safetensors.cpp),
// "run.json.tmp-PID" and "metrics.jsonl.tmp-PID" (write_text_atomically), the pending image
// grids "NAME.png.new" and their own temporaries "NAME.png.new.tmp-PID-N" (data/file_io.cpp). Call it only while holding the folder's RunFolderLock: then no live
// process is writing them. Other files are never touched. Returns how many were removed.
int remove_stale_temporaries(const std::filesystem::path& dir);

// An exclusive advisory lock (flock) on the run folder itself, held by `mrbm train` for as long as
// it works there, so that a second `mrbm train` on the same --out refuses instead of both writing.
// It lives on the folder's own file descriptor (no lock file to leave behind), and the kernel drops
// it when the process ends in any way, kill -9 included. IoError naming the folder when another
// process holds it.
class RunFolderLock {
 public:
  explicit RunFolderLock(const std::filesystem::path& dir);
  ~RunFolderLock();
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace mrbm::tools
