// load_model_gptq: an AutoGPTQ-layout directory (model/gptq_checkpoint.h) made runnable by the
// CPU forward pass. Each quantized linear is converted once at load:
//   - 4-bit with contiguous groups (g_idx[c] == c / group_size, which holds without act-order)
//     and group_size a multiple of 32 (or one group per row): repacked to Q4_1 blocks of 32,
//     d = scale (exact), m = −scale·zero rounded to fp16 (the only rounding: ≤ 2⁻¹¹·|m|);
//   - 8-bit symmetric with contiguous groups: Q8_0 blocks (q − 128 fits int8; exact);
//   - anything else (act-order, 2/3-bit, odd groups): dequantized to F16.
// The checkpoint's other tensors (embedding, norms, biases, lm_head) are used as stored.
#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/dtype.h"
#include "core/file_io.h"
#include "core/strings.h"
#include "formats/hf_config.h"
#include "model/gptq_checkpoint.h"
#include "model/load.h"
#include "model/load_internal.h"
#include "model/weights.h"
#include "quant/blocks.h"

namespace cartlm {

namespace {

bool ends_with_str(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

template <class T>
Result<std::vector<T>> read_view(const Checkpoint& ck, const std::string& name, DType want,
                                 std::vector<int64_t> shape, const std::string& dir) {
  const TensorView* v = ck.find(name);
  if (!v) return error(dir + ": missing tensor " + name);
  if (v->dtype != want)
    return error(strformat("%s: tensor %s has dtype %s, expected %s", dir.c_str(), name.c_str(),
                           dtype_name(v->dtype), dtype_name(want)));
  if (v->shape != shape)
    return error(strformat("%s: tensor %s has shape %s, expected %s", dir.c_str(), name.c_str(),
                           shape_str(v->shape).c_str(), shape_str(shape).c_str()));
  std::vector<T> out((size_t)v->numel());
  std::memcpy(out.data(), v->data, out.size() * sizeof(T));
  return out;
}

// Converts one unpacked linear into the runnable tensor bytes; sets *dtype.
std::vector<uint8_t> convert_linear(const AutoGptqLinear& l, const std::vector<uint8_t>& q,
                                    const std::vector<int32_t>& zeros, int64_t group_size,
                                    DType* dtype) {
  const int64_t in = l.in, out = l.out;
  bool contiguous = in % kQK == 0 && (group_size == -1 || group_size % kQK == 0);
  for (int64_t c = 0; contiguous && c < in; ++c)
    contiguous = l.g_idx[(size_t)c] == (group_size == -1 ? 0 : c / group_size);
  auto scale_of = [&](int64_t o, int64_t g) { return l.scales[(size_t)(g * out + o)]; };
  auto zero_of = [&](int64_t o, int64_t g) { return zeros[(size_t)(g * out + o)]; };
  const int64_t nb = in / kQK;
  if (contiguous && l.bits == 4) {
    *dtype = DType::Q4_1;
    std::vector<uint8_t> bytes((size_t)(out * nb) * sizeof(BlockQ4_1));
    BlockQ4_1* blk = reinterpret_cast<BlockQ4_1*>(bytes.data());
    for (int64_t o = 0; o < out; ++o)
      for (int64_t b = 0; b < nb; ++b) {
        const int64_t g = l.g_idx[(size_t)(b * kQK)];
        BlockQ4_1& y = blk[o * nb + b];
        y.d = scale_of(o, g);
        y.m = fp32_to_fp16(-fp16_to_fp32(y.d) * (float)zero_of(o, g));
        const uint8_t* qq = &q[(size_t)(o * in + b * kQK)];
        for (int j = 0; j < kQK / 2; ++j) y.qs[j] = (uint8_t)(qq[j] | (qq[j + 16] << 4));
      }
    return bytes;
  }
  bool sym8 = contiguous && l.bits == 8;
  for (size_t i = 0; sym8 && i < zeros.size(); ++i) sym8 = zeros[i] == 128;
  if (sym8) {
    *dtype = DType::Q8_0;
    std::vector<uint8_t> bytes((size_t)(out * nb) * sizeof(BlockQ8_0));
    BlockQ8_0* blk = reinterpret_cast<BlockQ8_0*>(bytes.data());
    for (int64_t o = 0; o < out; ++o)
      for (int64_t b = 0; b < nb; ++b) {
        BlockQ8_0& y = blk[o * nb + b];
        y.d = scale_of(o, l.g_idx[(size_t)(b * kQK)]);
        for (int j = 0; j < kQK; ++j) y.qs[j] = (int8_t)((int)q[(size_t)(o * in + b * kQK + j)] - 128);
      }
    return bytes;
  }
  *dtype = DType::F16;
  std::vector<uint8_t> bytes((size_t)(out * in) * 2);
  uint16_t* w = reinterpret_cast<uint16_t*>(bytes.data());
  for (int64_t o = 0; o < out; ++o)
    for (int64_t c = 0; c < in; ++c) {
      const int64_t g = l.g_idx[(size_t)c];
      w[o * in + c] = fp32_to_fp16(fp16_to_fp32(scale_of(o, g)) *
                                   ((float)q[(size_t)(o * in + c)] - (float)zero_of(o, g)));
    }
  return bytes;
}

}  // namespace

Result<std::unique_ptr<LoadedModel>> load_model_gptq(const std::string& dir, LoadOptions opt) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return error(dir + ": no such GPTQ model directory");
  for (const char* f : {"config.json", "quantize_config.json", "tokenizer.json"})
    if (!file_exists(join_path(dir, f))) return error(join_path(dir, f) + ": missing file");
  const std::string qpath = join_path(dir, "quantize_config.json");
  CARTLM_ASSIGN_OR_RETURN(std::string qtext, read_file(qpath));
  json qj = json::parse(qtext, nullptr, /*allow_exceptions=*/false);
  if (qj.is_discarded()) return error(qpath + ": not valid JSON");
  CARTLM_ASSIGN_OR_RETURN(GptqQuantizeConfig qc, gptq_quantize_config_from_json(qj, qpath));
  CARTLM_ASSIGN_OR_RETURN(Config c, load_hf_config(dir));

  auto lm = std::make_unique<LoadedModel>();
  lm->path = dir;
  lm->format = ModelFormat::Gptq;
  // Tokenizer first, before the weights are in memory (see load_model_hf_dir).
  CARTLM_RETURN_IF_ERROR(load_dir_tokenizer_and_meta(*lm, dir, c));
  CARTLM_ASSIGN_OR_RETURN(lm->checkpoint, load_checkpoint_tensors(dir, map_options(opt)));
  const Checkpoint& ck = lm->checkpoint;

  // Shapes bind_weights expects ([out, in] for every linear "<module>.weight").
  std::map<std::string, std::vector<int64_t>> expected;
  for (const ExpectedTensor& e : expected_tensors(c)) expected[e.name] = e.shape;

  TensorMap map;
  for (const auto& [name, view] : ck.tensors) {
    lm->weight_bytes += view.nbytes;
    if (ends_with_str(name, ".qweight") || ends_with_str(name, ".qzeros") ||
        ends_with_str(name, ".scales") || ends_with_str(name, ".g_idx"))
      continue;
    map[name] = view;
  }
  const int64_t bits = qc.bits;
  std::string dtypes;
  lm->owned.reserve((size_t)(c.num_hidden_layers * 7));
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    for (const std::string& module : gptq_layer_modules(l)) {
      const std::string wname = module + ".weight";
      if (map.count(wname)) continue;  // stored unquantized (a model that skipped this linear)
      auto it = expected.find(wname);
      CARTLM_CHECK(it != expected.end());
      const int64_t out = it->second[0], in = it->second[1];
      if ((in * bits) % 32 || (out * bits) % 32)
        return error(strformat("%s: %s has shape [%lld, %lld], which %lld-bit GPTQ cannot pack",
                               dir.c_str(), module.c_str(), (long long)out, (long long)in,
                               (long long)bits));
      const int64_t n_groups = qc.group_size == -1 ? 1 : (in + qc.group_size - 1) / qc.group_size;
      AutoGptqLinear lin;
      lin.bits = (int)bits;
      lin.in = in;
      lin.out = out;
      lin.n_groups = n_groups;
      CARTLM_ASSIGN_OR_RETURN(lin.qweight, read_view<int32_t>(ck, module + ".qweight", DType::I32,
                                                              {in * bits / 32, out}, dir));
      CARTLM_ASSIGN_OR_RETURN(lin.qzeros, read_view<int32_t>(ck, module + ".qzeros", DType::I32,
                                                             {n_groups, out * bits / 32}, dir));
      CARTLM_ASSIGN_OR_RETURN(lin.scales, read_view<uint16_t>(ck, module + ".scales", DType::F16,
                                                              {n_groups, out}, dir));
      if (ck.find(module + ".g_idx")) {
        CARTLM_ASSIGN_OR_RETURN(lin.g_idx, read_view<int32_t>(ck, module + ".g_idx", DType::I32,
                                                              {in}, dir));
      } else {
        lin.g_idx.resize((size_t)in);
        for (int64_t k = 0; k < in; ++k)
          lin.g_idx[(size_t)k] = (int32_t)(qc.group_size == -1 ? 0 : k / qc.group_size);
      }
      std::vector<uint8_t> q;
      std::vector<int32_t> zeros;
      CARTLM_RETURN_IF_ERROR(autogptq_unpack(lin, q, zeros, dir + ": " + module));
      if (qc.checkpoint_format == "gptq_v2")
        for (int32_t& z : zeros) z -= 1;  // v2 stores the zero itself
      DType dt;
      lm->owned.push_back(convert_linear(lin, q, zeros, qc.group_size, &dt));
      if (dtypes.find(dtype_name(dt)) == std::string::npos)
        dtypes += std::string(dtypes.empty() ? "" : "+") + dtype_name(dt);
      TensorView v;
      v.name = wname;
      v.dtype = dt;
      v.shape = {out, in};
      v.data = lm->owned.back().data();
      v.nbytes = lm->owned.back().size();
      map[wname] = v;
    }
  }
  lm->weight_type = strformat("GPTQ-%lld", (long long)bits) + (dtypes.empty() ? "" : " (" + dtypes + ")");
  CARTLM_ASSIGN_OR_RETURN(ModelWeights w, bind_weights(c, map));
  CARTLM_ASSIGN_OR_RETURN(lm->model, llama_model(c, w));
  return lm;
}

}  // namespace cartlm
