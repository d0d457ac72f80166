// Partial outputs removed on failure and on Ctrl-C/SIGTERM, so that a command that does not finish
// leaves nothing behind (docs/cli.md: "nothing is written").
//
// A failing command unwinds and each PartialOutput's destructor removes what it registered. A
// signal does not unwind: the handler installed by PartialOutput removes every registered path
// with unlink()/rmdir() only (async-signal-safe; paths are kept in fixed buffers, a numbered
// folder's file names are formatted by hand), then dies of the signal with its default action,
// so the shell still sees 130 (SIGINT) or 143 (SIGTERM). `mrbm train` handles its own signals
// (it saves a checkpoint) and does not use this.
#pragma once

#include <cstdint>
#include <string>

namespace mrbm::tools {

class PartialOutput {
 public:
  // A file (e.g. "x.npy.tmp-123-0"), removed unless committed.
  static PartialOutput file(const std::string& path);
  // A folder that receives 000000.png ... (count - 1).png: those files, and the folder itself
  // when `created` (this command made it) and it is then empty, are removed unless committed.
  static PartialOutput numbered_folder(const std::string& folder, int64_t count, bool created);
  PartialOutput(PartialOutput&& other) noexcept;
  PartialOutput(const PartialOutput&) = delete;
  PartialOutput& operator=(const PartialOutput&) = delete;
  PartialOutput& operator=(PartialOutput&&) = delete;
  ~PartialOutput();  // removes unless committed
  // The outputs are complete (or renamed into place): keep them.
  void commit();

 private:
  PartialOutput(std::string path, int64_t count, bool remove_folder);
  std::string path_;
  int64_t count_ = -1;  // -1: a file
  bool remove_folder_ = false;
  bool active_ = false;  // false once committed or moved from
  int slot_ = -1;        // the signal handler's copy; -1 when none was free
};

// "000042.png" for 42: the names sample writes into a folder.
std::string numbered_png_name(int64_t index);

}  // namespace mrbm::tools
