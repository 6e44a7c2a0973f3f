// conv_libs.h — the convolution baselines of kiln_bench: oneDNN (C API) and
// XNNPACK operators on the same shapes as kiln's bench models, created once
// (weights packed into each library's own layout), then run. Each library is
// compiled in only when CMake found it (KILN_BENCH_HAVE_DNNL / _XNNPACK).
#ifndef KILN_BENCH_CONV_LIBS_H
#define KILN_BENCH_CONV_LIBS_H

#include <string>

// A square 2-D convolution with bias, stride 1: x [n, c, h, w], weights
// [m, c, k, k], symmetric padding pad.
struct ConvShape {
    int n, c, h, w, m, k, pad;
};

enum ConvLib { CONV_ONEDNN, CONV_XNNPACK };

struct ConvOp;

bool conv_lib_available(ConvLib lib);
const char *conv_lib_name(ConvLib lib);
// Sets up the operator with random inputs and weights; NULL (and *why) on failure.
ConvOp *conv_lib_create(ConvLib lib, const ConvShape &c, std::string *why);
void conv_lib_run(ConvOp *op);
// The implementation the library chose ("jit:avx2", ...), or "" if it doesn't say.
std::string conv_lib_impl(const ConvOp *op);
void conv_lib_destroy(ConvOp *op);
// 2 * multiply-adds, bias left out (as kiln_bench counts kiln's convolutions).
double conv_flops(const ConvShape &c);
// The library's version, for the report.
std::string conv_lib_info(ConvLib lib);

#endif
