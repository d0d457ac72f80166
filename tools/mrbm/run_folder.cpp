// The run folder of `mrbm train` (tools/mrbm/run_folder.h).
#include "tools/mrbm/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <fstream>
#include <regex>

#include "core/error.h"

namespace mrbm::tools {

namespace fs = std::filesystem;
using nlohmann::json;

RunFolderState RunFolder::state() const {
  std::error_code ec;
  if (fs::exists(checkpoint(), ec)) return RunFolderState::kCheckpointed;
  if (fs::exists(run_json(), ec)) return RunFolderState::kStarted;
  return RunFolderState::kEmpty;
}

json read_run_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) MRBM_THROW(IoError, path.string() << ": missing or unreadable");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    MRBM_THROW(IoError, path.string() << ": invalid JSON: " << e.what());
  }
  if (!j.is_object()) MRBM_THROW(IoError, path.string() << ": not a JSON object");
  return j;
}

void write_text_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) MRBM_THROW(IoError, tmp.string() << ": cannot write");
    out << text;
    if (!out.flush()) {
      out.close();
      std::error_code ec;
      fs::remove(tmp, ec);
      MRBM_THROW(IoError, path.string() << ": write failed (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    MRBM_THROW(IoError, path.string() << ": cannot replace: " << ec.message());
  }
}

int remove_stale_temporaries(const fs::path& dir) {
  static const std::regex temporary(
      R"(\.checkpoint\.safetensors\.tmp-[0-9]+-[0-9]+|(run\.json|metrics\.jsonl)\.tmp-[0-9]+|)"
      R"((samples|samples-from-data|reconstructions)\.png\.new(\.tmp-[0-9]+-[0-9]+)?)");
  int removed = 0;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    std::error_code type_ec;
    if (!entry.is_regular_file(type_ec) || !std::regex_match(name, temporary)) continue;
    std::error_code remove_ec;
    if (fs::remove(entry.path(), remove_ec)) ++removed;
  }
  return removed;
}

int64_t trim_metrics(const fs::path& metrics, int64_t step, double* last_time_s) {
  if (last_time_s != nullptr) *last_time_s = 0;
  std::ifstream in(metrics);
  if (!in) return 0;
  std::string line, kept;
  int64_t dropped = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("step") && j["step"].is_number_integer() &&
        j["step"].get<int64_t>() <= step) {
      kept += line + "\n";
      if (last_time_s != nullptr && j.contains("time_s") && j["time_s"].is_number()) {
        *last_time_s = std::max(*last_time_s, j["time_s"].get<double>());
      }
    } else {
      ++dropped;
    }
  }
  in.close();
  if (dropped > 0) write_text_atomically(metrics, kept);
  return dropped;
}

void check_run_folder_writable(const fs::path& dir, bool create_parents) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) MRBM_THROW(IoError, "--out " << dir.string() << ": not a folder");
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
      MRBM_THROW(IoError, "--out " << dir.string() << ": the folder is not writable");
    }
    return;
  }
  // The nearest existing folder above must be writable, and with a path the user typed it must be
  // the parent itself (a typo in a folder name fails instead of creating a tree elsewhere).
  fs::path parent = dir.parent_path();
  if (parent.empty()) parent = ".";
  if (!create_parents && !fs::is_directory(parent, ec)) {
    MRBM_THROW(IoError, "--out " << dir.string() << ": the folder " << parent.string()
                                 << " does not exist");
  }
  while (!fs::exists(parent, ec)) {
    parent = parent.parent_path();  // "out" -> "": the working folder
    if (parent.empty()) {
      parent = ".";
      break;
    }
  }
  if (!fs::is_directory(parent, ec)) {
    MRBM_THROW(IoError, "--out " << dir.string() << ": " << parent.string() << " is not a folder");
  }
  if (::access(parent.c_str(), W_OK | X_OK) != 0) {
    MRBM_THROW(IoError, "--out " << dir.string() << ": the folder " << parent.string()
                                 << " is not writable");
  }
}

RunFolderLock::RunFolderLock(const fs::path& dir) {
  fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0) MRBM_THROW(IoError, dir.string() << ": cannot open the run folder: " << std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    if (e == EWOULDBLOCK) {
      MRBM_THROW(IoError, dir.string() << ": another mrbm train is using this run folder; wait for it to "
                                          "finish (or stop it: it saves a checkpoint), or choose another --out");
    }
    MRBM_THROW(IoError, dir.string() << ": cannot lock the run folder: " << std::strerror(e));
  }
}

RunFolderLock::~RunFolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the lock
}

}  // namespace mrbm::tools
