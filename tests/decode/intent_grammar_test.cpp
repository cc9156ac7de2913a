#include "decode/intent_grammar.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/rng.h"
#include "data/catalog.h"
#include "data/generator.h"
#include "eval/score.h"
#include "formats/dataset.h"
#include "model/init.h"

namespace cartlm {
namespace {

std::vector<std::string> products() { return default_catalog().names(); }

IntentGrammar make_grammar(int max_q = 999) {
  auto g = intent_grammar(products(), max_q);
  EXPECT_TRUE(g.ok()) << g.message();
  return std::move(*g);
}

bool accepts(const IntentGrammar& g, std::string_view s) {
  return grammar_accepting(g, grammar_walk(g, grammar_start(g), s));
}

TEST(IntentGrammar, AcceptsExactlyTheCanonicalLabelText) {
  IntentGrammar g = make_grammar();
  Rng rng(7);
  for (const std::string& p : products()) {
    for (const char* a : {"add", "remove"}) {
      int q = 1 + (int)rng.uniform(999);
      EXPECT_TRUE(accepts(g, label_to_json_text({a, p, q}))) << label_to_json_text({a, p, q});
    }
  }
  EXPECT_TRUE(accepts(g, label_to_json_text({"add", products()[0], 999})));
  EXPECT_TRUE(accepts(g, label_to_json_text({"add", products()[0], 1})));
  const std::string p = products()[0];
  auto text = [&](const std::string& a, const std::string& prod, const std::string& q) {
    return "{\"action\": \"" + a + "\", \"product\": \"" + prod + "\", \"quantity\": " + q + "}";
  };
  EXPECT_TRUE(accepts(g, text("add", p, "12")));
  EXPECT_FALSE(accepts(g, text("add", p, "012")));    // leading zero
  EXPECT_FALSE(accepts(g, text("add", p, "0")));      // zero
  EXPECT_FALSE(accepts(g, text("add", p, "1000")));   // over N
  EXPECT_FALSE(accepts(g, text("add", p, "-1")));
  EXPECT_FALSE(accepts(g, text("delete", p, "1")));
  EXPECT_FALSE(accepts(g, text("add", p + "x", "1")));
  EXPECT_FALSE(accepts(g, text("add", "No Such Product", "1")));
  EXPECT_FALSE(accepts(g, "{\"action\":\"add\", \"product\": \"" + p + "\", \"quantity\": 1}"));
  EXPECT_FALSE(accepts(g, text("add", p, "1") + " "));  // nothing after the brace
  EXPECT_FALSE(accepts(g, text("add", p, "12").substr(0, 20)));  // a prefix is not accepted
  EXPECT_GE(grammar_walk(g, 0, text("add", p, "12").substr(0, 20)), 0);  // ... but is valid
}

TEST(IntentGrammar, MaxQuantityIsConfigurable) {
  IntentGrammar g = make_grammar(25);
  const std::string p = products()[0];
  EXPECT_TRUE(accepts(g, label_to_json_text({"add", p, 25})));
  EXPECT_FALSE(accepts(g, label_to_json_text({"add", p, 26})));
  EXPECT_FALSE(accepts(g, label_to_json_text({"add", p, 30})));
  // After "25" only the brace is possible, so it is forced.
  int32_t s = grammar_walk(g, 0, label_to_json_text({"add", p, 25}).substr(0, label_to_json_text({"add", p, 25}).size() - 1));
  EXPECT_EQ(grammar_forced(g, s), "}");
}

TEST(IntentGrammar, ForcedTextIsPunctuationKeysAndUniqueProductRests) {
  IntentGrammar g = make_grammar();
  EXPECT_EQ(grammar_forced(g, 0), "{\"action\": \"");
  int32_t s = grammar_walk(g, 0, "{\"action\": \"r");
  EXPECT_EQ(grammar_forced(g, s), "emove\", \"product\": \"");
  // Once a product prefix is unique, the rest of the name and the quantity key are forced.
  const std::string p = "Lip Balm";
  ASSERT_NE(default_catalog().find(p), -1);
  std::string head = "{\"action\": \"add\", \"product\": \"";
  std::string forced;
  for (size_t k = 1; k <= p.size(); ++k) {
    int32_t st = grammar_walk(g, 0, head + p.substr(0, k));
    forced = grammar_forced(g, st);
    if (!forced.empty()) {
      EXPECT_EQ(p.substr(0, k) + forced, p + "\", \"quantity\": ");
      break;
    }
  }
  EXPECT_FALSE(forced.empty());
  EXPECT_EQ(grammar_forced(g, grammar_walk(g, 0, head)), "");  // a branch point
}

TEST(IntentGrammar, RejectsBadCatalogs) {
  EXPECT_FALSE(intent_grammar({}, 999).ok());
  EXPECT_FALSE(intent_grammar({"A", "A"}, 999).ok());
  EXPECT_FALSE(intent_grammar({"Bad \"quote\""}, 999).ok());
  EXPECT_FALSE(intent_grammar({"A"}, 0).ok());
  EXPECT_TRUE(intent_grammar({"A", "AB"}, 5).ok());  // one name a prefix of another
}

// Allowed tokens must be exactly the tokens whose bytes the grammar accepts from the state.
void expect_mask_exact(const IntentGrammar& g, const Tokenizer& tok, const std::vector<int32_t>& allowed,
                       int32_t state) {
  std::vector<int32_t> brute;
  for (int32_t id = 0; id < tok.size(); ++id) {
    if (tok.is_special(id) || token_to_piece(tok, id).empty()) continue;
    if (grammar_walk(g, state, token_to_piece(tok, id)) >= 0) brute.push_back(id);
  }
  EXPECT_EQ(allowed, brute) << "state " << state;
}

// Random walks through allowed tokens always end in a valid intent naming a catalog product, and
// the masks equal a brute-force scan of the vocabulary at every state on the way.
void random_walks(const IntentGrammar& g, const Tokenizer& tok, int walks, uint64_t seed) {
  VocabTrie v = vocab_trie(tok);
  MaskCache cache;
  Rng rng(seed);
  std::set<std::string> seen_products;
  for (int w = 0; w < walks; ++w) {
    int32_t state = 0;
    std::string out;
    for (int step = 0; step < 400 && !grammar_accepting(g, state); ++step) {
      const std::vector<int32_t>& allowed = cached_allowed_tokens(g, v, cache, state);
      ASSERT_FALSE(allowed.empty()) << out;
      if (w < 20) expect_mask_exact(g, tok, allowed, state);
      int32_t id = allowed[rng.uniform(allowed.size())];
      out += token_to_piece(tok, id);
      state = grammar_walk(g, state, token_to_piece(tok, id));
      ASSERT_GE(state, 0);
    }
    ASSERT_TRUE(grammar_accepting(g, state)) << out;
    OutputCheck c = check_output(out);
    ASSERT_TRUE(c.schema_ok) << out << ": " << c.reason;
    EXPECT_NE(default_catalog().find(c.parsed->product), -1) << out;
    EXPECT_GE(c.parsed->quantity, 1);
    EXPECT_LE(c.parsed->quantity, g.max_quantity);
    seen_products.insert(c.parsed->product);
  }
  EXPECT_GT(seen_products.size(), 1u);
}

// Every product, with both actions, is reachable through the tokenizer's own encoding of the
// label text (what a fine-tuned model learned to write): each token is in the mask of its state.
void every_product_reachable(const IntentGrammar& g, const Tokenizer& tok) {
  VocabTrie v = vocab_trie(tok);
  MaskCache cache;
  Rng rng(3);
  for (const std::string& p : g.products) {
    for (const char* a : {"add", "remove"}) {
      Label l{a, p, 1 + (int)rng.uniform((uint64_t)g.max_quantity)};
      std::vector<int32_t> ids = encode(tok, label_to_json_text(l), false, false);
      int32_t state = 0;
      for (int32_t id : ids) {
        const std::vector<int32_t>& allowed = cached_allowed_tokens(g, v, cache, state);
        ASSERT_TRUE(std::binary_search(allowed.begin(), allowed.end(), id))
            << label_to_json_text(l) << " token " << token_to_piece(tok, id);
        state = grammar_walk(g, state, token_to_piece(tok, id));
      }
      EXPECT_TRUE(grammar_accepting(g, state)) << label_to_json_text(l);
    }
  }
}

Tokenizer bpe_on_generated_data(int32_t vocab_size) {
  GeneratorOptions go;
  go.size = 300;
  go.val_fraction = 0;
  go.eval_size = 0;
  go.seed = 11;
  auto ds = generate_dataset(default_catalog(), go);
  EXPECT_TRUE(ds.ok()) << ds.message();
  std::vector<std::string> texts;
  for (const Example& ex : ds->train) {
    texts.push_back(ex.text);
    texts.push_back(label_to_json_text(ex.label));
  }
  BpeTrainOptions bo;
  bo.vocab_size = vocab_size;
  auto t = train_bpe(texts, bo);
  EXPECT_TRUE(t.ok()) << t.message();
  return std::move(*t);
}

TEST(IntentMasks, RandomWalksOnABpeTrainedOnGeneratedDataAlwaysParse) {
  IntentGrammar g = make_grammar();
  Tokenizer tok = bpe_on_generated_data(1200);
  random_walks(g, tok, 300, 1);
  every_product_reachable(g, tok);
}

TEST(IntentMasks, RandomWalksOnTheTinyModelVocabAlwaysParse) {
  IntentGrammar g = make_grammar(50);
  auto tok = init_tokenizer(2048, 0);
  ASSERT_TRUE(tok.ok()) << tok.message();
  random_walks(g, *tok, 200, 2);
  every_product_reachable(g, *tok);
}

TEST(IntentGrammar, ChoiceTokensAreExactlyThoseNotForced) {
  IntentGrammar g = make_grammar();
  Tokenizer tok = bpe_on_generated_data(1200);
  Rng rng(5);
  const std::vector<std::string> names = products();
  for (int i = 0; i < 200; ++i) {
    const Label label{rng.bernoulli(0.5) ? "add" : "remove", names[rng.uniform(names.size())],
                      1 + (int)rng.uniform(120)};
    const std::string text = label_to_json_text(label);
    const std::vector<int32_t> ids = encode(tok, text, false, false);
    const std::vector<uint8_t> choice = grammar_choice_tokens(g, tok, ids);
    ASSERT_EQ(choice.size(), ids.size()) << text;
    // A token is forced exactly when the text the grammar forces before it begins with its bytes.
    int32_t state = grammar_start(g);
    size_t choices = 0;
    for (size_t k = 0; k < ids.size(); ++k) {
      const std::string_view piece = token_to_piece(tok, ids[k]);
      const bool forced = grammar_forced(g, state).starts_with(piece);
      EXPECT_EQ(choice[k], forced ? 0 : 1) << text << " token " << k << " '" << piece << "'";
      choices += choice[k];
      state = grammar_walk(g, state, piece);
    }
    EXPECT_TRUE(grammar_accepting(g, state));
    // At least the action, one digit and the closing brace; the JSON skeleton is never one.
    EXPECT_GE(choices, 3u) << text;
    EXPECT_LT(choices, ids.size()) << text;
    EXPECT_EQ(choice[0], 0) << text;
  }
  // Not in the language: a product outside the catalog, a special token.
  const std::vector<int32_t> bad =
      encode(tok, label_to_json_text({"add", "Flux Capacitor", 2}), false, false);
  EXPECT_TRUE(grammar_choice_tokens(g, tok, bad).empty());
  ASSERT_GE(tok.eos_id, 0);
  std::vector<int32_t> with_eos = encode(tok, label_to_json_text({"add", names[0], 2}), false, false);
  with_eos.push_back(tok.eos_id);
  EXPECT_TRUE(grammar_choice_tokens(g, tok, with_eos).empty());
}

TEST(IntentMasks, SpecialTokensAreNeverAllowed) {
  IntentGrammar g = make_grammar();
  Tokenizer tok = bpe_on_generated_data(600);
  VocabTrie v = vocab_trie(tok);
  std::vector<int32_t> allowed;
  allowed_tokens(g, v, 0, &allowed);
  ASSERT_FALSE(allowed.empty());
  for (int32_t id : allowed) EXPECT_FALSE(tok.is_special(id));
  EXPECT_TRUE(std::find(allowed.begin(), allowed.end(), tok.eos_id) == allowed.end());
  // Nothing is allowed after the closing brace: the model must stop (EOS).
  allowed_tokens(g, v, g.accept, &allowed);
  EXPECT_TRUE(allowed.empty());
}

}  // namespace
}  // namespace cartlm
