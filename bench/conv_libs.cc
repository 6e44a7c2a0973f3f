// conv_libs.cc — oneDNN and XNNPACK convolutions for kiln_bench (see
// conv_libs.h). oneDNN picks its own activation and weight layouts
// (format_tag_any: blocked nChw8c/nChw16c), as a framework chaining its
// primitives does; XNNPACK runs NHWC. Layout conversions at a model's edges
// are left out of both: only the convolution is timed, as for kiln.
#include "conv_libs.h"

#include <cstdlib>
#include <limits>
#include <random>
#include <vector>

#ifdef KILN_BENCH_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif
#ifdef KILN_BENCH_HAVE_XNNPACK
#include <xnnpack.h>
#endif

namespace {

void fill(float *p, size_t n, unsigned seed)
{
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (size_t i = 0; i < n; i++)
        p[i] = u(rng);
}

int out_size(const ConvShape &c, int in)
{
    return in + 2 * c.pad - c.k + 1;
}

} // namespace

struct ConvOp {
    ConvLib lib;
#ifdef KILN_BENCH_HAVE_DNNL
    dnnl_engine_t engine = nullptr;
    dnnl_stream_t stream = nullptr;
    dnnl_primitive_t prim = nullptr;
    dnnl_memory_t mem[4] = {nullptr, nullptr, nullptr, nullptr}; // src, weights, bias, dst
#endif
#ifdef KILN_BENCH_HAVE_XNNPACK
    xnn_operator_t xop = nullptr;
#endif
    std::vector<float> x, w, b, y;
    std::string impl; // the implementation the library chose, if it says
};

double conv_flops(const ConvShape &c)
{
    return 2.0 * c.n * c.m * out_size(c, c.h) * out_size(c, c.w) * c.c * c.k * c.k;
}

const char *conv_lib_name(ConvLib lib)
{
    return lib == CONV_ONEDNN ? "onednn" : "xnnpack";
}

#ifdef KILN_BENCH_HAVE_DNNL
// A memory of the primitive's chosen layout for what, filled with random values.
static bool dnnl_mem(ConvOp *op, dnnl_primitive_desc_t pd, dnnl_query_t what, int slot, unsigned seed)
{
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, what, 0);
    if (!md || dnnl_memory_create(&op->mem[slot], md, op->engine, DNNL_MEMORY_ALLOCATE) != dnnl_success)
        return false;
    void *p = nullptr;
    dnnl_memory_get_data_handle(op->mem[slot], &p);
    fill(static_cast<float *>(p), dnnl_memory_desc_get_size(md) / sizeof(float), seed);
    return true;
}

static ConvOp *dnnl_create(const ConvShape &c, std::string *why)
{
    ConvOp *op = new ConvOp();
    op->lib = CONV_ONEDNN;
    dnnl_dims_t src = {c.n, c.c, c.h, c.w}, wei = {c.m, c.c, c.k, c.k}, bia = {c.m};
    dnnl_dims_t dst = {c.n, c.m, out_size(c, c.h), out_size(c, c.w)};
    dnnl_dims_t strides = {1, 1}, pad = {c.pad, c.pad};
    dnnl_memory_desc_t src_md, wei_md, bia_md, dst_md;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd = nullptr;
    bool ok = dnnl_engine_create(&op->engine, dnnl_cpu, 0) == dnnl_success &&
              dnnl_stream_create(&op->stream, op->engine, dnnl_stream_default_flags) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&src_md, 4, src, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&wei_md, 4, wei, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&bia_md, 1, bia, dnnl_f32, dnnl_a) == dnnl_success &&
              dnnl_memory_desc_init_by_tag(&dst_md, 4, dst, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
              dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                                 &src_md, &wei_md, &bia_md, &dst_md, strides, pad,
                                                 pad) == dnnl_success &&
              dnnl_primitive_desc_create(&pd, &cd, nullptr, op->engine, nullptr) == dnnl_success &&
              dnnl_mem(op, pd, dnnl_query_src_md, 0, 1) && dnnl_mem(op, pd, dnnl_query_weights_md, 1, 2) &&
              dnnl_mem(op, pd, dnnl_query_dst_md, 3, 4) && dnnl_primitive_create(&op->prim, pd) == dnnl_success;
    if (ok) { // the bias: the primitive's second weights memory
        const dnnl_memory_desc_t *bmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
        ok = bmd && dnnl_memory_create(&op->mem[2], bmd, op->engine, DNNL_MEMORY_ALLOCATE) == dnnl_success;
        void *p = nullptr;
        if (ok && dnnl_memory_get_data_handle(op->mem[2], &p) == dnnl_success)
            fill(static_cast<float *>(p), size_t(c.m), 3);
    }
    if (pd) {
        const char *impl = nullptr;
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
            op->impl = impl; // e.g. jit:avx2
        dnnl_primitive_desc_destroy(pd);
    }
    if (!ok) {
        *why = "oneDNN could not create the convolution";
        conv_lib_destroy(op);
        return nullptr;
    }
    return op;
}
#endif

#ifdef KILN_BENCH_HAVE_XNNPACK
static ConvOp *xnn_create(const ConvShape &c, std::string *why)
{
    static bool initialized = xnn_initialize(nullptr) == xnn_status_success;
    if (!initialized) {
        *why = "xnn_initialize failed";
        return nullptr;
    }
    ConvOp *op = new ConvOp();
    op->lib = CONV_XNNPACK;
    const int oh = out_size(c, c.h), ow = out_size(c, c.w);
    op->x.resize(size_t(c.n) * c.h * c.w * c.c + 16); // XNNPACK may read a little past the end
    op->w.resize(size_t(c.m) * c.k * c.k * c.c);      // OHWI
    op->b.resize(size_t(c.m));
    op->y.resize(size_t(c.n) * oh * ow * c.m);
    fill(op->x.data(), op->x.size(), 1);
    fill(op->w.data(), op->w.size(), 2);
    fill(op->b.data(), op->b.size(), 3);
    const float inf = std::numeric_limits<float>::infinity();
    bool ok = xnn_create_convolution2d_nhwc_f32(c.pad, c.pad, c.pad, c.pad, c.k, c.k, 1, 1, 1, 1, 1,
                                                c.c, c.m, c.c, c.m, op->w.data(), op->b.data(), -inf,
                                                inf, 0, &op->xop) == xnn_status_success &&
              xnn_setup_convolution2d_nhwc_f32(op->xop, c.n, c.h, c.w, op->x.data(), op->y.data(),
                                               nullptr) == xnn_status_success;
    if (!ok) {
        *why = "XNNPACK could not create the convolution";
        conv_lib_destroy(op);
        return nullptr;
    }
    return op;
}
#endif

bool conv_lib_available(ConvLib lib)
{
#ifdef KILN_BENCH_HAVE_DNNL
    if (lib == CONV_ONEDNN)
        return true;
#endif
#ifdef KILN_BENCH_HAVE_XNNPACK
    if (lib == CONV_XNNPACK)
        return true;
#endif
    (void)lib;
    return false;
}

ConvOp *conv_lib_create(ConvLib lib, const ConvShape &c, std::string *why)
{
#ifdef KILN_BENCH_HAVE_DNNL
    if (lib == CONV_ONEDNN)
        return dnnl_create(c, why);
#endif
#ifdef KILN_BENCH_HAVE_XNNPACK
    if (lib == CONV_XNNPACK)
        return xnn_create(c, why);
#endif
    (void)c;
    *why = std::string(conv_lib_name(lib)) + " not built in";
    return nullptr;
}

std::string conv_lib_impl(const ConvOp *op)
{
    return op->impl;
}

void conv_lib_run(ConvOp *op)
{
#ifdef KILN_BENCH_HAVE_DNNL
    if (op->lib == CONV_ONEDNN) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, op->mem[0]}, {DNNL_ARG_WEIGHTS, op->mem[1]},
                                   {DNNL_ARG_BIAS, op->mem[2]}, {DNNL_ARG_DST, op->mem[3]}};
        dnnl_primitive_execute(op->prim, op->stream, 4, args);
        dnnl_stream_wait(op->stream);
    }
#endif
#ifdef KILN_BENCH_HAVE_XNNPACK
    if (op->lib == CONV_XNNPACK)
        xnn_run_operator(op->xop, nullptr);
#endif
    (void)op;
}

void conv_lib_destroy(ConvOp *op)
{
    if (!op)
        return;
#ifdef KILN_BENCH_HAVE_DNNL
    if (op->prim)
        dnnl_primitive_destroy(op->prim);
    for (dnnl_memory_t m : op->mem)
        if (m)
            dnnl_memory_destroy(m);
    if (op->stream)
        dnnl_stream_destroy(op->stream);
    if (op->engine)
        dnnl_engine_destroy(op->engine);
#endif
#ifdef KILN_BENCH_HAVE_XNNPACK
    if (op->xop)
        xnn_delete_operator(op->xop);
#endif
    delete op;
}

std::string conv_lib_info(ConvLib lib)
{
#ifdef KILN_BENCH_HAVE_DNNL
    if (lib == CONV_ONEDNN) {
        const dnnl_version_t *v = dnnl_version();
        return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
               std::to_string(v->patch) + (v->cpu_runtime == DNNL_RUNTIME_OMP ? " (OpenMP)" : "");
    }
#endif
    if (lib == CONV_XNNPACK)
        return conv_lib_available(lib) ? "XNNPACK (Debian 0.0~git20220216)" : "not found";
    return "not found";
}
