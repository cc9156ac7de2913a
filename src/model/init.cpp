#include "model/init.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "core/file_io.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/strings.h"
#include "formats/hf_config.h"
#include "formats/safetensors.h"
#include "model/weights.h"

namespace cartlm {

namespace {

// Training text for the built-in tokenizer: enough en/hr/es shopping vocabulary that a fresh
// model's tokens look like the domain it will be fine-tuned on.
const char* const kSampleText[] = {
    "Can you add two bottles of olive oil to my cart? I also need a lip balm and some soap.",
    "Please remove the shampoo from my basket, I ordered it by mistake.",
    "Add 3 packs of coffee beans and one box of green tea to the cart, please.",
    "How many items are in my cart right now? Delete the last two toothbrushes.",
    "I want to buy a pair of running shoes, size 42, and a water bottle.",
    "Put twelve eggs, a loaf of bread and a carton of milk in my shopping cart.",
    "Remove all the chocolate bars, and add five apples and a bag of rice instead.",
    "Dodaj dvije boce maslinovog ulja u košaricu. Trebam i balzam za usne i sapun.",
    "Molim te ukloni šampon iz moje košarice, naručio sam ga greškom.",
    "Dodaj 3 paketa kave i jednu kutiju zelenog čaja u košaricu, molim.",
    "Koliko artikala imam u košarici? Obriši zadnje dvije četkice za zube.",
    "Želim kupiti tenisice, veličina 42, i bocu za vodu. Stavi dvanaest jaja u košaricu.",
    "Makni sve čokolade i dodaj pet jabuka i vrećicu riže umjesto njih.",
    "¿Puedes añadir dos botellas de aceite de oliva a mi carrito? También necesito un bálsamo "
    "labial y jabón.",
    "Por favor, quita el champú de mi cesta, lo pedí por error.",
    "Añade 3 paquetes de café en grano y una caja de té verde al carrito, por favor.",
    "¿Cuántos artículos hay en mi carrito? Elimina los dos últimos cepillos de dientes.",
    "Quiero comprar unas zapatillas para correr, talla 42, y una botella de agua.",
    "Pon doce huevos, una barra de pan y un cartón de leche en mi carrito de la compra.",
    "Quita todas las tabletas de chocolate y añade cinco manzanas y una bolsa de arroz.",
    "{\"action\": \"add\", \"product\": \"Lip Balm\", \"quantity\": 12}",
    "{\"action\": \"remove\", \"product\": \"Soap\", \"quantity\": 1}",
    "{\"action\": \"add\", \"product\": \"Olive Oil\", \"quantity\": 2}",
};

const char* const kSpecials[] = {"<|pad|>", "<|begin_of_text|>", "<|end_of_text|>"};

// Rebuilds `t` (as train_bpe made it: learned tokens, then the 3 specials) with exactly
// `vocab_size` ids: the learned tokens followed by "<|reserved_N|>" Control fillers, with the
// specials (pad, bos, eos) inserted at id `special_at` (clamped to fit). Merges name tokens by
// text, so moving ids is safe.
Status pad_tokenizer(Tokenizer& t, int64_t vocab_size, int64_t special_at) {
  int64_t learned = t.size() - 3;
  special_at = std::clamp<int64_t>(special_at, 0, vocab_size - 3);
  Tokenizer p = t;
  p.tokens.clear();
  p.types.clear();
  p.added.clear();
  int64_t next_learned = 0, filler = 0;
  auto push = [&](const std::string& text, bool control) {
    if (control) {
      AddedToken a;
      a.id = (int32_t)p.tokens.size();
      a.content = text;
      a.special = true;
      p.added.push_back(a);
    }
    p.tokens.push_back(text);
    p.types.push_back(control ? TokenType::Control : TokenType::Normal);
  };
  auto push_regular = [&] {
    if (next_learned < learned)
      push(t.tokens[(size_t)next_learned++], false);
    else
      push(strformat("<|reserved_%lld|>", (long long)filler++), true);
  };
  while ((int64_t)p.tokens.size() < special_at) push_regular();
  for (const char* s : kSpecials) push(s, true);
  while ((int64_t)p.tokens.size() < vocab_size) push_regular();
  p.pad_id = (int32_t)special_at;
  p.bos_id = (int32_t)special_at + 1;
  p.eos_id = (int32_t)special_at + 2;
  p.eog_ids.clear();
  p.index.reset();
  CARTLM_RETURN_IF_ERROR(finalize_tokenizer(p, "init tokenizer"));
  t = std::move(p);
  return {};
}

Result<Tokenizer> train_init_tokenizer(int64_t vocab_size, int64_t special_at, int32_t* learned) {
  if (vocab_size < 256 + 3)
    return error(strformat("vocab size %lld is too small for a byte-level tokenizer (need >= 259)",
                           (long long)vocab_size));
  std::vector<std::string> texts(std::begin(kSampleText), std::end(kSampleText));
  BpeTrainOptions bo;
  bo.vocab_size = (int32_t)std::min<int64_t>(vocab_size, 1 << 20);
  bo.special_tokens.assign(std::begin(kSpecials), std::end(kSpecials));
  bo.pad_token = kSpecials[0];
  bo.bos_token = kSpecials[1];
  bo.eos_token = kSpecials[2];
  CARTLM_ASSIGN_OR_RETURN(Tokenizer t, train_bpe(texts, bo));
  if (learned) *learned = t.size() - 3;
  CARTLM_RETURN_IF_ERROR(pad_tokenizer(t, vocab_size, special_at));
  return t;
}

Status check_out_dir(const std::string& dir, bool force) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) return error(dir + ": exists and is not a directory");
    if (!fs::is_empty(dir, ec) && !force)
      return error(dir + ": directory is not empty; hint: pass --force to overwrite");
  }
  return ensure_dir(dir);
}

}  // namespace

Result<Tokenizer> init_tokenizer(int64_t vocab_size, int64_t special_at,
                                 int32_t* learned_tokens) {
  return train_init_tokenizer(vocab_size, special_at, learned_tokens);
}

Result<InitReport> init_checkpoint(const InitOptions& opt) {
  if (opt.out_dir.empty()) return error("--out is required");
  CARTLM_ASSIGN_OR_RETURN(Config c, preset_config(opt.preset));
  bool tiny = opt.preset == "tiny";
  // Custom shapes: derived fields are recomputed by finalize_config.
  if (opt.hidden > 0) c.hidden_size = opt.hidden;
  if (opt.layers > 0) c.num_hidden_layers = opt.layers;
  if (opt.heads > 0) c.num_attention_heads = opt.heads;
  if (opt.kv_heads > 0) c.num_key_value_heads = opt.kv_heads;
  if (opt.ffn > 0) c.intermediate_size = opt.ffn;
  if (opt.vocab > 0) c.vocab_size = opt.vocab;
  if (opt.hidden > 0 || opt.heads > 0) c.head_dim = 0;
  if (opt.heads > 0 && opt.kv_heads <= 0) c.num_key_value_heads = 0;
  CARTLM_RETURN_IF_ERROR(finalize_config(c, "init --preset " + opt.preset));

  std::string dtype_s = opt.dtype.empty() ? (tiny ? "f32" : "bf16") : opt.dtype;
  DType dt;
  if (dtype_s == "f32") {
    dt = DType::F32;
    c.torch_dtype = "float32";
  } else if (dtype_s == "f16") {
    dt = DType::F16;
    c.torch_dtype = "float16";
  } else if (dtype_s == "bf16") {
    dt = DType::BF16;
    c.torch_dtype = "bfloat16";
  } else {
    return error("--dtype '" + dtype_s + "' is not one of f32, f16, bf16");
  }

  InitReport rep;
  // Tokenizer first: its special ids decide config.json's bos/eos.
  Tokenizer tok;
  if (!opt.tokenizer.empty()) {
    CARTLM_ASSIGN_OR_RETURN(tok, load_tokenizer(opt.tokenizer));
    if (tok.size() > c.vocab_size)
      return error(strformat("%s: tokenizer has %d tokens, more than vocab_size %lld",
                             opt.tokenizer.c_str(), tok.size(), (long long)c.vocab_size));
  } else {
    // Tiny keeps specials at 0..2 (its preset layout); big presets put them where the real
    // model has its bos (e.g. 128000 for Llama 3.2) when the learned tokens leave room.
    int64_t special_at = tiny ? 0 : (c.bos_token_id ? *c.bos_token_id - 1 : 0);
    CARTLM_ASSIGN_OR_RETURN(tok, init_tokenizer(c.vocab_size, special_at, &rep.learned_tokens));
  }
  c.bos_token_id.reset();
  c.eos_token_ids.clear();
  c.pad_token_id.reset();
  if (tok.bos_id >= 0) c.bos_token_id = tok.bos_id;
  if (tok.eos_id >= 0) c.eos_token_ids = {tok.eos_id};
  if (tok.pad_id >= 0) c.pad_token_id = tok.pad_id;

  CARTLM_RETURN_IF_ERROR(check_out_dir(opt.out_dir, opt.force));

  // Weights: every tensor is generated straight into its final dtype, so peak memory is one
  // copy of the checkpoint (write_safetensors streams from these buffers).
  std::vector<ExpectedTensor> layout = expected_tensors(c);
  uint64_t total_elems = 0;
  for (const ExpectedTensor& e : layout) {
    int64_t n = 1;
    for (int64_t d : e.shape) n *= d;
    total_elems += (uint64_t)n;
  }
  size_t esize = dt == DType::F32 ? 4 : 2;
  std::vector<std::unique_ptr<uint8_t[]>> buffers;
  std::vector<TensorView> views;
  Rng root(opt.seed);
  ProgressBar bar("init weights", total_elems, opt.progress && total_elems > (50u << 20));
  uint64_t done = 0;
  for (size_t ti = 0; ti < layout.size(); ++ti) {
    const ExpectedTensor& e = layout[ti];
    int64_t n = 1;
    for (int64_t d : e.shape) n *= d;
    auto buf = std::make_unique<uint8_t[]>((size_t)n * esize);
    // Norms (1-D weights named *norm*) are ones, biases zeros, everything else normal.
    bool is_bias = ends_with(e.name, ".bias");
    bool is_norm = !is_bias && e.shape.size() == 1;
    Rng rng = root.fork(ti);
    double stdev = c.initializer_range;
    for (int64_t i = 0; i < n; ++i) {
      float v = is_bias ? 0.0f : is_norm ? 1.0f : (float)(rng.normal() * stdev);
      if (dt == DType::F32) {
        std::memcpy(buf.get() + (size_t)i * 4, &v, 4);
      } else {
        uint16_t h = dt == DType::F16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
        std::memcpy(buf.get() + (size_t)i * 2, &h, 2);
      }
      if ((i & ((1 << 22) - 1)) == 0) bar.update(done + (uint64_t)i);
    }
    done += (uint64_t)n;
    bar.update(done);
    TensorView v;
    v.name = e.name;
    v.dtype = dt;
    v.shape = e.shape;
    v.data = buf.get();
    v.nbytes = (uint64_t)n * esize;
    rep.bytes += v.nbytes;
    views.push_back(std::move(v));
    buffers.push_back(std::move(buf));
  }
  bar.finish();

  CARTLM_RETURN_IF_ERROR(write_safetensors(join_path(opt.out_dir, "model.safetensors"), views));
  CARTLM_RETURN_IF_ERROR(save_hf_config(join_path(opt.out_dir, "config.json"), c));
  nlohmann::json gen = nlohmann::json::object();
  if (c.bos_token_id) gen["bos_token_id"] = *c.bos_token_id;
  if (!c.eos_token_ids.empty()) gen["eos_token_id"] = c.eos_token_ids[0];
  if (c.pad_token_id) gen["pad_token_id"] = *c.pad_token_id;
  gen["_from_model_config"] = true;
  CARTLM_RETURN_IF_ERROR(
      write_file_atomic(join_path(opt.out_dir, "generation_config.json"), gen.dump(2) + "\n"));
  CARTLM_RETURN_IF_ERROR(save_tokenizer(opt.out_dir, tok));
  rep.config = c;
  rep.parameters = count_parameters(c).total;
  return rep;
}

}  // namespace cartlm
