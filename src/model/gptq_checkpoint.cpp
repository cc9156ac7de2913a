#include "model/gptq_checkpoint.h"

#include <cstring>

#include "core/dtype.h"
#include "core/file_io.h"
#include "core/strings.h"
#include "formats/hf_config.h"
#include "formats/safetensors.h"
#include "model/weights.h"
#include "quant/quant.h"

namespace cartlm {

namespace {

template <class T>
void add_owned(GptqCheckpointTensors& t, const std::string& name, DType dtype,
               std::vector<int64_t> shape, const std::vector<T>& data) {
  std::vector<uint8_t> bytes(data.size() * sizeof(T));
  if (!bytes.empty()) std::memcpy(bytes.data(), data.data(), bytes.size());
  t.owned.push_back(std::move(bytes));
  TensorView v;
  v.name = name;
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.data = t.owned.back().data();
  v.nbytes = t.owned.back().size();
  t.tensors.push_back(v);
}

}  // namespace

json gptq_quantize_config_to_json(const GptqQuantizeConfig& q) {
  json j = json::object();
  j["bits"] = q.bits;
  j["group_size"] = q.group_size;
  j["damp_percent"] = q.damp_percent;
  j["desc_act"] = q.desc_act;
  j["static_groups"] = q.static_groups;
  j["sym"] = q.sym;
  j["true_sequential"] = q.true_sequential;
  j["model_name_or_path"] = q.model_name_or_path;
  j["model_file_base_name"] = "model";
  j["quant_method"] = "gptq";
  j["checkpoint_format"] = q.checkpoint_format;
  return j;
}

Result<GptqQuantizeConfig> gptq_quantize_config_from_json(const json& j, const std::string& label) {
  if (!j.is_object()) return error(label + ": not a JSON object");
  GptqQuantizeConfig q;
  auto get_int = [&](const char* key, int64_t& out, bool required) -> Status {
    auto it = j.find(key);
    if (it == j.end()) return required ? error(label + ": missing key " + key) : Status();
    if (!it->is_number_integer()) return error(label + ": " + key + " must be an integer");
    out = it->get<int64_t>();
    return Status();
  };
  auto get_bool = [&](const char* key, bool& out) -> Status {
    auto it = j.find(key);
    if (it == j.end()) return Status();
    if (!it->is_boolean()) return error(label + ": " + key + " must be true or false");
    out = it->get<bool>();
    return Status();
  };
  int64_t bits = 0;
  CARTLM_RETURN_IF_ERROR(get_int("bits", bits, true));
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    return error(strformat("%s: bits must be 2, 3, 4 or 8, got %lld", label.c_str(), (long long)bits));
  q.bits = (int)bits;
  CARTLM_RETURN_IF_ERROR(get_int("group_size", q.group_size, true));
  if (q.group_size == 0 || q.group_size < -1)
    return error(strformat("%s: group_size must be positive or -1, got %lld", label.c_str(),
                           (long long)q.group_size));
  CARTLM_RETURN_IF_ERROR(get_bool("desc_act", q.desc_act));
  CARTLM_RETURN_IF_ERROR(get_bool("sym", q.sym));
  CARTLM_RETURN_IF_ERROR(get_bool("static_groups", q.static_groups));
  CARTLM_RETURN_IF_ERROR(get_bool("true_sequential", q.true_sequential));
  if (auto it = j.find("damp_percent"); it != j.end() && it->is_number()) q.damp_percent = it->get<double>();
  if (auto it = j.find("quant_method"); it != j.end() && it->is_string() && it->get<std::string>() != "gptq")
    return error(label + ": quant_method is \"" + it->get<std::string>() + "\", expected \"gptq\"");
  if (auto it = j.find("checkpoint_format"); it != j.end()) {
    if (!it->is_string()) return error(label + ": checkpoint_format must be a string");
    q.checkpoint_format = it->get<std::string>();
    if (q.checkpoint_format != "gptq" && q.checkpoint_format != "gptq_v2")
      return error(label + ": checkpoint_format \"" + q.checkpoint_format +
                   "\" is not supported (gptq or gptq_v2)");
  }
  if (auto it = j.find("model_name_or_path"); it != j.end() && it->is_string())
    q.model_name_or_path = it->get<std::string>();
  return q;
}

void gptq_checkpoint_add_linear(GptqCheckpointTensors& t, const std::string& module,
                                const AutoGptqLinear& l) {
  const int64_t b = l.bits;
  add_owned(t, module + ".qweight", DType::I32, {l.in * b / 32, l.out}, l.qweight);
  add_owned(t, module + ".qzeros", DType::I32, {l.n_groups, l.out * b / 32}, l.qzeros);
  add_owned(t, module + ".scales", DType::F16, {l.n_groups, l.out}, l.scales);
  add_owned(t, module + ".g_idx", DType::I32, {l.in}, l.g_idx);
}

Status gptq_checkpoint_add_f16(GptqCheckpointTensors& t, const TensorView& v) {
  const int64_t n = v.numel();
  std::vector<uint16_t> h((size_t)n);
  if (v.dtype == DType::F16) {
    std::memcpy(h.data(), v.data, (size_t)n * 2);
  } else {
    std::vector<float> f((size_t)n);
    if (v.dtype == DType::F32) {
      std::memcpy(f.data(), v.data, (size_t)n * 4);
    } else if (v.dtype == DType::BF16) {
      const uint16_t* s = static_cast<const uint16_t*>(v.data);
      for (int64_t i = 0; i < n; ++i) f[(size_t)i] = bf16_to_fp32(s[i]);
    } else if (is_block_quantized(v.dtype) && !v.shape.empty()) {
      const int64_t cols = v.shape.back();
      CARTLM_RETURN_IF_ERROR(dequantize_tensor(v.dtype, v.data, n / cols, cols, f.data())
                                 .with_context("tensor " + v.name));
    } else {
      return error("tensor " + v.name + ": dtype " + dtype_name(v.dtype) + " cannot be converted to F16");
    }
    for (int64_t i = 0; i < n; ++i) h[(size_t)i] = fp32_to_fp16(f[(size_t)i]);
  }
  add_owned(t, v.name, DType::F16, v.shape, h);
  return Status();
}

Status save_gptq_checkpoint(const std::string& dir, const GptqCheckpointTensors& t,
                            const Config& c, const Tokenizer& tok, const IntentMeta* meta,
                            const GptqQuantizeConfig& q) {
  CARTLM_RETURN_IF_ERROR(ensure_dir(dir));
  CARTLM_RETURN_IF_ERROR(write_safetensors(join_path(dir, "model.safetensors"), t.tensors));
  Config cf = c;
  cf.torch_dtype = "float16";
  json config = hf_config_to_json(cf);
  config["quantization_config"] = gptq_quantize_config_to_json(q);
  CARTLM_RETURN_IF_ERROR(write_file_atomic(join_path(dir, "config.json"), config.dump(2) + "\n"));
  CARTLM_RETURN_IF_ERROR(write_file_atomic(join_path(dir, "quantize_config.json"),
                                           gptq_quantize_config_to_json(q).dump(2) + "\n"));
  CARTLM_RETURN_IF_ERROR(save_tokenizer(dir, tok));
  if (meta) CARTLM_RETURN_IF_ERROR(save_intent_meta(dir, *meta));
  return Status();
}

std::vector<std::string> gptq_layer_modules(int64_t layer) {
  const std::string p = hf_layer_prefix(layer);
  return {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj",
          p + "self_attn.o_proj", p + "mlp.gate_proj",    p + "mlp.up_proj",
          p + "mlp.down_proj"};
}

}  // namespace cartlm
