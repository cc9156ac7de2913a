// English language pack: templates, verbs, destinations, noise phrases, and the grammar of
// "quantity + product" ("a lip balm", "an apple", "12 lip balms", "a dozen eggs", "3x towel").
#include <string>

#include "core/strings.h"
#include "data/lang_pack.h"
#include "data/numbers.h"

namespace cartlm {

namespace {

constexpr Act B = Act::both, A = Act::add, R = Act::remove;
constexpr DestMode none = DestMode::none, opt = DestMode::optional, req = DestMode::required;

// "jeans", "wireless headphones": same singular and plural in the catalog, counted in pairs.
bool is_pair_noun(const SurfaceForm& f) {
  static const char* const kPairs[] = {"jeans",    "headphones", "earphones", "earbuds",
                                       "trousers", "pants",      "shorts",    "scissors",
                                       "glasses",  "sunglasses", "leggings",  "tights",
                                       "pyjamas",  "pajamas",    "goggles"};
  if (f.sg != f.pl) return false;
  size_t sp = f.sg.rfind(' ');
  std::string_view last = sp == std::string::npos ? std::string_view(f.sg)
                                                  : std::string_view(f.sg).substr(sp + 1);
  for (const char* w : kPairs)
    if (last == w) return true;
  return false;
}
// "milk", "coffee beans", "dish soap": same singular and plural, not a pair: no article, no dozen.
bool is_mass_noun(const SurfaceForm& f) { return f.sg == f.pl && !is_pair_noun(f); }

// "a" or "an" by the sound of the first letter (a heuristic that covers catalog nouns).
std::string article(std::string_view w) {
  static const char* const kYou[] = {"uni", "use", "usu", "usb", "ure", "uro", "eu", "one"};
  static const char* const kSilentH[] = {"hour", "honest", "honour", "honor", "heir"};
  for (const char* p : kYou)
    if (starts_with(w, p)) return "a";
  for (const char* p : kSilentH)
    if (starts_with(w, p)) return "an";
  if (!w.empty() && std::string_view("aeiouAEIOU").find(w[0]) != std::string_view::npos) return "an";
  return "a";
}

double words_weight(int q) { return (q <= 20 || q % 10 == 0) ? 0.25 : 0.08; }

// {qp} and {qpm}: quantity + product as an object; `more` writes "3 more towels" / "another towel".
void render_qp(SlotContext& ctx, Rng& rng, bool more, Pieces& out) {
  const int q = ctx.quantity;
  const SurfaceForm& f = *ctx.form;
  const bool pair = is_pair_noun(f), mass = is_mass_noun(f);
  // Mass nouns ("milk") take no article and no dozen, and rarely a number word ("3 milk" is
  // shopping-list English, "three milk" is not).
  const double article_w = mass ? 0.0 : 1.0, words_f = mass ? 0.4 : 1.0;
  const double dozen_w = q == 12 && !mass ? 1.0 : 0.0;
  // "a couple of towels" (2) and "half a dozen eggs" (6): counted nouns only, not pairs.
  const double couple_w = q == 2 && !mass && !pair ? 1.0 : 0.0;
  const double half_dozen_w = q == 6 && !mass && !pair ? 1.0 : 0.0;
  const char* form;
  if (more)
    form = q == 1 ? pick_weighted(rng, {{"article", 0.5 * article_w}, {"words", 0.3}, {"digits", 0.2}})
                  : pick_weighted(rng, {{"digits", 0.6}, {"words", words_weight(q) * words_f},
                                        {"dozen", 0.2 * dozen_w}, {"couple", 0.1 * couple_w}});
  else if (q == 1)
    form = pick_weighted(rng, {{"article", 0.33 * article_w}, {"omitted", mass ? 0.45 : 0.22},
                               {"digits", mass ? 0.25 : 0.15}, {"words", 0.18 * words_f},
                               {"x3", 0.04}, {"3x", 0.04}, {"unit", 0.04}});
  else
    form = pick_weighted(rng, {{"digits", 0.55}, {"words", words_weight(q) * words_f},
                               {"dozen", 0.25 * dozen_w}, {"couple", 0.1 * couple_w},
                               {"half_dozen", 0.12 * half_dozen_w}, {"x3", 0.07}, {"3x", 0.06},
                               {"unit", 0.07}});
  ctx.qty_form = form;
  const std::string n = std::to_string(q);
  const std::string_view fs = form;
  const std::string noun = q == 1 ? f.sg : f.pl;
  const std::string more_sp = more ? " more " : " ";
  // Pairs: "a pair of jeans", "3 pairs of jeans" (or, half the time with digits, "3 jeans").
  const std::string pairs_of = pair ? (q == 1 ? " pair of " : " pairs of ") : "";
  if (fs == "article") {
    std::string a = more ? "another" : article(pair ? "pair" : noun);
    out.push_back(qty_piece(a));
    out.push_back(text_piece(pair ? " pair of " : " "));
    out.push_back(product_piece(noun));
  } else if (fs == "digits" || fs == "words") {
    out.push_back(qty_piece(fs == "digits" ? n : en_number_word(q)));
    bool use_pairs = pair && (fs == "words" || q == 1 || rng.bernoulli(0.5));
    std::string mid = more_sp;
    if (use_pairs) mid = more ? " more" + pairs_of : pairs_of;
    out.push_back(text_piece(mid));
    out.push_back(product_piece(noun));
  } else if (fs == "dozen") {
    out.push_back(qty_piece("a dozen"));
    out.push_back(text_piece(more_sp + (pair ? "pairs of " : "")));
    out.push_back(product_piece(f.pl));
  } else if (fs == "couple") {  // "a couple of towels", "a couple towels", "a couple more towels"
    out.push_back(qty_piece(!more && rng.bernoulli(0.75) ? "a couple of" : "a couple"));
    out.push_back(text_piece(more_sp));
    out.push_back(product_piece(f.pl));
  } else if (fs == "half_dozen") {
    out.push_back(qty_piece("half a dozen"));
    out.push_back(text_piece(" "));
    out.push_back(product_piece(f.pl));
  } else if (fs == "omitted") {
    out.push_back(product_piece(f.sg));
  } else if (fs == "x3") {
    out.push_back(product_piece(f.sg));
    out.push_back(text_piece(" "));
    out.push_back(qty_piece("x" + n));
  } else if (fs == "3x") {
    out.push_back(qty_piece(n + "x"));
    out.push_back(text_piece(" "));
    out.push_back(product_piece(f.sg));
  } else {  // unit
    out.push_back(qty_piece(n + (q == 1 ? " pc" : " pcs")));
    out.push_back(text_piece(rng.bernoulli(0.3) ? " of " : " "));
    out.push_back(product_piece(f.sg));
  }
  for (const Piece& p : out)
    if (p.role == PieceRole::product) ctx.form_text = p.text;
}

// {pq}: a shopping-list line, product first.
void render_pq(SlotContext& ctx, Rng& rng, Pieces& out) {
  const int q = ctx.quantity;
  const SurfaceForm& f = *ctx.form;
  const std::string n = std::to_string(q);
  const char* style =
      q == 1 ? pick_weighted(rng, {{"omitted", 0.35}, {"x3", 0.2}, {"3x", 0.2}, {"digits", 0.15},
                                   {"paren", 0.1}})
             : pick_weighted(rng, {{"x3", 0.3}, {"3x", 0.25}, {"unit", 0.15}, {"paren", 0.1},
                                   {"colon", 0.1}, {"digits", 0.1}});
  std::string_view s = style;
  if (s == "omitted") {
    out = {product_piece(f.sg)};
    ctx.form_text = f.sg;
  } else if (s == "x3") {
    out = {product_piece(f.sg), text_piece(" "), qty_piece("x" + n)};
    ctx.form_text = f.sg;
  } else if (s == "3x") {
    out = {qty_piece(n + "x"), text_piece(" "), product_piece(f.sg)};
    ctx.form_text = f.sg;
  } else if (s == "unit") {
    out = {product_piece(f.sg), text_piece(", "), qty_piece(n + " pcs")};
    ctx.form_text = f.sg;
  } else if (s == "paren") {
    out = {product_piece(f.sg), text_piece(" ("), qty_piece(n), text_piece(")")};
    ctx.form_text = f.sg;
  } else if (s == "colon") {
    out = {product_piece(f.pl), text_piece(": "), qty_piece(n)};
    ctx.form_text = f.pl;
  } else {
    std::string noun = q == 1 ? f.sg : f.pl;
    out = {qty_piece(n), text_piece(" "), product_piece(noun)};
    ctx.form_text = noun;
  }
  ctx.qty_form = (s == "paren" || s == "colon") ? "digits" : std::string(s);
}

bool render_slot(std::string_view name, SlotContext& ctx, Rng& rng, Pieces& out) {
  const int q = ctx.quantity;
  if (name == "qp" || name == "qpn") {
    render_qp(ctx, rng, false, out);
  } else if (name == "qpm") {
    render_qp(ctx, rng, true, out);
  } else if (name == "pq") {
    render_pq(ctx, rng, out);
  } else if (name == "qn") {
    const char* form = pick_weighted(
        rng, {{"digits", 0.45}, {"words", 0.45}, {"dozen", q == 12 ? 0.2 : 0.0}});
    ctx.qty_form = form;
    std::string_view fs = form;
    out.push_back(qty_piece(fs == "digits" ? std::to_string(q)
                            : fs == "words" ? en_number_word(q)
                                            : std::string("a dozen")));
  } else if (name == "pp") {
    out.push_back(product_piece(ctx.form->pl));
    ctx.form_text = ctx.form->pl;
  } else if (name == "them") {
    out.push_back(text_piece(q == 1 && !is_pair_noun(*ctx.form) ? "it" : "them"));
  } else {
    return false;
  }
  return true;
}

LangPack make_pack() {
  LangPack p;
  p.lang = Lang::en;
  p.render_slot = render_slot;
  // Every 5th template (t4, t9, ...) is held out for eval with the default --heldout-share.
  p.templates = {
      {B, "{v} {qp}{d}"},
      {B, "Please {v} {qp}{d}."},
      {B, "Can you {v} {qp}{d}?"},
      {B, "Could you please {v} {qp}{d}?"},
      {B, "I'd like to {vi} {qp}{d}."},
      {B, "I would like to {vi} {qp}{d}, please."},
      {B, "{w} {qp}"},
      {A, "{qp}[, please| please| pls]"},
      {B, "Can you {v} {qp}{d} for me?"},
      {B, "{v} {qp}{d} pls"},
      {B, "Would you [please |]{v} {qp}{d}?"},
      {B, "Kindly {v} {qp}{d}."},
      {B, "I want to {vi} {qp}{d}."},
      {B, "I need you to {vi} {qp}{d}."},
      {B, "Go ahead and {v} {qp}{d}."},
      {A, "{pq}"},
      {A, "Need {qp}[ please| pls| for the weekend|]"},
      {A, "{w} {qpm}"},
      {B, "Also, {v} {qp}{d}."},
      {B, "Oh and {v} {qp}{d} too"},
      {A, "Could I get {qp}[ please|]?"},
      {A, "Can I [get|have] {qp}?"},
      {A, "Let me get {qp}[, thanks|]"},
      {A, "Put me down for {qp}[ please|]"},
      {A, "I'll take {qp}[, thanks| please|]"},
      {A, "Gimme {qp}"},
      {A, "{qp} {dd}[ please| pls|]"},
      {A, "We ran out, so {v} {qp}{d}"},
      {A, "Running low, [please |]{v} {qp}{d}"},
      {R, "Changed my mind, {v} {qp}{d}"},
      {B, "Actually, {v} {qp}{d}."},
      {R, "Oops, I added {qp} by mistake, please {vp}."},
      {R, "I accidentally added {qp}, can you {vp}?"},
      {R, "{v} {qp}{d}, I don't need {them} anymore"},
      {R, "I no longer need {qp}, please {vp}."},
      {B, "Please {v} {qp}{d}, thanks."},
      {B, "Is it possible to {vi} {qp}{d}?"},
      {B, "Would it be possible to {vi} {qp}{d}?"},
      {B, "I'd appreciate it if you could {v} {qp}{d}."},
      {B, "Please {v} {qp}{d} before checkout."},
      {B, "Before I check out, {v} {qp}{d}"},
      {B, "Quick one: {v} {qp}{d}"},
      {B, "Just {v} {qp}{d}"},
      {B, "Can you also {v} {qp}{d}?"},
      {B, "{v} {qp}{d}?"},
      {B, "Do me a favor and {v} {qp}{d}"},
      {B, "Hmm, {v} {qp}{d} I guess"},
      {A, "My cart needs {qpm}"},
      {B, "Don't forget to {vi} {qp}{d}"},
      {R, "I've decided against {qp}, please {vp}."},
      {B, "Looking to {vi} {qp}{d}"},
      {B, "Need to {vi} {qp}{d}"},
      {B, "{w} {qp}, thanks"},
      {B, "Help me {vi} {qp}{d}"},
      {B, "Cart: {v} {qp}"},
      {A, "{qp} for me, please"},
      {R, "{w} {qp}[ anymore| after all]"},
      {A, "I'm out of {pp}, {qn} please"},
      {A, "{v} {qpm}{d}"},
      {B, "Please [go ahead and |]{v} {qp}{d} for me."},
      {A, "{pq}, thanks"},
      {B, "Can somebody {v} {qp}{d}"},
      {B, "Update my cart: {v} {qp}"},
      {B, "Need you to {vi} {qp}{d} asap"},
      {B, "Right, {v} {qp}{d}"},
      {A, "I'll also take {qp}[, thanks| please|]"},
      {A, "Put {qp} on my [list|shopping list][ please|]"},
      {R, "Scratch {qp}[ off my list| from my order|]"},
      {R, "{pp}: [lose|drop|take off] {qn}"},
      {R, "Wait, I don't want {qp}, can you {vp}?"},
      {A, "Do you have {qp}? If so, [add {them} to my cart|I'll take {them}]"},
      {B, "Correction: {v} {qp}{d}"},
      {A, "While you're at it, {v} {qpm}{d}"},
      {A, "And {qp} as well[, please|]"},
      {A, "We're having guests, so [please |]{v} {qp}{d}"},
      {R, "{v} {qp}{d}, [I found {them} cheaper elsewhere|I already have {them} at home|it's over my budget]"},
      {R, "{qp}, please {vp}{d}"},
      {R, "I won't be needing {qp}[ after all|]"},
      {A, "Chuck {qp} in [my cart|the basket][ pls|]"},
      {B, "Could you {v} {qp}{d} when you get a chance?"},
      {B, "Think you could {v} {qp}{d}?"},
      {A, "I'd also like {qp}[, if you have {them}|]"},
      {R, "[Leave out|Skip] {qp}[ this time|]"},
      {B, "Last thing: {v} {qp}{d}[ and that's it|]"},
      {A, "Make it {qpm}[, please|]"},
      // New frames for both actions (questions, context, texting, formal requests, hedges): the
      // verb slot alone carries the action. See lang_pack.h on add-only/remove-only templates.
      {B, "Any chance you could {v} {qp}{d}?"},
      {B, "Hey [cart|assistant], {v} {qp}{d}"},
      {B, "Can I {vi} {qp}{d}[ please|]?"},
      {B, "Mind if I {vi} {qp}{d}?"},
      {B, "Sorry to bother you, but could you {v} {qp}{d}?"},
      {B, "Hi, regarding my order, could you {v} {qp}{d}?"},
      {B, "so yeah, just {v} {qp}{d} and we're good"},
      {B, "Could I ask you to {vi} {qp}{d}?"},
      {B, "pls {v} {qp}{d}[ thx| ty|]"},
      {B, "I think I'd better {vi} {qp}{d}"},
      {B, "Let's {vi} {qp}{d}[.|]"},
      {B, "Time to {vi} {qp}{d}[!|]"},
      {B, "[My wife|My husband|My roommate|Mom] says we should {vi} {qp}{d}[, so please do|]"},
      {B, "{v} {qp}{d}, if that's not too much trouble"},
      {B, "If it's not too late, {v} {qp}{d}"},
      {B, "{v} {qp}{d}, [would you|could you|will you]?"},
      {B, "We're moving [next week|this weekend], so {v} {qp}{d}"},
      {B, "Please {v} {qp}{d} and let me know the new total"},
      {B, "Been meaning to {vi} {qp}{d} - can you sort that out?"},
      {B, "Turns out {w} {qp}[ after all|]"},
      // Session 13: frames for both actions whose other words (out, list, mind, after all, ran)
      // occur in add-only or remove-only templates, so the model cannot take them as the action.
      {B, "On second thought, {v} {qp}{d}"},
      {B, "I changed my mind[,| -|:] {v} {qp}{d}"},
      {B, "Before I head out, {v} {qp}{d}"},
      {B, "Going down my list: {v} {qp}{d}"},
      {B, "Just remembered[,| -] {v} {qp}{d}"},
      {B, "Out of curiosity, could you {v} {qp}{d}?"},
      {B, "When you have a sec, {v} {qp}{d}"},
      {B, "Ok final answer: {v} {qp}{d}"},
      {B, "We ran the numbers again, so {v} {qp}{d}"},
      {B, "After all that, [please |]{v} {qp}{d}"},
  };
  p.verbs[0] = {
      {"add", "add", "add", "", "to", opt},
      {"put", "put", "put", "", "in", req},
      {"throw in", "throw in", "throw in", "", nullptr, none},
      {"grab", "grab", "grab", "", nullptr, none},
      {"get", "get", "get", "", nullptr, none},
      {"get me", "get me", "", "", nullptr, none},
      {"toss in", "toss in", "toss in", "", nullptr, none},
      {"toss", "toss", "toss", "", "into", req},
      {"pick up", "pick up", "pick up", "", nullptr, none},
      {"order", "order", "order", "", nullptr, none},
      {"include", "include", "include", "", "in", opt},
      {"buy", "buy", "buy", "", nullptr, none},
      {"stick", "stick", "stick", "", "in", req},
      {"pop", "pop", "pop", "", "in", req},
  };
  p.verbs[1] = {
      {"remove", "remove", "remove", "", "from", opt},
      {"delete", "delete", "delete", "", "from", opt},
      {"take out", "take out", "take out", "", nullptr, none},
      {"take", "take", "take", "", "out of", req},
      {"take", "take", "take", "", "off", req},
      {"drop", "drop", "drop", "", "from", opt},
      {"cancel", "cancel", "cancel", "", "from_order", opt},
      {"get rid of", "get rid of", "get rid of", "", nullptr, none},
      {"scrap", "scrap", "scrap", "", nullptr, none},
      {"ditch", "ditch", "ditch", "", nullptr, none},
      {"erase", "erase", "erase", "", "from", opt},
      {"pull", "pull", "pull", "", "from", req},
      {"throw out", "throw out", "throw out", "", nullptr, none},
  };
  p.want[0] = {"I need", "I want", "I'd like", "we need", "I'm going to need", "I'll need",
               "I would like", "I'll have"};
  p.want[1] = {"I don't need", "I don't want", "we don't need", "I don't want"};
  p.dests = {
      {"to", {"to my cart", "to the cart", "to my basket", "to my order", "to my shopping cart",
              "to the basket", "to my bag"}},
      {"in", {"in my cart", "in the cart", "in my basket", "in my order", "in the basket"}},
      {"into", {"into my cart", "into the basket", "into my basket", "into the cart"}},
      {"from", {"from my cart", "from the cart", "from my basket", "from my order",
                "from the basket", "from my shopping cart"}},
      {"out of", {"out of my cart", "out of the basket", "out of my order", "out of the cart"}},
      {"off", {"off my list", "off my order", "off the list", "off my shopping list"}},
      {"from_order", {"from my order", "from the order"}},
  };
  p.generic_dest[0] = "to";
  p.generic_dest[1] = "from";

  p.qwertz = false;
  p.greetings = {"hi", "hi!", "hey", "hey there", "hello", "hello there", "good morning",
                 "good evening", "yo", "hiya", "hey guys", "morning!"};
  p.signoffs = {"thanks!", "thanks", "thank you", "thx", "cheers", "ty", "thanks in advance",
                "thanks a lot", "much appreciated", "thank you!"};
  p.slang = {
      {"please", {"pls", "plz", "pleaseee"}},
      {"you", {"u"}},
      {"your", {"ur"}},
      {"thanks", {"thx", "ty", "thanx"}},
      {"thank you", {"thx", "ty"}},
      {"going to", {"gonna"}},
      {"want to", {"wanna"}},
      {"okay", {"ok", "k"}},
      {"because", {"cuz", "bc"}},
      {"give me", {"gimme"}},
      {"let me", {"lemme"}},
      {"don't", {"dont"}},
      {"i'd like", {"id like"}},
      {"right now", {"rn"}},
  };
  p.slang_prefix = {"yo ", "ok so ", "pls "};
  p.slang_suffix = {" pls", " plz", " thx", " lol", " k thx"};
  p.brand_clauses = {" from {brand}", " ({brand} if possible)", ", preferably {brand}",
                     " - {brand} if you have it", ", {brand} brand"};
  p.brands = {"Nivea", "Samsung", "Philips", "Bosch", "Amazon Basics", "Tesco", "Walmart",
              "Target", "Costco", "IKEA", "Kirkland", "Great Value"};
  p.brand_before_noun = true;
  // Consonant-initial, so that "a" in front stays right ("a small towel").
  // No word of the catalog's eval-only forms ("black", "metal", "cotton", "large" are theirs).
  // Some are words of other products' names ("green", "orange", "dark"): the noun names the item.
  p.detail_before = {"small", "big", "cheap", "new", "basic", "mini", "regular", "premium",
                     "white", "blue", "red", "budget", "family-size", "kids'", "good", "decent",
                     "plain", "cheapest", "store-brand", "nice", "standard", "green", "yellow",
                     "pink", "grey", "brown", "purple", "orange", "dark", "medium",
                     "organic", "fresh", "plastic", "glass", "steel", "wooden", "bamboo", "spare",
                     "simple", "classic", "eco-friendly", "unscented", "travel-size", "extra",
                     "lightweight", "cute", "sturdy", "cheaper", "bigger", "smaller"};
  p.detail_after = {" (the small ones)", " (the cheap ones)", " in grey", " in white",
                    " in blue", " on sale", " for the kids", ", any kind is fine",
                    ", whatever is cheapest", " - the usual ones", ", same as last time",
                    " for the office", ", nothing fancy"};
  p.distractors = {" (order #{ord})", ", order #{ord}", "^Order #{ord}: ", "^Re order {ord} - ",
                   ", size {size}", " in size {size} if possible", "@ for {price} each",
                   " if it's still {price}", ", delivery by {hour}pm", " before {hour}pm please",
                   ", ref {ord}"};
  // Noise kind "context" (train split only): clauses that say nothing about the action, with
  // words the templates otherwise tie to one action ("out", "list", "after all", "mind").
  p.context_clauses = {"I'm heading out soon", "we're going out tonight",
                       "I'm out of the office till Monday", "going through my list now",
                       "my shopping list is a mess this week", "checking my list again",
                       "after all the back and forth", "after all that", "sorry, busy day",
                       "it's for the party on Saturday", "the kids are home today",
                       "I'm working from home today", "no rush", "same address as last time",
                       "hope you're well", "before I forget", "by the way", "anyway",
                       "I figured out the app at last", "I changed my mind about the delivery time",
                       "sorry for all the messages", "the rest of the cart is fine",
                       "the rest is already sorted", "sorry, my mistake with the address earlier",
                       "delivery on Friday works", "trying to stay on budget this month",
                       "my sister is visiting", "busy week", "just checking in",
                       "cleaning out the pantry today", "as discussed", "I found the coupon code"};
  return p;
}

}  // namespace

const LangPack& en_pack() {
  static const LangPack pack = make_pack();
  return pack;
}

}  // namespace cartlm
