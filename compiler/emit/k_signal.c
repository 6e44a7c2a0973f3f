/* k_signal.c — kernels of DFT and STFT (ONNX opset 17). Both are direct
 * O(n^2) transforms accumulated in double over a table of twiddle factors
 * (cos, sin of 2πj/n) built in scratch, so bins near zero stay near zero.
 * The window ops and MelWeightMatrix always fold (pass/fold_misc.c); the
 * shape rules are in pass/shapes_misc.c. */
#include "emit.h"

/* Fills scratch with the twiddle table of an n-point transform. */
static void emit_twiddles(Emitter *e, int64_t n)
{
    int64_t bytes = 2 * n * (int64_t)sizeof(double);
    if (bytes > e->scratch)
        e->scratch = bytes;
    emit_line(e, "double *tw = (double *)scratch; /* cos, sin of 2*pi*j/%lld */", (long long)n);
    emit_open(e, "for (int j = 0; j < %lld; j++)", (long long)n);
    emit_line(e, "tw[2 * j] = cos(6.283185307179586 * j / %lld.0);", (long long)n);
    emit_line(e, "tw[2 * j + 1] = sin(6.283185307179586 * j / %lld.0);", (long long)n);
    emit_close(e);
}

/* One bin k of an n-point transform of `count` samples at x[t * xstride]
 * (complex when cin is 2), optionally times window w[t], into re, im:
 * X[k] = Σ x[t] e^{∓2πi kt/n}, the sign + for the inverse. */
static void emit_bin(Emitter *e, int64_t n, int64_t count, int64_t xstride, int cin,
                     bool inverse, const char *win)
{
    emit_line(e, "double re = 0.0, im = 0.0;");
    emit_line(e, "int j = 0;");
    emit_open(e, "for (int t = 0; t < %lld; t++)", (long long)count);
    const char *w = win ? arena_printf(e->arena, " * %s[t]", win) : "";
    emit_line(e, "const double xr = (double)x[t * %lld]%s;", (long long)xstride, w);
    if (cin == 2)
        emit_line(e, "const double xi = (double)x[t * %lld + 1]%s;", (long long)xstride, w);
    const char *xi = cin == 2 ? "xi" : "0.0";
    const char *sg = inverse ? "-" : "+", *sg2 = inverse ? "+" : "-";
    if (cin == 2) {
        emit_line(e, "re += xr * tw[2 * j] %s %s * tw[2 * j + 1];", sg, xi);
        emit_line(e, "im += %s * tw[2 * j] %s xr * tw[2 * j + 1];", xi, sg2);
    } else {
        emit_line(e, "re += xr * tw[2 * j];");
        emit_line(e, "im %s= xr * tw[2 * j + 1];", sg2);
    }
    emit_line(e, "j += k;");
    emit_line(e, "j -= j >= %lld ? %lld : 0;", (long long)n, (long long)n);
    emit_close(e);
}

/* DFT (opset 17): x seen as [outer, len, inner, cin] around `axis`; y as
 * [outer, bins, inner, 2]. Samples beyond dft_length are dropped, missing
 * ones are zeros; the inverse divides by dft_length. */
bool k_dft(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    int r = x->shape.rank;
    int64_t axis = ir_attr_int(n, "axis", 1);
    axis += axis < 0 ? r : 0;
    int64_t outer = 1, inner = 1, len = x->shape.dims[axis], bins = y->shape.dims[axis];
    int cin = (int)x->shape.dims[r - 1];
    bool inverse = ir_attr_int(n, "inverse", 0) != 0;
    for (int i = 0; i < r - 1; i++) {
        if (i < axis)
            outer *= x->shape.dims[i];
        else if (i > axis)
            inner *= x->shape.dims[i];
    }
    int64_t nfft = len;
    if (n->n_in > 1 && ir_in(g, n, 1)) {
        const Value *lv = ir_in(g, n, 1);
        nfft = tensor_get_i(lv->dtype, lv->data, 0);
    }
    if (shape_numel(&y->shape) == 0)
        return true;
    const char *t = dtype_ctype(x->dtype);
    emit_twiddles(e, nfft);
    emit_line(e, "const double scale = %s;", inverse ? arena_printf(e->arena, "1.0 / %lld.0", (long long)nfft) : "1.0");
    emit_open(e, "for (int o = 0; o < %lld; o++)", (long long)outer);
    emit_open(e, "for (int i = 0; i < %lld; i++)", (long long)inner);
    emit_line(e, "const %s *x = %s + o * %lld + i * %d;", t, e->in_name[0],
              (long long)(len * inner * cin), cin);
    emit_line(e, "%s *y = %s + o * %lld + i * 2;", t, e->out_name[0], (long long)(bins * inner * 2));
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)bins);
    emit_bin(e, nfft, len < nfft ? len : nfft, inner * cin, cin, inverse, NULL);
    emit_line(e, "y[k * %lld] = (%s)(re * scale);", (long long)(inner * 2), t);
    emit_line(e, "y[k * %lld + 1] = (%s)(im * scale);", (long long)(inner * 2), t);
    emit_close(e);
    emit_close(e);
    emit_close(e);
    return true;
}

/* STFT (opset 17): frame f of batch b is the frame_length samples from
 * f * frame_step, times the window when given; each frame's forward DFT
 * (frame_length points, the first `bins` bins) lands in y[b][f]. */
bool k_stft(Emitter *e, const Graph *g, const Node *n)
{
    const Value *x = ir_in(g, n, 0), *y = ir_out(g, n, 0);
    const Value *step_v = ir_in(g, n, 1);
    int64_t step = tensor_get_i(step_v->dtype, step_v->data, 0);
    int64_t batch = y->shape.dims[0], frames = y->shape.dims[1], bins = y->shape.dims[2];
    int64_t len = x->shape.dims[1], flen;
    int cin = (int)x->shape.dims[2];
    if (ir_in(g, n, 2))
        flen = ir_in(g, n, 2)->shape.dims[0];
    else
        flen = tensor_get_i(ir_in(g, n, 3)->dtype, ir_in(g, n, 3)->data, 0);
    if (shape_numel(&y->shape) == 0)
        return true;
    const char *t = dtype_ctype(x->dtype);
    emit_twiddles(e, flen);
    emit_open(e, "for (int b = 0; b < %lld; b++)", (long long)batch);
    emit_open(e, "for (int f = 0; f < %lld; f++)", (long long)frames);
    emit_line(e, "const %s *x = %s + (b * %lld + f * %lld) * %d;", t, e->in_name[0],
              (long long)len, (long long)step, cin);
    emit_line(e, "%s *y = %s + (b * %lld + f) * %lld;", t, e->out_name[0], (long long)frames,
              (long long)(bins * 2));
    emit_open(e, "for (int k = 0; k < %lld; k++)", (long long)bins);
    emit_bin(e, flen, flen, cin, cin, false, e->in_name[2]);
    emit_line(e, "y[k * 2] = (%s)re;", t);
    emit_line(e, "y[k * 2 + 1] = (%s)im;", t);
    emit_close(e);
    emit_close(e);
    emit_close(e);
    return true;
}
