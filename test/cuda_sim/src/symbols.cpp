// CUDA simulator: reads the ELF symbol table of /proc/self/exe once (the test binaries are
// statically linked against mrbm, so every kernel and __shared__ variable is in it, including
// those with internal linkage, which dladdr would not find).
#include "symbols.h"

#include <cxxabi.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>

namespace cuda_sim::detail {
namespace {

struct SymbolTable {
  std::map<uintptr_t, std::string> functions;  // address -> mangled name
  std::vector<std::pair<void*, size_t>> shared;
  size_t shared_bytes = 0;
};

int first_object(struct dl_phdr_info* info, size_t, void* data) {
  *static_cast<uintptr_t*>(data) = info->dlpi_addr;  // the main program comes first
  return 1;
}

// Static locals of tagged functions: "_ZZ<function>E<name>", the function carrying the tag.
bool is_shared_variable(const char* name) {
  return std::strncmp(name, "_ZZ", 3) == 0 &&
         (std::strstr(name, "B15cuda_sim_kernel") || std::strstr(name, "B15cuda_sim_device"));
}

SymbolTable load() {
  SymbolTable table;
  uintptr_t bias = 0;
  dl_iterate_phdr(first_object, &bias);
  // Mapped, not read: a sanitizer build with debug information is large, and only the section
  // headers and the symbol table are touched.
  const int fd = open("/proc/self/exe", O_RDONLY);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(sizeof(Elf64_Ehdr))) {
    if (fd >= 0) close(fd);
    return table;
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return table;
  struct Image {
    const char* p;
    const char* data() const { return p; }
  } image{static_cast<const char*>(map)};
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(image.data());
  const auto* sections = reinterpret_cast<const Elf64_Shdr*>(image.data() + eh->e_shoff);
  for (int i = 0; i < eh->e_shnum; ++i) {
    if (sections[i].sh_type != SHT_SYMTAB) continue;
    const Elf64_Shdr& strtab = sections[sections[i].sh_link];
    const char* names = image.data() + strtab.sh_offset;
    const auto* syms = reinterpret_cast<const Elf64_Sym*>(image.data() + sections[i].sh_offset);
    const size_t n = sections[i].sh_size / sizeof(Elf64_Sym);
    for (size_t k = 0; k < n; ++k) {
      const Elf64_Sym& s = syms[k];
      if (s.st_shndx == SHN_UNDEF || s.st_value == 0) continue;
      const char* name = names + s.st_name;
      const int type = ELF64_ST_TYPE(s.st_info);
      if (type == STT_FUNC) {
        table.functions.emplace(bias + s.st_value, name);
      } else if (type == STT_OBJECT && is_shared_variable(name) && s.st_size > 0) {
        table.shared.emplace_back(reinterpret_cast<void*>(bias + s.st_value), s.st_size);
        table.shared_bytes += s.st_size;
      }
    }
  }
  munmap(map, size);
  return table;
}

const SymbolTable& symbols() {
  static const SymbolTable table = load();
  return table;
}

}  // namespace

std::string kernel_name(const void* kernel) {
  const auto& f = symbols().functions;
  auto it = f.find(reinterpret_cast<uintptr_t>(kernel));
  if (it == f.end()) {
    std::ostringstream os;
    os << "kernel at " << kernel;
    return os.str();
  }
  int status = 0;
  char* demangled = abi::__cxa_demangle(it->second.c_str(), nullptr, nullptr, &status);
  std::string out = status == 0 && demangled ? demangled : it->second;
  std::free(demangled);
  return out;
}

const std::vector<std::pair<void*, size_t>>& shared_variables() { return symbols().shared; }

size_t static_shared_bytes() { return symbols().shared_bytes; }

}  // namespace cuda_sim::detail
