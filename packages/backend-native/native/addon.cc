// ediy_dnnl: oneDNN kernels that read and write tfjs-backend-wasm tensors in place.
//
// Written by hand because no maintained package binds oneDNN to Node: this file is the
// whole binding. Every entry point receives the wasm module's memory (an ArrayBuffer)
// and byte offsets into it, so tensors are used where tfjs keeps them and nothing is
// copied. The tensors are NHWC (activations), HWIO or [kh, kw, C, multiplier]
// (filters) and row-major matrices, as tfjs lays them out; oneDNN is told their exact
// layout through memory descriptors and reorders weights into its blocked formats
// itself. Primitives are cached per shape and per JS thread (the main thread and each
// worker have their own), so no lock is taken on the way to a kernel.
#include <napi.h>

#include <omp.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "dnnl.hpp"

namespace {

// The loops of the element-wise and BatchNorm kernels below are compiled twice on x86-64
// Linux, for the baseline ISA and for AVX2, and the loader picks one for the CPU at start-up
// (GCC's target_clones, an ifunc), so the addon still loads on any x86-64 CPU. Every clone
// does the same IEEE operations on each element in the same order (no contraction into FMA:
// -ffp-contract=off; sums accumulate per column, never across the vector lanes), so the
// results are the same bits on either path.
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define EDIY_ISA_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define EDIY_ISA_CLONES
#endif

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// One engine for the process, never destroyed: each thread's cached primitives (thread_local,
// destroyed when a worker thread exits, and at process exit in no fixed order with other
// thread_locals) must never outlive the engine they were made on. oneDNN lets threads share
// an engine; streams are per thread.
dnnl::engine& cpuEngine() {
  static dnnl::engine* eng = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *eng;
}

dnnl::stream& cpuStream() {
  thread_local dnnl::stream s(cpuEngine());
  return s;
}

// The activations tfjs fuses into FusedConv2D and _FusedMatMul, as codes the TypeScript
// side passes (see src/activation.ts).
enum Activation { kLinear = 0, kRelu = 1, kRelu6 = 2, kLeakyRelu = 3, kElu = 4, kSigmoid = 5 };

dnnl::primitive_attr activationAttr(int act, float alpha) {
  dnnl::primitive_attr attr;
  if (act == kLinear) return attr;
  dnnl::post_ops po;
  switch (act) {
    case kRelu:
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      break;
    case kRelu6:
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, 0.f, 6.f);
      break;
    case kLeakyRelu:
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, alpha, 0.f);
      break;
    case kElu:
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_elu, 1.f, 0.f);
      break;
    case kSigmoid:
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f);
      break;
    default:
      throw std::invalid_argument("unknown activation code " + std::to_string(act));
  }
  attr.set_post_ops(po);
  return attr;
}

// Reads argument `i` as a number; throws a TypeError naming it otherwise.
double num(const Napi::Array& a, uint32_t i, const char* what) {
  Napi::Value v = a.Get(i);
  if (!v.IsNumber()) {
    throw std::invalid_argument(std::string("parameter ") + what + " (index " + std::to_string(i) +
                                ") must be a number");
  }
  return v.As<Napi::Number>().DoubleValue();
}

struct Heap {
  uint8_t* base;
  size_t bytes;
  float* at(double offset, size_t count, const char* what) const {
    if (offset < 0 || offset + count * sizeof(float) > static_cast<double>(bytes)) {
      std::ostringstream m;
      m << what << ": " << count << " floats at byte offset " << offset
        << " do not fit in the wasm heap of " << bytes << " bytes";
      throw std::out_of_range(m.str());
    }
    return reinterpret_cast<float*>(base + static_cast<size_t>(offset));
  }
};

Heap heapOf(const Napi::Value& v) {
  if (!v.IsArrayBuffer()) throw std::invalid_argument("heap must be the wasm memory's ArrayBuffer");
  auto buf = v.As<Napi::ArrayBuffer>();
  return Heap{static_cast<uint8_t*>(buf.Data()), buf.ByteLength()};
}

// ---------------------------------------------------------------------------------------
// Work sharing for ediy's own loops (element-wise kernels, sums, copies) when OpenMP's threads sleep between parallel regions
// (OMP_WAIT_POLICY=PASSIVE, the engine's default). An OpenMP region ends in a barrier, so
// the calling thread waits for every thread of the team, however late a sleeping one
// wakes: on a virtual machine that takes 20-300 us, more than many of these kernels take
// on one thread. Here the caller starts on the chunks at once; helper threads woken for
// the call take chunks once they run, and the caller waits only for chunks a helper has
// started. Each chunk is a fixed part of the work (a row range, a sum block), so the
// results are the same bits whoever runs which chunk. With a spinning wait policy the
// OpenMP team is awake anyway and these kernels keep OpenMP's static split.
// EDIY_WORK_SHARING=on|off overrides the choice (for comparisons in one run).
bool initialWorkSharing() {
  auto lower = [](const char* v) {
    std::string s = v == nullptr ? "" : v;
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  };
  const std::string forced = lower(std::getenv("EDIY_WORK_SHARING"));
  if (forced == "on") return true;
  if (forced == "off") return false;
  return lower(std::getenv("OMP_WAIT_POLICY")) == "passive" && std::getenv("GOMP_SPINCOUNT") == nullptr;
}
// Per JS thread, as the convolution layout; setWorkSharing changes it for the calling thread.
thread_local bool workSharing = initialWorkSharing();

class WorkSharing {
 public:
  explicit WorkSharing(int helpers) {
    for (int i = 0; i < helpers; ++i) threads_.emplace_back([this] { helperLoop(); });
  }
  ~WorkSharing() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  int helpers() const { return static_cast<int>(threads_.size()); }

  // Runs task(i) for every i in [0, n), n <= 65535, on this thread and the helpers; returns
  // when all are done. task must not throw.
  template <typename F>
  void run(int64_t n, F& task) {
    if (n <= 0) return;
    if (threads_.empty() || n == 1) {
      for (int64_t i = 0; i < n; ++i) task(i);
      return;
    }
    task_ = [](void* f, int64_t i) { (*static_cast<F*>(f))(i); };
    taskArg_ = &task;
    done_.store(0, std::memory_order_relaxed);
    const uint64_t gen = ++generation_;
    claim_.store(pack(gen, n, 0), std::memory_order_release);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      published_ = gen;
    }
    wake_.notify_all();
    work(gen);
    // Every chunk is claimed; wait for those a helper is still running.
    for (int spins = 0; done_.load(std::memory_order_acquire) < n; ++spins) {
      if (spins < 4096) {
        cpuRelax();
      } else {
        std::this_thread::yield();  // a helper preempted mid-chunk: let it run
      }
    }
  }

 private:
  // The claim word: generation (32 bits), chunk count (16), next chunk (16).
  static uint64_t pack(uint64_t gen, int64_t n, int64_t next) {
    return (gen << 32) | (static_cast<uint64_t>(n) << 16) | static_cast<uint64_t>(next);
  }
  static void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  // Claims and runs chunks of generation gen until none is left.
  void work(uint64_t gen) {
    uint64_t c = claim_.load(std::memory_order_acquire);
    for (;;) {
      if ((c >> 32) != (gen & 0xffffffffu)) return;
      const int64_t n = static_cast<int64_t>((c >> 16) & 0xffff), i = static_cast<int64_t>(c & 0xffff);
      if (i >= n) return;
      if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      task_(taskArg_, i);
      done_.fetch_add(1, std::memory_order_release);
      c = claim_.load(std::memory_order_acquire);
    }
  }
  void helperLoop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || published_ != seen; });
        if (stop_) return;
        seen = published_;
      }
      work(seen);
    }
  }

  std::atomic<uint64_t> claim_{0};
  std::atomic<int64_t> done_{0};
  uint64_t generation_ = 0;  // the caller's thread only
  void (*task_)(void*, int64_t) = nullptr;
  void* taskArg_ = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_;
  uint64_t published_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// The calling JS thread's helpers: as many as its OpenMP thread count minus one.
WorkSharing& workSharingPool() {
  thread_local std::unique_ptr<WorkSharing> pool;
  const int helpers = std::max(0, omp_get_max_threads() - 1);
  if (!pool || pool->helpers() != helpers) {
    pool.reset();
    pool = std::make_unique<WorkSharing>(helpers);
  }
  return *pool;
}

// Calls f(i0, i1) on contiguous ranges covering [0, n) on all cores: the work-sharing
// helpers' chunks (at most 32), or OpenMP's static split (one range per thread).
template <typename F>
void parallelChunks(int64_t n, F f) {
  if (workSharing) {
    const int64_t k = std::min<int64_t>(n, 32);
    auto chunk = [&](int64_t c) { f(n * c / k, n * (c + 1) / k); };
    workSharingPool().run(k, chunk);
    return;
  }
#pragma omp parallel
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t i0 = n * t / nt, i1 = n * (t + 1) / nt;
    if (i1 > i0) f(i0, i1);
  }
}

// Calls f(i) for every i in [0, items), each item independent of the others: on all
// cores when `parallel` (parallelChunks), else in order on this thread.
template <typename F>
void parallelFor(int64_t items, bool parallel, F f) {
  if (!parallel || items <= 1) {
    for (int64_t i = 0; i < items; ++i) f(i);
    return;
  }
  if (workSharing) {
    parallelChunks(items, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) f(i);
    });
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < items; ++i) f(i);
}

// ---------------------------------------------------------------------------------------
// Convolutions: forward (with bias and activation), backward data, backward weights.

// Whether convolutions take their activations in oneDNN's preferred (blocked, nChw8c or
// nChw16c) layout, reordered from and to tfjs's NHWC around each call, or NHWC directly.
// Starts from EDIY_DNNL_LAYOUT=nhwc|blocked (default nhwc); setConvLayout changes it for
// the calling thread. `npm run bench:native -w @ediy/backend` times both in the same run.
bool initialBlocked() {
  const char* v = std::getenv("EDIY_DNNL_LAYOUT");
  return v != nullptr && std::string(v) == "blocked";
}
thread_local bool blockedLayout = initialBlocked();

enum ConvKind { kForward = 0, kBackwardData = 1, kBackwardWeights = 2 };

struct ConvShape {
  int64_t kind, n, h, w, c, oh, ow, o, kh, kw, groups, sh, sw, dh, dw, pt, pl, pb, pr;
  bool hasBias;
  int64_t act;
  float alpha;

  std::string key() const {
    std::ostringstream k;
    k << kind << ':' << n << ',' << h << ',' << w << ',' << c << ',' << oh << ',' << ow << ','
      << o << ',' << kh << ',' << kw << ',' << groups << ',' << sh << ',' << sw << ',' << dh
      << ',' << dw << ',' << pt << ',' << pl << ',' << pb << ',' << pr << ',' << hasBias << ','
      << act << ',' << alpha << ',' << blockedLayout;
    return k.str();
  }

  memory::desc actDesc(int64_t channels, int64_t rows, int64_t cols) const {
    return memory::desc({n, channels, rows, cols}, dt::f32, tag::nhwc);
  }
  memory::desc src() const { return actDesc(c, h, w); }
  memory::desc dst() const { return actDesc(o, oh, ow); }

  // The filter as tfjs stores it: HWIO, or [kh, kw, C, multiplier] for a depthwise conv.
  memory::desc userWeights() const {
    if (groups == 1) {
      return memory::desc({o, c, kh, kw}, dt::f32, memory::dims{1, o, kw * c * o, c * o});
    }
    const int64_t m = o / groups;  // channel multiplier; c == groups
    return memory::desc({groups, m, 1, kh, kw}, dt::f32,
                        memory::dims{m, 1, m, kw * c * m, c * m});
  }
  memory::desc anyWeights() const {
    if (groups == 1) return memory::desc({o, c, kh, kw}, dt::f32, tag::any);
    return memory::desc({groups, o / groups, 1, kh, kw}, dt::f32, tag::any);
  }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims dilates() const { return {dh - 1, dw - 1}; }
  memory::dims padL() const { return {pt, pl}; }
  memory::dims padR() const { return {pb, pr}; }
};

struct ConvPlan {
  dnnl::primitive prim;
  memory::desc userWeights;
  memory::desc primWeights;
  bool reorderWeights = false;
  dnnl::reorder weightsReorder;  // user -> prim (forward, backward data) or prim -> user
  std::unique_ptr<float[]> weightsBuffer;
  // Activations in the primitive's own (blocked) layout, reordered from and to tfjs's NHWC
  // around the call; unset when the primitive takes NHWC itself.
  memory::desc primSrc, primDst;
  bool reorderSrc = false, reorderDst = false;
  dnnl::reorder srcIn, srcOut, dstIn, dstOut;
};

// Two scratch buffers per thread for reordered activations (calls on a thread are
// sequential, so every plan of the thread can share them).
float* scratch(int which, size_t bytes) {
  thread_local std::vector<float> buffers[2];
  auto& b = buffers[which];
  size_t n = bytes / sizeof(float) + 16;
  if (b.size() < n) b.resize(n);
  return b.data();
}

// The dense copy of the rows and columns a convolution with a negative end padding reads.
float* croppedBuffer(size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

// Between an NHWC map of full.h x full.w and its first hu x wu rows and columns: copies
// those out of `from` (expand false), or into `to` with zeros everywhere else (expand true).
void cropRows(const float* from, float* to, const ConvShape& full, int64_t hu, int64_t wu,
              bool expand) {
  const int64_t n = full.n, h = full.h, w = full.w, c = full.c;
  const size_t run = static_cast<size_t>(wu * c) * sizeof(float);
  const size_t tail = static_cast<size_t>((w - wu) * c) * sizeof(float);
  if (!expand) {
    parallelFor(n * hu, true, [&](int64_t q) {
      int64_t b = q / hu, i = q % hu;
      std::memcpy(to + q * wu * c, from + (b * h + i) * w * c, run);
    });
    return;
  }
  parallelFor(n * h, true, [&](int64_t q) {
    int64_t b = q / h, i = q % h;
    float* row = to + q * w * c;
    if (i >= hu) {
      std::memset(row, 0, static_cast<size_t>(w * c) * sizeof(float));
      return;
    }
    std::memcpy(row, from + (b * hu + i) * wu * c, run);
    if (tail > 0) std::memset(row + wu * c, 0, tail);
  });
}

// Per JS thread (main or worker): plans hold scratch buffers, so threads never share them.
thread_local std::unordered_map<std::string, std::unique_ptr<ConvPlan>> convPlans;
thread_local size_t convPlanHits = 0;

dnnl::convolution_forward::primitive_desc forwardPd(const ConvShape& s, bool withBias,
                                                   const dnnl::primitive_attr& attr,
                                                   bool anyActivations) {
  memory::desc bias = withBias ? memory::desc({s.o}, dt::f32, tag::x) : memory::desc();
  memory::desc src = anyActivations ? memory::desc({s.n, s.c, s.h, s.w}, dt::f32, tag::any) : s.src();
  memory::desc dst =
      anyActivations ? memory::desc({s.n, s.o, s.oh, s.ow}, dt::f32, tag::any) : s.dst();
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training,
                                    dnnl::algorithm::convolution_direct, src, s.anyWeights(),
                                    bias, dst, s.strides(), s.dilates(), s.padL(), s.padR());
  return dnnl::convolution_forward::primitive_desc(d, attr, cpuEngine());
}

ConvPlan& convPlan(const ConvShape& s) {
  std::string key = s.key();
  auto found = convPlans.find(key);
  if (found != convPlans.end()) {
    ++convPlanHits;
    return *found->second;
  }
  auto plan = std::make_unique<ConvPlan>();
  plan->userWeights = s.userWeights();
  const auto& eng = cpuEngine();
  // Depthwise convolutions keep NHWC (the per-channel affine of the fast BatchNorm is one).
  const bool anyAct = blockedLayout && s.groups == 1;
  memory::desc src = anyAct ? memory::desc({s.n, s.c, s.h, s.w}, dt::f32, tag::any) : s.src();
  memory::desc dst = anyAct ? memory::desc({s.n, s.o, s.oh, s.ow}, dt::f32, tag::any) : s.dst();
  if (s.kind == kForward) {
    auto pd = forwardPd(s, s.hasBias, activationAttr(static_cast<int>(s.act), s.alpha), anyAct);
    plan->primWeights = pd.weights_desc();
    plan->primSrc = pd.src_desc();
    plan->primDst = pd.dst_desc();
    plan->prim = dnnl::convolution_forward(pd);
  } else if (s.kind == kBackwardData) {
    auto hint = forwardPd(s, false, dnnl::primitive_attr(), anyAct);
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, src,
                                            s.anyWeights(), dst, s.strides(), s.dilates(),
                                            s.padL(), s.padR());
    dnnl::convolution_backward_data::primitive_desc pd(d, eng, hint);
    plan->primWeights = pd.weights_desc();
    plan->primSrc = pd.diff_src_desc();
    plan->primDst = pd.diff_dst_desc();
    plan->prim = dnnl::convolution_backward_data(pd);
  } else if (s.kind == kBackwardWeights) {
    auto hint = forwardPd(s, false, dnnl::primitive_attr(), anyAct);
    dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, src,
                                               s.anyWeights(), dst, s.strides(), s.dilates(),
                                               s.padL(), s.padR());
    dnnl::convolution_backward_weights::primitive_desc pd(d, eng, hint);
    plan->primWeights = pd.diff_weights_desc();
    plan->primSrc = pd.src_desc();
    plan->primDst = pd.diff_dst_desc();
    plan->prim = dnnl::convolution_backward_weights(pd);
  } else {
    throw std::invalid_argument("unknown convolution kind " + std::to_string(s.kind));
  }
  plan->reorderWeights = plan->primWeights != plan->userWeights;
  if (plan->reorderWeights) {
    plan->weightsBuffer.reset(new float[plan->primWeights.get_size() / sizeof(float) + 16]);
    if (s.kind == kBackwardWeights) {
      plan->weightsReorder = dnnl::reorder(dnnl::reorder::primitive_desc(
          eng, plan->primWeights, eng, plan->userWeights));
    } else {
      plan->weightsReorder = dnnl::reorder(dnnl::reorder::primitive_desc(
          eng, plan->userWeights, eng, plan->primWeights));
    }
  }
  plan->reorderSrc = plan->primSrc != s.src();
  plan->reorderDst = plan->primDst != s.dst();
  if (plan->reorderSrc) {
    plan->srcIn = dnnl::reorder(dnnl::reorder::primitive_desc(eng, s.src(), eng, plan->primSrc));
    plan->srcOut = dnnl::reorder(dnnl::reorder::primitive_desc(eng, plan->primSrc, eng, s.src()));
  }
  if (plan->reorderDst) {
    plan->dstIn = dnnl::reorder(dnnl::reorder::primitive_desc(eng, s.dst(), eng, plan->primDst));
    plan->dstOut = dnnl::reorder(dnnl::reorder::primitive_desc(eng, plan->primDst, eng, s.dst()));
  }
  auto& ref = *plan;
  convPlans.emplace(std::move(key), std::move(plan));
  return ref;
}

// conv(heap, params): params = [kind, n, h, w, c, oh, ow, o, kh, kw, groups, sh, sw, dh, dw,
// pt, pl, pb, pr, srcOffset, weightsOffset, dstOffset, biasOffset (-1: none), act, alpha].
// forward: src, weights (, bias) -> dst; backward data: dst (dy), weights -> src (dx);
// backward weights: src (x), dst (dy) -> weights (dw).
Napi::Value Conv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 2 || !info[1].IsArray()) {
      throw std::invalid_argument("conv(heap, params) takes the wasm heap and a parameter array");
    }
    Heap heap = heapOf(info[0]);
    auto p = info[1].As<Napi::Array>();
    if (p.Length() != 25) throw std::invalid_argument("conv: expected 25 parameters");
    auto i64 = [&](uint32_t i, const char* what) { return static_cast<int64_t>(num(p, i, what)); };
    ConvShape s{};
    s.kind = i64(0, "kind");
    s.n = i64(1, "n");
    s.h = i64(2, "h");
    s.w = i64(3, "w");
    s.c = i64(4, "c");
    s.oh = i64(5, "oh");
    s.ow = i64(6, "ow");
    s.o = i64(7, "o");
    s.kh = i64(8, "kh");
    s.kw = i64(9, "kw");
    s.groups = i64(10, "groups");
    s.sh = i64(11, "sh");
    s.sw = i64(12, "sw");
    s.dh = i64(13, "dh");
    s.dw = i64(14, "dw");
    s.pt = i64(15, "pt");
    s.pl = i64(16, "pl");
    s.pb = i64(17, "pb");
    s.pr = i64(18, "pr");
    double srcOff = num(p, 19, "srcOffset");
    double weiOff = num(p, 20, "weightsOffset");
    double dstOff = num(p, 21, "dstOffset");
    double biasOff = num(p, 22, "biasOffset");
    s.hasBias = s.kind == kForward && biasOff >= 0;
    s.act = s.kind == kForward ? i64(23, "act") : 0;
    s.alpha = s.kind == kForward ? static_cast<float>(num(p, 24, "alpha")) : 0.f;
    if (s.groups < 1 || s.c % s.groups != 0 || s.o % s.groups != 0) {
      throw std::invalid_argument("conv: groups must divide the input and output channels");
    }
    if (s.groups > 1 && s.groups != s.c) {
      throw std::invalid_argument("conv: only depthwise grouping (groups == channels) is supported");
    }
    float* src = heap.at(srcOff, s.n * s.h * s.w * s.c, "src");
    float* dst = heap.at(dstOff, s.n * s.oh * s.ow * s.o, "dst");
    float* wei = heap.at(weiOff, s.kh * s.kw * s.o * (s.c / s.groups), "weights");
    float* bias = s.hasBias ? heap.at(biasOff, s.o, "bias") : nullptr;
    if (s.pt < 0 || s.pl < 0) throw std::invalid_argument("conv: the top and left padding must be >= 0");

    // A negative bottom/right padding means the last rows/columns of the input are never
    // read (a strided conv over an even or explicitly padded map, a strided 1x1 shortcut).
    // oneDNN 2.6's 1x1 kernels write out of bounds for it, and a strided memory descriptor
    // of the rows read sends it to its reference kernels, so the convolution runs on a
    // dense copy of the rows and columns read (forward, filter gradient), or computes the
    // input gradient of those into a buffer and writes it back with zeros for the others.
    float* userSrcPtr = src;
    const ConvShape full = s;
    const bool cropped = s.pb < 0 || s.pr < 0;
    if (cropped) {
      s.h += std::min<int64_t>(s.pb, 0);
      s.w += std::min<int64_t>(s.pr, 0);
      s.pb = std::max<int64_t>(s.pb, 0);
      s.pr = std::max<int64_t>(s.pr, 0);
      if (s.h < 1 || s.w < 1) throw std::invalid_argument("conv: the padding leaves no input");
      src = croppedBuffer(static_cast<size_t>(s.n * s.h * s.w * s.c));
      if (s.kind != kBackwardData) cropRows(userSrcPtr, src, full, s.h, s.w, false);
    }

    ConvPlan& plan = convPlan(s);
    auto& eng = cpuEngine();
    auto& strm = cpuStream();
    memory userSrc(s.src(), eng, src);
    memory userDst(s.dst(), eng, dst);
    memory srcMem = plan.reorderSrc
                        ? memory(plan.primSrc, eng, scratch(0, plan.primSrc.get_size()))
                        : userSrc;
    memory dstMem = plan.reorderDst
                        ? memory(plan.primDst, eng, scratch(1, plan.primDst.get_size()))
                        : userDst;
    memory userWei(plan.userWeights, eng, wei);
    memory primWei = plan.reorderWeights ? memory(plan.primWeights, eng, plan.weightsBuffer.get())
                                         : userWei;
    if (s.kind == kForward) {
      if (plan.reorderWeights) plan.weightsReorder.execute(strm, userWei, primWei);
      if (plan.reorderSrc) plan.srcIn.execute(strm, userSrc, srcMem);
      std::unordered_map<int, memory> args{
          {DNNL_ARG_SRC, srcMem}, {DNNL_ARG_WEIGHTS, primWei}, {DNNL_ARG_DST, dstMem}};
      if (bias != nullptr) args.emplace(DNNL_ARG_BIAS, memory(memory::desc({s.o}, dt::f32, tag::x), eng, bias));
      plan.prim.execute(strm, args);
      if (plan.reorderDst) plan.dstOut.execute(strm, dstMem, userDst);
    } else if (s.kind == kBackwardData) {
      if (plan.reorderWeights) plan.weightsReorder.execute(strm, userWei, primWei);
      if (plan.reorderDst) plan.dstIn.execute(strm, userDst, dstMem);
      plan.prim.execute(strm, {{DNNL_ARG_DIFF_DST, dstMem},
                               {DNNL_ARG_WEIGHTS, primWei},
                               {DNNL_ARG_DIFF_SRC, srcMem}});
      if (plan.reorderSrc) plan.srcOut.execute(strm, srcMem, userSrc);
    } else {
      if (plan.reorderSrc) plan.srcIn.execute(strm, userSrc, srcMem);
      if (plan.reorderDst) plan.dstIn.execute(strm, userDst, dstMem);
      plan.prim.execute(strm, {{DNNL_ARG_SRC, srcMem},
                               {DNNL_ARG_DIFF_DST, dstMem},
                               {DNNL_ARG_DIFF_WEIGHTS, primWei}});
      if (plan.reorderWeights) plan.weightsReorder.execute(strm, primWei, userWei);
    }
    strm.wait();
    if (cropped && s.kind == kBackwardData) cropRows(src, userSrcPtr, full, s.h, s.w, true);
    return env.Undefined();
  } catch (const dnnl::error& e) {
    throw Napi::Error::New(env, std::string("oneDNN: ") + e.what() + " (status " +
                                    std::to_string(static_cast<int>(e.status)) + ")");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// ---------------------------------------------------------------------------------------
// Matrix products: out[b] = act(op(a[b]) @ op(b[b]) + bias), batch broadcast from 1.

struct MatMulPlan {
  dnnl::matmul prim;
  memory::desc a, b, out, bias;
};

thread_local std::unordered_map<std::string, std::unique_ptr<MatMulPlan>> matmulPlans;

// matmul(heap, params): params = [batch, m, k, n, aBatch, bBatch, transposeA, transposeB,
// aOffset, bOffset, outOffset, biasOffset (-1: none), biasLength (n or 1), act, alpha].
Napi::Value MatMul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 2 || !info[1].IsArray()) {
      throw std::invalid_argument("matmul(heap, params) takes the wasm heap and a parameter array");
    }
    Heap heap = heapOf(info[0]);
    auto p = info[1].As<Napi::Array>();
    if (p.Length() != 15) throw std::invalid_argument("matmul: expected 15 parameters");
    auto i64 = [&](uint32_t i, const char* what) { return static_cast<int64_t>(num(p, i, what)); };
    int64_t batch = i64(0, "batch"), m = i64(1, "m"), k = i64(2, "k"), n = i64(3, "n");
    int64_t aBatch = i64(4, "aBatch"), bBatch = i64(5, "bBatch");
    bool ta = i64(6, "transposeA") != 0, tb = i64(7, "transposeB") != 0;
    double aOff = num(p, 8, "aOffset"), bOff = num(p, 9, "bOffset"), outOff = num(p, 10, "outOffset");
    double biasOff = num(p, 11, "biasOffset");
    int64_t biasLen = i64(12, "biasLength");
    int act = static_cast<int>(i64(13, "act"));
    float alpha = static_cast<float>(num(p, 14, "alpha"));
    if ((aBatch != batch && aBatch != 1) || (bBatch != batch && bBatch != 1)) {
      throw std::invalid_argument("matmul: batch sizes must equal the output's or be 1");
    }
    bool hasBias = biasOff >= 0;
    if (hasBias && biasLen != n && biasLen != 1) {
      throw std::invalid_argument("matmul: the bias must have n or 1 values");
    }
    float* a = heap.at(aOff, aBatch * m * k, "a");
    float* b = heap.at(bOff, bBatch * k * n, "b");
    float* out = heap.at(outOff, batch * m * n, "out");
    float* bias = hasBias ? heap.at(biasOff, biasLen, "bias") : nullptr;

    std::ostringstream key;
    key << batch << ',' << m << ',' << k << ',' << n << ',' << aBatch << ',' << bBatch << ',' << ta
        << ',' << tb << ',' << hasBias << ',' << biasLen << ',' << act << ',' << alpha;
    auto& slot = matmulPlans[key.str()];
    if (!slot) {
      auto plan = std::make_unique<MatMulPlan>();
      plan->a = ta ? memory::desc({aBatch, m, k}, dt::f32, memory::dims{k * m, 1, m})
                   : memory::desc({aBatch, m, k}, dt::f32, memory::dims{m * k, k, 1});
      plan->b = tb ? memory::desc({bBatch, k, n}, dt::f32, memory::dims{n * k, 1, k})
                   : memory::desc({bBatch, k, n}, dt::f32, memory::dims{k * n, n, 1});
      plan->out = memory::desc({batch, m, n}, dt::f32, memory::dims{m * n, n, 1});
      plan->bias = hasBias ? memory::desc({1, 1, biasLen}, dt::f32, memory::dims{biasLen, biasLen, 1})
                           : memory::desc();
      dnnl::matmul::desc d(plan->a, plan->b, plan->bias, plan->out);
      dnnl::matmul::primitive_desc pd(d, activationAttr(act, alpha), cpuEngine());
      plan->prim = dnnl::matmul(pd);
      slot = std::move(plan);
    }
    auto& eng = cpuEngine();
    auto& strm = cpuStream();
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(slot->a, eng, a)},
                                         {DNNL_ARG_WEIGHTS, memory(slot->b, eng, b)},
                                         {DNNL_ARG_DST, memory(slot->out, eng, out)}};
    if (hasBias) args.emplace(DNNL_ARG_BIAS, memory(slot->bias, eng, bias));
    slot->prim.execute(strm, args);
    strm.wait();
    return env.Undefined();
  } catch (const dnnl::error& e) {
    throw Napi::Error::New(env, std::string("oneDNN: ") + e.what() + " (status " +
                                    std::to_string(static_cast<int>(e.status)) + ")");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// ---------------------------------------------------------------------------------------
// Element-wise and copying kernels over activation-sized tensors run on all cores. Every
// output element depends on its own inputs alone, so any split over threads gives the
// same bits. Below kParallelMin elements one thread does it (a parallel region costs
// more than the work).

constexpr int64_t kParallelMin = 1 << 15;

// Calls f(i0, i1) on contiguous slices of [0, n) on all cores (parallelChunks), or once on
// the whole range when n * width < kParallelMin (for the rows of a [rows, cols] map: n =
// rows, width = cols).
template <typename F>
void parallelRanges(int64_t n, int64_t width, F f) {
  if (n <= 0) return;
  if (n * width < kParallelMin) {
    f(0, n);
    return;
  }
  parallelChunks(n, f);
}

// ---------------------------------------------------------------------------------------
// Per-channel sums over rows, deterministic for any thread count: the rows are cut into
// a fixed number of blocks (not one per thread), each block summed in order, then the
// block sums added in block order.

constexpr int64_t kSumBlocks = 64;

// acc[c] += x[r, c] for the rows [r0, r1), in row order, accumulated in Acc (float for
// columnSums, double for BatchNorm's statistics).
template <typename Acc>
EDIY_ISA_CLONES void addRows(const float* x, int64_t r0, int64_t r1, int64_t cols, Acc* acc) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* row = x + r * cols;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) acc[c] += row[c];
  }
}

// out[r, c] = x[r, c] * scale[c] (+ shift[c] when shift is given) for the rows [r0, r1).
EDIY_ISA_CLONES void affineRows(const float* x, const float* scale, const float* shift, int64_t r0,
                                int64_t r1, int64_t cols, float* out) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * cols;
    float* yr = out + r * cols;
    if (shift != nullptr) {
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) yr[c] = xr[c] * scale[c] + shift[c];
    } else {
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) yr[c] = xr[c] * scale[c];
    }
  }
}

// columnMeans(heap, xOffset, rows, cols, outOffset, scale): out[c] = scale * sum_r x[r, c].
Napi::Value ColumnSums(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 6) {
      throw std::invalid_argument("columnSums(heap, xOffset, rows, cols, outOffset, scale)");
    }
    Heap heap = heapOf(info[0]);
    double xOff = info[1].As<Napi::Number>().DoubleValue();
    int64_t rows = info[2].As<Napi::Number>().Int64Value();
    int64_t cols = info[3].As<Napi::Number>().Int64Value();
    double outOff = info[4].As<Napi::Number>().DoubleValue();
    float scale = info[5].As<Napi::Number>().FloatValue();
    const float* x = heap.at(xOff, rows * cols, "x");
    float* out = heap.at(outOff, cols, "out");
    int64_t blocks = rows < kSumBlocks ? (rows > 0 ? rows : 1) : kSumBlocks;
    std::vector<float> partial(static_cast<size_t>(blocks * cols), 0.f);
    parallelFor(blocks, true, [&](int64_t blk) {
      int64_t r0 = rows * blk / blocks, r1 = rows * (blk + 1) / blocks;
      addRows(x, r0, r1, cols, partial.data() + blk * cols);
    });
    for (int64_t c = 0; c < cols; ++c) {
      float s = 0.f;
      for (int64_t blk = 0; blk < blocks; ++blk) s += partial[blk * cols + c];
      out[c] = s * scale;
    }
    return env.Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// out[r, c] = relu(x[r, c] * scale[c] + shift[c]) for the rows [r0, r1): the affine map and
// the ReLU after it in one pass, with the bits of the two (NaN kept, -0 to +0).
EDIY_ISA_CLONES void affineReluRows(const float* x, const float* scale, const float* shift,
                                    int64_t r0, int64_t r1, int64_t cols, float* out) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * cols;
    float* yr = out + r * cols;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) {
      float v = xr[c] * scale[c] + shift[c];
      yr[c] = (v > 0.f || v != v) ? v : 0.f;
    }
  }
}

// channelAffine(heap, xOffset, rows, cols, scaleOffset, shiftOffset, outOffset[, relu]):
// out[r, c] = x[r, c] * scale[c] + shift[c], and its ReLU with relu != 0 (the fused
// depthwise convolution's `relu` activation, in the same pass). May run in place (out == x).
Napi::Value ChannelAffine(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 7 && info.Length() != 8) {
      throw std::invalid_argument(
          "channelAffine(heap, xOffset, rows, cols, scaleOffset, shiftOffset, outOffset[, relu])");
    }
    Heap heap = heapOf(info[0]);
    double xOff = info[1].As<Napi::Number>().DoubleValue();
    int64_t rows = info[2].As<Napi::Number>().Int64Value();
    int64_t cols = info[3].As<Napi::Number>().Int64Value();
    double scaleOff = info[4].As<Napi::Number>().DoubleValue();
    double shiftOff = info[5].As<Napi::Number>().DoubleValue();
    double outOff = info[6].As<Napi::Number>().DoubleValue();
    const float* x = heap.at(xOff, rows * cols, "x");
    const float* scale = heap.at(scaleOff, cols, "scale");
    const float* shift = shiftOff >= 0 ? heap.at(shiftOff, cols, "shift") : nullptr;
    float* out = heap.at(outOff, rows * cols, "out");
    bool relu = info.Length() == 8 && info[7].As<Napi::Number>().Int32Value() != 0;
    if (relu) {
      // relu(x * scale + 0) has the bits of relu(x * scale): a missing shift is a zero one.
      std::vector<float> zeros(shift == nullptr ? static_cast<size_t>(cols) : 0, 0.f);
      const float* s = shift != nullptr ? shift : zeros.data();
      parallelRanges(rows, cols, [&](int64_t r0, int64_t r1) { affineReluRows(x, scale, s, r0, r1, cols, out); });
      return env.Undefined();
    }
    parallelRanges(rows, cols, [&](int64_t r0, int64_t r1) { affineRows(x, scale, shift, r0, r1, cols, out); });
    return env.Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// BatchNorm's training statistics and gradient, each in one call over the channels-last
// map viewed as [rows, cols]: what tfjs would run as a dozen element-wise kernels and
// reductions (two temporaries the size of the map). Accumulation is in double over the
// same fixed row blocks as columnSums, so results do not depend on the thread count.

// Sums over the fixed row blocks: sums[c] = sum over blocks of (sum over the block's rows
// of a term of row r and column c). term(r0, r1, acc) adds the terms of the rows [r0, r1),
// in row order, into acc (one block's `cols` doubles). `partial` is [blocks, cols].
template <typename Term>
void blockSums(int64_t rows, int64_t cols, std::vector<double>& partial, std::vector<double>& sums,
               Term term) {
  int64_t blocks = rows < kSumBlocks ? (rows > 0 ? rows : 1) : kSumBlocks;
  partial.assign(static_cast<size_t>(blocks * cols), 0.0);
  if (workSharing) {
    double* acc = partial.data();
    auto block = [&](int64_t blk) {
      term(rows * blk / blocks, rows * (blk + 1) / blocks, acc + blk * cols);
    };
    if (rows * cols < kParallelMin) {
      for (int64_t blk = 0; blk < blocks; ++blk) block(blk);
    } else {
      workSharingPool().run(blocks, block);
    }
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      int64_t r0 = rows * blk / blocks, r1 = rows * (blk + 1) / blocks;
      term(r0, r1, partial.data() + blk * cols);
    }
  }
  sums.assign(static_cast<size_t>(cols), 0.0);
  for (int64_t blk = 0; blk < blocks; ++blk) {
    for (int64_t c = 0; c < cols; ++c) sums[c] += partial[blk * cols + c];
  }
}

// acc[c] += (x[r, c] - m[c])^2 in double over the rows [r0, r1).
EDIY_ISA_CLONES void addSquaredDeviations(const float* x, const double* m, int64_t r0, int64_t r1,
                                          int64_t cols, double* acc) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* row = x + r * cols;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) {
      double d = row[c] - m[c];
      acc[c] += d * d;
    }
  }
}

// BatchNorm's gradient sums over the rows [r0, r1), in one pass over dy and x:
// acc[c] += dy[r, c] and acc[cols + c] += dy[r, c] * (x[r, c] - mean[c]), in double.
EDIY_ISA_CLONES void batchNormGradSums(const float* dy, const float* x, const float* mean,
                                       int64_t r0, int64_t r1, int64_t cols, double* acc) {
  double* acc2 = acc + cols;
  for (int64_t r = r0; r < r1; ++r) {
    const float* g = dy + r * cols;
    const float* v = x + r * cols;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) {
      acc[c] += g[c];
      acc2[c] += static_cast<double>(g[c]) * (v[c] - mean[c]);
    }
  }
}

// dx[r, c] = k[c] * dy[r, c] + a[c] * (x[r, c] - mean[c]) + b[c] over the rows [r0, r1).
EDIY_ISA_CLONES void batchNormGradRows(const float* dy, const float* x, const float* mean,
                                       const float* k, const float* a, const float* b, int64_t r0,
                                       int64_t r1, int64_t cols, float* dx) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* g = dy + r * cols;
    const float* v = x + r * cols;
    float* o = dx + r * cols;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) o[c] = k[c] * g[c] + a[c] * (v[c] - mean[c]) + b[c];
  }
}

// The same two functions for BatchNorm followed by a ReLU, differentiated as one: dy is first
// masked by step(y) of the ReLU's output y (1 for y > 0, NaN for NaN, else 0; y > 0 exactly
// where the ReLU's input is), rounded to float as the separate ReLU gradient rounds it, so
// the fused gradient has the bits of the two kernels in sequence.
EDIY_ISA_CLONES void batchNormReluGradSums(const float* dy, const float* y, const float* x,
                                           const float* mean, int64_t r0, int64_t r1,
                                           int64_t cols, double* acc) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  double* acc2 = acc + cols;
  for (int64_t r = r0; r < r1; ++r) {
    const float* g = dy + r * cols;
    const float* u = y + r * cols;
    const float* v = x + r * cols;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) {
      float w = u[c];
      float step = w > 0.f ? 1.f : 0.f;
      step = w != w ? nan : step;
      float gc = g[c] * step;
      acc[c] += gc;
      acc2[c] += static_cast<double>(gc) * (v[c] - mean[c]);
    }
  }
}

EDIY_ISA_CLONES void batchNormReluGradRows(const float* dy, const float* y, const float* x,
                                           const float* mean, const float* k, const float* a,
                                           const float* b, int64_t r0, int64_t r1, int64_t cols,
                                           float* dx) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t r = r0; r < r1; ++r) {
    const float* g = dy + r * cols;
    const float* u = y + r * cols;
    const float* v = x + r * cols;
    float* o = dx + r * cols;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) {
      float w = u[c];
      float step = w > 0.f ? 1.f : 0.f;
      step = w != w ? nan : step;
      float gc = g[c] * step;
      o[c] = k[c] * gc + a[c] * (v[c] - mean[c]) + b[c];
    }
  }
}

// BatchNorm's forward sums over the rows [r0, r1): with d = x[r, c] - s0[c] in double,
// acc[c] += d and acc[cols + c] += d * d.
EDIY_ISA_CLONES void batchNormSums(const float* x, const float* s0, int64_t r0, int64_t r1,
                                   int64_t cols, double* acc) {
  double* acc2 = acc + cols;
  for (int64_t r = r0; r < r1; ++r) {
    const float* row = x + r * cols;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) {
      double d = static_cast<double>(row[c]) - s0[c];
      acc[c] += d;
      acc2[c] += d * d;
    }
  }
}

// channelMoments(heap, xOffset, rows, cols, meanOffset, varianceOffset): the mean and the
// biased variance of every column, two passes (the variance from the centred values).
Napi::Value ChannelMoments(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 6) {
      throw std::invalid_argument(
          "channelMoments(heap, xOffset, rows, cols, meanOffset, varianceOffset)");
    }
    Heap heap = heapOf(info[0]);
    double xOff = info[1].As<Napi::Number>().DoubleValue();
    int64_t rows = info[2].As<Napi::Number>().Int64Value();
    int64_t cols = info[3].As<Napi::Number>().Int64Value();
    if (rows < 1 || cols < 1) throw std::invalid_argument("channelMoments: rows and cols must be >= 1");
    const float* x = heap.at(xOff, rows * cols, "x");
    float* meanOut = heap.at(info[4].As<Napi::Number>().DoubleValue(), cols, "mean");
    float* varOut = heap.at(info[5].As<Napi::Number>().DoubleValue(), cols, "variance");
    std::vector<double> partial, sums, mean(static_cast<size_t>(cols));
    blockSums(rows, cols, partial, sums,
              [&](int64_t r0, int64_t r1, double* acc) { addRows(x, r0, r1, cols, acc); });
    for (int64_t c = 0; c < cols; ++c) mean[c] = sums[c] / static_cast<double>(rows);
    const double* m = mean.data();
    blockSums(rows, cols, partial, sums, [&](int64_t r0, int64_t r1, double* acc) {
      addSquaredDeviations(x, m, r0, r1, cols, acc);
    });
    for (int64_t c = 0; c < cols; ++c) {
      meanOut[c] = static_cast<float>(mean[c]);
      varOut[c] = static_cast<float>(sums[c] / static_cast<double>(rows));
    }
    return env.Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// batchNormGrad(heap, dyOffset, xOffset, rows, cols, meanOffset, invStdOffset, gammaOffset,
//               dxOffset, sumDyOffset, sumDyXhatOffset[, reluOutputOffset]):
// with xhat = (x - mean) * invStd over the rows of each column,
//   sumDy = sum(dy), sumDyXhat = sum(dy * xhat)               (dbeta and dgamma)
//   dx = gamma * invStd * (dy - sumDy / rows - xhat * sumDyXhat / rows)
// where, given the output y of a ReLU after the BatchNorm (offset >= 0), dy is the ReLU's
// output gradient and dy * step(y) is used in its place: the two layers' gradient in one call.
Napi::Value BatchNormGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 11 && info.Length() != 12) {
      throw std::invalid_argument(
          "batchNormGrad(heap, dyOffset, xOffset, rows, cols, meanOffset, invStdOffset, "
          "gammaOffset, dxOffset, sumDyOffset, sumDyXhatOffset[, reluOutputOffset])");
    }
    Heap heap = heapOf(info[0]);
    int64_t rows = info[3].As<Napi::Number>().Int64Value();
    int64_t cols = info[4].As<Napi::Number>().Int64Value();
    if (rows < 1 || cols < 1) throw std::invalid_argument("batchNormGrad: rows and cols must be >= 1");
    const float* dy = heap.at(info[1].As<Napi::Number>().DoubleValue(), rows * cols, "dy");
    const float* x = heap.at(info[2].As<Napi::Number>().DoubleValue(), rows * cols, "x");
    const float* mean = heap.at(info[5].As<Napi::Number>().DoubleValue(), cols, "mean");
    const float* invStd = heap.at(info[6].As<Napi::Number>().DoubleValue(), cols, "invStd");
    const float* gamma = heap.at(info[7].As<Napi::Number>().DoubleValue(), cols, "gamma");
    float* dx = heap.at(info[8].As<Napi::Number>().DoubleValue(), rows * cols, "dx");
    float* sumDyOut = heap.at(info[9].As<Napi::Number>().DoubleValue(), cols, "sumDy");
    float* sumDyXhatOut = heap.at(info[10].As<Napi::Number>().DoubleValue(), cols, "sumDyXhat");
    // With a ReLU's output y (BatchNorm and the ReLU after it differentiated as one), dy is
    // masked by step(y) first.
    const double yOff = info.Length() == 12 ? info[11].As<Napi::Number>().DoubleValue() : -1;
    const float* y = yOff >= 0 ? heap.at(yOff, rows * cols, "reluOutput") : nullptr;
    // sums[0..cols) = sum(dy), sums[cols..2 cols) = sum(dy * (x - mean)): one pass over
    // both maps, each sum over the same blocks in the same order as two separate passes.
    std::vector<double> partial, sums;
    blockSums(rows, 2 * cols, partial, sums, [&](int64_t r0, int64_t r1, double* acc) {
      if (y != nullptr) {
        batchNormReluGradSums(dy, y, x, mean, r0, r1, cols, acc);
      } else {
        batchNormGradSums(dy, x, mean, r0, r1, cols, acc);
      }
    });
    const double* sumDy = sums.data();
    const double* sumDyXc = sums.data() + cols;
    // dx = k * dy + a * (x - mean) + b per column, in float for the pass over the map.
    std::vector<float> k(static_cast<size_t>(cols)), a(static_cast<size_t>(cols)),
        b(static_cast<size_t>(cols));
    double n = static_cast<double>(rows);
    for (int64_t c = 0; c < cols; ++c) {
      double inv = invStd[c];
      double kc = static_cast<double>(gamma[c]) * inv;
      double ac = -kc * inv * inv * sumDyXc[c] / n;
      k[c] = static_cast<float>(kc);
      a[c] = static_cast<float>(ac);
      b[c] = static_cast<float>(-kc * sumDy[c] / n);
      sumDyOut[c] = static_cast<float>(sumDy[c]);
      sumDyXhatOut[c] = static_cast<float>(sumDyXc[c] * inv);
    }
    const float *kp = k.data(), *ap = a.data(), *bp = b.data();
    parallelRanges(rows, cols, [&](int64_t r0, int64_t r1) {
      if (y != nullptr) {
        batchNormReluGradRows(dy, y, x, mean, kp, ap, bp, r0, r1, cols, dx);
      } else {
        batchNormGradRows(dy, x, mean, kp, ap, bp, r0, r1, cols, dx);
      }
    });
    return env.Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// batchNormForward(heap, xOffset, rows, cols, gammaOffset, betaOffset, epsilon, yOffset,
//                  meanOffset, varianceOffset, invStdOffset[, relu]):
// BatchNorm's training forward pass in one call: the per-column mean and biased variance
// (one pass over x, in double, of the values shifted by the first row's, so a large mean
// costs no precision), invStd = 1 / sqrt(variance + epsilon), and y = x * k + b with
// k = gamma * invStd, b = beta - mean * k (y = max(0, x * k + b) with relu != 0). Same
// fixed row blocks as columnSums.
Napi::Value BatchNormForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 11 && info.Length() != 12) {
      throw std::invalid_argument(
          "batchNormForward(heap, xOffset, rows, cols, gammaOffset, betaOffset, epsilon, "
          "yOffset, meanOffset, varianceOffset, invStdOffset[, relu])");
    }
    // relu: y = max(0, x * k + b), the ReLU after BatchNorm in the same pass.
    const bool withRelu = info.Length() == 12 && info[11].As<Napi::Number>().DoubleValue() != 0;
    Heap heap = heapOf(info[0]);
    int64_t rows = info[2].As<Napi::Number>().Int64Value();
    int64_t cols = info[3].As<Napi::Number>().Int64Value();
    if (rows < 1 || cols < 1) throw std::invalid_argument("batchNormForward: rows and cols must be >= 1");
    const float* x = heap.at(info[1].As<Napi::Number>().DoubleValue(), rows * cols, "x");
    const float* gamma = heap.at(info[4].As<Napi::Number>().DoubleValue(), cols, "gamma");
    const float* beta = heap.at(info[5].As<Napi::Number>().DoubleValue(), cols, "beta");
    double eps = info[6].As<Napi::Number>().DoubleValue();
    float* y = heap.at(info[7].As<Napi::Number>().DoubleValue(), rows * cols, "y");
    float* meanOut = heap.at(info[8].As<Napi::Number>().DoubleValue(), cols, "mean");
    float* varOut = heap.at(info[9].As<Napi::Number>().DoubleValue(), cols, "variance");
    float* invOut = heap.at(info[10].As<Napi::Number>().DoubleValue(), cols, "invStd");
    std::vector<float> shift(x, x + cols);
    const float* s0 = shift.data();
    std::vector<double> partial, sums;
    // sums[0..cols) = sum(x - shift), sums[cols..2 cols) = sum((x - shift)^2)
    blockSums(rows, 2 * cols, partial, sums, [&](int64_t r0, int64_t r1, double* acc) {
      batchNormSums(x, s0, r0, r1, cols, acc);
    });
    std::vector<float> k(static_cast<size_t>(cols)), b(static_cast<size_t>(cols));
    const double n = static_cast<double>(rows);
    for (int64_t c = 0; c < cols; ++c) {
      double m1 = sums[c] / n;
      double var = sums[cols + c] / n - m1 * m1;
      if (var < 0) var = 0;
      double mean = s0[c] + m1;
      double inv = 1.0 / std::sqrt(var + eps);
      double kc = gamma[c] * inv;
      meanOut[c] = static_cast<float>(mean);
      varOut[c] = static_cast<float>(var);
      invOut[c] = static_cast<float>(inv);
      k[c] = static_cast<float>(kc);
      b[c] = static_cast<float>(beta[c] - mean * kc);
    }
    const float *kp = k.data(), *bp = b.data();
    parallelRanges(rows, cols, [&](int64_t r0, int64_t r1) {
      if (withRelu) {
        affineReluRows(x, kp, bp, r0, r1, cols, y);
      } else {
        affineRows(x, kp, bp, r0, r1, cols, y);
      }
    });
    return env.Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// ---------------------------------------------------------------------------------------
// Element-wise kernels (see parallelRanges above for how they split over threads).

double offsetArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw std::invalid_argument("argument " + std::to_string(i) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

// out[i] = max(0, x[i]) over [i0, i1), NaN kept, -0 to +0.
EDIY_ISA_CLONES void reluRange(const float* x, int64_t i0, int64_t i1, float* out) {
#pragma omp simd
  for (int64_t i = i0; i < i1; ++i) {
    float v = x[i];
    out[i] = (v > 0.f || v != v) ? v : 0.f;
  }
}

// out[i] = dy[i] * step(x[i]) over [i0, i1) (step: 1 for x > 0, NaN for NaN, else 0).
EDIY_ISA_CLONES void reluGradRange(const float* dy, const float* x, int64_t i0, int64_t i1,
                                   float* out) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
#pragma omp simd
  for (int64_t i = i0; i < i1; ++i) {
    float v = x[i];
    float s = v > 0.f ? 1.f : (v != v ? nan : 0.f);
    out[i] = dy[i] * s;
  }
}

// relu(heap, xOffset, n, outOffset): out = max(0, x) as tfjs's cpu kernel (Math.max):
// NaN stays NaN, -0 gives +0.
Napi::Value Relu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 4) throw std::invalid_argument("relu(heap, xOffset, n, outOffset)");
    Heap heap = heapOf(info[0]);
    int64_t n = static_cast<int64_t>(offsetArg(info, 2));
    const float* x = heap.at(offsetArg(info, 1), n, "x");
    float* out = heap.at(offsetArg(info, 3), n, "out");
    parallelRanges(n, 1, [&](int64_t i0, int64_t i1) { reluRange(x, i0, i1, out); });
    return env.Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// out[i] = max(0, a[i] + b[i]) over [i0, i1): the sum rounded to float32, then the ReLU as
// reluRange (NaN kept, -0 to +0), so the bits of Add then Relu.
EDIY_ISA_CLONES void addReluRange(const float* a, const float* b, int64_t i0, int64_t i1,
                                  float* out) {
#pragma omp simd
  for (int64_t i = i0; i < i1; ++i) {
    float v = a[i] + b[i];
    out[i] = (v > 0.f || v != v) ? v : 0.f;
  }
}

// addRelu(heap, aOffset, bOffset, n, outOffset): out = max(0, a + b), a residual sum and
// the ReLU after it in one pass. May run in place (out == a or out == b).
Napi::Value AddRelu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 5) throw std::invalid_argument("addRelu(heap, aOffset, bOffset, n, outOffset)");
    Heap heap = heapOf(info[0]);
    int64_t n = static_cast<int64_t>(offsetArg(info, 3));
    const float* a = heap.at(offsetArg(info, 1), n, "a");
    const float* b = heap.at(offsetArg(info, 2), n, "b");
    float* out = heap.at(offsetArg(info, 4), n, "out");
    parallelRanges(n, 1, [&](int64_t i0, int64_t i1) { addReluRange(a, b, i0, i1, out); });
    return env.Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// reluGrad(heap, dyOffset, xOffset, n, outOffset): out = dy * step(x), step(x) = 1 for
// x > 0, NaN for NaN, else 0: tfjs's ReLU gradient (mul(dy, cast(step(x)))) in one pass.
Napi::Value ReluGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 5) throw std::invalid_argument("reluGrad(heap, dyOffset, xOffset, n, outOffset)");
    Heap heap = heapOf(info[0]);
    int64_t n = static_cast<int64_t>(offsetArg(info, 3));
    const float* dy = heap.at(offsetArg(info, 1), n, "dy");
    const float* x = heap.at(offsetArg(info, 2), n, "x");
    float* out = heap.at(offsetArg(info, 4), n, "out");
    parallelRanges(n, 1, [&](int64_t i0, int64_t i1) { reluGradRange(dy, x, i0, i1, out); });
    return env.Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// Reads an array of whole numbers.
std::vector<int64_t> dimsArg(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw std::invalid_argument(std::string(what) + " must be an array");
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out[i] = static_cast<int64_t>(num(a, i, what));
  return out;
}

int64_t product(const std::vector<int64_t>& v, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= v[i];
  return p;
}

// Element-wise binary ops with NumPy broadcasting, as tfjs's Add, Sub, Multiply, RealDiv,
// Maximum and Minimum on float32. The float result of one IEEE operation on two floats is
// what tfjs's cpu backend gets by computing in double and rounding to float32, so the
// results are the same bits; NaN propagates as in IEEE arithmetic (and as Math.max/min).
enum BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3, kMaximum = 4, kMinimum = 5 };

template <int Op>
inline float binaryApply(float a, float b) {
  if constexpr (Op == kAdd) return a + b;
  if constexpr (Op == kSub) return a - b;
  if constexpr (Op == kMul) return a * b;
  if constexpr (Op == kDiv) return a / b;
  if constexpr (Op == kMaximum) {
    // Math.max: NaN if either is NaN, +0 over -0.
    if (a != a || b != b) return std::numeric_limits<float>::quiet_NaN();
    if (a == b) return std::signbit(a) ? b : a;
    return a > b ? a : b;
  }
  if constexpr (Op == kMinimum) {
    if (a != a || b != b) return std::numeric_limits<float>::quiet_NaN();
    if (a == b) return std::signbit(a) ? a : b;
    return a < b ? a : b;
  }
  return 0.f;
}

// o[c] = a[c] op b[c] (ia, ib = 1) or with one side a scalar (its stride 0) over [c0, c1).
template <int Op>
EDIY_ISA_CLONES void binaryRow(const float* a, int64_t ia, const float* b, int64_t ib, int64_t c0,
                               int64_t c1, float* o) {
  if (ia == 1 && ib == 1) {
#pragma omp simd
    for (int64_t c = c0; c < c1; ++c) o[c] = binaryApply<Op>(a[c], b[c]);
  } else if (ia == 1) {
    const float s = b[0];
#pragma omp simd
    for (int64_t c = c0; c < c1; ++c) o[c] = binaryApply<Op>(a[c], s);
  } else {
    const float s = a[0];
#pragma omp simd
    for (int64_t c = c0; c < c1; ++c) o[c] = binaryApply<Op>(s, b[c]);
  }
}

// The output of a broadcast viewed as few dimensions as possible: adjacent dimensions
// merged while each input either spans both or is broadcast along both; sizes-1 dropped.
// strideA/strideB are element strides, 0 along a broadcast dimension.
struct BroadcastPlan {
  std::vector<int64_t> dims, strideA, strideB;
  int64_t total = 1;
};

BroadcastPlan broadcastPlan(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  const size_t r = std::max(a.size(), b.size());
  std::vector<int64_t> pa(r, 1), pb(r, 1);
  std::copy(a.begin(), a.end(), pa.begin() + static_cast<std::ptrdiff_t>(r - a.size()));
  std::copy(b.begin(), b.end(), pb.begin() + static_cast<std::ptrdiff_t>(r - b.size()));
  BroadcastPlan p;
  std::vector<bool> fullA, fullB;
  for (size_t d = 0; d < r; ++d) {
    if (pa[d] < 0 || pb[d] < 0) throw std::invalid_argument("binary: negative dimension");
    if (pa[d] != pb[d] && pa[d] != 1 && pb[d] != 1) {
      throw std::invalid_argument("binary: shapes do not broadcast (dimension " + std::to_string(d) +
                                  ": " + std::to_string(pa[d]) + " vs " + std::to_string(pb[d]) + ")");
    }
    const int64_t o = std::max(pa[d], pb[d]);
    if (o == 1) continue;
    const bool fa = pa[d] == o, fb = pb[d] == o;
    if (!p.dims.empty() && fullA.back() == fa && fullB.back() == fb) {
      p.dims.back() *= o;
    } else {
      p.dims.push_back(o);
      fullA.push_back(fa);
      fullB.push_back(fb);
    }
    p.total *= o;
  }
  const size_t m = p.dims.size();
  p.strideA.assign(m, 0);
  p.strideB.assign(m, 0);
  int64_t sa = 1, sb = 1;
  for (size_t k = m; k-- > 0;) {
    if (fullA[k]) {
      p.strideA[k] = sa;
      sa *= p.dims[k];
    }
    if (fullB[k]) {
      p.strideB[k] = sb;
      sb *= p.dims[k];
    }
  }
  return p;
}

// Runs out = a op b over the plan: the output in rows of its last dimension, cut into
// tiles of about kTile elements (whole rows grouped, or long rows split), tiles spread
// over the threads. Each element depends on its own inputs only.
template <int Op>
void binaryRun(const BroadcastPlan& p, const float* a, const float* b, float* out) {
  constexpr int64_t kTile = 1 << 14;
  const size_t m = p.dims.size();
  if (m == 0) {
    out[0] = binaryApply<Op>(a[0], b[0]);
    return;
  }
  const int64_t inner = p.dims[m - 1];
  const int64_t rows = p.total / inner;
  const int64_t ia = p.strideA[m - 1], ib = p.strideB[m - 1];
  const int64_t rowsPer = inner >= kTile ? 1 : kTile / inner;
  const int64_t colsPer = inner >= kTile ? kTile : inner;
  const int64_t colTiles = (inner + colsPer - 1) / colsPer;
  const int64_t rowTiles = (rows + rowsPer - 1) / rowsPer;
  const int64_t tiles = rowTiles * colTiles;
  auto tile = [&](int64_t t) {
    const int64_t rt = t / colTiles, ct = t % colTiles;
    const int64_t c0 = ct * colsPer, c1 = std::min(inner, c0 + colsPer);
    const int64_t q1 = std::min(rows, (rt + 1) * rowsPer);
    for (int64_t q = rt * rowsPer; q < q1; ++q) {
      int64_t rest = q, oa = 0, ob = 0;
      for (size_t d = m - 1; d-- > 0;) {
        const int64_t i = rest % p.dims[d];
        rest /= p.dims[d];
        oa += i * p.strideA[d];
        ob += i * p.strideB[d];
      }
      binaryRow<Op>(a + oa, ia, b + ob, ib, c0, c1, out + q * inner);
    }
  };
  if (p.total < kParallelMin) {
    for (int64_t t = 0; t < tiles; ++t) tile(t);
  } else if (workSharing) {
    parallelChunks(tiles, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) tile(t);
    });
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < tiles; ++t) tile(t);
  }
}

// binary(heap, op, aOffset, aShape, bOffset, bShape, outOffset): out = a op b (float32,
// NumPy broadcasting; out has the broadcast shape), op a BinaryOp code.
Napi::Value Binary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 7) {
      throw std::invalid_argument("binary(heap, op, aOffset, aShape, bOffset, bShape, outOffset)");
    }
    Heap heap = heapOf(info[0]);
    const int op = static_cast<int>(offsetArg(info, 1));
    auto as = dimsArg(info[3], "aShape");
    auto bs = dimsArg(info[5], "bShape");
    BroadcastPlan p = broadcastPlan(as, bs);
    const float* a = heap.at(offsetArg(info, 2), product(as, 0, as.size()), "a");
    const float* b = heap.at(offsetArg(info, 4), product(bs, 0, bs.size()), "b");
    float* out = heap.at(offsetArg(info, 6), p.total, "out");
    if (p.total == 0) return env.Undefined();
    switch (op) {
      case kAdd:
        binaryRun<kAdd>(p, a, b, out);
        break;
      case kSub:
        binaryRun<kSub>(p, a, b, out);
        break;
      case kMul:
        binaryRun<kMul>(p, a, b, out);
        break;
      case kDiv:
        binaryRun<kDiv>(p, a, b, out);
        break;
      case kMaximum:
        binaryRun<kMaximum>(p, a, b, out);
        break;
      case kMinimum:
        binaryRun<kMinimum>(p, a, b, out);
        break;
      default:
        throw std::invalid_argument("binary: unknown op code " + std::to_string(op));
    }
    return env.Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// unary(heap, op, xOffset, n, outOffset): out = op(x) over n floats, op 0 for Square
// (x * x) and 1 for Sqrt: one correctly rounded IEEE operation each, so the same bits as
// tfjs's cpu backend (double, then rounded to float32).
Napi::Value Unary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 5) throw std::invalid_argument("unary(heap, op, xOffset, n, outOffset)");
    Heap heap = heapOf(info[0]);
    const int op = static_cast<int>(offsetArg(info, 1));
    const int64_t n = static_cast<int64_t>(offsetArg(info, 3));
    const float* x = heap.at(offsetArg(info, 2), n, "x");
    float* out = heap.at(offsetArg(info, 4), n, "out");
    if (op == 0) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) out[i] = x[i] * x[i];
    } else if (op == 1) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) out[i] = std::sqrt(x[i]);
    } else {
      throw std::invalid_argument("unary: unknown op code " + std::to_string(op));
    }
    return env.Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// reduceSum(heap, xOffset, outer, reduced, inner, outOffset, divisor):
// out[o, i] = (sum over r of x[o, r, i]) / divisor, x viewed as [outer, reduced, inner],
// accumulated in double in the order of r, as tfjs's cpu backend does (the reduced axes
// moved innermost and summed in order), so a Sum is the cpu backend's value. Tiles of
// (o, a run of columns) are spread over the threads; a whole-row reduction (inner 1) with
// fewer rows than threads cuts each row into kSumBlocks fixed blocks, summed in block
// order (within rounding of the cpu backend's sum). Either way the same bits for any
// thread count.
Napi::Value ReduceSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 7) {
      throw std::invalid_argument("reduceSum(heap, xOffset, outer, reduced, inner, outOffset, divisor)");
    }
    Heap heap = heapOf(info[0]);
    const int64_t outer = static_cast<int64_t>(offsetArg(info, 2));
    const int64_t red = static_cast<int64_t>(offsetArg(info, 3));
    const int64_t inner = static_cast<int64_t>(offsetArg(info, 4));
    const double divisor = offsetArg(info, 6);
    if (outer < 1 || red < 1 || inner < 1) throw std::invalid_argument("reduceSum: outer, reduced and inner must be >= 1");
    const float* x = heap.at(offsetArg(info, 1), outer * red * inner, "x");
    float* out = heap.at(offsetArg(info, 5), outer * inner, "out");
    const int64_t total = outer * red * inner;
    // Fewer long rows than a two-core split would use well: blocks within each row. The
    // choice depends on the shape only, never on the thread count.
    if (inner == 1 && outer < 8 && red >= kParallelMin) {
      for (int64_t o = 0; o < outer; ++o) {
        const float* row = x + o * red;
        double partial[kSumBlocks];
#pragma omp parallel for schedule(static)
        for (int64_t blk = 0; blk < kSumBlocks; ++blk) {
          const int64_t r0 = red * blk / kSumBlocks, r1 = red * (blk + 1) / kSumBlocks;
          double s = 0;
          for (int64_t r = r0; r < r1; ++r) s += row[r];
          partial[blk] = s;
        }
        double s = 0;
        for (int64_t blk = 0; blk < kSumBlocks; ++blk) s += partial[blk];
        out[o] = static_cast<float>(s / divisor);
      }
      return env.Undefined();
    }
    if (inner == 1) {
      parallelFor(outer, total >= kParallelMin, [&](int64_t o) {
        const float* row = x + o * red;
        double s = 0;
        for (int64_t r = 0; r < red; ++r) s += row[r];
        out[o] = static_cast<float>(s / divisor);
      });
      return env.Undefined();
    }
    constexpr int64_t kCols = 256;
    const int64_t colTiles = (inner + kCols - 1) / kCols;
    parallelFor(outer * colTiles, total >= kParallelMin, [&](int64_t t) {
      const int64_t o = t / colTiles;
      const int64_t c0 = (t % colTiles) * kCols, c1 = std::min(inner, c0 + kCols);
      double acc[kCols];
      for (int64_t c = 0; c < c1 - c0; ++c) acc[c] = 0;
      const float* base = x + o * red * inner + c0;
      for (int64_t r = 0; r < red; ++r) {
        const float* row = base + r * inner;
#pragma omp simd
        for (int64_t c = 0; c < c1 - c0; ++c) acc[c] += row[c];
      }
      float* dst = out + o * inner + c0;
      for (int64_t c = 0; c < c1 - c0; ++c) dst[c] = static_cast<float>(acc[c] / divisor);
    });
    return env.Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// ---------------------------------------------------------------------------------------
// The optimiser's and the EMA's updates of many variables in one call each, instead of
// 10-20 tfjs kernel calls per variable. Each gives the bits of @ediy/optim's composition
// of tfjs ops on this engine: the same IEEE float operations in the same order (every
// product and sum rounded to float32, as the element-wise kernels above do), and the norms'
// sums of squares summed in double as reduceSum sums a whole tensor (in order below
// kParallelMin values, over kSumBlocks fixed blocks from there on), so the results do not
// depend on the thread count either.

// Reads a Float64Array argument; throws naming it otherwise.
const double* doublesArg(const Napi::Value& v, size_t count, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw std::invalid_argument(std::string(what) + " must be a Float64Array");
  }
  auto a = v.As<Napi::Float64Array>();
  if (a.ElementLength() != count) {
    throw std::invalid_argument(std::string(what) + " must hold " + std::to_string(count) +
                                " numbers, got " + std::to_string(a.ElementLength()));
  }
  return a.Data();
}

// K sums in double of the values term(i, acc) adds to acc[0..K) for i in [0, n): each in
// the order reduceSum sums a whole tensor of n values (see there), K at a time so the
// inputs are read once.
template <int K, class Term>
void wholeSums(int64_t n, Term term, double* sums) {
  for (int k = 0; k < K; ++k) sums[k] = 0;
  if (n >= kParallelMin) {
    double partial[kSumBlocks][K];
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < kSumBlocks; ++blk) {
      const int64_t r0 = n * blk / kSumBlocks, r1 = n * (blk + 1) / kSumBlocks;
      double acc[K];
      for (int k = 0; k < K; ++k) acc[k] = 0;
      for (int64_t r = r0; r < r1; ++r) term(r, acc);
      for (int k = 0; k < K; ++k) partial[blk][k] = acc[k];
    }
    for (int64_t blk = 0; blk < kSumBlocks; ++blk) {
      for (int k = 0; k < K; ++k) sums[k] += partial[blk][k];
    }
    return;
  }
  for (int64_t r = 0; r < n; ++r) term(r, sums);
}

// larsUpdate(heap, table, hyper): one LARS step (@ediy/optim's larsStep) of each of
// count = table.length / 7 variables. table holds, per variable, [n, excluded, wOffset,
// gOffset, vOffset, wOutOffset, vOutOffset] (n float32 values each); hyper is
// [learningRate, momentum, weightDecay, eta, clip] as larsStep takes them. With
// u = g + wd * w, for a variable not excluded
//   r  = eta' * ||w|| / ||u||, eta' = eta / lr when clipping with lr > 0 (then r =
//        min(r, 1)), eta otherwise; r = 1 unless both norms are > 0
//   v' = m * v + r * u,  w' = w - lr * v'
// and for an excluded one v' = m * v + g, w' = w - lr * v'.
Napi::Value LarsUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 3 || !info[1].IsTypedArray()) {
      throw std::invalid_argument("larsUpdate(heap, table, hyper)");
    }
    Heap heap = heapOf(info[0]);
    const size_t cells = info[1].As<Napi::TypedArray>().ElementLength();
    if (cells % 7 != 0) throw std::invalid_argument("larsUpdate: table must hold 7 numbers per variable");
    const double* table = doublesArg(info[1], cells, "larsUpdate table");
    const double* hyper = doublesArg(info[2], 5, "larsUpdate hyper");
    const double lrD = hyper[0], etaD = hyper[3];
    const bool clip = hyper[4] != 0 && lrD > 0;
    // tf.scalar(x) rounds each to float32.
    const float lr = static_cast<float>(lrD), m = static_cast<float>(hyper[1]);
    const float wd = static_cast<float>(hyper[2]);
    const float eta = static_cast<float>(clip ? etaD / lrD : etaD);
    struct Var {
      int64_t n;
      bool excluded;
      const float *w, *g, *v;
      float *wOut, *vOut;
    };
    std::vector<Var> vars(cells / 7);
    for (size_t i = 0; i < vars.size(); ++i) {
      const double* t = table + 7 * i;
      if (!(t[0] >= 1) || t[0] != std::floor(t[0])) throw std::invalid_argument("larsUpdate: each variable needs n >= 1 values");
      const int64_t n = static_cast<int64_t>(t[0]);
      vars[i] = Var{n,          t[1] != 0,  heap.at(t[2], n, "w"),   heap.at(t[3], n, "g"),
                    heap.at(t[4], n, "v"), heap.at(t[5], n, "wOut"), heap.at(t[6], n, "vOut")};
    }
    for (const Var& x : vars) {
      const int64_t n = x.n;
      const float *w = x.w, *g = x.g, *v = x.v;
      float *wOut = x.wOut, *vOut = x.vOut;
      if (x.excluded) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
        for (int64_t i = 0; i < n; ++i) {
          const float mv = m * v[i];
          const float vn = mv + g[i];
          const float step = lr * vn;
          vOut[i] = vn;
          wOut[i] = w[i] - step;
        }
        continue;
      }
      double sums[2];
      wholeSums<2>(
          n,
          [&](int64_t i, double* acc) {
            const float wi = w[i];
            const float ww = wi * wi;
            const float decay = wd * wi;
            const float u = g[i] + decay;
            const float uu = u * u;
            acc[0] += ww;
            acc[1] += uu;
          },
          sums);
      const float wNorm = std::sqrt(static_cast<float>(sums[0]));
      const float uNorm = std::sqrt(static_cast<float>(sums[1]));
      const float scaled = eta * wNorm;
      float ratio = scaled / uNorm;
      if (clip) ratio = binaryApply<kMinimum>(ratio, 1.f);
      const float r = wNorm > 0.f && uNorm > 0.f ? ratio : 1.f;
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) {
        const float wi = w[i];
        const float decay = wd * wi;
        const float u = g[i] + decay;
        const float ru = r * u;
        const float mv = m * v[i];
        const float vn = mv + ru;
        const float step = lr * vn;
        vOut[i] = vn;
        wOut[i] = wi - step;
      }
    }
    return env.Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// emaUpdate(heap, table, keep, take): out = keep * target + take * online (each product
// rounded to float32, then the sum) for each of table.length / 4 pairs, table holding
// [n, targetOffset, onlineOffset, outOffset] per pair; keep and take are rounded to
// float32 (tf.scalar(tau), tf.scalar(1 - tau)).
Napi::Value EmaUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 4 || !info[1].IsTypedArray()) {
      throw std::invalid_argument("emaUpdate(heap, table, keep, take)");
    }
    Heap heap = heapOf(info[0]);
    const size_t cells = info[1].As<Napi::TypedArray>().ElementLength();
    if (cells % 4 != 0) throw std::invalid_argument("emaUpdate: table must hold 4 numbers per pair");
    const double* table = doublesArg(info[1], cells, "emaUpdate table");
    const float keep = static_cast<float>(offsetArg(info, 2));
    const float take = static_cast<float>(offsetArg(info, 3));
    struct Pair {
      int64_t n;
      const float *t, *o;
      float* out;
    };
    std::vector<Pair> pairs(cells / 4);
    for (size_t i = 0; i < pairs.size(); ++i) {
      const double* e = table + 4 * i;
      if (!(e[0] >= 1) || e[0] != std::floor(e[0])) throw std::invalid_argument("emaUpdate: each pair needs n >= 1 values");
      const int64_t n = static_cast<int64_t>(e[0]);
      pairs[i] = Pair{n, heap.at(e[1], n, "target"), heap.at(e[2], n, "online"), heap.at(e[3], n, "out")};
    }
    for (const Pair& p : pairs) {
      const int64_t n = p.n;
      const float *t = p.t, *o = p.o;
      float* out = p.out;
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) {
        const float a = keep * t[i];
        const float b = take * o[i];
        out[i] = a + b;
      }
    }
    return env.Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// slice(heap, xOffset, shape, begin, size, outOffset): out = x[begin : begin + size] for
// float32 x of any rank >= 1, copied in rows of the last dimension.
Napi::Value Slice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 6) throw std::invalid_argument("slice(heap, xOffset, shape, begin, size, outOffset)");
    Heap heap = heapOf(info[0]);
    auto shape = dimsArg(info[2], "shape");
    auto begin = dimsArg(info[3], "begin");
    auto size = dimsArg(info[4], "size");
    const size_t r = shape.size();
    if (r < 1 || begin.size() != r || size.size() != r) throw std::invalid_argument("slice: shape, begin and size must have the same rank >= 1");
    for (size_t d = 0; d < r; ++d) {
      if (begin[d] < 0 || size[d] < 0 || begin[d] + size[d] > shape[d]) throw std::out_of_range("slice: the window does not fit in x");
    }
    const float* x = heap.at(offsetArg(info, 1), product(shape, 0, r), "x");
    float* out = heap.at(offsetArg(info, 5), product(size, 0, r), "out");
    const int64_t inner = size[r - 1];
    const int64_t rows = product(size, 0, r - 1);
    std::vector<int64_t> stride(r, 1);
    for (size_t d = r - 1; d-- > 0;) stride[d] = stride[d + 1] * shape[d + 1];
    const size_t bytes = static_cast<size_t>(inner) * sizeof(float);
    parallelFor(rows, rows * inner >= kParallelMin, [&](int64_t q) {
      int64_t rest = q, src = begin[r - 1];
      for (size_t d = r - 1; d-- > 0;) {
        src += (begin[d] + rest % size[d]) * stride[d];
        rest /= size[d];
      }
      std::memcpy(out + q * inner, x + src, bytes);
    });
    return env.Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// pad(heap, xOffset, shape, before, after, value, outOffset): x (float32, rank >= 1) with
// before[d] / after[d] values `value` added on each side of dimension d.
Napi::Value Pad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 7) throw std::invalid_argument("pad(heap, xOffset, shape, before, after, value, outOffset)");
    Heap heap = heapOf(info[0]);
    auto shape = dimsArg(info[2], "shape");
    auto before = dimsArg(info[3], "before");
    auto after = dimsArg(info[4], "after");
    const float value = static_cast<float>(offsetArg(info, 5));
    const size_t r = shape.size();
    if (r < 1 || before.size() != r || after.size() != r) throw std::invalid_argument("pad: shape, before and after must have the same rank >= 1");
    std::vector<int64_t> oshape(r);
    for (size_t d = 0; d < r; ++d) {
      if (before[d] < 0 || after[d] < 0) throw std::invalid_argument("pad: paddings must be >= 0");
      oshape[d] = shape[d] + before[d] + after[d];
    }
    const float* x = heap.at(offsetArg(info, 1), product(shape, 0, r), "x");
    float* out = heap.at(offsetArg(info, 6), product(oshape, 0, r), "out");
    const int64_t inner = oshape[r - 1], xin = shape[r - 1];
    const int64_t lo = before[r - 1], hi = lo + xin;
    const int64_t rows = product(oshape, 0, r - 1);
    std::vector<int64_t> stride(r, 1);
    for (size_t d = r - 1; d-- > 0;) stride[d] = stride[d + 1] * shape[d + 1];
    parallelFor(rows, rows * inner >= kParallelMin, [&](int64_t q) {
      float* o = out + q * inner;
      int64_t rest = q, src = 0;
      bool inside = true;
      for (size_t d = r - 1; d-- > 0;) {
        int64_t i = rest % oshape[d] - before[d];
        rest /= oshape[d];
        if (i < 0 || i >= shape[d]) inside = false;
        src += i * stride[d];
      }
      if (!inside) {
        for (int64_t c = 0; c < inner; ++c) o[c] = value;
        return;
      }
      for (int64_t c = 0; c < lo; ++c) o[c] = value;
      std::memcpy(o + lo, x + src, static_cast<size_t>(xin) * sizeof(float));
      for (int64_t c = hi; c < inner; ++c) o[c] = value;
    });
    return env.Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// adjustHue(heap, xOffset, images, pixels, shiftOffset, outOffset): @ediy/augment's hue
// rotation (adjustHue: torchvision's RGB -> HSV, hue + shift mod 1, HSV -> RGB) of
// `images` [images, pixels, 3] float32 RGB maps, one shift per image, in one pass. Each
// pixel goes through the float32 operations of that function's composition of tfjs ops,
// one rounding each, in its order (v = max, c = v - min, s = c / max(v, tiny), the sextant
// numerator, h = frac(h6 / 6 + 1), frac(h + shift), then per channel n = 5, 3, 1:
// k = (6h + n) - floor((6h + n) / 6) * 6, out = v - v s clamp(min(k, 4 - k), 0, 1)), so the
// results are that composition's bits on every backend, for any thread count (each output
// depends on its own pixel only).
Napi::Value AdjustHue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() != 6) throw std::invalid_argument("adjustHue(heap, xOffset, images, pixels, shiftOffset, outOffset)");
    Heap heap = heapOf(info[0]);
    const int64_t images = static_cast<int64_t>(offsetArg(info, 2));
    const int64_t pixels = static_cast<int64_t>(offsetArg(info, 3));
    if (images < 1 || pixels < 1) throw std::invalid_argument("adjustHue: images and pixels must be >= 1");
    const float* x = heap.at(offsetArg(info, 1), images * pixels * 3, "images");
    const float* shift = heap.at(offsetArg(info, 4), images, "shifts");
    float* out = heap.at(offsetArg(info, 5), images * pixels * 3, "out");
    const float tiny = static_cast<float>(1e-12);
    const float sixth = static_cast<float>(1.0 / 6.0);
    const int64_t total = images * pixels;
    parallelFor(total, total * 3 >= kParallelMin, [&](int64_t q) {
      const float* p = x + q * 3;
      const float r = p[0], g = p[1], b = p[2];
      const float v = std::max(std::max(r, g), b);
      const float mn = std::min(std::min(r, g), b);
      const float cr = v - mn;
      const float s = cr / std::max(v, tiny);
      float num;
      if (v == r) {
        num = g - b;
      } else if (v == g) {
        const float d = b - r, c2 = cr * 2.f;
        num = d + c2;
      } else {
        const float d = r - g, c4 = cr * 4.f;
        num = d + c4;
      }
      const float h6 = num / std::max(cr, tiny);
      const float t = h6 * sixth;
      const float t1 = t + 1.f;
      const float h = t1 - std::floor(t1);
      const float hs = h + shift[q / pixels];
      const float h2 = hs - std::floor(hs);
      const float hh = h2 * 6.f;
      const float vs = v * s;
      float* o = out + q * 3;
      const float ns[3] = {5.f, 3.f, 1.f};
      for (int c = 0; c < 3; ++c) {
        const float k0 = hh + ns[c];
        const float a = k0 * sixth;
        const float m = std::floor(a) * 6.f;
        const float k = k0 - m;
        const float w = std::min(k, 4.f - k);
        const float cl = std::min(std::max(w, 0.f), 1.f);
        const float vc = vs * cl;
        o[c] = v - vc;
      }
    });
    return env.Undefined();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// ---------------------------------------------------------------------------------------

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(env, "setThreads(n) takes a thread count");
  }
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw Napi::RangeError::New(env, "setThreads: the thread count must be >= 1");
  omp_set_num_threads(n);
  return env.Undefined();
}

// setConvLayout("nhwc" | "blocked"): see blockedLayout.
Napi::Value SetConvLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string v = info.Length() == 1 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (v != "nhwc" && v != "blocked") {
    throw Napi::TypeError::New(env, "setConvLayout takes 'nhwc' or 'blocked', got " + v);
  }
  blockedLayout = v == "blocked";
  return env.Undefined();
}

// setWorkSharing(on): see workSharing.
Napi::Value SetWorkSharing(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsBoolean()) {
    throw Napi::TypeError::New(env, "setWorkSharing takes a boolean");
  }
  workSharing = info[0].As<Napi::Boolean>().Value();
  return env.Undefined();
}

const char* isaName(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto v = dnnl::version();
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                       std::to_string(v->patch));
  o.Set("isa", isaName(dnnl::get_effective_cpu_isa()));
  o.Set("threads", omp_get_max_threads());
  o.Set("convLayout", blockedLayout ? "blocked" : "nhwc");
  o.Set("workSharing", workSharing);
  o.Set("cachedPlans", static_cast<double>(convPlans.size() + matmulPlans.size()));
  o.Set("planHits", static_cast<double>(convPlanHits));
  return o;
}

// Asynchronous signals are blocked on the calling thread for the whole of every call.
// oneDNN 2.6's JIT gemm kernels (the gemm:jit matmul, e.g. [16,1024] x [1024,256]) do not
// survive a signal handler running on their thread's stack: under `node --cpu-prof` V8's
// sampler sends SIGPROF to the main thread every millisecond (or 25 us), and the kernel
// then writes through clobbered state into the C heap (the process aborts with
// "malloc(): unaligned tcache chunk detected" or "corrupted size vs. prev_size"). The same
// matmul loop in plain C++ against libdnnl aborts the same way when a thread sends it
// SIGPROF, with one OpenMP thread or two, and runs clean when the handler runs on an
// alternate signal stack or the signal is blocked around the call; AddressSanitizer sees
// no bad access in this file. A signal that arrives meanwhile is delivered when the call
// returns (a profiler then takes one sample for a whole kernel); OpenMP's threads, created
// inside a call, inherit the mask. Synchronous signals stay unblocked (V8 handles wasm's
// out-of-bounds accesses with SIGSEGV).
class AsyncSignalsBlocked {
 public:
  AsyncSignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) sigdelset(&all, sig);
    pthread_sigmask(SIG_BLOCK, &all, &saved_);
  }
  ~AsyncSignalsBlocked() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  AsyncSignalsBlocked(const AsyncSignalsBlocked&) = delete;
  AsyncSignalsBlocked& operator=(const AsyncSignalsBlocked&) = delete;

 private:
  sigset_t saved_;
};

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value Blocked(const Napi::CallbackInfo& info) {
  AsyncSignalsBlocked blocked;
  return F(info);
}

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
void expose(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, Blocked<F>, name));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  expose<Conv>(env, exports, "conv");
  expose<MatMul>(env, exports, "matmul");
  expose<ColumnSums>(env, exports, "columnSums");
  expose<ChannelAffine>(env, exports, "channelAffine");
  expose<ChannelMoments>(env, exports, "channelMoments");
  expose<BatchNormForward>(env, exports, "batchNormForward");
  expose<Binary>(env, exports, "binary");
  expose<Unary>(env, exports, "unary");
  expose<ReduceSum>(env, exports, "reduceSum");
  expose<Relu>(env, exports, "relu");
  expose<AddRelu>(env, exports, "addRelu");
  expose<ReluGrad>(env, exports, "reluGrad");
  expose<Slice>(env, exports, "slice");
  expose<Pad>(env, exports, "pad");
  expose<AdjustHue>(env, exports, "adjustHue");
  expose<BatchNormGrad>(env, exports, "batchNormGrad");
  expose<LarsUpdate>(env, exports, "larsUpdate");
  expose<EmaUpdate>(env, exports, "emaUpdate");
  expose<SetThreads>(env, exports, "setThreads");
  expose<SetConvLayout>(env, exports, "setConvLayout");
  expose<SetWorkSharing>(env, exports, "setWorkSharing");
  expose<Info>(env, exports, "info");
  return exports;
}

}  // namespace

NODE_API_MODULE(ediy_dnnl, Init)
