// Spanish language pack. Grammar of "quantity + product": gender agreement of 1 ("un cepillo",
// "una crema"; standalone "uno"), apocope before a noun ("veintiún cepillos", "veintiuna
// cremas"), "una docena de huevos", the singular for 1 and the plural otherwise; list shorthand
// ("champú x3", "3 uds de champú") keeps the singular.
#include <string>

#include "data/lang_pack.h"
#include "data/numbers.h"

namespace cartlm {

namespace {

constexpr Act B = Act::both, A = Act::add, R = Act::remove;
constexpr DestMode none = DestMode::none, opt = DestMode::optional;

double words_weight(int q) { return (q <= 20 || q % 10 == 0) ? 0.25 : 0.1; }

// "auriculares", "vaqueros": plural-only in use, counted as "unos" / "un par de" / "dos pares de".
// (Invariable singular nouns such as "paraguas" are ordinary: "un paraguas", "3 paraguas".)
bool is_pair_noun(const SurfaceForm& f) {
  static const char* const kPairs[] = {"auriculares", "audífonos", "cascos", "vaqueros", "jeans",
                                       "tejanos", "tenis", "pantalones", "gafas", "mallas"};
  if (f.sg != f.pl) return false;
  std::string_view first = std::string_view(f.sg).substr(0, f.sg.find(' '));
  for (const char* w : kPairs)
    if (first == w) return true;
  return false;
}

// Items also sold by the pair, whose catalog entry has a "par de ..." form: "un par de
// calcetines" would read as one pair (qty 1 of "par de calcetines") as well as two socks, so the
// "couple" form (2) is not used for them.
bool sold_in_pairs(const SurfaceForm& f) {
  static const char* const kWords[] = {"calcetín", "media", "calceta", "zapatilla", "zapato",
                                       "guante", "par", "pares"};
  if (is_pair_noun(f)) return true;
  std::string_view first = std::string_view(f.sg).substr(0, f.sg.find(' '));
  for (const char* w : kWords)
    if (first == w) return true;
  return false;
}

// {qp}/{qpn} and {qpm} ("dos champús más").
void render_qp(SlotContext& ctx, Rng& rng, bool more, Pieces& out) {
  const int q = ctx.quantity;
  const SurfaceForm& f = *ctx.form;
  const bool fem = f.gender == Gender::f;
  const char* form;
  if (more)
    form = q == 1 ? pick_weighted(rng, {{"article", 0.7}, {"digits", 0.3}})
                  : pick_weighted(rng, {{"digits", 0.6}, {"words", words_weight(q)},
                                        {"dozen", q == 12 ? 0.15 : 0.0}});
  else if (q == 1)
    form = pick_weighted(rng, {{"article", 0.5}, {"omitted", 0.15}, {"digits", 0.17},
                               {"x3", 0.06}, {"3x", 0.06}, {"unit", 0.06}});
  else
    // "un par de toallas" (2) and "media docena de huevos" (6); not for pair nouns, where
    // "un par de auriculares" is one pair.
    form = pick_weighted(rng, {{"digits", 0.55}, {"words", words_weight(q)},
                               {"dozen", q == 12 ? 0.22 : 0.0},
                               {"couple", q == 2 && !sold_in_pairs(f) ? 0.1 : 0.0},
                               {"half_dozen", q == 6 && !is_pair_noun(f) ? 0.12 : 0.0},
                               {"x3", 0.07}, {"3x", 0.06}, {"unit", 0.07}});
  ctx.qty_form = form;
  std::string_view fs = form;
  const std::string n = std::to_string(q);
  const bool pair = is_pair_noun(f);
  if (pair && (fs == "article" || fs == "digits" || fs == "words")) {
    // "unos vaqueros", "un par de auriculares", "2 pares de auriculares", "3 vaqueros"
    std::string num;
    if (fs == "article") num = rng.bernoulli(0.5) ? "unos" : "un par de";
    else if (fs == "words") num = q == 1 ? "un par de" : es_number_word(q, Gender::m, true) + " pares de";
    else num = q == 1 ? "1 par de" : rng.bernoulli(0.5) ? n : n + " pares de";
    out.push_back(qty_piece(num));
    out.push_back(text_piece(" "));
    out.push_back(form_piece(f, f.pl));
  } else if (fs == "article") {
    out.push_back(qty_piece(fem ? "una" : "un"));
    out.push_back(text_piece(" "));
    out.push_back(form_piece(f, f.sg));
  } else if (fs == "digits" || fs == "words") {
    out.push_back(qty_piece(fs == "digits" ? n : es_number_word(q, f.gender, true)));
    out.push_back(text_piece(" "));
    out.push_back(form_piece(f, q == 1 ? f.sg : f.pl));
  } else if (fs == "dozen" || fs == "couple" || fs == "half_dozen") {
    out.push_back(qty_piece(fs == "dozen" ? "una docena de" : fs == "couple" ? "un par de" : "media docena de"));
    out.push_back(text_piece(" "));
    out.push_back(form_piece(f, f.pl));
  } else if (fs == "omitted") {
    out.push_back(form_piece(f, f.sg));
  } else if (fs == "x3") {
    out.push_back(form_piece(f, f.sg));
    out.push_back(text_piece(" "));
    out.push_back(qty_piece("x" + n));
  } else if (fs == "3x") {
    out.push_back(qty_piece(n + "x"));
    out.push_back(text_piece(" "));
    out.push_back(form_piece(f, f.sg));
  } else {  // unit: "3 uds de champú"
    const char* unit = q == 1 ? (rng.bernoulli(0.5) ? "ud." : "unidad")
                              : pick_weighted(rng, {{"uds", 0.4}, {"uds.", 0.3}, {"unidades", 0.3}});
    out.push_back(qty_piece(n + " " + unit));
    out.push_back(text_piece(" de "));
    out.push_back(form_piece(f, f.sg));
  }
  if (more) out.push_back(text_piece(" más"));
  for (const Piece& p : out)
    if (p.role == PieceRole::product) ctx.form_text = p.text;
}

// {pq}: a list line, product first.
void render_pq(SlotContext& ctx, Rng& rng, Pieces& out) {
  const int q = ctx.quantity;
  const SurfaceForm& f = *ctx.form;
  const std::string n = std::to_string(q);
  const char* style =
      q == 1 ? pick_weighted(rng, {{"omitted", 0.35}, {"x3", 0.2}, {"3x", 0.2}, {"unit", 0.1},
                                   {"digits", 0.15}})
             : pick_weighted(rng, {{"x3", 0.3}, {"3x", 0.25}, {"unit", 0.2}, {"paren", 0.1},
                                   {"digits", 0.15}});
  std::string_view s = style;
  const std::string* noun = &f.sg;
  if (s == "omitted") out = {form_piece(f, f.sg)};
  else if (s == "x3") out = {form_piece(f, f.sg), text_piece(" "), qty_piece("x" + n)};
  else if (s == "3x") out = {qty_piece(n + "x"), text_piece(" "), form_piece(f, f.sg)};
  else if (s == "unit")
    out = {form_piece(f, f.sg), text_piece(", "), qty_piece(n + (q == 1 ? " ud." : " uds"))};
  else if (s == "paren")
    out = {form_piece(f, f.sg), text_piece(" ("), qty_piece(n), text_piece(")")};
  else {
    noun = q == 1 ? &f.sg : &f.pl;
    out = {qty_piece(n), text_piece(" "), form_piece(f, *noun)};
  }
  ctx.form_text = *noun;
  ctx.qty_form = s == "paren" ? "digits" : std::string(s);
}

bool render_slot(std::string_view name, SlotContext& ctx, Rng& rng, Pieces& out) {
  const int q = ctx.quantity;
  const SurfaceForm& f = *ctx.form;
  const bool fem = f.gender == Gender::f;
  if (name == "qp" || name == "qpn") {
    render_qp(ctx, rng, false, out);
  } else if (name == "qpm") {
    render_qp(ctx, rng, true, out);
  } else if (name == "pq") {
    render_pq(ctx, rng, out);
  } else if (name == "qn") {  // standalone: "añade dos", "pon una", "una docena"
    const char* form = pick_weighted(
        rng, {{"digits", 0.45}, {"words", 0.55}, {"dozen", q == 12 ? 0.1 : 0.0}});
    ctx.qty_form = form;
    std::string_view fs = form;
    out.push_back(qty_piece(fs == "digits" ? std::to_string(q)
                            : fs == "words" ? es_number_word(q, f.gender, false)
                                            : std::string("una docena")));
  } else if (name == "pdef_pl") {
    out.push_back(text_piece(fem ? "las " : "los "));
    out.push_back(form_piece(f, f.pl));
    ctx.form_text = f.pl;
  } else if (name == "lo") {  // attached to an infinitive: quitarlo, quitarlas
    bool plural = q > 1 || is_pair_noun(f);
    out.push_back(text_piece(plural ? (fem ? "las" : "los") : (fem ? "la" : "lo")));
  } else {
    return false;
  }
  return true;
}

// The adjective agreeing with a noun of gender g, singular or plural by `slot`: "blanco" ->
// blanca, blancos, blancas; "verde" -> verdes; "azul" -> azules. Plural-only nouns in the
// catalog ("vaqueros", "auriculares") are written with their plural fields.
std::string inflect_adjective(std::string_view lemma, Gender g, FormSlot slot) {
  const bool plural = slot == FormSlot::pl;
  std::string out(lemma);
  const char last = out.empty() ? 0 : out.back();
  if (last == 'o') {
    if (g == Gender::f) out.back() = 'a';
    if (plural) out += 's';
  } else if (plural) {
    out += (last == 'a' || last == 'e') ? "s" : "es";
  }
  return out;
}

LangPack make_pack() {
  LangPack p;
  p.lang = Lang::es;
  p.render_slot = render_slot;
  p.templates = {
      {B, "{v} {qp}{d}"},
      {B, "Por favor, {v} {qp}{d}."},
      {B, "¿Puedes {vi} {qp}{d}?"},
      {B, "¿Podrías {vi} {qp}{d}, por favor?"},
      {B, "Por favor, {vf} {qp}{d}."},
      {B, "{w} {qp}"},
      {B, "Quiero {vi} {qp}{d}."},
      {B, "Me gustaría {vi} {qp}{d}."},
      {B, "Necesito {vi} {qp}{d}."},
      {A, "{qp}, por favor"},
      {A, "Ponme {qp}[, porfa|, por favor|]"},
      {R, "Quítame {qp} {dd}"},
      {A, "¿Me pones {qp}?"},
      {R, "¿Me quitas {qp} {dd}?"},
      {A, "Dame {qp}[, porfa|]"},
      {R, "Me he equivocado, {v} {qp}{d}"},
      {R, "He cambiado de opinión, {v} {qp}{d}"},
      {R, "Cambié de idea, {v} {qp}{d}"},
      {B, "También {v} {qp}{d}"},
      {B, "Y {v} {qp}{d}"},
      {B, "Oye, {v} {qp}{d}"},
      {A, "{pq}"},
      {A, "Pedido: {pq}"},
      {A, "Se me [acabaron|terminaron] {pdef_pl}, {v} {qn}{d}"},
      {B, "{v} también {qp}{d}"},
      {A, "{v} {qpm}{d}"},
      {B, "¿Se puede {vi} {qp}{d}?"},
      {B, "¿Es posible {vi} {qp}{d}?"},
      {B, "Hazme el favor de {vi} {qp}{d}"},
      {B, "Necesito que {vs} {qp}{d}"},
      {B, "Quiero que {vs} {qp}{d}"},
      {B, "Quisiera {vi} {qp}{d}, por favor."},
      {B, "¿Te importaría {vi} {qp}{d}?"},
      {A, "Apúntame {qp}"},
      {B, "{v} {qp}{d} y ya"},
      {B, "{v} {qp}{d}, gracias"},
      {B, "Antes de pagar, {v} {qp}{d}"},
      {A, "¿Me añades {qp} {dd}?"},
      {B, "Solo {v} {qp}{d}"},
      {B, "Venga, {v} {qp}{d}"},
      {B, "Mejor {v} {qp}{d}"},
      {A, "{qp} {dd}[, porfa|, por favor|]"},
      {B, "Oye, ¿puedes {vi} {qp}{d}?"},
      {R, "Al final no, {v} {qp}{d}"},
      {R, "[Añadí|Puse|Metí] {qp} por error, ¿puedes {vi}{lo}?"},
      {A, "{w} {qpm}"},
      {B, "¿Me ayudas a {vi} {qp}{d}?"},
      {B, "Por favor, ¿podría {vi} {qp}{d}?"},
      {B, "Una cosa: {v} {qp}{d}"},
      {R, "{w} {qp}, ¿puedes {vi}{lo}?"},
      {B, "Rápido, {v} {qp}{d}"},
      {B, "Ahora {v} {qp}{d}"},
      {B, "Quería {vi} {qp}{d}"},
      {A, "Para el finde, {v} {qp}{d}"},
      {B, "¿Sería posible {vi} {qp}{d}?"},
      {B, "Le agradecería que {vf} {qp}{d}."},
      {A, "También me llevo {qp}[, gracias|]"},
      {A, "Pon {qp} en mi lista[ de la compra|]"},
      {R, "Tacha {qp} de la lista"},
      {R, "De {pdef_pl}, {v} {qn}{d}"},
      {R, "[Oye, |]{qp} ya no, ¿me {lo} quitas?"},
      {A, "Si os quedan, ponme {qp}"},
      {B, "Corrección: {v} {qp}{d}"},
      {A, "Ya que estás, {v} {qpm}{d}"},
      {A, "Vienen invitados, así que {v} {qp}{d}"},
      {R, "{v} {qp}{d}, [ya {lo} tengo en casa|se me va del presupuesto|me he pasado de presupuesto]"},
      {R, "No me enviéis {qp}, ya no {lo} necesito"},
      {A, "Échame {qp} al carrito"},
      {B, "Cuando puedas, {v} {qp}{d}"},
      {B, "¿Serías tan amable de {vi} {qp}{d}?"},
      {A, "Quisiera también {qp}[, si hay|]"},
      {B, "No te olvides de {vi} {qp}{d}"},
      {A, "Y {qpm}, porfa"},
      {B, "Vale, pues {v} {qp}{d}"},
      // New frames for both actions (questions, context, texting, formal requests, hedges): the
      // verb slot alone carries the action. See lang_pack.h on add-only/remove-only templates.
      {B, "¿Me harías el favor de {vi} {qp}{d}?"},
      {B, "¿Habría forma de {vi} {qp}{d}?"},
      {B, "¿Cómo hago para {vi} {qp}{d}?"},
      {B, "Intenté {vi} {qp}{d} y no me deja"},
      {B, "Che, ¿podés {vi} {qp}{d}?"},
      {B, "Ocupo {vi} {qp}{d}[, porfa|]"},
      {B, "[Oye güey, ¿me|Oye, ¿me|¿Me] haces el paro de {vi} {qp}{d}?"},
      {B, "Pensándolo bien, {v} {qp}{d}"},
      {B, "Antes de que se me olvide, {v} {qp}{d}"},
      {B, "{v} {qp}{d}, [¿va?|¿sí?|¿vale?]"},
      {B, "{v}, porfa, {qp}{d}"},
      {B, "[Le pido|Quería pedirle] que {vf} {qp}{d}."},
      {B, "Disculpe, ¿me podría {vi} {qp}{d}?"},
      {B, "{vf} {qp}{d}, si es tan amable."},
      {B, "¿Puedo pedirte que {vs} {qp}{d}?"},
      {B, "Hace falta que {vs} {qp}{d}"},
      {B, "Creo que {w} {qp}"},
      {B, "A ver, {v} {qp}{d}"},
      {B, "¿Podemos {vi} {qp}{d}?"},
      {B, "{qp}, ¿me {lo} puedes {vi}{d}?"},
      {B, "{vi} {qp}{d}[, porfa|, por favor|]"},
      // Session 13: frames for both actions whose other words (lista, al final, he cambiado,
      // casa) occur in add-only or remove-only templates, so the model cannot take them as the action.
      {B, "Al final, {v} {qp}{d}"},
      {B, "He cambiado de idea: {v} {qp}{d}"},
      {B, "Mirando mi lista, {v} {qp}{d}"},
      {B, "Antes de salir, {v} {qp}{d}"},
      {B, "Me acabo de acordar: {v} {qp}{d}"},
      {B, "Por si acaso, {v} {qp}{d}"},
      {B, "Pues nada, {v} {qp}{d}"},
      {B, "Ya en casa, {v} {qp}{d}"},
      {B, "Rapidito: {v} {qp}{d}"},
      {B, "Después de todo, {v} {qp}{d}"},
  };
  p.verbs[0] = {
      {"añade", "añada", "añadir", "añadas", "a", opt},
      {"agrega", "agregue", "agregar", "agregues", "a", opt},
      {"pon", "ponga", "poner", "pongas", "en", opt},
      {"mete", "meta", "meter", "metas", "en", opt},
      {"echa", "eche", "echar", "eches", "a", opt},
      {"compra", "compre", "comprar", "compres", nullptr, none},
      {"pide", "pida", "pedir", "pidas", nullptr, none},
      {"incluye", "incluya", "incluir", "incluyas", "en", opt},
      {"suma", "sume", "sumar", "sumes", "a", opt},
  };
  p.verbs[1] = {
      {"quita", "quite", "quitar", "quites", "de", opt},
      {"elimina", "elimine", "eliminar", "elimines", "de", opt},
      {"borra", "borre", "borrar", "borres", "de", opt},
      {"saca", "saque", "sacar", "saques", "de", opt},
      {"cancela", "cancele", "cancelar", "canceles", "de_pedido", opt},
      {"retira", "retire", "retirar", "retires", "de", opt},
      {"descarta", "descarte", "descartar", "descartes", nullptr, none},
  };
  p.want[0] = {"quiero", "necesito", "me llevo", "me gustaría", "quisiera", "voy a querer"};
  p.want[1] = {"ya no quiero", "ya no necesito", "no quiero", "al final no quiero",
               "no necesito"};
  p.dests = {
      {"a", {"al carrito", "a mi carrito", "a la cesta", "a mi cesta", "al pedido", "a mi pedido",
             "a la compra"}},
      {"en", {"en el carrito", "en mi carrito", "en la cesta", "en mi pedido", "en la compra"}},
      {"de", {"del carrito", "de mi carrito", "de la cesta", "de mi cesta", "del pedido",
              "de mi pedido"}},
      {"de_pedido", {"del pedido", "de mi pedido"}},
  };
  p.generic_dest[0] = "a";
  p.generic_dest[1] = "de";

  p.qwertz = false;
  p.greetings = {"hola", "¡hola!", "buenas", "buenos días", "buenas tardes", "hey", "qué tal",
                 "holi", "hola, ¿qué tal?", "hola hola"};
  p.signoffs = {"gracias", "¡gracias!", "gracias de antemano", "muchas gracias", "saludos",
                "mil gracias", "un saludo", "gracias!!"};
  p.slang = {
      {"por favor", {"porfa", "xfa", "x fa", "porfi"}},
      {"que", {"q", "k"}},
      {"porque", {"pq", "xq", "porq"}},
      {"gracias", {"grax", "grcs"}},
      {"también", {"tb", "tmb"}},
      {"para", {"pa"}},
      {"oye", {"oie"}},
      {"quiero", {"kiero"}},
  };
  p.slang_prefix = {"oye ", "ey ", "venga "};
  p.slang_suffix = {" porfa", " xfa", " plis", " porfi"};
  p.codeswitch_prefix = {"ok, ", "ok ", "btw, ", "sorry, ", "so "};
  p.codeswitch_suffix = {" asap", ", asap", ", please", ", thanks", ", ¿hay free shipping?",
                         " y luego hago checkout", ", ok?", " btw", " pls"};
  p.brand_clauses = {" de Mercadona", " del Carrefour", " de Lidl", " del Dia", " de Alcampo",
                     " (de la marca {brand})", ", si puede ser {brand}", ", mejor {brand}",
                     " de {brand}", ", que sea {brand}"};
  p.brands = {"Hacendado", "Nivea", "Samsung", "Philips", "Bosch", "Deliplus", "Bosque Verde",
              "Eroski", "Pascual", "Cola Cao"};
  // Masculine singular lemmas; none of the eval-only forms' words ("negro", "verde" are theirs).
  p.detail_adjectives = {"blanco", "rojo", "gris", "pequeño", "mediano", "barato", "nuevo",
                         "básico", "normal", "infantil", "económico", "sencillo", "amarillo",
                         "rosa", "clásico", "oscuro", "morado", "original",
                         "reutilizable", "familiar", "ligero", "bonito", "naranja"};
  p.inflect_adjective = inflect_adjective;
  p.detail_after = {" de oferta", " en oferta", " para los niños", ", cualquiera vale",
                    ", lo más barato que haya", " en gris", " en blanco", ", como la última vez",
                    " para la oficina", ", nada especial", " de marca blanca", " (los de siempre)"};
  p.distractors = {" (pedido n.º {ord})", ", pedido #{ord}", "^Pedido {ord}: ", ", talla {size}",
                   "@ en talla {size}", "@ a {price}", " si sigue a {price}",
                   ", antes de las {hour}", ", entrega antes de las {hour}",
                   ", n.º de pedido {ord}"};
  // Noise kind "context" (train split only): clauses that say nothing about the action, with words
  // the templates otherwise tie to one action ("lista", "al final", "casa", "he cambiado").
  p.context_clauses = {"estoy repasando mi lista", "tengo la lista delante", "salgo en un rato",
                       "sin prisa", "al final hoy no salgo", "es para el cumple de mi hermana",
                       "los niños están en casa hoy", "hoy trabajo desde casa",
                       "la entrega el viernes me va bien", "misma dirección que la última vez",
                       "antes de que se me olvide", "perdón por tantos mensajes", "como hablamos",
                       "por cierto", "he cambiado de idea sobre la hora de entrega",
                       "he mirado el presupuesto", "el resto del carrito está bien",
                       "ya tengo el código de descuento", "estoy limpiando la despensa",
                       "semana larga", "mi hermana viene de visita", "espero que estéis bien",
                       "vale, a ver", "al final encontré la app", "ya está casi todo"};
  return p;
}

}  // namespace

const LangPack& es_pack() {
  static const LangPack pack = make_pack();
  return pack;
}

}  // namespace cartlm
