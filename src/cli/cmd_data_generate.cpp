// `cartlm data generate`: the synthetic dataset (src/data/generator.h). Thin: flags -> options.
#include <cstdio>
#include <memory>
#include <set>

#include "cli/cli.h"
#include "core/file_io.h"
#include "core/strings.h"
#include "core/timer.h"
#include "data/catalog.h"
#include "data/generator.h"

namespace cartlm::cli {

namespace {

struct GenerateArgs {
  GeneratorOptions opt;
  std::string out = "data";
  std::string catalog;
  std::string langs = "en,hr,es";
  std::vector<std::string> train_rates;  // --train-rate KIND=RATE
  long long size = 3000, eval_size = 1000;
  uint64_t eval_seed = 0;
  bool force = false, quiet = false;
  CLI::Option* eval_seed_opt = nullptr;
};

Result<std::vector<Lang>> parse_langs(const std::string& s) {
  std::vector<Lang> out;
  std::set<std::string> seen;
  for (const std::string& raw : split(s, ',')) {
    std::string code(trim(raw));
    auto lang = parse_lang(code);
    if (!lang) return error("--langs: unknown language '" + code + "' (expected en, hr or es)");
    if (!seen.insert(code).second) return error("--langs: '" + code + "' given twice");
    out.push_back(*lang);
  }
  if (out.empty()) return error("--langs: no language given; hint: e.g. --langs en,hr,es");
  return out;
}

int run_data_generate(GenerateArgs& a) {
  Timer timer;
  if (a.size < 1) return fail(error(strformat("--size must be at least 1, got %lld", a.size)));
  if (a.eval_size < 0) return fail(error(strformat("--eval-size must be >= 0, got %lld", a.eval_size)));
  a.opt.size = (size_t)a.size;
  a.opt.eval_size = (size_t)a.eval_size;
  if (a.eval_seed_opt && a.eval_seed_opt->count() > 0) a.opt.eval_seed = a.eval_seed;
  Result<std::vector<Lang>> langs = parse_langs(a.langs);
  if (!langs.ok()) return fail(langs.status());
  a.opt.langs = *langs;
  if (!a.train_rates.empty()) {
    NoiseRates train = a.opt.noise;  // the rates above, with the train-only ones replaced
    for (const std::string& kr : a.train_rates) {
      Status s = set_noise_rate(train, kr);
      if (!s.ok()) return fail(s.with_context("--train-rate"));
    }
    a.opt.train_noise = train;
  }
  a.opt.progress = !a.quiet;
  Result<Catalog> catalog = load_catalog_or_default(a.catalog);
  if (!catalog.ok()) return fail(catalog.status().with_context("--catalog"));
  // Refuse early (before generating) when the output cannot be written.
  Status st = ensure_dir(a.out);
  if (!st.ok()) return fail(st.with_context("--out"));
  if (!a.force)
    for (const char* name : {"train.jsonl", "val.jsonl", "eval.jsonl"}) {
      std::string path = join_path(a.out, name);
      if (file_exists(path))
        return fail(error(path + " already exists; hint: pass --force to replace it (files are "
                                 "replaced atomically), or choose another --out"));
    }
  Result<Dataset> ds = generate_dataset(*catalog, a.opt);
  if (!ds.ok()) return fail(ds.status());
  st = write_dataset_files(*ds, a.out, a.force);
  if (!st.ok()) return fail(st);
  std::fputs(dataset_summary(*ds).c_str(), stdout);
  std::printf("wrote %s (%zu), %s (%zu), %s (%zu) in %.2f s total\n",
              join_path(a.out, "train.jsonl").c_str(), ds->train.size(),
              join_path(a.out, "val.jsonl").c_str(), ds->val.size(),
              join_path(a.out, "eval.jsonl").c_str(), ds->eval.size(), timer.seconds());
  return 0;
}

}  // namespace

void register_data_generate(CLI::App& data, int& exit_code) {
  auto args = std::make_shared<GenerateArgs>();  // owned by the callback for the program's life
  GeneratorOptions& o = args->opt;
  NoiseRates& n = o.noise;
  CLI::App* cmd = data.add_subcommand(
      "generate",
      "Synthetic, noisy, multilingual shopper messages with exact labels (the paper's 3k dataset).\n"
      "Writes OUT/train.jsonl, OUT/val.jsonl and OUT/eval.jsonl. The same flags give byte-identical\n"
      "files. Eval is drawn from its own seed and uses phrasings train/val never see: every 5th\n"
      "template of each language (with --heldout-share 0.2; in general template t<id> when\n"
      "floor((id+1)*share) > floor(id*share)) and the catalog's `eval` surface forms. No eval text\n"
      "occurs in train/val (compared in lower case with whitespace collapsed). Existing files are\n"
      "never overwritten unless --force is given; with --force they are replaced atomically.\n"
      "Noise rates are probabilities per message; --noise-scale multiplies all of them\n"
      "(0 = clean text).");
  cmd->add_option("--out", args->out, "Output directory (created if missing)")->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed of train/val (labels, phrasing, noise, split)")
      ->capture_default_str();
  cmd->add_option("--size", args->size, "Number of train + val examples")->capture_default_str();
  cmd->add_option("--val-fraction", o.val_fraction,
                  "Share of --size that goes to val.jsonl (rounded)")
      ->capture_default_str();
  cmd->add_option("--eval-size", args->eval_size,
                  "Number of eval examples (the study's eval set had 100)")
      ->capture_default_str();
  args->eval_seed_opt = cmd->add_option(
      "--eval-seed", args->eval_seed,
      "Seed of the eval set (default: derived from --seed; eval always uses a random stream "
      "disjoint from train/val)");
  cmd->add_option("--langs", args->langs,
                  "Comma-separated languages, cycled in this order (en, hr, es)")
      ->capture_default_str();
  cmd->add_option("--catalog", args->catalog,
                  "Product catalog, .tsv or one name a line (default: the built-in data/catalog.tsv)");
  cmd->add_option("--heldout-share", o.heldout_share,
                  "Share of each language's templates reserved for eval, in [0, 1)")
      ->capture_default_str();
  cmd->add_option("--noise-scale", o.noise_scale, "Multiplies every noise rate below (0: no noise)")
      ->capture_default_str();
  cmd->add_option("--typo-rate", n.typo,
                  "Typos: swapped, dropped, doubled or neighbouring-key letters (never in the "
                  "quantity; at most one in the product)")
      ->capture_default_str();
  cmd->add_option("--diacritics-rate", n.diacritics,
                  "Missing diacritics: hr at this rate (often the whole message), es at 0.35x it")
      ->capture_default_str();
  cmd->add_option("--slang-rate", n.slang, "Slang and abbreviations (pls, u, thx, mlm, porfa, q)")
      ->capture_default_str();
  cmd->add_option("--greeting-rate", n.greeting, "A greeting in front (hi, bok, hola)")
      ->capture_default_str();
  cmd->add_option("--signoff-rate", n.signoff,
                  "A sign-off (thanks!, hvala unaprijed, gracias de antemano)")
      ->capture_default_str();
  cmd->add_option("--emoji-rate", n.emoji, "Emojis")->capture_default_str();
  cmd->add_option("--detail-rate", n.detail,
                  "A detail about the item (small, in black, 3 crvena ručnika, toallas blancas, "
                  "na akciji, de oferta)")
      ->capture_default_str();
  cmd->add_option("--brand-rate", n.brand,
                  "An unrelated brand or shop after the product (from Nivea, iz Konzuma, de Mercadona)")
      ->capture_default_str();
  cmd->add_option("--codeswitch-rate", n.codeswitch,
                  "English inside hr/es messages (asap, free shipping, btw, ok)")
      ->capture_default_str();
  cmd->add_option("--casing-rate", n.casing, "all lower case, ALL CAPS or Sentence case")
      ->capture_default_str();
  cmd->add_option("--punct-rate", n.punct,
                  "Punctuation changes: none at the end, !!, ??, ..., stray or missing commas")
      ->capture_default_str();
  cmd->add_option("--distractor-rate", n.distractor,
                  "A number that is not the quantity (order #48213, size 42, 4.99€, by 5pm)")
      ->capture_default_str();
  cmd->add_option("--product-typo-rate", n.product_typo,
                  "A typo in the product name on top of --typo-rate (which rarely picks it); 0 "
                  "by default, meant for the train split: --train-rate product_typo=0.2")
      ->capture_default_str();
  cmd->add_option("--action-typo-rate", n.action_typo,
                  "A typo in a word that carries the action (remove, ubaci, quita) on top of "
                  "--typo-rate; 0 by default, meant for the train split")
      ->capture_default_str();
  cmd->add_option("--context-rate", n.context,
                  "An action-neutral clause before or after the request (I'm heading out soon, "
                  "gledam popis, sin prisa); 0 by default, meant for the train split")
      ->capture_default_str();
  cmd->add_option("--train-rate", args->train_rates,
                  "KIND=RATE: a different rate for the train split only (repeatable; KIND is a "
                  "rate above without -rate, e.g. --train-rate typo=0.45 --train-rate "
                  "distractor=0.30); val and eval keep the rates above, so they still measure "
                  "the realistic mix");
  cmd->add_option("--train-tail-share", o.train_tail_share,
                  "Share of train examples whose quantity is drawn uniformly from 11..99 rather "
                  "than from the realistic weights (1 most often, then small and round numbers; "
                  "about 2% of them uniform over 11..99); val and eval keep the realistic "
                  "weights")
      ->capture_default_str();
  cmd->add_option("--train-main-form-share", o.train_main_form_share,
                  "Share of train messages that name the product by its main catalog name rather "
                  "than a synonym (default: 0.65, as in val and eval); lower gives rare synonyms "
                  "(\"tejanos\", \"oj\") more train examples");
  cmd->add_flag("--force", args->force, "Replace existing train/val/eval.jsonl in --out");
  cmd->add_flag("--quiet", args->quiet, "No progress bar on stderr");
  cmd->callback([args, &exit_code] { exit_code = run_data_generate(*args); });
}

}  // namespace cartlm::cli
