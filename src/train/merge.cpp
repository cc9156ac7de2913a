// Folding a PEFT LoRA adapter into its base checkpoint. Tensors that need no change and are
// already in the output dtype are streamed straight from the base mapping; only adapted or
// converted tensors get a buffer.
#include "train/merge.h"

#include <filesystem>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "core/file_io.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "formats/hf_config.h"
#include "formats/safetensors.h"
#include "kernels/kernels.h"
#include "model/weights.h"
#include "train/adapter.h"
#include "train/ops_internal.h"

namespace cartlm {

namespace td = train_detail;

Result<DType> parse_merge_dtype(const std::string& s) {
  if (s == "f32" || s == "float32" || s == "F32") return DType::F32;
  if (s == "f16" || s == "float16" || s == "F16") return DType::F16;
  if (s == "bf16" || s == "bfloat16" || s == "BF16") return DType::BF16;
  return error("--dtype '" + s + "' is not one of f32, f16, bf16");
}

namespace {

const char* torch_dtype_name(DType t) {
  return t == DType::F32 ? "float32" : t == DType::F16 ? "float16" : "bfloat16";
}

// src (n f32) -> dst bytes in `t`.
void from_f32(const float* src, DType t, uint8_t* dst, size_t n) {
  if (t == DType::F32)
    std::memcpy(dst, src, n * 4);
  else if (t == DType::F16)
    f32_to_f16(src, reinterpret_cast<uint16_t*>(dst), n);
  else
    f32_to_bf16(src, reinterpret_cast<uint16_t*>(dst), n);
}

}  // namespace

Result<MergeReport> merge_adapter(const MergeOptions& opt, ThreadPool* pool) {
  namespace fs = std::filesystem;
  if (opt.dtype != DType::F32 && opt.dtype != DType::F16 && opt.dtype != DType::BF16)
    return error("merge output dtype must be f32, f16 or bf16");
  CARTLM_ASSIGN_OR_RETURN(Config c, load_hf_config(opt.base_dir));
  CARTLM_ASSIGN_OR_RETURN(Checkpoint ckpt, load_checkpoint_tensors(opt.base_dir));
  CARTLM_ASSIGN_OR_RETURN(ModelWeights w, bind_weights(c, ckpt.tensors));
  (void)w;  // bound only to validate names, shapes and dtypes up front
  CARTLM_ASSIGN_OR_RETURN(PeftAdapter adapter, open_peft_adapter(opt.adapter_dir, c));
  const LoraConfig& lora = adapter.config.lora;
  std::error_code ec;
  if (fs::exists(opt.out_dir, ec) && !fs::is_empty(opt.out_dir, ec) && !opt.force)
    return error(opt.out_dir + ": output directory is not empty (use --force to overwrite)");
  if (fs::equivalent(opt.out_dir, opt.base_dir, ec))
    return error(opt.out_dir + ": output directory is the base model directory");
  CARTLM_RETURN_IF_ERROR(ensure_dir(opt.out_dir));

  // Adapted matrix name -> (layer, site).
  std::map<std::string, std::pair<int64_t, int>> adapted;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l)
    for (int s = 0; s < kNumLoraSites; ++s)
      if (lora.has(s)) adapted[hf_layer_prefix(l) + lora_site_module(s) + ".weight"] = {l, s};

  MergeReport rep;
  rep.lora_rank = lora.rank;
  rep.lora_scale = lora.scale();
  const size_t esize = opt.dtype == DType::F32 ? 4 : 2;
  const size_t R = (size_t)lora.rank;
  std::vector<std::unique_ptr<uint8_t[]>> owned;
  std::vector<TensorView> out;
  std::vector<float> wf, af, bf;
  for (const ExpectedTensor& e : expected_tensors(c)) {
    const TensorView* v = ckpt.find(e.name);
    CARTLM_CHECK(v != nullptr);  // bind_weights found every expected tensor
    const size_t n = (size_t)v->numel();
    TensorView o = *v;
    auto it = adapted.find(e.name);
    if (it == adapted.end() && v->dtype == opt.dtype) {
      out.push_back(o);  // unchanged: written straight from the mapping
      continue;
    }
    wf.resize(n);
    convert_to_f32(v->dtype, v->data, wf.data(), n);
    if (it != adapted.end()) {
      const auto [layer, site] = it->second;
      size_t in, outf;
      lora_site_dims(c, site, &in, &outf);
      const TensorView* A = adapter.find(layer, site, false);
      const TensorView* B = adapter.find(layer, site, true);
      af.resize(R * in);
      bf.resize(outf * R);
      convert_to_f32(A->dtype, A->data, af.data(), R * in);
      convert_to_f32(B->dtype, B->data, bf.data(), outf * R);
      // W (out, in) += scale · B (out, R) · A (R, in), one output row per task.
      const float scale = (float)lora.scale();
      td::parallel_rows(pool, outf, [&](size_t o0, size_t o1) {
        for (size_t row = o0; row < o1; ++row)
          for (size_t k = 0; k < R; ++k)
            axpy(scale * bf[row * R + k], af.data() + k * in, wf.data() + row * in, in);
      });
      ++rep.merged_matrices;
    }
    owned.emplace_back(new uint8_t[n * esize]);
    from_f32(wf.data(), opt.dtype, owned.back().get(), n);
    o.dtype = opt.dtype;
    o.data = owned.back().get();
    o.nbytes = n * esize;
    out.push_back(o);
  }
  for (const TensorView& t : out) rep.bytes += t.nbytes;
  CARTLM_RETURN_IF_ERROR(write_safetensors(join_path(opt.out_dir, "model.safetensors"), out));
  c.torch_dtype = torch_dtype_name(opt.dtype);
  CARTLM_RETURN_IF_ERROR(save_hf_config(join_path(opt.out_dir, "config.json"), c));
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "generation_config.json",
                        "special_tokens_map.json", "cartlm.json"}) {
    const std::string src = join_path(opt.base_dir, f);
    if (!file_exists(src)) continue;
    CARTLM_ASSIGN_OR_RETURN(std::string text, read_file(src));
    CARTLM_RETURN_IF_ERROR(write_file_atomic(join_path(opt.out_dir, f), text));
    ++rep.copied_files;
  }
  rep.config = c;
  return rep;
}

}  // namespace cartlm
