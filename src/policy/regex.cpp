#include "policy/regex.h"

#include <cctype>
#include <memory>

namespace holdgate::policy {

// Parses the pattern into a small syntax tree, then emits the NFA program. Parsing recurses on
// the pattern's nesting (bounded by kMaxDepth); matching never recurses.
class RegexCompiler {
 public:
  using ByteSet = Regex::ByteSet;
  using Inst = Regex::Inst;
  using Op = Regex::Op;

  RegexCompiler(std::string_view p, Regex* re) : p_(p), re_(re) {}

  bool Run(std::string* error) {
    if (p_.substr(0, 4) == "(?i)") {
      icase_ = true;
      pos_ = 4;
    }
    Node root;
    if (!ParseAlt(&root, 0)) return Fail(error);
    if (pos_ != p_.size()) {
      err_ = "unmatched ')'";
      return Fail(error);
    }
    re_->anchored_start_ = StartsWithBegin(root);
    if (!Emit(root)) return Fail(error);
    if (!Push({Op::kMatch})) return Fail(error);
    return true;
  }

 private:
  static constexpr int kMaxDepth = 100;
  static constexpr int kMaxRepeat = 1000;

  struct Node {
    enum Kind { kEmpty, kSet, kConcat, kAlt, kRepeat, kBegin, kEnd } kind = kEmpty;
    ByteSet set;
    std::vector<Node> kids;
    int min = 0;
    int max = 0;  // -1 = unbounded
  };

  bool Fail(std::string* error) {
    if (error) *error = err_ + " at offset " + std::to_string(err_pos_ >= 0 ? err_pos_ : pos_);
    return false;
  }
  bool Error(std::string message) {
    err_ = std::move(message);
    err_pos_ = static_cast<int>(pos_);
    return false;
  }
  bool AtEnd() const { return pos_ >= p_.size(); }
  char Peek() const { return p_[pos_]; }

  static bool StartsWithBegin(const Node& n) {
    if (n.kind == Node::kBegin) return true;
    if (n.kind == Node::kConcat && !n.kids.empty()) return StartsWithBegin(n.kids.front());
    if (n.kind == Node::kAlt && !n.kids.empty()) {
      for (const Node& k : n.kids) {
        if (!StartsWithBegin(k)) return false;
      }
      return true;
    }
    return false;
  }

  void AddByte(ByteSet* set, unsigned char c) const {
    set->Set(c);
    if (icase_ && std::isalpha(c)) {
      set->Set(static_cast<unsigned char>(std::tolower(c)));
      set->Set(static_cast<unsigned char>(std::toupper(c)));
    }
  }
  static void AddRange(ByteSet* set, int lo, int hi) {
    for (int c = lo; c <= hi; ++c) set->Set(static_cast<unsigned char>(c));
  }
  static void Invert(ByteSet* set) {
    for (auto& w : set->bits) w = ~w;
  }
  // Class escapes \d \w \s (and negations). Returns false if `c` is not one.
  static bool ClassEscape(char c, ByteSet* set) {
    ByteSet s;
    switch (c) {
      case 'd': case 'D': AddRange(&s, '0', '9'); break;
      case 'w': case 'W':
        AddRange(&s, '0', '9'); AddRange(&s, 'a', 'z'); AddRange(&s, 'A', 'Z'); s.Set('_');
        break;
      case 's': case 'S':
        for (char w : {' ', '\t', '\n', '\r', '\f', '\v'}) s.Set(static_cast<unsigned char>(w));
        break;
      default: return false;
    }
    if (std::isupper(static_cast<unsigned char>(c))) Invert(&s);
    for (int i = 0; i < 4; ++i) set->bits[i] |= s.bits[i];
    return true;
  }
  // A single-byte escape after '\' (already consumed); sets *out.
  bool ByteEscape(char c, unsigned char* out) {
    switch (c) {
      case 't': *out = '\t'; return true;
      case 'n': *out = '\n'; return true;
      case 'r': *out = '\r'; return true;
      case 'f': *out = '\f'; return true;
      case 'v': *out = '\v'; return true;
      case '0': *out = '\0'; return true;
      default: break;
    }
    if (std::isalnum(static_cast<unsigned char>(c))) {
      if (c >= '1' && c <= '9') return Error("backreferences are not supported");
      if (c == 'b' || c == 'B') return Error("word boundaries (\\b) are not supported");
      return Error(std::string("unknown escape \\") + c);
    }
    *out = static_cast<unsigned char>(c);
    return true;
  }

  bool ParseAlt(Node* out, int depth) {
    if (depth > kMaxDepth) return Error("pattern nested too deeply");
    Node alt;
    alt.kind = Node::kAlt;
    for (;;) {
      Node seq;
      if (!ParseConcat(&seq, depth)) return false;
      alt.kids.push_back(std::move(seq));
      if (!AtEnd() && Peek() == '|') {
        ++pos_;
        continue;
      }
      break;
    }
    if (alt.kids.size() == 1) {
      *out = std::move(alt.kids[0]);
    } else {
      *out = std::move(alt);
    }
    return true;
  }

  bool ParseConcat(Node* out, int depth) {
    Node seq;
    seq.kind = Node::kConcat;
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      Node atom;
      if (!ParseRepeat(&atom, depth)) return false;
      seq.kids.push_back(std::move(atom));
    }
    if (seq.kids.empty()) {
      out->kind = Node::kEmpty;
    } else if (seq.kids.size() == 1) {
      *out = std::move(seq.kids[0]);
    } else {
      *out = std::move(seq);
    }
    return true;
  }

  bool ParseInt(int* value) {
    size_t start = pos_;
    int v = 0;
    while (!AtEnd() && std::isdigit(static_cast<unsigned char>(Peek()))) {
      v = v * 10 + (Peek() - '0');
      if (v > kMaxRepeat) return Error("repeat count above " + std::to_string(kMaxRepeat));
      ++pos_;
    }
    if (pos_ == start) return Error("expected a number in {}");
    *value = v;
    return true;
  }

  bool ParseRepeat(Node* out, int depth) {
    Node atom;
    if (!ParseAtom(&atom, depth)) return false;
    while (!AtEnd()) {
      char c = Peek();
      int min = 0, max = 0;
      if (c == '*') { min = 0; max = -1; ++pos_; }
      else if (c == '+') { min = 1; max = -1; ++pos_; }
      else if (c == '?') { min = 0; max = 1; ++pos_; }
      else if (c == '{') {
        ++pos_;
        if (!ParseInt(&min)) return false;
        max = min;
        if (!AtEnd() && Peek() == ',') {
          ++pos_;
          if (!AtEnd() && Peek() == '}') max = -1;
          else if (!ParseInt(&max)) return false;
        }
        if (AtEnd() || Peek() != '}') return Error("expected '}'");
        ++pos_;
        if (max != -1 && max < min) return Error("{n,m} with m < n");
      } else {
        break;
      }
      if (!AtEnd() && Peek() == '?') ++pos_;  // lazy: same set of matches
      if (!AtEnd() && Peek() == '+') return Error("possessive quantifiers are not supported");
      if (atom.kind == Node::kBegin || atom.kind == Node::kEnd) return Error("nothing to repeat");
      Node rep;
      rep.kind = Node::kRepeat;
      rep.min = min;
      rep.max = max;
      rep.kids.push_back(std::move(atom));
      atom = std::move(rep);
    }
    *out = std::move(atom);
    return true;
  }

  bool ParseClass(Node* out) {
    // '[' already consumed.
    out->kind = Node::kSet;
    bool negate = false;
    if (!AtEnd() && Peek() == '^') {
      negate = true;
      ++pos_;
    }
    bool first = true;
    for (;;) {
      if (AtEnd()) return Error("missing ']'");
      char c = Peek();
      if (c == ']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      ++pos_;
      unsigned char lo;
      if (c == '\\') {
        if (AtEnd()) return Error("trailing '\\'");
        char e = Peek();
        ++pos_;
        if (ClassEscape(e, &out->set)) continue;
        if (!ByteEscape(e, &lo)) return false;
      } else if (c == '[' && !AtEnd() && Peek() == ':') {
        return Error("POSIX classes like [:alpha:] are not supported");
      } else {
        lo = static_cast<unsigned char>(c);
      }
      if (pos_ + 1 < p_.size() && Peek() == '-' && p_[pos_ + 1] != ']') {
        ++pos_;
        char h = Peek();
        ++pos_;
        unsigned char hi;
        if (h == '\\') {
          if (AtEnd()) return Error("trailing '\\'");
          char e = Peek();
          ++pos_;
          if (!ByteEscape(e, &hi)) return false;
        } else {
          hi = static_cast<unsigned char>(h);
        }
        if (hi < lo) return Error("invalid range in []");
        for (int b = lo; b <= hi; ++b) AddByte(&out->set, static_cast<unsigned char>(b));
      } else {
        AddByte(&out->set, lo);
      }
    }
    if (negate) Invert(&out->set);
    return true;
  }

  bool ParseAtom(Node* out, int depth) {
    char c = Peek();
    ++pos_;
    switch (c) {
      case '(': {
        if (!AtEnd() && Peek() == '?') {
          if (pos_ + 1 < p_.size() && p_[pos_ + 1] == ':') {
            pos_ += 2;
          } else {
            --pos_;
            return Error("only (?:...) groups and a leading (?i) are supported (no lookaround)");
          }
        }
        if (!ParseAlt(out, depth + 1)) return false;
        if (AtEnd() || Peek() != ')') return Error("missing ')'");
        ++pos_;
        return true;
      }
      case '[':
        return ParseClass(out);
      case '.':
        out->kind = Node::kSet;
        Invert(&out->set);
        out->set.bits['\n' >> 6] &= ~(uint64_t{1} << ('\n' & 63));
        return true;
      case '^':
        out->kind = Node::kBegin;
        return true;
      case '$':
        out->kind = Node::kEnd;
        return true;
      case '*': case '+': case '?': case '{':
        --pos_;
        return Error("nothing to repeat");
      case '\\': {
        if (AtEnd()) return Error("trailing '\\'");
        char e = Peek();
        ++pos_;
        out->kind = Node::kSet;
        if (ClassEscape(e, &out->set)) return true;
        unsigned char b;
        if (!ByteEscape(e, &b)) return false;
        AddByte(&out->set, b);
        return true;
      }
      default:
        out->kind = Node::kSet;
        AddByte(&out->set, static_cast<unsigned char>(c));
        return true;
    }
  }

  // --- code generation ---
  bool Push(Inst inst) {
    if (re_->prog_.size() >= Regex::kMaxProgram) {
      err_ = "pattern too large (over " + std::to_string(Regex::kMaxProgram) + " instructions)";
      err_pos_ = 0;
      return false;
    }
    re_->prog_.push_back(inst);
    return true;
  }
  uint32_t Here() const { return static_cast<uint32_t>(re_->prog_.size()); }

  bool Emit(const Node& n) {
    switch (n.kind) {
      case Node::kEmpty:
        return true;
      case Node::kBegin:
        return Push({Op::kBegin});
      case Node::kEnd:
        return Push({Op::kEnd});
      case Node::kSet:
        re_->sets_.push_back(n.set);
        return Push({Op::kSet, static_cast<uint32_t>(re_->sets_.size() - 1)});
      case Node::kConcat:
        for (const Node& k : n.kids) {
          if (!Emit(k)) return false;
        }
        return true;
      case Node::kAlt: {
        std::vector<uint32_t> jumps;
        for (size_t i = 0; i < n.kids.size(); ++i) {
          if (i + 1 < n.kids.size()) {
            uint32_t split = Here();
            if (!Push({Op::kSplit, split + 1, 0})) return false;
            if (!Emit(n.kids[i])) return false;
            jumps.push_back(Here());
            if (!Push({Op::kJmp})) return false;
            re_->prog_[split].y = Here();
          } else {
            if (!Emit(n.kids[i])) return false;
          }
        }
        for (uint32_t j : jumps) re_->prog_[j].x = Here();
        return true;
      }
      case Node::kRepeat: {
        const Node& body = n.kids[0];
        for (int i = 0; i < n.min; ++i) {
          if (!Emit(body)) return false;
        }
        if (n.max == -1) {
          // L: split body, out; body; jmp L
          uint32_t split = Here();
          if (!Push({Op::kSplit, split + 1, 0})) return false;
          if (!Emit(body)) return false;
          if (!Push({Op::kJmp, split})) return false;
          re_->prog_[split].y = Here();
          return true;
        }
        std::vector<uint32_t> splits;
        for (int i = n.min; i < n.max; ++i) {
          splits.push_back(Here());
          if (!Push({Op::kSplit, Here() + 1, 0})) return false;
          if (!Emit(body)) return false;
        }
        for (uint32_t s : splits) re_->prog_[s].y = Here();
        return true;
      }
    }
    return false;
  }

  std::string_view p_;
  Regex* re_;
  size_t pos_ = 0;
  bool icase_ = false;
  std::string err_;
  int err_pos_ = -1;
};

bool Regex::Compile(std::string_view pattern, std::string* error) {
  pattern_.assign(pattern);
  prog_.clear();
  sets_.clear();
  anchored_start_ = false;
  RegexCompiler compiler(pattern, this);
  if (!compiler.Run(error)) return false;
  // First-byte set: everything reachable from pc 0 without consuming, at a position > 0.
  first_ = ByteSet();
  can_skip_ = true;
  std::vector<bool> seen(prog_.size(), false);
  std::vector<uint32_t> stack = {0};
  while (!stack.empty()) {
    uint32_t pc = stack.back();
    stack.pop_back();
    if (seen[pc]) continue;
    seen[pc] = true;
    const Inst& inst = prog_[pc];
    switch (inst.op) {
      case Op::kJmp: stack.push_back(inst.x); break;
      case Op::kSplit: stack.push_back(inst.x); stack.push_back(inst.y); break;
      case Op::kBegin: break;  // cannot hold at a position > 0
      case Op::kEnd: case Op::kMatch: can_skip_ = false; break;
      case Op::kSet:
        for (int w = 0; w < 4; ++w) first_.bits[w] |= sets_[inst.x].bits[w];
        break;
    }
  }
  return true;
}

namespace {

// A sparse set of program counters in insertion order (Briggs & Torczon): O(1) insert, test
// and clear. Scratch space is thread-local and reused, so Search does not allocate once warm.
struct SparseSet {
  std::vector<uint32_t> dense;
  std::vector<uint32_t> sparse;
  uint32_t size = 0;
  void Reset(size_t n) {
    if (dense.size() < n) {
      dense.resize(n);
      sparse.resize(n);
    }
    size = 0;
  }
  bool Contains(uint32_t pc) const { return sparse[pc] < size && dense[sparse[pc]] == pc; }
  void Insert(uint32_t pc) {
    sparse[pc] = size;
    dense[size++] = pc;
  }
};

struct Scratch {
  SparseSet a, b;
  std::vector<uint32_t> stack;
};

}  // namespace

bool Regex::Search(std::string_view input) const {
  if (prog_.empty()) return false;
  thread_local Scratch scratch;
  const size_t n = prog_.size();
  SparseSet* cur = &scratch.a;
  SparseSet* next = &scratch.b;
  cur->Reset(n);
  next->Reset(n);
  std::vector<uint32_t>& stack = scratch.stack;
  const size_t len = input.size();

  // Adds pc and everything reachable from it without consuming a byte, at input position i.
  auto add = [&](SparseSet* set, uint32_t start, size_t i) {
    stack.clear();
    stack.push_back(start);
    while (!stack.empty()) {
      uint32_t pc = stack.back();
      stack.pop_back();
      if (set->Contains(pc)) continue;
      set->Insert(pc);
      const Inst& inst = prog_[pc];
      switch (inst.op) {
        case Op::kJmp: stack.push_back(inst.x); break;
        case Op::kSplit: stack.push_back(inst.y); stack.push_back(inst.x); break;
        case Op::kBegin: if (i == 0) stack.push_back(pc + 1); break;
        case Op::kEnd: if (i == len) stack.push_back(pc + 1); break;
        case Op::kSet: case Op::kMatch: break;
      }
    }
  };

  for (size_t i = 0; i <= len; ++i) {
    if (cur->size == 0 && i > 0 && can_skip_) {
      while (i < len && !first_.Has(static_cast<unsigned char>(input[i]))) ++i;
      if (i == len) return false;  // nothing can start here, and nothing matches empty at the end
    }
    if (i == 0 || !anchored_start_) add(cur, 0, i);
    if (cur->size == 0) return false;  // anchored and every thread died
    for (uint32_t k = 0; k < cur->size; ++k) {
      const Inst& inst = prog_[cur->dense[k]];
      if (inst.op == Op::kMatch) return true;
      if (inst.op == Op::kSet && i < len &&
          sets_[inst.x].Has(static_cast<unsigned char>(input[i]))) {
        add(next, cur->dense[k] + 1, i + 1);
      }
    }
    std::swap(cur, next);
    next->size = 0;
  }
  for (uint32_t k = 0; k < cur->size; ++k) {
    if (prog_[cur->dense[k]].op == Op::kMatch) return true;
  }
  return false;
}

}  // namespace holdgate::policy
