// Decode-only benchmark of simdjson On-Demand on a Valence step shard, for docs/performance.md
// ("Codec choice: simdjson measured"). Built and run only by `make bench-codec`; nothing in the
// Swift build links libsimdjson.
//
// Usage: decode SHARD.jsonl.zst [REPS=5] [--many] [--schema rollout|verified|weighted]
//
// The shard is decompressed into memory once and split into lines (as ShardReader does: trailing
// \r, spaces and tabs trimmed, blank lines skipped); only decoding is timed, best of REPS. Each line
// is decoded into a plain struct with the checks Valence's general decoder (Rollout.decode(_:as:)
// in Sources/Valence/Records/Rollout.swift) makes, in any key order:
//   - schema tag equal to the expected one; run = 16 lower-case hex digits;
//   - step, prompt, sample, a, b, reward integers (an integral 1.0 or 1e2 is accepted, as jq may
//     write it, like JSONScanner.int());
//   - text a string; tokens integers 0-9; logp finite doubles <= 0, as many as tokens;
//   - verdict correct/wrong/malformed and reward 1 iff correct (verified, weighted);
//   - adv finite within +-1e9 (weighted); adv_tokens, when present and non-empty, one finite value
//     within +-1e9 per token;
//   - a duplicate key or a missing required field is an error; keys the schema does not know
//     (including a later stage's fields in an earlier kind) are skipped, as Valence does;
//   - nothing but whitespace after the object.
// The checksum is the same function of the decoded values as valence-bench-codec's, so equal
// checksums show that both decoded the same values.
//
// --many uses parser.iterate_many (simdjson's JSONL API: one stage-1 pass over 1 MB batches instead
// of one per line). It cannot tell where a line ends, so it accepts two objects on one line; it is
// timed to show simdjson's best case, the per-line mode is the one with Valence's contract.
#include <simdjson.h>
#include <zstd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

using namespace simdjson;

namespace {

enum Schema { kRollout = 0, kVerified = 1, kWeighted = 2 };
const char *const kTags[] = {"valence.rollout/1", "valence.verified/1", "valence.weighted/1"};
// Rollout.keys, in the order Valence writes them; a kind uses the first kKeyCount[schema].
const char *const kKeys[] = {"schema", "run",   "step",    "prompt", "sample", "a",   "b",
                             "text",   "tokens", "logp",   "verdict", "reward", "adv", "adv_tokens"};
const int kKeyCount[] = {10, 12, 14};
constexpr double kMaxAdvantage = 1e9;

struct Rollout {
  uint64_t run = 0;
  int64_t step = 0, prompt = 0, sample = 0, a = 0, b = 0;
  std::string text;
  std::vector<int64_t> tokens;
  std::vector<double> logp;
  int verdict = 2;  // 0 correct, 1 wrong, 2 malformed (Valence's Verdict order)
  int64_t reward = 0;
  double adv = 0;
  std::vector<double> adv_tokens;
};

// Why a line was rejected (the benchmark's inputs are valid, so any rejection ends the run).
const char *g_why = "";
inline bool fail(const char *why) {
  g_why = why;
  return false;
}

// JSONScanner.int(): an integer, or an integral number below 9e15 written with a fraction/exponent.
inline bool get_int(ondemand::value &v, int64_t &out) {
  if (v.get_int64().get(out) == SUCCESS) return true;
  double d;
  if (v.get_double().get(d) != SUCCESS) return false;
  if (d != std::floor(d) || !(std::fabs(d) < 9.0e15)) return false;
  out = static_cast<int64_t>(d);
  return true;
}

inline int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Index of a key in kKeys (-1: unknown, -2: invalid). Compares the raw key text, as find_field
// does (no copy); a key with an escape is unescaped first, so every spelling Valence accepts is
// accepted here too.
inline int key_index(ondemand::field &field) {
  ondemand::raw_json_string key = field.key();
  int f = -1;
  switch (key.raw()[0]) {
    case 's': f = key.unsafe_is_equal("schema") ? 0 : key.unsafe_is_equal("step") ? 2 : key.unsafe_is_equal("sample") ? 4 : -1; break;
    case 'r': f = key.unsafe_is_equal("run") ? 1 : key.unsafe_is_equal("reward") ? 11 : -1; break;
    case 'p': f = key.unsafe_is_equal("prompt") ? 3 : -1; break;
    case 'a': f = key.unsafe_is_equal("a") ? 5 : key.unsafe_is_equal("adv") ? 12 : key.unsafe_is_equal("adv_tokens") ? 13 : -1; break;
    case 'b': f = key.unsafe_is_equal("b") ? 6 : -1; break;
    case 't': f = key.unsafe_is_equal("text") ? 7 : key.unsafe_is_equal("tokens") ? 8 : -1; break;
    case 'l': f = key.unsafe_is_equal("logp") ? 9 : -1; break;
    case 'v': f = key.unsafe_is_equal("verdict") ? 10 : -1; break;
    default: break;
  }
  if (f >= 0) return f;
  // Unknown, unless it holds an escape before its closing quote.
  const char *k = key.raw();
  size_t n = 0;
  while (k[n] != '"' && k[n] != '\\') n++;
  if (k[n] == '"') return -1;
  std::string_view text;
  if (field.unescaped_key().get(text) != SUCCESS) return -2;
  for (int i = 0; i < 14; i++)
    if (text == kKeys[i]) return i;
  return -1;
}

template <class Array>
inline bool doubles(Array arr, std::vector<double> &out) {
  out.clear();
  for (auto element : arr) {
    double d;
    if (element.get_double().get(d) != SUCCESS) return fail("expected a number");
    out.push_back(d);
  }
  return true;
}

// One record, any key order. Returns false (reason in g_why) where Valence throws.
template <class Doc>
bool decode(Doc &doc, Schema schema, Rollout &r) {
  ondemand::object obj;
  if (doc.get_object().get(obj) != SUCCESS) return fail("not an object");
  const int count = kKeyCount[schema];
  uint32_t seen = 0;
  r.adv_tokens.clear();
  for (auto result : obj) {
    ondemand::field field;
    if (std::move(result).get(field) != SUCCESS) return fail("invalid JSON");
    int f = key_index(field);
    if (f == -2) return fail("invalid key");
    if (f < 0 || f >= count) continue;  // unknown: its value is skipped by the iterator
    if (seen & (1u << f)) return fail("duplicate key");
    seen |= 1u << f;
    ondemand::value v = field.value();
    std::string_view s;
    switch (f) {
      case 0:
        if (v.get_string().get(s) != SUCCESS || s != kTags[schema]) return fail("wrong schema");
        break;
      case 1: {
        if (v.get_string().get(s) != SUCCESS || s.size() != 16) return fail("run is not 16 hex digits");
        uint64_t id = 0;
        for (char c : s) {
          int d = hex(c);
          if (d < 0) return fail("run is not 16 hex digits");
          id = id << 4 | uint64_t(d);
        }
        r.run = id;
        break;
      }
      case 2: if (!get_int(v, r.step)) return fail("step"); break;
      case 3: if (!get_int(v, r.prompt)) return fail("prompt"); break;
      case 4: if (!get_int(v, r.sample)) return fail("sample"); break;
      case 5: if (!get_int(v, r.a)) return fail("a"); break;
      case 6: if (!get_int(v, r.b)) return fail("b"); break;
      case 7:
        if (v.get_string().get(s) != SUCCESS) return fail("text");
        r.text.assign(s.data(), s.size());
        break;
      case 8: {
        ondemand::array arr;
        if (v.get_array().get(arr) != SUCCESS) return fail("tokens");
        r.tokens.clear();
        for (auto element : arr) {
          ondemand::value e;
          int64_t t;
          if (std::move(element).get(e) != SUCCESS || !get_int(e, t)) return fail("token");
          if (t < 0 || t > 9) return fail("token outside 0-9");
          r.tokens.push_back(t);
        }
        break;
      }
      case 9: {
        ondemand::array arr;
        if (v.get_array().get(arr) != SUCCESS || !doubles(arr, r.logp)) return fail("logp");
        for (double d : r.logp)
          if (!(std::isfinite(d) && d <= 0)) return fail("log-probability not finite <= 0");
        break;
      }
      case 10:
        if (v.get_string().get(s) != SUCCESS) return fail("verdict");
        if (s == "correct") r.verdict = 0;
        else if (s == "wrong") r.verdict = 1;
        else if (s == "malformed") r.verdict = 2;
        else return fail("verdict is not correct, wrong or malformed");
        break;
      case 11: if (!get_int(v, r.reward)) return fail("reward"); break;
      case 12:
        if (v.get_double().get(r.adv) != SUCCESS || !std::isfinite(r.adv) || std::fabs(r.adv) > kMaxAdvantage)
          return fail("adv");
        break;
      default: {
        ondemand::array arr;
        if (v.get_array().get(arr) != SUCCESS || !doubles(arr, r.adv_tokens)) return fail("adv_tokens");
        for (double d : r.adv_tokens)
          if (!(std::isfinite(d) && std::fabs(d) <= kMaxAdvantage)) return fail("adv_tokens outside +-1e9");
      }
    }
  }
  if ((seen & 0x3FF) != 0x3FF) return fail("missing field");
  if (r.tokens.size() != r.logp.size()) return fail("tokens and logp differ in length");
  if (schema != kRollout) {
    if (!(seen & (1u << 10)) || !(seen & (1u << 11))) return fail("missing verdict or reward");
    if (r.reward != (r.verdict == 0 ? 1 : 0)) return fail("reward contradicts verdict");
  }
  if (schema == kWeighted) {
    if (!(seen & (1u << 12))) return fail("missing adv");
    if (!r.adv_tokens.empty() && r.adv_tokens.size() != r.tokens.size()) return fail("adv_tokens count");
  }
  return true;
}

inline uint64_t bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, 8);
  return u;
}
inline uint64_t rotl(uint64_t x, int k) { return x << k | x >> (64 - k); }

// The checksum valence-bench-codec computes (CodecBenchmark.Checksum in Sources/valence-bench-codec).
struct Checksum {
  uint64_t ids = 0, text = 0, tokens = 0, logp = 0, verdicts = 0, adv = 0;
  void add(const Rollout &r) {
    ids += r.run + uint64_t(r.step) + uint64_t(r.prompt) + uint64_t(r.sample) + uint64_t(r.a) + uint64_t(r.b);
    text += r.text.size();
    for (unsigned char c : r.text) text += c;
    for (int64_t t : r.tokens) tokens += uint64_t(t);
    for (double d : r.logp) logp += bits(d);
    verdicts += uint64_t(r.verdict) + uint64_t(r.reward);
    adv += bits(r.adv);
    for (double d : r.adv_tokens) adv += bits(d);
  }
  uint64_t value() const {
    return ids ^ rotl(text, 11) ^ rotl(tokens, 22) ^ rotl(logp, 33) ^ rotl(verdicts, 44) ^ rotl(adv, 55);
  }
};

bool read_file(const char *path, std::vector<char> &out) {
  FILE *f = std::fopen(path, "rb");
  if (!f) return false;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
  bool ok = !std::ferror(f);
  std::fclose(f);
  return ok;
}

// Decompresses every frame of a .zst file (a plain file is used as it is).
bool load(const char *path, std::vector<char> &text) {
  std::vector<char> raw;
  if (!read_file(path, raw)) return false;
  size_t len = std::strlen(path);
  if (len < 4 || std::strcmp(path + len - 4, ".zst") != 0) {
    text.swap(raw);
    return true;
  }
  ZSTD_DCtx *dctx = ZSTD_createDCtx();
  ZSTD_inBuffer in{raw.data(), raw.size(), 0};
  std::vector<char> chunk(ZSTD_DStreamOutSize());
  size_t last = 0;
  while (in.pos < in.size) {
    ZSTD_outBuffer out{chunk.data(), chunk.size(), 0};
    last = ZSTD_decompressStream(dctx, &out, &in);
    if (ZSTD_isError(last)) {
      std::fprintf(stderr, "decode: %s: %s\n", path, ZSTD_getErrorName(last));
      ZSTD_freeDCtx(dctx);
      return false;
    }
    text.insert(text.end(), chunk.data(), chunk.data() + out.pos);
  }
  ZSTD_freeDCtx(dctx);
  return last == 0;
}

}  // namespace

int main(int argc, char **argv) {
  const char *path = nullptr;
  int reps = 5;
  bool many = false;
  int schema = -1;
  for (int i = 1; i < argc; i++) {
    std::string_view arg = argv[i];
    if (arg == "--many") many = true;
    else if (arg == "--schema" && i + 1 < argc) {
      std::string_view s = argv[++i];
      schema = s == "rollout" ? kRollout : s == "verified" ? kVerified : s == "weighted" ? kWeighted : -2;
    } else if (arg == "-h" || arg == "--help") {
      std::printf("usage: decode SHARD.jsonl.zst [REPS=5] [--many] [--schema rollout|verified|weighted]\n");
      return 0;
    } else if (!path) path = argv[i];
    else reps = std::atoi(argv[i]);
  }
  if (!path || reps < 1 || schema == -2) {
    std::fprintf(stderr, "usage: decode SHARD.jsonl.zst [REPS=5] [--many] [--schema rollout|verified|weighted]\n");
    return 64;
  }
  std::vector<char> text;
  if (!load(path, text)) {
    std::fprintf(stderr, "decode: cannot read %s\n", path);
    return 1;
  }
  const size_t size = text.size();
  text.resize(size + SIMDJSON_PADDING, ' ');

  // Lines as ShardReader hands them over.
  std::vector<std::pair<size_t, size_t>> lines;
  for (size_t pos = 0; pos < size;) {
    const char *nl = static_cast<const char *>(std::memchr(text.data() + pos, '\n', size - pos));
    size_t end = nl ? size_t(nl - text.data()) : size;
    size_t n = end - pos;
    while (n > 0 && (text[pos + n - 1] == '\r' || text[pos + n - 1] == ' ' || text[pos + n - 1] == '\t')) n--;
    bool blank = true;
    for (size_t i = 0; i < n && blank; i++) blank = text[pos + i] == ' ' || text[pos + i] == '\t';
    if (!blank) lines.emplace_back(pos, n);
    pos = end + 1;
  }
  if (lines.empty()) {
    std::fprintf(stderr, "decode: %s holds no records\n", path);
    return 1;
  }
  if (schema < 0) {
    std::string_view first(text.data() + lines[0].first, lines[0].second);
    schema = first.find("\"valence.weighted/1\"") != std::string_view::npos   ? kWeighted
             : first.find("\"valence.verified/1\"") != std::string_view::npos ? kVerified
                                                                                : kRollout;
  }

  ondemand::parser parser;
  Rollout r;
  double best = 1e300;
  uint64_t checksum = 0;
  for (int rep = 0; rep < reps; rep++) {
    Checksum sum;
    size_t records = 0;
    auto start = std::chrono::steady_clock::now();
    if (many) {
      ondemand::document_stream stream;
      if (parser.iterate_many(text.data(), size, ondemand::DEFAULT_BATCH_SIZE).get(stream) != SUCCESS) {
        std::fprintf(stderr, "decode: iterate_many failed\n");
        return 1;
      }
      for (auto it = stream.begin(); it != stream.end(); ++it) {
        ondemand::document_reference doc;
        if ((*it).get(doc) != SUCCESS || !decode(doc, Schema(schema), r)) {
          std::fprintf(stderr, "decode: document %zu rejected: %s\n", records + 1, (*it).error() ? "invalid JSON" : g_why);
          return 1;
        }
        sum.add(r);
        records++;
      }
    } else {
      for (auto [pos, n] : lines) {
        ondemand::document doc;
        bool ok = parser.iterate(text.data() + pos, n, text.size() - pos).get(doc) == SUCCESS
                      ? decode(doc, Schema(schema), r)
                      : fail("invalid JSON");
        // Only whitespace may follow the object: at the end, current_location() is out of bounds.
        if (ok && doc.current_location().error() != OUT_OF_BOUNDS) ok = fail("trailing characters");
        if (!ok) {
          std::fprintf(stderr, "decode: line %zu rejected: %s\n", records + 1, g_why);
          return 1;
        }
        sum.add(r);
        records++;
      }
    }
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    if (records != lines.size()) {
      std::fprintf(stderr, "decode: %zu documents for %zu lines\n", records, lines.size());
      return 1;
    }
    best = std::min(best, ns / double(records));
    checksum = sum.value();
  }
  std::printf("%s: %zu records, %.1f ns/record (best of %d), checksum %016llx\n",
              many ? "simdjson-ondemand-many" : "simdjson-ondemand", lines.size(), best, reps,
              static_cast<unsigned long long>(checksum));
  return 0;
}
