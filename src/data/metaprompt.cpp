// Planning and prompts of the metaprompt mode, and the checks every reply must pass.
// The HTTP side (workers, retries, cache) is in metaprompt_run.cpp.
#include "data/metaprompt.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <iterator>

#include "core/rng.h"
#include "core/strings.h"
#include "core/utf8.h"

namespace cartlm {

namespace {


// Rng streams forked from the seed. Ground truth uses Rng(seed) itself, advanced in index order,
// as the synthetic generator does; everything else comes from separate streams so that adding a
// directive never changes the ground truth.
constexpr uint64_t kStyleStream = 0x57;
constexpr uint64_t kSplitStream = 0x5b;

const char* const kRegisters[] = {"formal", "casual", "terse imperative",
                                  "question", "chatty", "first-person need"};

const char* register_instruction(const std::string& r) {
  if (r == "formal") return "Formal and polite, in complete sentences (use the polite form of address).";
  if (r == "casual") return "Casual and relaxed, like texting a friend.";
  if (r == "terse imperative") return "A terse command: as few words as possible, no pleasantries.";
  if (r == "question") return "Phrased as a question to the shop assistant (like \"Can you ...?\").";
  if (r == "chatty")
    return "Chatty: wrap the request in a short remark about why (a party, a trip, a change of "
           "mind).";
  return "A first-person statement of need or of a change of mind (like \"I need ...\" or \"I "
         "don't want ... any more\").";
}

// Brands that have nothing to do with a shopping-cart item of the catalog; the prompt tells the
// model to mention one in passing, never as the item.
const char* const kBrands[] = {"Nike", "Samsung", "IKEA", "Zara", "Lego", "Adidas",
                               "Sony", "Bosch", "Netflix", "Spotify", "Ryanair", "Uber"};
// English phrases bilingual shoppers slip into Croatian and Spanish (the paper's example first).
const char* const kCodeSwitch[] = {"free shipping", "checkout", "wishlist", "ASAP",
                                   "Black Friday", "discount code", "cart"};

const char* language_name(Lang l) {
  switch (l) {
    case Lang::en: return "English";
    case Lang::hr: return "Croatian";
    case Lang::es: return "Spanish";
  }
  return "?";
}

std::string fnv1a_hex(std::string_view a, std::string_view b) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
  };
  mix(a);
  mix(std::string_view("\0", 1));
  mix(b);
  return strformat("%016llx", (unsigned long long)h);
}

// Number words per language, index = n (1..20). The first word is the one a prompt asks for
// (Croatian 1 and 2 then pick the gender form, see preferred_number_word); the rest are also
// accepted in replies. "pair" style words are accepted for 2, "dozen" for 12.
struct NumberWords {
  const char* words[21];
};
const NumberWords kEn = {{"", "one|a|an", "two|pair", "three", "four", "five", "six", "seven",
                          "eight", "nine", "ten", "eleven", "twelve|dozen", "thirteen", "fourteen",
                          "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"}};
const NumberWords kHr = {{"", "jedan|jedna|jedno|jednu|jednog|jednoga", "dva|dvije|dvoje|par",
                          "tri|troje", "četiri|četvero|četvoro", "pet|petero|petoro", "šest",
                          "sedam", "osam", "devet", "deset", "jedanaest", "dvanaest|tucet",
                          "trinaest", "četrnaest", "petnaest", "šesnaest", "sedamnaest",
                          "osamnaest", "devetnaest", "dvadeset"}};
const NumberWords kEs = {{"", "uno|una|un", "dos|par", "tres", "cuatro", "cinco", "seis", "siete",
                          "ocho", "nueve", "diez", "once", "doce|docena", "trece", "catorce",
                          "quince", "dieciséis", "diecisiete", "dieciocho", "diecinueve",
                          "veinte"}};

const NumberWords& table(Lang l) {
  switch (l) {
    case Lang::en: return kEn;
    case Lang::hr: return kHr;
    case Lang::es: return kEs;
  }
  return kEn;
}

// The word the prompt asks for: agrees with the product's gender where the language needs it
// (hr: jedan/jedna/jedno, dva/dvije/dvoje for plural-only nouns; es: un/una).
std::string preferred_number_word(int n, Lang lang, Gender g) {
  if (lang == Lang::hr && n == 1)
    return g == Gender::f ? "jedna" : g == Gender::n ? "jedno" : "jedan";
  if (lang == Lang::hr && n == 2)
    return g == Gender::f ? "dvije" : g == Gender::pl ? "dvoje" : "dva";
  if (lang == Lang::hr && n == 3 && g == Gender::pl) return "troje";
  if (lang == Lang::es && n == 1) return g == Gender::f ? "una" : "un";
  if (lang == Lang::en && n == 1) return "one";
  std::vector<std::string> words = number_words(n, lang);
  return words.empty() ? std::to_string(n) : words[0];
}

struct ChosenForm {
  const SurfaceForm* form = nullptr;  // null: the catalog has no form in this language
  std::string sg, pl;
};

// Main names most of the time, synonyms now and then. Held-out eval names are never used: this
// data trains models, and the eval split must keep names they have not seen.
ChosenForm choose_form(Rng& rng, const Product& product, Lang lang) {
  std::vector<const SurfaceForm*> mains, syns;
  for (const SurfaceForm& f : product.in(lang)) {
    if (f.kind == FormKind::main) mains.push_back(&f);
    if (f.kind == FormKind::syn) syns.push_back(&f);
  }
  ChosenForm c;
  bool use_syn = !syns.empty() && rng.bernoulli(0.25);
  if (use_syn) c.form = syns[rng.uniform(syns.size())];
  else if (!mains.empty()) c.form = mains[rng.uniform(mains.size())];
  if (c.form) {
    c.sg = c.form->sg.empty() ? product.name : c.form->sg;
    c.pl = c.form->pl.empty() ? c.sg : c.form->pl;
  } else {
    c.sg = c.pl = product.name;
  }
  return c;
}

StyleDirectives draw_style(Rng& rng, Lang lang, int quantity) {
  StyleDirectives s;
  s.register_name = kRegisters[rng.uniform(std::size(kRegisters))];
  s.typos = rng.bernoulli(0.25);
  s.slang = rng.bernoulli(0.2);
  s.greeting = rng.bernoulli(0.25);
  s.emoji = rng.bernoulli(0.2);
  if (rng.bernoulli(0.1)) s.brand = kBrands[rng.uniform(std::size(kBrands))];
  // Draw even for English so that the stream stays aligned across languages.
  bool switch_code = rng.bernoulli(0.15);
  const char* phrase = kCodeSwitch[rng.uniform(std::size(kCodeSwitch))];
  if (switch_code && lang != Lang::en) s.code_switch = phrase;
  double u = rng.uniform_double();
  if (quantity == 1) s.quantity_style = u < 0.6 ? "omitted" : u < 0.85 ? "words" : "digits";
  else if (quantity <= 20) s.quantity_style = u < 0.7 ? "digits" : "words";
  else s.quantity_style = "digits";
  return s;
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string product_line(const Product& p, const ChosenForm& c, Lang lang) {
  std::string line = "Product: " + quoted(c.sg);
  if (lang == Lang::en) {
    line += " (plural " + quoted(c.pl) + "; catalog item " + quoted(p.name) + ").";
    return line;
  }
  line += strformat(" (the %s name of the catalog item \"%s\"; plural %s", language_name(lang),
                    p.name.c_str(), quoted(c.pl).c_str());
  if (lang == Lang::hr && c.form) {
    const SurfaceForm& f = *c.form;
    if (!f.acc_sg.empty()) line += "; accusative singular " + quoted(f.acc_sg);
    if (!f.gen_pl.empty()) line += "; genitive plural " + quoted(f.gen_pl);
    if (!f.paucal.empty()) line += "; form after 2, 3, 4: " + quoted(f.paucal);
  }
  line += ").";
  if (lang == Lang::hr) line += " Inflect it as Croatian grammar requires.";
  if (c.sg == p.name)
    line += strformat(" If there is a more natural %s word for it, you may use that.",
                      language_name(lang));
  return line;
}

std::string quantity_line(int q, const StyleDirectives& s, Lang lang, Gender g,
                          const std::string& product_sg) {
  if (s.quantity_style == "omitted")
    return "Quantity: 1. Do not write any number; just use the singular (" + quoted(product_sg) +
           ").";
  if (s.quantity_style == "words")
    return strformat("Quantity: %d. Write the number as the %s word \"%s\", not in digits.", q,
                     language_name(lang), preferred_number_word(q, lang, g).c_str());
  return strformat("Quantity: %d. Write the number in digits (\"%d\").", q, q);
}

void build_prompt(MetapromptItem& item, const Product& product, const ChosenForm& form) {
  const Lang lang = item.truth.lang;
  const StyleDirectives& s = item.style;
  const Gender gender = form.form ? form.form->gender : Gender::none;
  item.system =
      "You write realistic chat messages that online shoppers send to a web shop's assistant to "
      "change their shopping cart. Follow the requested language, intent, product, quantity and "
      "style exactly. Answer with the shopper's message only: one line of plain text, without "
      "quotation marks, JSON, labels, translations or explanations.";
  std::string u = "Write one message that a shopper types into the chat box of an online shop.\n\n";
  u += strformat("Language: %s. Write the message in %s.\n", language_name(lang),
                 language_name(lang));
  if (item.truth.label.action == "add")
    u += "Intent: the shopper wants to ADD this product to their shopping cart. Make that clear, "
         "in your own words (not necessarily the word \"add\").\n";
  else
    u += "Intent: the shopper wants to REMOVE this product from their shopping cart. Make that "
         "clear, in your own words (not necessarily the word \"remove\").\n";
  u += product_line(product, form, lang) + "\n";
  u += quantity_line(item.truth.label.quantity, s, lang, gender, form.sg) + "\n";
  u += std::string("Style: ") + register_instruction(s.register_name) + "\n";
  std::string extra;
  if (s.typos)
    extra += "- Include one or two natural typos (a swapped, missing or doubled letter), but keep "
             "the quantity readable.\n";
  if (s.slang) extra += "- Use chat slang or abbreviations such as \"pls\" or \"thx\".\n";
  if (s.greeting) extra += "- Start with a short greeting.\n";
  if (s.emoji) extra += "- Add one emoji.\n";
  if (!s.brand.empty())
    extra += "- Mention the brand " + quoted(s.brand) +
             " in passing; it has nothing to do with the product and must not be the item to " +
             (item.truth.label.action == "add" ? "add" : "remove") + ".\n";
  if (!s.code_switch.empty())
    extra += "- Slip in the English phrase " + quoted(s.code_switch) +
             " naturally, as bilingual shoppers do; the rest stays " + language_name(lang) + ".\n";
  if (!extra.empty()) u += "Also:\n" + extra;
  u += "Only this one product and this one quantity. Keep it under 200 characters, on a single "
       "line. Reply with the message only.";
  item.user = std::move(u);
  item.prompt_hash = fnv1a_hex(item.system, item.user);
}

// Lower case, no diacritics, split into runs of ASCII letters.
std::vector<std::string> ascii_words(std::string_view text) {
  std::string flat = strip_diacritics(to_lower(text));
  std::vector<std::string> words;
  std::string cur;
  for (char c : flat) {
    if ((c >= 'a' && c <= 'z')) {
      cur += c;
    } else if (!cur.empty()) {
      words.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

bool contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

// The model wrote out the keys of the answer: {"action": ...}, action: add, "quantity" = 3.
bool leaks_json(std::string_view text) {
  if (contains(text, "{") || contains(text, "}")) return true;
  std::string low = to_lower(text);
  for (const char* key : {"action", "product", "quantity"}) {
    size_t pos = 0;
    while ((pos = low.find(key, pos)) != std::string::npos) {
      size_t end = pos + std::string_view(key).size();
      if (end < low.size() && low[end] == '"') ++end;
      while (end < low.size() && low[end] == ' ') ++end;
      if (end < low.size() && (low[end] == ':' || low[end] == '=')) return true;
      pos = end;
    }
  }
  return false;
}

// Phrases of an assistant declining or talking about itself; a shopper does not write these.
bool looks_like_refusal(std::string_view text) {
  std::string low = to_lower(text);
  for (const char* p :
       {"as an ai", "language model", "i can't assist", "i cannot assist", "i can't help with",
        "i cannot help with", "i can't comply", "i cannot comply", "i'm not able to help",
        "i am not able to help", "cannot fulfill", "can't fulfill", "i won't be able to help"})
    if (contains(low, p)) return true;
  return false;
}

// Removes one layer of quotes around the whole message ("...", '...', “...”, „...“, «...»).
std::string strip_quotes(std::string s) {
  static const std::pair<const char*, const char*> kPairs[] = {
      {"\"", "\""}, {"'", "'"}, {"\u201c", "\u201d"}, {"\u201e", "\u201c"}, {"\u201e", "\u201d"},
      {"\u00ab", "\u00bb"}, {"\u2018", "\u2019"}, {"`", "`"}};
  for (const auto& [open, close] : kPairs) {
    std::string_view o(open), c(close);
    if (s.size() >= o.size() + c.size() && starts_with(s, o) && ends_with(s, c)) {
      std::string inner = s.substr(o.size(), s.size() - o.size() - c.size());
      // "a" and "b" is two quoted strings, not one quoted message.
      if (inner.find(std::string(c)) != std::string::npos) continue;
      return std::string(trim(inner));
    }
  }
  return s;
}

}  // namespace

std::vector<std::string> StyleDirectives::noise_names() const {
  std::vector<std::string> out;
  if (typos) out.push_back("typos");
  if (slang) out.push_back("slang");
  if (greeting) out.push_back("greeting");
  if (emoji) out.push_back("emoji");
  if (!brand.empty()) out.push_back("brand");
  if (!code_switch.empty()) out.push_back("code_switching");
  return out;
}

std::vector<MetapromptItem> plan_metaprompt(const Catalog& catalog, uint64_t seed, size_t size,
                                            double val_fraction) {
  std::vector<MetapromptItem> items(size);
  Rng truth_rng(seed);
  Rng base(seed);
  for (size_t i = 0; i < size; ++i) {
    MetapromptItem& item = items[i];
    item.index = i;
    item.truth = draw_ground_truth(truth_rng, catalog, i, kAllLangs);
    // One stream per example: its directives do not depend on how many examples come before.
    Rng style_rng = base.fork(kStyleStream).fork(i);
    const Product& product = catalog.products[item.truth.product];
    ChosenForm form = choose_form(style_rng, product, item.truth.lang);
    item.product_sg = form.sg;
    item.product_pl = form.pl;
    item.style = draw_style(style_rng, item.truth.lang, item.truth.label.quantity);
    build_prompt(item, product, form);
  }
  // Validation membership per example, from its own stream, so it is stable when --size grows.
  double frac = std::clamp(val_fraction, 0.0, 1.0);
  for (size_t i = 0; i < size; ++i)
    items[i].val = base.fork(kSplitStream).fork(i).uniform_double() < frac;
  return items;
}

std::vector<std::string> number_words(int n, Lang lang) {
  if (n < 1 || n > 20) return {};
  return split(table(lang).words[n], '|');
}

bool mentions_quantity(std::string_view text, int n, Lang lang) {
  // Digit runs: "12" counts for 12, "120" and "x112" do not.
  for (size_t i = 0; i < text.size();) {
    if (!std::isdigit((unsigned char)text[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    long long v = 0;
    while (j < text.size() && std::isdigit((unsigned char)text[j])) {
      if (v < 1000000) v = v * 10 + (text[j] - '0');
      ++j;
    }
    if (v == n) return true;
    i = j;
  }
  std::vector<std::string> accepted;
  for (const std::string& w : number_words(n, lang)) {
    // Articles are no evidence of the number one.
    if (n == 1 && (w == "a" || w == "an")) continue;
    accepted.push_back(strip_diacritics(w));
  }
  if (accepted.empty()) return false;
  for (const std::string& w : ascii_words(text))
    for (const std::string& a : accepted)
      if (w == a) return true;
  return false;
}

Result<std::string> parse_chat_reply(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return error("bad json: response body is not JSON");
  if (!j.is_object()) return error("bad shape: response body is not a JSON object");
  if (j.contains("error")) {
    const json& e = j["error"];
    std::string msg = e.is_object() && e.contains("message") && e["message"].is_string()
                          ? e["message"].get<std::string>()
                          : e.dump();
    return error("api error: " + msg);
  }
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array() || choices->empty())
    return error("bad shape: no choices[0] in the response");
  const json& c0 = (*choices)[0];
  if (!c0.is_object() || !c0.contains("message") || !c0["message"].is_object())
    return error("bad shape: choices[0].message is missing");
  const json& msg = c0["message"];
  if (msg.contains("refusal") && msg["refusal"].is_string() &&
      !trim(msg["refusal"].get_ref<const std::string&>()).empty())
    return error("refusal: " + msg["refusal"].get<std::string>());
  if (!msg.contains("content") || !msg["content"].is_string())
    return error("bad shape: choices[0].message.content is not a string");
  if (c0.contains("finish_reason") && c0["finish_reason"].is_string()) {
    const std::string& fr = c0["finish_reason"].get_ref<const std::string&>();
    if (fr == "length") return error("truncated: finish_reason is \"length\"");
    if (fr == "content_filter") return error("refusal: finish_reason is \"content_filter\"");
  }
  return msg["content"].get<std::string>();
}

Result<std::string> check_shopper_message(std::string_view content, int quantity, Lang lang) {
  std::string text(trim(content));
  text = strip_quotes(std::move(text));
  if (text.empty()) return error("empty: the reply has no text");
  if (ascii_words(text).empty()) return error("empty: the reply has no words");
  if (!is_valid_utf8(text)) return error("bad text: the reply is not valid UTF-8");
  for (unsigned char c : text)
    if (c == '\n' || c == '\r') return error("multi-line: the reply has more than one line");
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return error("bad text: the reply has control characters");
  size_t len = utf8_length(text);
  if (len > kMaxMessageChars)
    return error(strformat("too long: %zu characters (at most %zu)", len, kMaxMessageChars));
  if (leaks_json(text)) return error("json leakage: the reply looks like JSON or names the keys");
  if (looks_like_refusal(text)) return error("refusal: the reply reads like an assistant");
  if (quantity != 1 && !mentions_quantity(text, quantity, lang))
    return error(strformat("no quantity: %d is not written in the message", quantity));
  return text;
}

Result<std::string> chat_completions_url(std::string_view endpoint) {
  std::string url(trim(endpoint));
  if (!starts_with(url, "http://") && !starts_with(url, "https://"))
    return error("--endpoint '" + url +
                 "' must start with http:// or https://; hint: the base URL of an "
                 "OpenAI-compatible API, e.g. http://127.0.0.1:8080/v1");
  while (ends_with(url, "/")) url.pop_back();
  if (ends_with(url, "/chat/completions")) return url;
  return url + "/chat/completions";
}

}  // namespace cartlm
