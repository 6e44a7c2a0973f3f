// bench.cc — Google Benchmark harness: kiln's generated GEMM layers (tiny
// models of one Gemm/MatMul node, compiled by kiln at build time for
// x86-64-v3, x86-64-v4, x86-64 and generic) against OpenBLAS and BLIS on the
// same shapes, kiln's convolutions against oneDNN and XNNPACK (conv_libs.cc),
// plus the machine probes (FMA peak, L2 read bandwidth). Single-threaded.
// OpenBLAS and BLIS both export cblas_*, so each is dlopen'ed with its
// symbols kept local and called through its own function pointers.
// bench/run.sh runs this with interleaved repetitions and writes RESULTS.md.
#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "conv1x1_64.h"
#include "conv1x1_64_generic.h"
#include "conv1x1_64_sse2.h"
#include "conv1x1_64_v4.h"
#include "conv3x3_64.h"
#include "conv3x3_64_generic.h"
#include "conv3x3_64_sse2.h"
#include "conv3x3_64_v4.h"
#include "dwconv3x3_64.h"
#include "dwconv3x3_64_generic.h"
#include "dwconv3x3_64_sse2.h"
#include "dwconv3x3_64_v4.h"
#include "fc_relu_b1.h"
#include "fc_relu_b1_generic.h"
#include "fc_relu_b1_sse2.h"
#include "fc_relu_b1_v4.h"
#include "gemm_256.h"
#include "gemm_256_generic.h"
#include "gemm_256_sse2.h"
#include "gemm_256_v4.h"
#include "gemm_mlp64.h"
#include "gemm_mlp64_generic.h"
#include "gemm_mlp64_sse2.h"
#include "gemm_mlp64_v4.h"
#include "lenet_conv1.h"
#include "lenet_conv1_generic.h"
#include "lenet_conv1_sse2.h"
#include "lenet_conv1_v4.h"
#include "lenet_conv2.h"
#include "lenet_conv2_generic.h"
#include "lenet_conv2_sse2.h"
#include "lenet_conv2_v4.h"
}
#include "conv_libs.h"
#include "probes.h"

namespace {

// ---- BLAS libraries through dlopen ----
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
using SgemmFn = void (*)(int, int, int, int, int, int, float, const float *, int, const float *,
                         int, float, float *, int);
using SgemvFn = void (*)(int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);

struct Blas {
    const char *name = nullptr;
    SgemmFn sgemm = nullptr;
    SgemvFn sgemv = nullptr;
    std::string info;
};

Blas load_blas(const char *name, const char *so, const char *threads_fn)
{
    Blas b;
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!h) {
        std::fprintf(stderr, "bench: %s not available (%s)\n", name, dlerror());
        return b;
    }
    b.name = name;
    b.sgemm = reinterpret_cast<SgemmFn>(dlsym(h, "cblas_sgemm"));
    b.sgemv = reinterpret_cast<SgemvFn>(dlsym(h, "cblas_sgemv"));
    if (auto set_threads = reinterpret_cast<void (*)(int)>(dlsym(h, threads_fn)))
        set_threads(1);
    if (auto core = reinterpret_cast<const char *(*)()>(dlsym(h, "openblas_get_corename")))
        b.info = std::string("core ") + core();
    if (auto ver = reinterpret_cast<const char *(*)()>(dlsym(h, "bli_info_get_version_str")))
        b.info = std::string("version ") + ver();
    if (auto arch = reinterpret_cast<int (*)()>(dlsym(h, "bli_arch_query_id")))
        if (auto arch_s = reinterpret_cast<const char *(*)(int)>(dlsym(h, "bli_arch_string")))
            b.info += std::string(", arch ") + arch_s(arch());
    if (!b.sgemm || !b.sgemv)
        b.name = nullptr;
    return b;
}

std::vector<float> random_floats(size_t n, unsigned seed)
{
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto &x : v)
        x = u(rng);
    return v;
}

void *workspace(size_t bytes)
{
    return std::aligned_alloc(64, (bytes + 63) / 64 * 64);
}

void set_flops(benchmark::State &st, double flops)
{
    st.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// ---- probes ----
void BM_peak_fma(benchmark::State &st)
{
    const long iters = 100000;
    float keep = 0;
    for (auto _ : st)
        keep += probe_fma(iters, 1.0f + keep * 0.0f);
    benchmark::DoNotOptimize(keep);
    set_flops(st, 160.0 * iters);
}

void BM_peak_fma512(benchmark::State &st)
{
    const long iters = 100000;
    float keep = 0;
    for (auto _ : st)
        keep += probe_fma512(iters, 1.0f + keep * 0.0f);
    benchmark::DoNotOptimize(keep);
    set_flops(st, 320.0 * iters);
}

void BM_l2_read(benchmark::State &st)
{
    const long n = 256 * 1024 / 4; // 256 KiB: half of L2
    std::vector<float> buf = random_floats(n, 7);
    float keep = 0;
    for (auto _ : st)
        keep += probe_read(buf.data(), n);
    benchmark::DoNotOptimize(keep);
    st.counters["GBps"] = benchmark::Counter(n * 4.0 * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// ---- GEMM: y[M,N] = x[M,K] * W (W [K,N], or [N,K] transposed) ----
using RunFn = int (*)(void *, const float *, float *);

struct Shape {
    int M, N, K;
    bool trans_w; // W stored [N,K] (a Linear layer's weight)
};

// One kiln model y = f(x); s gives the FLOPs (2*M*N*K) and, for a GEMM,
// the sizes of x [M,K] and y [M,N] unless x_elems / y_elems are given.
void BM_kiln(benchmark::State &st, Shape s, RunFn init_run, size_t ws_bytes, int (*init)(void *),
             size_t x_elems, size_t y_elems)
{
    void *ws = workspace(ws_bytes);
    std::vector<float> x = random_floats(x_elems ? x_elems : size_t(s.M) * s.K, 1);
    std::vector<float> y(y_elems ? y_elems : size_t(s.M) * s.N);
    if (init(ws) != KILN_OK) {
        st.SkipWithError("P_init failed (this CPU lacks the target's instructions?)");
        std::free(ws);
        return;
    }
    for (auto _ : st) {
        init_run(ws, x.data(), y.data());
        benchmark::ClobberMemory();
    }
    std::free(ws);
    set_flops(st, 2.0 * s.M * s.N * s.K);
}

void BM_blas_gemm(benchmark::State &st, Shape s, const Blas *b)
{
    std::vector<float> x = random_floats(size_t(s.M) * s.K, 1), w = random_floats(size_t(s.K) * s.N, 2);
    std::vector<float> y(size_t(s.M) * s.N);
    for (auto _ : st) {
        b->sgemm(RowMajor, NoTrans, s.trans_w ? Trans : NoTrans, s.M, s.N, s.K, 1.0f, x.data(), s.K,
                 w.data(), s.trans_w ? s.K : s.N, 0.0f, y.data(), s.N);
        benchmark::ClobberMemory();
    }
    set_flops(st, 2.0 * s.M * s.N * s.K);
}

// Batch-1 Linear + ReLU: y = relu(W x + b) with W [N,K], through sgemv (the
// faster BLAS path for one row) and the bias and ReLU in one pass after it.
void BM_blas_fc_relu(benchmark::State &st, Shape s, const Blas *b)
{
    std::vector<float> x = random_floats(s.K, 1), w = random_floats(size_t(s.K) * s.N, 2);
    std::vector<float> bias = random_floats(s.N, 3), y(s.N);
    for (auto _ : st) {
        b->sgemv(RowMajor, NoTrans, s.N, s.K, 1.0f, w.data(), s.K, x.data(), 1, 0.0f, y.data(), 1);
        for (int j = 0; j < s.N; j++) {
            float v = y[j] + bias[j];
            y[j] = v > 0 ? v : 0;
        }
        benchmark::ClobberMemory();
    }
    set_flops(st, 2.0 * s.N * s.K);
}

// One layer compiled for each target: kiln (x86-64-v3), kiln_v4 (x86-64-v4,
// AVX-512F), kiln_sse2 (x86-64) and kiln_generic, in that order.
struct KilnModel {
    RunFn run;
    size_t ws;
    int (*init)(void *);
};
#define KILN_MODEL(P) KilnModel{P##_run, P##_WORKSPACE_SIZE, P##_init}
#define KILN_TARGETS(P) {KILN_MODEL(P), KILN_MODEL(P##_v4), KILN_MODEL(P##_sse2), KILN_MODEL(P##_generic)}
const char *const kiln_impls[] = {"kiln", "kiln_v4", "kiln_sse2", "kiln_generic"};

// Registers layer/IMPL for each target's model; x_elems / y_elems as BM_kiln.
void register_kiln(const std::string &layer, Shape s, const KilnModel (&m)[4], size_t x_elems,
                   size_t y_elems)
{
    for (int i = 0; i < 4; i++)
        benchmark::RegisterBenchmark((layer + "/" + kiln_impls[i]).c_str(), BM_kiln, s, m[i].run,
                                     m[i].ws, m[i].init, x_elems, y_elems);
}

// A library's convolution (conv_libs.cc): set up once (weights packed into
// its preferred layout, as kiln's are at compile time), then only run.
void BM_conv_lib(benchmark::State &st, ConvShape c, ConvLib lib)
{
    std::string why;
    ConvOp *op = conv_lib_create(lib, c, &why);
    if (!op) {
        st.SkipWithError(why.c_str());
        return;
    }
    for (auto _ : st) {
        conv_lib_run(op);
        benchmark::ClobberMemory();
    }
    if (!conv_lib_impl(op).empty())
        st.SetLabel(conv_lib_impl(op));
    conv_lib_destroy(op);
    set_flops(st, conv_flops(c));
}

// The convolutions kiln is compared on, kiln (NCHW) and each library.
void register_convs()
{
    struct {
        const char *name;
        ConvShape c;
        KilnModel m[4];
    } convs[] = {
        {"conv3x3_64x56x56_b1", {1, 64, 56, 56, 64, 3, 1}, KILN_TARGETS(conv3x3_64)},
        {"lenet_conv1_b64", {64, 1, 28, 28, 6, 5, 2}, KILN_TARGETS(lenet_conv1)},
        {"lenet_conv2_b64", {64, 6, 14, 14, 16, 5, 0}, KILN_TARGETS(lenet_conv2)},
    };
    for (auto &v : convs) {
        std::string n = v.name;
        const ConvShape &c = v.c;
        // as a GEMM: M = output channels, N = batch * output pixels, K = C*k*k
        const int oh = c.h + 2 * c.pad - c.k + 1, ow = c.w + 2 * c.pad - c.k + 1;
        const Shape g = {c.m, c.n * oh * ow, c.c * c.k * c.k, false};
        if (n != "conv3x3_64x56x56_b1") // registered with the GEMMs above
            register_kiln(n, g, v.m, size_t(c.n) * c.c * c.h * c.w, size_t(c.n) * c.m * oh * ow);
        for (ConvLib lib : {CONV_ONEDNN, CONV_XNNPACK})
            if (conv_lib_available(lib))
                benchmark::RegisterBenchmark((n + "/" + conv_lib_name(lib)).c_str(), BM_conv_lib,
                                             c, lib);
    }
}

Blas openblas, blis;

void register_all()
{
    benchmark::RegisterBenchmark("probe/fma_peak", BM_peak_fma);
    if (probe_has_avx512())
        benchmark::RegisterBenchmark("probe/fma_peak_avx512", BM_peak_fma512);
    benchmark::RegisterBenchmark("probe/l2_read", BM_l2_read);
    const Shape g256 = {256, 256, 256, false}, mlp64 = {64, 128, 784, true}, fc1 = {1, 128, 784, true};
    struct {
        const char *name;
        Shape s;
        KilnModel m[4];
    } gemms[] = {
        {"gemm_256x256x256", g256, KILN_TARGETS(gemm_256)},
        {"gemm_64x128x784", mlp64, KILN_TARGETS(gemm_mlp64)},
    };
    for (auto &g : gemms) {
        std::string n = g.name;
        register_kiln(n, g.s, g.m, 0, 0);
        for (const Blas *b : {&openblas, &blis})
            if (b->name)
                benchmark::RegisterBenchmark((n + "/" + b->name).c_str(), BM_blas_gemm, g.s, b);
    }
    const KilnModel fc[4] = KILN_TARGETS(fc_relu_b1);
    register_kiln("fc_relu_784x128_b1", fc1, fc, 0, 0);
    for (const Blas *b : {&openblas, &blis})
        if (b->name)
            benchmark::RegisterBenchmark((std::string("fc_relu_784x128_b1/") + b->name).c_str(),
                                         BM_blas_fc_relu, fc1, b);
    // 3x3 conv, 64 -> 64 channels, 56x56, batch 1: as a GEMM M = 64 output
    // channels, N = 56*56 pixels, K = 64*3*3
    const Shape conv = {64, 56 * 56, 64 * 9, false};
    const KilnModel cv[4] = KILN_TARGETS(conv3x3_64);
    register_kiln("conv3x3_64x56x56_b1", conv, cv, 64 * 56 * 56, 64 * 56 * 56);
    // the conv specialisations on the same image: 1x1 (a plain GEMM, K = 64)
    // and depthwise 3x3 (FLOPs counted as 9 multiply-adds per output)
    const Shape pw = {64, 56 * 56, 64, false}, dw = {64, 56 * 56, 9, false};
    const KilnModel pwm[4] = KILN_TARGETS(conv1x1_64), dwm[4] = KILN_TARGETS(dwconv3x3_64);
    register_kiln("conv1x1_64x56x56_b1", pw, pwm, 64 * 56 * 56, 64 * 56 * 56);
    register_kiln("dwconv3x3_64x56x56_b1", dw, dwm, 64 * 56 * 56, 64 * 56 * 56);
    register_convs();
}

} // namespace

int main(int argc, char **argv)
{
    if (!probe_available()) {
        std::fprintf(stderr, "bench: this CPU lacks AVX2+FMA; the x86-64-v3 numbers need it\n");
        return 1;
    }
    openblas = load_blas("openblas", "libopenblas.so.0", "openblas_set_num_threads");
    blis = load_blas("blis", "libblis.so.4", "bli_thread_set_num_threads");
    benchmark::AddCustomContext("openblas", openblas.name ? openblas.info : "not found");
    benchmark::AddCustomContext("blis", blis.name ? blis.info : "not found");
    benchmark::AddCustomContext("onednn", conv_lib_info(CONV_ONEDNN));
    benchmark::AddCustomContext("xnnpack", conv_lib_info(CONV_XNNPACK));
    register_all();
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
