// `cartlm inspect FILE`: what is inside a .gguf or .safetensors file (or an HF checkpoint
// directory): metadata with long arrays abbreviated, then a table of tensors.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/cli.h"
#include "core/mmap.h"
#include "core/strings.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"

namespace cartlm::cli {

namespace {

struct InspectArgs {
  std::string path;
  size_t max_elems = 4;
  bool no_tensors = false;
};

void print_tensor_table(const std::vector<const TensorView*>& views) {
  size_t w = 4;
  for (const TensorView* v : views) w = std::max(w, v->name.size());
  std::printf("\n%-*s  %-5s  %-22s  %s\n", (int)w, "name", "type", "shape", "bytes");
  uint64_t total = 0;
  for (const TensorView* v : views) {
    std::printf("%-*s  %-5s  %-22s  %llu\n", (int)w, v->name.c_str(), dtype_name(v->dtype),
                shape_str(v->shape).c_str(), (unsigned long long)v->nbytes);
    total += v->nbytes;
  }
  std::printf("%zu tensors, %s of data\n", views.size(), human_bytes((double)total).c_str());
}

int inspect_gguf(const InspectArgs& a) {
  auto f = open_gguf(a.path);
  if (!f.ok()) return fail(f.status());
  std::printf("%s: GGUF v%u, %zu metadata keys, %zu tensors, alignment %u, data at byte %llu\n",
              a.path.c_str(), f->version, f->kvs.size(), f->tensors.size(), f->alignment,
              (unsigned long long)f->data_offset);
  size_t w = 3;
  for (const GgufKV& kv : f->kvs) w = std::max(w, kv.key.size());
  std::printf("\n");
  for (const GgufKV& kv : f->kvs) {
    std::string type = kv.value.is_array()
                           ? std::string("[") + gguf_type_name(kv.value.elem_type) + "]"
                           : gguf_type_name(kv.value.type);
    std::printf("%-*s  %-8s  %s\n", (int)w, kv.key.c_str(), type.c_str(),
                kv.value.describe(a.max_elems).c_str());
  }
  if (!a.no_tensors && !f->tensors.empty()) {
    std::vector<const TensorView*> views;
    for (const GgufTensor& t : f->tensors) views.push_back(&t.view);
    print_tensor_table(views);
    std::printf("(shapes outermost first, the reverse of GGUF's ne order)\n");
  }
  return 0;
}

int inspect_safetensors(const InspectArgs& a) {
  auto ck = load_checkpoint_tensors(a.path);
  if (!ck.ok()) return fail(ck.status());
  std::printf("%s: safetensors, %zu file(s), %zu tensors\n", a.path.c_str(), ck->shards.size(),
              ck->tensors.size());
  for (const auto& [k, v] : ck->metadata) std::printf("  __metadata__.%s = %s\n", k.c_str(), v.c_str());
  if (!a.no_tensors) {
    std::vector<const TensorView*> views;
    for (const auto& [name, view] : ck->tensors) views.push_back(&view);
    print_tensor_table(views);
  }
  return 0;
}

int run_inspect(const InspectArgs& a) {
  std::error_code ec;
  bool dir = std::filesystem::is_directory(a.path, ec);
  if (ends_with(a.path, ".gguf")) return inspect_gguf(a);
  if (dir || ends_with(a.path, ".safetensors") || ends_with(a.path, ".safetensors.index.json"))
    return inspect_safetensors(a);
  // Unknown extension: sniff the magic.
  auto m = MappedFile::open(a.path);
  if (!m.ok()) return fail(m.status());
  if (m->bytes().substr(0, 4) == "GGUF") return inspect_gguf(a);
  return inspect_safetensors(a);
}

}  // namespace

void register_inspect(CLI::App& root, int& exit_code) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = root.add_subcommand(
      "inspect", "Show the metadata and tensors of a .gguf or .safetensors file (or model directory)");
  cmd->add_option("file", args->path, ".gguf, .safetensors, *.safetensors.index.json or a directory")
      ->required();
  cmd->add_option("--max-elems", args->max_elems, "Array elements shown per metadata key")
      ->capture_default_str();
  cmd->add_flag("--no-tensors", args->no_tensors, "Metadata only");
  cmd->callback([args, &exit_code] { exit_code = run_inspect(*args); });
}

}  // namespace cartlm::cli
