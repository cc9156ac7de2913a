#include "data/generator.h"

#include <cmath>
#include <unordered_set>

#include "core/file_io.h"
#include "core/progress.h"
#include "core/strings.h"
#include "core/timer.h"
#include "core/utf8.h"
#include "data/ground_truth.h"
#include "data/lang_pack.h"

namespace cartlm {

uint64_t derived_eval_seed(uint64_t seed) {
  // splitmix64 of the seed with a fixed offset: a different, well-mixed number for every seed.
  uint64_t z = seed + 0x6576616c5f736565ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool is_heldout_template(size_t id, double share) {
  if (share <= 0) return false;
  // The small epsilon keeps exact products such as 5 * 0.2 on the right side of floor().
  return std::floor((double)(id + 1) * share + 1e-9) > std::floor((double)id * share + 1e-9);
}

std::string normalize_for_overlap(std::string_view text) {
  std::string low = to_lower(text), out;
  out.reserve(low.size());
  for (char c : low) {
    bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (space) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

namespace {

// Fork stream ids: train/val, eval and the val split never share a random stream.
constexpr uint64_t kTrainStream = 0x747261696e;  // "train"
constexpr uint64_t kEvalStream = 0x6576616c;     // "eval"
constexpr uint64_t kSplitStream = 0x73706c6974;  // "split"

constexpr double kEvalHeldoutTemplateShare = 0.5;  // eval messages from held-out templates
constexpr double kEvalFormShare = 0.35;            // eval messages using an `eval` surface form
constexpr double kMainFormShare = 0.65;            // otherwise: main form vs a synonym

// How one split is drawn: noise rates, share of quantities from the 11..99 tail, main-form share.
struct SplitMix {
  NoiseRates rates;
  double tail_share = 0;
  double main_form_share = kMainFormShare;
};
constexpr int kAttemptsPerTruth = 20, kMaxAttempts = 400;

struct TemplatePools {
  std::vector<size_t> train[2], heldout[2];  // template ids by action (0 add, 1 remove)
};

TemplatePools make_pools(const LangPack& pack, double share) {
  TemplatePools p;
  for (size_t id = 0; id < pack.templates.size(); ++id) {
    Act act = pack.templates[id].act;
    bool held = is_heldout_template(id, share);
    for (int a = 0; a < 2; ++a) {
      if (act == Act::both || (act == Act::add) == (a == 0)) (held ? p.heldout : p.train)[a].push_back(id);
    }
  }
  return p;
}

const char* form_kind_name(FormKind k) {
  switch (k) {
    case FormKind::main: return "main";
    case FormKind::syn: return "syn";
    case FormKind::eval: return "eval";
  }
  return "?";
}

struct Generator {
  const Catalog& catalog;
  const GeneratorOptions& opt;
  TemplatePools pools[kNumLangs];
  std::vector<std::string> product_words;

  const SurfaceForm& pick_form(const Product& p, Lang lang, bool eval, double main_share,
                               Rng& rng) const {
    const SurfaceForm* main = nullptr;
    std::vector<const SurfaceForm*> syn, ev;
    for (const SurfaceForm& f : p.in(lang)) {
      if (f.kind == FormKind::main) main = &f;
      else if (f.kind == FormKind::syn) syn.push_back(&f);
      else ev.push_back(&f);
    }
    if (eval && !ev.empty() && rng.bernoulli(kEvalFormShare)) return *ev[rng.uniform(ev.size())];
    if (!main || (!syn.empty() && !rng.bernoulli(main_share))) {
      CARTLM_CHECK(!syn.empty());  // validated up front: every product has a main or syn form
      return *syn[rng.uniform(syn.size())];
    }
    return *main;
  }

  Example render(const GroundTruth& gt, bool eval, const SplitMix& mix, Rng& rng) const {
    const LangPack& pack = lang_pack(gt.lang);
    const TemplatePools& pool = pools[(int)gt.lang];
    const int act = gt.label.action == "remove" ? 1 : 0;
    bool heldout = eval && !pool.heldout[act].empty() && rng.bernoulli(kEvalHeldoutTemplateShare);
    const std::vector<size_t>& ids = heldout ? pool.heldout[act] : pool.train[act];
    size_t tid = ids[rng.uniform(ids.size())];
    const SurfaceForm& form =
        pick_form(catalog.products[gt.product], gt.lang, eval, mix.main_form_share, rng);

    SlotContext ctx;
    ctx.quantity = gt.label.quantity;
    ctx.remove = act == 1;
    ctx.form = &form;
    Pieces pieces = render_template(pack, pack.templates[tid], ctx, rng);
    NoiseContext nctx{&pack, gt.label.quantity, &product_words};
    std::vector<std::string> noise = apply_noise(pieces, mix.rates, nctx, rng);

    Example ex;
    ex.lang = lang_code(gt.lang);
    ex.text = join_pieces(pieces);
    ex.label = gt.label;
    ex.meta = json::object();
    ex.meta["template"] = strformat("%s.t%zu", lang_code(gt.lang), tid);
    ex.meta["heldout"] = heldout;
    ex.meta["noise"] = noise;
    ex.meta["qty_form"] = ctx.qty_form;
    ex.meta["form"] = form.sg;
    ex.meta["form_kind"] = form_kind_name(form.kind);
    ex.meta["form_text"] = ctx.form_text;
    return ex;
  }

  // Draws example `index` of a stream until its normalized text is new to `seen` (and, for eval,
  // to `forbidden`). The ground truth is redrawn every kAttemptsPerTruth attempts.
  Result<Example> draw_distinct(const Rng& stream, size_t index, bool eval, const SplitMix& mix,
                                std::unordered_set<std::string>& seen,
                                const std::unordered_set<std::string>* forbidden) const {
    Rng rng = stream.fork(index);
    GroundTruth gt = draw_ground_truth(rng, catalog, index, opt.langs, mix.tail_share);
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      if (attempt > 0 && attempt % kAttemptsPerTruth == 0)
        gt = draw_ground_truth(rng, catalog, index, opt.langs, mix.tail_share);
      Example ex = render(gt, eval, mix, rng);
      std::string key = normalize_for_overlap(ex.text);
      if (forbidden && forbidden->count(key)) continue;
      if (!seen.insert(key).second) continue;
      ex.meta["index"] = index;
      return ex;
    }
    return error(strformat("could not write a message for %s example %zu that differs from all "
                           "earlier ones after %d attempts; hint: the catalog is too small for "
                           "this --size/--eval-size",
                           eval ? "eval" : "train/val", index, kMaxAttempts));
  }
};

Status check_rate(const std::string& flag, double r) {
  if (!(r >= 0 && r <= 1))
    return error(strformat("%s must be between 0 and 1, got %g", flag.c_str(), r));
  return {};
}

Status check_options(const Catalog& catalog, const GeneratorOptions& o) {
  if (o.langs.empty()) return error("--langs: no language given; hint: e.g. --langs en,hr,es");
  if (o.size < 1) return error("--size must be at least 1");
  if (!(o.val_fraction >= 0 && o.val_fraction < 1))
    return error(strformat("--val-fraction must be in [0, 1), got %g", o.val_fraction));
  if (std::llround((double)o.size * o.val_fraction) >= (long long)o.size)
    return error("--val-fraction leaves no training example; hint: lower it or raise --size");
  if (!(o.heldout_share >= 0 && o.heldout_share < 1))
    return error(strformat("--heldout-share must be in [0, 1), got %g", o.heldout_share));
  if (!(o.noise_scale >= 0 && std::isfinite(o.noise_scale)))
    return error(strformat("--noise-scale must be a number >= 0, got %g", o.noise_scale));
  if (!(o.train_tail_share >= 0 && o.train_tail_share <= 1))
    return error(strformat("--train-tail-share must be between 0 and 1, got %g", o.train_tail_share));
  if (o.train_main_form_share && !(*o.train_main_form_share >= 0 && *o.train_main_form_share <= 1))
    return error(strformat("--train-main-form-share must be between 0 and 1, got %g",
                           *o.train_main_form_share));
  for (const NoiseRateField& f : kNoiseRateFields) {
    CARTLM_RETURN_IF_ERROR(check_rate(strformat("--%s-rate", f.name), o.noise.*f.rate));
    if (o.train_noise)
      CARTLM_RETURN_IF_ERROR(check_rate(strformat("--train-rate %s", f.name), (*o.train_noise).*f.rate));
  }
  if (catalog.products.empty()) return error("the catalog has no products");
  for (const Product& p : catalog.products)
    for (Lang l : o.langs) {
      bool usable = false;
      for (const SurfaceForm& f : p.in(l)) usable |= f.kind != FormKind::eval;
      if (!usable)
        return error(strformat("catalog: product '%s' has no main or syn form for %s", p.name.c_str(),
                               lang_code(l)));
    }
  for (Lang l : o.langs) {
    TemplatePools pools = make_pools(lang_pack(l), o.heldout_share);
    for (int a = 0; a < 2; ++a)
      if (pools.train[a].empty())
        return error(strformat("--heldout-share %g leaves no training template for %s %s",
                               o.heldout_share, lang_code(l), a ? "remove" : "add"));
  }
  return {};
}

}  // namespace

Result<Dataset> generate_dataset(const Catalog& catalog, const GeneratorOptions& opt) {
  Timer timer;
  CARTLM_RETURN_IF_ERROR(check_options(catalog, opt));
  Generator gen{catalog, opt, {}, {}};
  // Val and eval: the realistic mix. Train: its own rates, quantity tail and form share.
  const SplitMix real{opt.noise.scaled(opt.noise_scale), 0, kMainFormShare};
  const SplitMix train{opt.train_noise ? opt.train_noise->scaled(opt.noise_scale) : real.rates,
                       opt.train_tail_share,
                       opt.train_main_form_share ? *opt.train_main_form_share : kMainFormShare};
  for (Lang l : kAllLangs) gen.pools[(int)l] = make_pools(lang_pack(l), opt.heldout_share);
  for (const Product& p : catalog.products) {
    gen.product_words.push_back(to_lower(p.name));
    for (Lang l : kAllLangs)
      for (const SurfaceForm& f : p.in(l))
        for (const std::string* s : f.all_forms())
          if (!s->empty()) gen.product_words.push_back(to_lower(*s));
  }

  // Val: a seeded random subset of round(size * val_fraction) positions; order is kept. Chosen
  // before drawing because the train split may use other noise rates.
  size_t n_val = (size_t)std::llround((double)opt.size * opt.val_fraction);
  std::vector<size_t> order(opt.size);
  for (size_t i = 0; i < opt.size; ++i) order[i] = i;
  Rng split_rng = Rng(opt.seed).fork(kSplitStream);
  split_rng.shuffle(order);
  std::vector<bool> is_val(opt.size, false);
  for (size_t i = 0; i < n_val; ++i) is_val[order[i]] = true;

  ProgressBar bar("generate", opt.size + opt.eval_size, opt.progress);
  std::unordered_set<std::string> seen_train, seen_eval;
  const Rng train_stream = Rng(opt.seed).fork(kTrainStream);
  std::vector<Example> all;
  all.reserve(opt.size);
  for (size_t i = 0; i < opt.size; ++i) {
    CARTLM_ASSIGN_OR_RETURN(Example ex, gen.draw_distinct(train_stream, i, false,
                                                          is_val[i] ? real : train, seen_train,
                                                          nullptr));
    all.push_back(std::move(ex));
    if (i % 256 == 0) bar.update(i);
  }

  Dataset ds;
  for (size_t i = 0; i < opt.size; ++i) {
    Example& ex = all[i];
    std::vector<Example>& dst = is_val[i] ? ds.val : ds.train;
    ex.meta["split"] = is_val[i] ? "val" : "train";
    ex.id = strformat("%s-%06zu", is_val[i] ? "val" : "train", dst.size() + 1);
    dst.push_back(std::move(ex));
  }

  const uint64_t eval_seed = opt.eval_seed ? *opt.eval_seed : derived_eval_seed(opt.seed);
  const Rng eval_stream = Rng(eval_seed).fork(kEvalStream);
  for (size_t i = 0; i < opt.eval_size; ++i) {
    CARTLM_ASSIGN_OR_RETURN(Example ex, gen.draw_distinct(eval_stream, i, true, real, seen_eval,
                                                          &seen_train));
    ex.meta["split"] = "eval";
    ex.id = strformat("eval-%06zu", i + 1);
    ds.eval.push_back(std::move(ex));
    if (i % 256 == 0) bar.update(opt.size + i);
  }
  bar.finish();
  ds.seconds = timer.seconds();
  return ds;
}

Status write_dataset_files(const Dataset& ds, const std::string& dir, bool force) {
  CARTLM_RETURN_IF_ERROR(ensure_dir(dir).with_context("--out"));
  const std::pair<const char*, const std::vector<Example>*> files[] = {
      {"train.jsonl", &ds.train}, {"val.jsonl", &ds.val}, {"eval.jsonl", &ds.eval}};
  if (!force)
    for (const auto& [name, _] : files) {
      std::string path = join_path(dir, name);
      if (file_exists(path))
        return error(path + " already exists; hint: pass --force to replace it (files are "
                            "replaced atomically), or choose another --out");
    }
  for (const auto& [name, examples] : files)
    CARTLM_RETURN_IF_ERROR(write_dataset(join_path(dir, name), *examples));
  return {};
}

}  // namespace cartlm
