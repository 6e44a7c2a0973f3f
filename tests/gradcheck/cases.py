"""cases.py — the gradient check's cases (run.py): per op with a gradient
rule, one or a few small f64 models in .kir text whose float inputs are
trainable params with random data from a fixed seed, the op's output %y under
kiln's attached MSE loss. A case for an op without a rule yet waits (run.py
lists it and doesn't run it). Data avoid the points where an op isn't
differentiable (kinks of Relu, Abs, Clip, ties of Max, MaxPool, …) by far
more than the finite-difference step, so both sides of the check agree on
the branch taken.

Add a case: a K(...) line in the op's family below. Params are written
"name[dims]" (f64); dom={name: domain} picks their data, fixed={names}
keeps a param out of the check (BatchNormalization's running statistics).
"""
import random
import zlib


class U:
    """Uniform in [lo, hi], at least margin away from every point of avoid."""

    def __init__(self, lo=-1.0, hi=1.0, avoid=(0.0,), margin=0.05):
        self.lo, self.hi, self.avoid, self.margin = lo, hi, avoid, margin

    def draw(self, rng, n, case):
        out = []
        while len(out) < n:
            v = rng.uniform(self.lo, self.hi)
            if all(abs(v - a) >= self.margin for a in self.avoid):
                out.append(v)
        return out


class Distinct:
    """Values from a shuffled grid over [-1, 1] shared by the whole case, so
    no two elements of any param come closer than 2/256 (ties of Max,
    MaxPool, ReduceMax, TopK stay apart under the step of ±2e-3)."""

    def draw(self, rng, n, case):
        if case.grid is None:
            case.grid = [-1 + (2 * k + 1) / 256 for k in range(256)]
            rng.shuffle(case.grid)
        out, case.grid = case.grid[:n], case.grid[n:]
        assert len(out) == n, "Distinct: grid exhausted"
        return out


class Vals:
    """Exactly these values, in order (ReduceProd's zeros)."""

    def __init__(self, *values):
        self.values = list(values)

    def draw(self, rng, n, case):
        assert len(self.values) == n, "Vals: %d values for %d elements" % (len(self.values), n)
        return list(self.values)


ANY = U()                                   # ±[0.05, 1]
POS = U(0.5, 2.0, avoid=())                 # logs, roots, bases of Pow
SMALL = U(-0.5, 0.5, avoid=())              # recurrent weights: tanh unsaturated
DISTINCT = Distinct()


def fmt(v):
    return repr(float(v)) if isinstance(v, float) else str(v).lower()


class Case:
    def __init__(self, op, variant, params, nodes, consts=(), dom=None, fixed=(), opset=17,
                 flags=None, covers=None, labels=None, labels_int=False, inputs=()):
        self.primary, self.variant = op, variant
        self.slug = "%s__%s" % (op, variant)
        self.covers = list(covers or [op])
        self.flags = list(flags or ["--loss", "mse", "--loss-on", "y"])
        # the data of the training step's inputs: the model's inputs (i64 or
        # f64, not trained), then the labels of an attached loss (None: the
        # harness's own, floats in [0, 1))
        self.input_data = [(typ.startswith("i64"), data) for _, typ, data in inputs]
        if "--loss-output" not in self.flags:
            self.input_data.append((labels_int, labels))
        self.grid = None
        rng = random.Random(zlib.crc32(self.slug.encode()))
        dom = dom or {}
        lines = ['graph "%s" opset %d' % (self.slug, opset)]
        lines += ["input %%%s : %s" % (name, typ) for name, typ, _ in inputs]
        self.checked = []
        for spec in params.split():
            name, dims = spec[:-1].split("[")
            shape = [int(d) for d in dims.split(",")] if dims else []
            n = 1
            for d in shape:
                n *= d
            data = dom.get(name, ANY).draw(rng, n, self)
            lines.append("param %%%s : f64[%s] = [%s]" % (name, ", ".join(map(str, shape)),
                                                         ", ".join(fmt(v) for v in data)))
            if name not in fixed:
                self.checked.append(name)
        for name, typ, data in consts:
            lines.append("const %%%s : %s = [%s]" % (name, typ, ", ".join(fmt(v) for v in data)))
        lines += [nodes] if isinstance(nodes, str) else list(nodes)
        out = "loss" if "--loss-output" in self.flags else "y"
        lines.append("output %%%s" % out)
        self.kir = "\n".join(lines) + "\n"


CASES = []


def K(*args, **kw):
    CASES.append(Case(*args, **kw))


def onehot(rows, cols, hot):
    return [1.0 if c == hot[r] else 0.0 for r in range(rows) for c in range(cols)]


# ---- elementwise: identity, unary math and activations ----------------------
K("Identity", "2x3", "x[2,3]", "%y = Identity(%x)")
UNARY = {
    "Abs": ANY, "Neg": ANY, "Exp": ANY, "Log": POS, "Sqrt": POS, "Reciprocal": U(-2, 2, margin=0.5),
    "Erf": ANY, "Sin": U(-3, 3), "Cos": U(-3, 3), "Tan": ANY, "Asin": U(-0.9, 0.9),
    "Acos": U(-0.9, 0.9), "Atan": U(-2, 2), "Sinh": ANY, "Cosh": ANY, "Asinh": U(-2, 2),
    "Acosh": U(1.2, 3, avoid=()), "Atanh": U(-0.9, 0.9), "Relu": ANY, "Selu": ANY,
    "Sigmoid": U(-3, 3), "Tanh": U(-2, 2), "Softplus": U(-3, 3), "Softsign": U(-3, 3),
}
for op, d in UNARY.items():
    K(op, "2x3", "x[2,3]", "%%y = %s(%%x)" % op, dom={"x": d})
K("LeakyRelu", "alpha", "x[2,3]", "%y = LeakyRelu(%x) {alpha = 0.1}")
K("Elu", "alpha", "x[2,3]", "%y = Elu(%x) {alpha = 0.5}")
K("Celu", "alpha", "x[2,3]", "%y = Celu(%x) {alpha = 0.7}")
K("HardSigmoid", "default", "x[3,4]", "%y = HardSigmoid(%x)", dom={"x": U(-4, 4, (-2.5, 2.5))})
K("HardSigmoid", "alpha_beta", "x[3,4]", "%y = HardSigmoid(%x) {alpha = 0.5, beta = 0.3}",
  dom={"x": U(-2, 2, (-0.6, 1.4))})
K("HardSwish", "3x4", "x[3,4]", "%y = HardSwish(%x)", dom={"x": U(-4, 4, (-3, 3))})
K("ThresholdedRelu", "alpha", "x[3,4]", "%y = ThresholdedRelu(%x) {alpha = 0.5}",
  dom={"x": U(-1, 1.5, (0.5,))})
K("Shrink", "lambd_bias", "x[3,4]", "%y = Shrink(%x) {lambd = 0.5, bias = 0.2}",
  dom={"x": U(-1.5, 1.5, (-0.5, 0.5))})
K("Clip", "min_max", "x[3,4]", "%y = Clip(%x, %lo, %hi)",
  consts=[("lo", "f64[]", [-0.5]), ("hi", "f64[]", [0.5])], dom={"x": U(-1, 1, (-0.5, 0.5))})
K("Clip", "min_only", "x[3,4]", "%y = Clip(%x, %lo, _)", consts=[("lo", "f64[]", [-0.3])],
  dom={"x": U(-1, 1, (-0.3,))})
K("Clip", "opset6_attrs", "x[3,4]", "%y = Clip(%x) opset 6 {min = -0.4, max = 0.6}",
  dom={"x": U(-1, 1, (-0.4, 0.6))})
# piecewise constant: a zero gradient, checked through a skip connection
for op in ("Sign", "Floor", "Ceil", "Round"):
    K(op, "skip", "x[2,3]", ["%%f = %s(%%x)" % op, "%y = Add(%f, %x)"],
      dom={"x": U(-2, 2, (-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2))})
# EyeLike's output doesn't depend on X's values
K("EyeLike", "skip", "x[3,4]", ["%e = EyeLike(%x) {k = 1}", "%y = Add(%e, %x)"])
# Hardmax is piecewise constant too (torch's one_hot(argmax) has no gradient)
K("Hardmax", "skip", "x[2,4]", ["%h = Hardmax(%x)", "%y = Add(%h, %x)"], dom={"x": DISTINCT})
K("Hardmax", "opset11_axis0_skip", "x[3,2]", ["%h = Hardmax(%x) opset 11 {axis = 0}", "%y = Mul(%h, %x)"],
  dom={"x": DISTINCT})
K("Cast", "f64_to_f64", "x[2,3]", "%y = Cast(%x) {to = 11}")
K("CastLike", "f64_like_f64", "x[2,3]", "%y = CastLike(%x, %t)", consts=[("t", "f64[]", [0.0])])

# ---- elementwise: binary and variadic ---------------------------------------
for op in ("Add", "Sub", "Mul", "Div"):
    den = {"b": U(-1.5, 1.5, margin=0.5)} if op == "Div" else {}
    K(op, "same", "a[2,3] b[2,3]", "%%y = %s(%%a, %%b)" % op, dom=den)
    K(op, "bcast_row", "a[2,3] b[3]", "%%y = %s(%%a, %%b)" % op, dom=den)
    K(op, "bcast_both", "a[2,1,3] b[4,1]", "%%y = %s(%%a, %%b)" % op, dom=den)
    K(op, "scalar_first", "a[] b[2,3]", "%%y = %s(%%a, %%b)" % op, dom=den)
K("Mul", "same_input_twice", "a[2,3]", "%y = Mul(%a, %a)")    # both operands' gradients add up
K("Pow", "same", "a[2,3] b[2,3]", "%y = Pow(%a, %b)", dom={"a": POS, "b": U(-2, 2)})
K("Pow", "bcast_scalar_exp", "a[2,3] b[]", "%y = Pow(%a, %b)", dom={"a": POS, "b": U(-2, 2)})
K("Pow", "int_exponent", "a[2,3]", "%y = Pow(%a, %e)", consts=[("e", "i64[]", [3])])
K("PRelu", "slope_c11", "x[2,3,2] s[3,1]", "%y = PRelu(%x, %s)")
K("PRelu", "slope_scalar", "x[2,3] s[1]", "%y = PRelu(%x, %s)")
for op in ("Max", "Min"):
    K(op, "three_bcast", "a[2,3] b[3] c[2,1]", "%%y = %s(%%a, %%b, %%c)" % op,
      dom={"a": DISTINCT, "b": DISTINCT, "c": DISTINCT})
    K(op, "one", "a[2,3]", "%%y = %s(%%a)" % op)
for op in ("Sum", "Mean"):
    K(op, "three_bcast", "a[2,3] b[3] c[2,1]", "%%y = %s(%%a, %%b, %%c)" % op)
    K(op, "one", "a[2,3]", "%%y = %s(%%a)" % op)
# Mod: A / B kept 0.1 or more from an integer, where Y jumps
MOD = {"a": Vals(2.3, -1.7, 0.4, 3.3, -2.8, 1.1), "b": Vals(0.9, 0.8, -1.3, 1.5, 1.1, -0.7)}
K("Mod", "fmod1", "a[2,3] b[2,3]", "%y = Mod(%a, %b) {fmod = 1}", dom=MOD)
K("Mod", "fmod0_floor", "a[2,3] b[2,3]", "%y = Mod(%a, %b)", dom=MOD)
K("Mod", "fmod1_bcast", "a[2,3] b[3]", "%y = Mod(%a, %b) {fmod = 1}",
  dom={"a": MOD["a"], "b": Vals(0.9, -1.3, 1.5)})
K("Where", "bcast", "x[2,3] z[3]", "%y = Where(%c, %x, %z)",
  consts=[("c", "bool[2, 3]", [True, False, True, False, False, True])])

# ---- convolution and pooling ------------------------------------------------
K("Conv", "pad1", "x[1,2,5,5] w[3,2,3,3] b[3]", "%y = Conv(%x, %w, %b) {pads = [1, 1, 1, 1]}")
K("Conv", "stride2_asym_pad", "x[2,2,5,5] w[3,2,3,3] b[3]",
  "%y = Conv(%x, %w, %b) {strides = [2, 2], pads = [0, 1, 1, 0]}")
K("Conv", "kernel2x3_strides12", "x[1,2,4,5] w[2,2,2,3] b[2]",
  '%y = Conv(%x, %w, %b) {strides = [1, 2], auto_pad = "SAME_LOWER"}')
K("Conv", "group_dilation", "x[1,4,5,5] w[4,2,2,2] b[4]",
  "%y = Conv(%x, %w, %b) {group = 2, dilations = [2, 2]}")
K("Conv", "depthwise_same", "x[1,3,4,4] w[3,1,3,3]",
  '%y = Conv(%x, %w) {group = 3, auto_pad = "SAME_UPPER"}')
K("Conv", "1d_nobias", "x[2,2,6] w[3,2,3]", "%y = Conv(%x, %w) {strides = [2]}")
K("Conv", "3d", "x[1,2,3,4,4] w[2,2,2,2,2] b[2]", "%y = Conv(%x, %w, %b)")
K("ConvTranspose", "basic", "x[1,2,3,3] w[2,3,3,3] b[3]", "%y = ConvTranspose(%x, %w, %b)")
K("ConvTranspose", "stride2_pad_outpad", "x[1,2,3,3] w[2,3,3,3] b[3]",
  "%y = ConvTranspose(%x, %w, %b) {strides = [2, 2], pads = [1, 1, 1, 1], output_padding = [1, 1]}")
K("ConvTranspose", "group", "x[1,4,3,3] w[4,1,2,2] b[2]",
  "%y = ConvTranspose(%x, %w, %b) {group = 2, strides = [2, 2]}")
K("ConvTranspose", "1d_dilation", "x[2,2,4] w[2,2,3]", "%y = ConvTranspose(%x, %w) {dilations = [2]}")
MAXPOOL = [
    ("k2s2", "x[1,2,4,4]", "kernel_shape = [2, 2], strides = [2, 2]"),
    ("k3s1p1_overlap", "x[1,2,4,4]", "kernel_shape = [3, 3], pads = [1, 1, 1, 1]"),
    ("ceil_mode", "x[1,2,5,5]", "kernel_shape = [2, 2], strides = [2, 2], ceil_mode = 1"),
    ("dilation", "x[1,1,5,5]", "kernel_shape = [2, 2], dilations = [2, 2]"),
    ("1d", "x[2,2,7]", "kernel_shape = [3], strides = [2]"),
]
for v, x, attrs in MAXPOOL:
    K("MaxPool", v, x, "%%y = MaxPool(%%x) {%s}" % attrs, dom={"x": DISTINCT})
K("MaxPool", "with_indices", "x[1,2,4,4]", "%y, %i = MaxPool(%x) {kernel_shape = [2, 2]}",
  dom={"x": DISTINCT})
AVGPOOL = [
    ("k3s2p1_exclude_pad", "x[1,2,5,5]", "kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1]"),
    ("k3s2p1_include_pad", "x[1,2,5,5]",
     "kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1], count_include_pad = 1"),
    ("ceil_mode", "x[1,2,5,5]", "kernel_shape = [2, 2], strides = [2, 2], ceil_mode = 1"),
    ("1d", "x[2,2,7]", "kernel_shape = [3], strides = [2]"),
    ("3d", "x[1,1,3,4,4]", "kernel_shape = [2, 2, 2]"),
]
for v, x, attrs in AVGPOOL:
    K("AveragePool", v, x, "%%y = AveragePool(%%x) {%s}" % attrs)
K("LpPool", "p2", "x[1,2,4,4]", "%y = LpPool(%x) {kernel_shape = [2, 2], strides = [2, 2], p = 2}")
K("LpPool", "p1_overlap_pads", "x[1,2,4,4]", "%y = LpPool(%x) {kernel_shape = [3, 3], pads = [1, 0, 0, 1], p = 1}")
K("LpPool", "p3_1d_stride2", "x[2,2,7]", "%y = LpPool(%x) {kernel_shape = [3], strides = [2], p = 3}")
K("LpPool", "ceil_dilation_opset18", "x[1,1,6,5]",
  "%y = LpPool(%x) {kernel_shape = [2, 2], strides = [2, 2], dilations = [1, 2], ceil_mode = 1}", opset=18)
K("GlobalMaxPool", "2d", "x[2,3,3,3]", "%y = GlobalMaxPool(%x)", dom={"x": DISTINCT})
K("GlobalAveragePool", "2d", "x[2,3,2,3]", "%y = GlobalAveragePool(%x)")
K("GlobalAveragePool", "1d", "x[2,3,4]", "%y = GlobalAveragePool(%x)")
K("GlobalLpPool", "p2", "x[2,3,2,3]", "%y = GlobalLpPool(%x)")
K("GlobalLpPool", "p1_1d", "x[2,3,4]", "%y = GlobalLpPool(%x) {p = 1}")
K("GlobalLpPool", "p3_3d", "x[1,2,2,2,3]", "%y = GlobalLpPool(%x) {p = 3}")

# ---- normalization, dropout, softmax, losses --------------------------------
BN = {"var": POS, "scale": U(0.5, 1.5, avoid=())}
K("BatchNormalization", "4d", "x[3,2,2,2] scale[2] bias[2] mean[2] var[2]",
  "%y = BatchNormalization(%x, %scale, %bias, %mean, %var) {epsilon = 1e-3}",
  dom=BN, fixed={"mean", "var"}, opset=15)
K("BatchNormalization", "2d", "x[4,3] scale[3] bias[3] mean[3] var[3]",
  "%y = BatchNormalization(%x, %scale, %bias, %mean, %var) {momentum = 0.8}",
  dom=BN, fixed={"mean", "var"}, opset=15)
K("BatchNormalization", "3d", "x[2,3,4] scale[3] bias[3] mean[3] var[3]",
  "%y = BatchNormalization(%x, %scale, %bias, %mean, %var)", dom=BN, fixed={"mean", "var"}, opset=15)
K("InstanceNormalization", "3d", "x[2,3,4] scale[3] bias[3]",
  "%y = InstanceNormalization(%x, %scale, %bias) {epsilon = 1e-3}")
K("InstanceNormalization", "4d", "x[2,2,3,3] scale[2] bias[2]",
  "%y = InstanceNormalization(%x, %scale, %bias)")
# stash_type = 11: the statistics in f64 too (the default, f32, is the spec's
# and would swamp the finite differences)
K("LayerNormalization", "last_axis", "x[2,3,4] scale[4] bias[4]",
  "%y = LayerNormalization(%x, %scale, %bias) {epsilon = 1e-3, stash_type = 11}")
K("LayerNormalization", "axis1", "x[2,3,4] scale[3,4] bias[3,4]",
  "%y = LayerNormalization(%x, %scale, %bias) {axis = 1, stash_type = 11}")
K("LayerNormalization", "no_bias", "x[3,5] scale[5]",
  "%y = LayerNormalization(%x, %scale) {stash_type = 11}")
K("LRN", "size3", "x[1,5,2,2]", "%y = LRN(%x) {size = 3, alpha = 0.01, beta = 0.75, bias = 1.0}")
K("LRN", "size2_even", "x[2,4,3]", "%y = LRN(%x) {size = 2, alpha = 0.3, beta = 0.6, bias = 0.5}")
K("LRN", "size5_wider_than_c", "x[1,3,2,1,2]", "%y = LRN(%x) {size = 5, alpha = 0.5}")
K("MeanVarianceNormalization", "default", "x[2,3,2,2]", "%y = MeanVarianceNormalization(%x)")
K("MeanVarianceNormalization", "axes23", "x[2,3,2,2]", "%y = MeanVarianceNormalization(%x) {axes = [2, 3]}")
K("MeanVarianceNormalization", "axis_neg1_opset9", "x[3,4]",
  "%y = MeanVarianceNormalization(%x) {axes = [-1]}", opset=9)
# training runs TrainDropout: a mask drawn from the step counter, which the
# harness restores before every step, so every evaluation sees the same mask
K("Dropout", "ratio_input", "x[4,5]", "%y = Dropout(%x, %r)", consts=[("r", "f64[]", [0.5])],
  opset=13, covers=["Dropout", "TrainDropout"])
K("Dropout", "opset10_attr", "x[4,5]", "%y = Dropout(%x) opset 10 {ratio = 0.3}",
  covers=["Dropout", "TrainDropout"])
K("Dropout", "default_ratio", "x[3,4]", "%y, %m = Dropout(%x)", opset=13,
  covers=["Dropout", "TrainDropout"])
for op in ("Softmax", "LogSoftmax"):
    K(op, "last_axis", "x[2,3,4]", "%%y = %s(%%x)" % op, dom={"x": U(-3, 3)})
    K(op, "axis1", "x[2,3,4]", "%%y = %s(%%x) {axis = 1}" % op, dom={"x": U(-3, 3)})
    K(op, "opset11_flatten", "x[2,3,4]", "%%y = %s(%%x) opset 11 {axis = 1}" % op, dom={"x": U(-3, 3)})
XENT = ["--loss-output", "loss"]
K("SoftmaxCrossEntropyLoss", "mean", "x[3,4]", "%loss = SoftmaxCrossEntropyLoss(%x, %t)",
  inputs=[("t", "i64[3]", [2, 0, 3])], flags=XENT, dom={"x": U(-3, 3)})
K("SoftmaxCrossEntropyLoss", "weights_ignore", "x[4,3]",
  '%loss = SoftmaxCrossEntropyLoss(%x, %t, %cw) {ignore_index = 1}',
  inputs=[("t", "i64[4]", [0, 1, 2, 2])], consts=[("cw", "f64[3]", [0.5, 2.0, 1.5])], flags=XENT,
  dom={"x": U(-3, 3)})
K("SoftmaxCrossEntropyLoss", "spatial_sum", "x[2,3,2]",
  '%loss = SoftmaxCrossEntropyLoss(%x, %t) {reduction = "sum"}',
  inputs=[("t", "i64[2, 2]", [0, 2, 1, 1])], flags=XENT, dom={"x": U(-3, 3)})
K("NegativeLogLikelihoodLoss", "mean", "x[3,4]", "%loss = NegativeLogLikelihoodLoss(%x, %t)",
  inputs=[("t", "i64[3]", [1, 0, 3])], flags=XENT)
K("NegativeLogLikelihoodLoss", "weights_spatial", "x[2,3,2]",
  "%loss = NegativeLogLikelihoodLoss(%x, %t, %cw)",
  inputs=[("t", "i64[2, 2]", [0, 2, 1, 1])], consts=[("cw", "f64[3]", [0.5, 2.0, 1.5])], flags=XENT)
# kiln's attached losses (--loss KIND); every other case uses mse/mean
LOSS = "--loss %s --loss-on y"
K("Loss", "mse_sum", "x[2,3]", "%y = Identity(%x)", flags=(LOSS % "mse" + " --reduction sum").split())
K("Loss", "l1", "x[2,3]", "%y = Identity(%x)", flags=(LOSS % "l1").split(),
  dom={"x": U(-2, 2, (0.0, 0.5, 1.0), margin=0.6)})   # labels in [0, 1): |y - label| >= 0.1
K("Loss", "l1_sum", "x[2,3]", "%y = Identity(%x)", flags=(LOSS % "l1" + " --reduction sum").split(),
  dom={"x": U(-2, 2, (0.0, 0.5, 1.0), margin=0.6)})
K("Loss", "bce", "x[2,3]", "%y = Sigmoid(%x)", flags=(LOSS % "bce").split(), dom={"x": U(-3, 3)})
K("Loss", "bce_logits", "x[2,3]", "%y = Identity(%x)", flags=(LOSS % "bce_logits").split(),
  dom={"x": U(-3, 3)})
K("Loss", "softmax_ce", "x[3,4]", "%y = Identity(%x)", flags=(LOSS % "softmax_ce").split(),
  labels=onehot(3, 4, [1, 3, 0]), dom={"x": U(-3, 3)})
K("Loss", "softmax_ce_spatial", "x[2,3,2]", "%y = Identity(%x)",
  flags=(LOSS % "softmax_ce").split(), dom={"x": U(-3, 3)},
  labels=[1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0])
K("Loss", "sparse_softmax_ce", "x[3,4]", "%y = Identity(%x)",
  flags=(LOSS % "sparse_softmax_ce").split(), labels=[1, 3, 0], labels_int=True,
  covers=["SoftmaxCrossEntropyLoss"], dom={"x": U(-3, 3)})
K("Loss", "nll", "x[3,4]", "%y = LogSoftmax(%x)", flags=(LOSS % "nll").split(), labels=[2, 0, 1],
  labels_int=True, covers=["NegativeLogLikelihoodLoss"], dom={"x": U(-3, 3)})

# ---- linear algebra and recurrent -------------------------------------------
K("Gemm", "plain", "a[2,3] b[3,4] c[4]", "%y = Gemm(%a, %b, %c)")
K("Gemm", "transA", "a[3,2] b[3,4] c[2,4]", "%y = Gemm(%a, %b, %c) {transA = 1}")
K("Gemm", "transB_alpha_beta", "a[2,3] b[4,3] c[2,1]",
  "%y = Gemm(%a, %b, %c) {transB = 1, alpha = 0.5, beta = 2.0}")
K("Gemm", "transA_transB_scalar_c", "a[3,2] b[4,3] c[]",
  "%y = Gemm(%a, %b, %c) {transA = 1, transB = 1, beta = -1.5}")
K("Gemm", "no_c", "a[2,3] b[3,4]", "%y = Gemm(%a, %b) {alpha = 2.0}")
K("MatMul", "2d", "a[2,3] b[3,4]", "%y = MatMul(%a, %b)")
K("MatMul", "batched_b_shared", "a[2,2,3] b[3,4]", "%y = MatMul(%a, %b)")
K("MatMul", "bcast_batch", "a[2,1,2,3] b[3,3,2]", "%y = MatMul(%a, %b)")
K("Einsum", "matmul", "a[2,3] b[3,4]", '%y = Einsum(%a, %b) {equation = "ij,jk->ik"}')
K("Einsum", "batch_trace", "a[2,3,3]", '%y = Einsum(%a) {equation = "bii->b"}')
K("Einsum", "diagonal", "a[3,3]", '%y = Einsum(%a) {equation = "ii->i"}')
K("Einsum", "sum_all", "a[2,3]", '%y = Einsum(%a) {equation = "ij->"}')
K("Einsum", "outer", "a[2] b[3]", '%y = Einsum(%a, %b) {equation = "i,j->ij"}')
K("Einsum", "chain3", "a[2,3] b[3,2] c[2,2]", '%y = Einsum(%a, %b, %c) {equation = "ij,jk,kl->il"}')
K("Einsum", "ellipsis_bcast", "a[2,2,3] b[3,2]", '%y = Einsum(%a, %b) {equation = "...ij,jk->...ik"}')
K("Einsum", "size1_bcast", "a[2,3] b[1,3]", '%y = Einsum(%a, %b) {equation = "ij,ij->ij"}')
K("Einsum", "implicit_out", "a[2,3] b[3,4]", '%y = Einsum(%a, %b) {equation = "ij,jk"}')
K("Einsum", "same_input_twice", "a[2,3]", '%y = Einsum(%a, %a) {equation = "ij,ij->i"}')
K("Einsum", "label_summed_alone", "a[2,3] b[4]", '%y = Einsum(%a, %b) {equation = "ij,k->i"}')
RNN = {n: SMALL for n in ("x", "w", "r", "b", "h0", "c0", "p")}
# X [seq 3, batch 2, input 3], hidden 2; y sums Y with Y_h (and Y_c) by broadcasting
K("RNN", "forward", "x[3,2,3] w[1,2,3] r[1,2,2] b[1,4]",
  ["%ys, %yh = RNN(%x, %w, %r, %b) {hidden_size = 2}", "%y = Add(%ys, %yh)"], dom=RNN, opset=14)
K("RNN", "bidirectional_h0", "x[3,2,3] w[2,2,3] r[2,2,2] b[2,4] h0[2,2,2]",
  ['%ys, %yh = RNN(%x, %w, %r, %b, _, %h0) {hidden_size = 2, direction = "bidirectional"}',
   "%y = Add(%ys, %yh)"], dom=RNN, opset=14)
K("RNN", "reverse_seqlens", "x[3,2,3] w[1,2,3] r[1,2,2]",
  ['%ys, %yh = RNN(%x, %w, %r, _, %sl) {hidden_size = 2, direction = "reverse"}',
   "%y = Add(%ys, %yh)"], consts=[("sl", "i32[2]", [3, 2])], dom=RNN, opset=14)
K("GRU", "forward", "x[3,2,3] w[1,6,3] r[1,6,2] b[1,12]",
  ["%ys, %yh = GRU(%x, %w, %r, %b) {hidden_size = 2}", "%y = Add(%ys, %yh)"], dom=RNN, opset=14)
K("GRU", "linear_before_reset_bidir_h0", "x[3,2,3] w[2,6,3] r[2,6,2] b[2,12] h0[2,2,2]",
  ['%ys, %yh = GRU(%x, %w, %r, %b, _, %h0) {hidden_size = 2, direction = "bidirectional", '
   'linear_before_reset = 1}', "%y = Add(%ys, %yh)"], dom=RNN, opset=14)
K("GRU", "seqlens", "x[3,2,3] w[1,6,3] r[1,6,2] b[1,12]",
  ["%ys, %yh = GRU(%x, %w, %r, %b, %sl) {hidden_size = 2}", "%y = Add(%ys, %yh)"],
  consts=[("sl", "i32[2]", [2, 3])], dom=RNN, opset=14)
K("LSTM", "forward", "x[3,2,3] w[1,8,3] r[1,8,2] b[1,16]",
  ["%ys, %yh, %yc = LSTM(%x, %w, %r, %b) {hidden_size = 2}", "%s = Add(%ys, %yh)",
   "%y = Add(%s, %yc)"], dom=RNN, opset=14)
K("LSTM", "bidir_h0_c0_peepholes", "x[3,2,3] w[2,8,3] r[2,8,2] b[2,16] h0[2,2,2] c0[2,2,2] p[2,6]",
  ['%ys, %yh, %yc = LSTM(%x, %w, %r, %b, _, %h0, %c0, %p) {hidden_size = 2, '
   'direction = "bidirectional"}', "%s = Add(%ys, %yh)", "%y = Add(%s, %yc)"], dom=RNN, opset=14)
K("LSTM", "seqlens_layout1", "x[2,3,3] w[1,8,3] r[1,8,2] b[1,16]",
  ["%ys, %yh = LSTM(%x, %w, %r, %b, %sl) {hidden_size = 2, layout = 1}", "%y = Identity(%ys)"],
  consts=[("sl", "i32[2]", [3, 1])], dom=RNN, opset=14)

# ---- shape and data movement ------------------------------------------------
K("Reshape", "infer_dim", "x[2,3,4]", "%y = Reshape(%x, %s)", consts=[("s", "i64[2]", [4, -1])])
K("Reshape", "copy_dim", "x[2,3,4]", "%y = Reshape(%x, %s)", consts=[("s", "i64[2]", [0, 12])])
K("Flatten", "axis2", "x[2,3,2]", "%y = Flatten(%x) {axis = 2}")
K("Flatten", "axis0", "x[2,3]", "%y = Flatten(%x) {axis = 0}")
K("Squeeze", "axes", "x[2,1,3,1]", "%y = Squeeze(%x, %a)", consts=[("a", "i64[2]", [1, -1])])
K("Squeeze", "all", "x[1,3,1]", "%y = Squeeze(%x)")
K("Unsqueeze", "axes", "x[2,3]", "%y = Unsqueeze(%x, %a)", consts=[("a", "i64[2]", [0, 3])])
K("Transpose", "perm", "x[2,3,4]", "%y = Transpose(%x) {perm = [2, 0, 1]}")
K("Transpose", "default", "x[2,3,4]", "%y = Transpose(%x)")
K("Concat", "axis1", "a[2,3] b[2,1] c[2,2]", "%y = Concat(%a, %b, %c) {axis = 1}")
K("Concat", "axis0_same_input", "a[1,3] b[2,3]", "%y = Concat(%a, %b, %a) {axis = 0}")
K("Split", "sizes_concat", "x[2,6]",
  ["%p, %q, %r = Split(%x, %s) {axis = 1}", "%y = Concat(%r, %p, %q) {axis = 1}"],
  consts=[("s", "i64[3]", [1, 2, 3])], opset=13)
K("Split", "equal_mul", "x[4,3]", ["%p, %q = Split(%x)", "%y = Mul(%p, %q)"], opset=13)
K("Split", "one_output_used", "x[2,6]", ["%p, %q = Split(%x) {axis = 1}", "%y = Identity(%q)"], opset=13)
K("Slice", "steps", "x[4,5]", "%y = Slice(%x, %s, %e, %a, %st)",
  consts=[("s", "i64[2]", [1, 0]), ("e", "i64[2]", [3, 5]), ("a", "i64[2]", [0, 1]),
          ("st", "i64[2]", [1, 2])])
K("Slice", "negative_step", "x[4,5]", "%y = Slice(%x, %s, %e, %a, %st)",
  consts=[("s", "i64[1]", [-1]), ("e", "i64[1]", [0]), ("a", "i64[1]", [1]), ("st", "i64[1]", [-2])])
K("Expand", "bcast", "x[3,1]", "%y = Expand(%x, %s)", consts=[("s", "i64[3]", [2, 3, 4])])
K("Expand", "keep_dims", "x[2,1,3]", "%y = Expand(%x, %s)", consts=[("s", "i64[2]", [4, 1])])
K("Tile", "2x2", "x[2,3]", "%y = Tile(%x, %r)", consts=[("r", "i64[2]", [2, 2])])
K("Pad", "constant_value", "x[2,3]", "%y = Pad(%x, %p, %v)",
  consts=[("p", "i64[4]", [1, 0, 0, 2]), ("v", "f64[]", [0.5])])
K("Pad", "reflect", "x[2,4]", '%y = Pad(%x, %p) {mode = "reflect"}',
  consts=[("p", "i64[4]", [1, 2, 1, 1])])
K("Pad", "edge", "x[2,3]", '%y = Pad(%x, %p) {mode = "edge"}', consts=[("p", "i64[4]", [1, 1, 2, 2])])
K("Pad", "negative_crop", "x[3,4]", "%y = Pad(%x, %p)", consts=[("p", "i64[4]", [-1, 1, 0, -2])])
K("DepthToSpace", "dcr", "x[1,8,2,3]", "%y = DepthToSpace(%x) {blocksize = 2}")
K("DepthToSpace", "crd", "x[1,8,2,3]", '%y = DepthToSpace(%x) {blocksize = 2, mode = "CRD"}')
K("SpaceToDepth", "b2", "x[1,2,4,6]", "%y = SpaceToDepth(%x) {blocksize = 2}")
K("Trilu", "upper_k1", "x[3,4]", "%y = Trilu(%x, %k)", consts=[("k", "i64[]", [1])])
K("Trilu", "lower_batched", "x[2,3,3]", "%y = Trilu(%x) {upper = 0}")
K("Trilu", "lower_k_neg1", "x[4,3]", "%y = Trilu(%x, %k) {upper = 0}", consts=[("k", "i64[]", [-1])])
K("ReverseSequence", "batch1", "x[4,3,2]", "%y = ReverseSequence(%x, %l) {batch_axis = 1, time_axis = 0}",
  consts=[("l", "i64[3]", [4, 2, 1])])
K("ReverseSequence", "time1", "x[2,3]", "%y = ReverseSequence(%x, %l) {batch_axis = 0, time_axis = 1}",
  consts=[("l", "i64[2]", [2, 3])])

# ---- gather and scatter -----------------------------------------------------
K("Gather", "axis0_repeats", "d[5,3]", "%y = Gather(%d, %i)",
  consts=[("i", "i64[2, 2]", [0, 4, -1, 0])])     # rows 0 and 4 gathered twice
K("Gather", "axis1", "d[2,4]", "%y = Gather(%d, %i) {axis = 1}", consts=[("i", "i64[3]", [2, 0, 2])])
K("Gather", "scalar_index", "d[4,3]", "%y = Gather(%d, %i)", consts=[("i", "i64[]", [1])])
K("GatherElements", "axis1", "d[2,3]", "%y = GatherElements(%d, %i) {axis = 1}",
  consts=[("i", "i64[2, 2]", [0, 0, 2, 1])])
K("GatherND", "pairs", "d[2,3,2]", "%y = GatherND(%d, %i)", consts=[("i", "i64[3, 2]", [0, 1, 1, 2, 0, 1])])
K("GatherElements", "axis0_neg_repeats", "d[3,2]", "%y = GatherElements(%d, %i)",
  consts=[("i", "i64[4, 2]", [0, -1, 2, 2, -3, 0, 1, 2])])   # repeated places add up
K("GatherElements", "neg_axis_i32", "d[2,3,2]", "%y = GatherElements(%d, %i) {axis = -2}",
  consts=[("i", "i32[2, 2, 2]", [2, 0, 1, 1, 0, 2, -1, 0])])
K("GatherND", "slices_repeats", "d[3,2,2]", "%y = GatherND(%d, %i)",
  consts=[("i", "i64[3, 1]", [2, 0, 2])])
K("GatherND", "batch_dims1", "d[2,3,4]", "%y = GatherND(%d, %i) {batch_dims = 1}",
  consts=[("i", "i64[2, 3, 2]", [0, 1, 2, 3, 0, 1, 1, 0, -1, -1, 1, 0])])
K("GatherND", "batch_dims2_i32", "d[2,2,3,2]", "%y = GatherND(%d, %i) {batch_dims = 2}",
  consts=[("i", "i32[2, 2, 1]", [2, 0, 1, -1])])
K("ScatterElements", "axis1", "d[2,4] u[2,2]", "%y = ScatterElements(%d, %i, %u) {axis = 1}",
  consts=[("i", "i64[2, 2]", [3, 0, 1, 2])])
K("ScatterElements", "axis0_neg_idx", "d[3,3] u[2,3]", "%y = ScatterElements(%d, %i, %u)",
  consts=[("i", "i64[2, 3]", [-1, 0, 1, 0, 2, -3])])
K("ScatterElements", "add_repeats", "d[2,4] u[2,3]",
  '%y = ScatterElements(%d, %i, %u) {axis = 1, reduction = "add"}',
  consts=[("i", "i64[2, 3]", [1, 1, 3, 0, 2, 0])])
# reduction mul: the gradient w.r.t. data only (updates are constants)
K("ScatterElements", "mul_data", "d[2,4]", '%y = ScatterElements(%d, %i, %u) {axis = 1, reduction = "mul"}',
  consts=[("i", "i64[2, 2]", [1, 1, 3, 0]), ("u", "f64[2, 2]", [0.5, -1.5, 2.0, 0.75])])
K("Scatter", "opset10", "d[3,3] u[1,3]", "%y = Scatter(%d, %i, %u) {axis = 0}",
  consts=[("i", "i64[1, 3]", [2, 0, 1])], opset=10)
K("ScatterND", "rows", "d[4,3] u[2,3]", "%y = ScatterND(%d, %i, %u)", consts=[("i", "i64[2, 1]", [2, 0])])
K("ScatterND", "elements_neg", "d[3,4] u[3]", "%y = ScatterND(%d, %i, %u)",
  consts=[("i", "i64[3, 2]", [0, 1, -1, -1, 1, 0])])
K("ScatterND", "add_repeats", "d[4,2] u[3,2]", '%y = ScatterND(%d, %i, %u) {reduction = "add"}',
  consts=[("i", "i64[3, 1]", [1, 3, 1])])
K("ScatterND", "mul_data", "d[4,2]", '%y = ScatterND(%d, %i, %u) {reduction = "mul"}',
  consts=[("i", "i64[3, 1]", [1, 3, 1]), ("u", "f64[3, 2]", [0.5, -1.5, 2.0, 0.75, -0.8, 1.2])])
K("CumSum", "axis1", "x[2,4]", "%y = CumSum(%x, %a)", consts=[("a", "i64[]", [1])])
K("CumSum", "exclusive_reverse", "x[2,4]", "%y = CumSum(%x, %a) {exclusive = 1, reverse = 1}",
  consts=[("a", "i64[]", [1])])
K("CumSum", "reverse_neg_axis", "x[3,2,2]", "%y = CumSum(%x, %a) {reverse = 1}",
  consts=[("a", "i32[]", [-3])])
K("CumSum", "exclusive_runtime_axis", "x[3,4]", "%y = CumSum(%x, %a) {exclusive = 1}",
  inputs=[("a", "i64[]", [0])])
# DFT (opset 17): x [batch, signal..., 1 (real) or 2 (complex)]
K("DFT", "real", "x[2,5,1]", "%y = DFT(%x)")
K("DFT", "complex_inverse", "x[1,4,2]", "%y = DFT(%x) {inverse = 1}")
K("DFT", "onesided_axis2", "x[1,2,6,1]", "%y = DFT(%x) {axis = 2, onesided = 1}")
K("DFT", "onesided_odd_length_pad", "x[2,5,1]", "%y = DFT(%x, %l) {onesided = 1}", consts=[("l", "i64[]", [7])])
K("DFT", "complex_truncate", "x[1,6,2]", "%y = DFT(%x, %l)", consts=[("l", "i64[]", [4])])
# STFT: signal [batch, length, 1 or 2]; frames of 4 overlapping (step 2 or 3)
K("STFT", "real_window", "x[2,9,1] w[4]", "%y = STFT(%x, %s, %w)", consts=[("s", "i64[]", [2])])
K("STFT", "complex_length_twosided", "x[1,10,2]", "%y = STFT(%x, %s, _, %l) {onesided = 0}",
  consts=[("s", "i64[]", [3]), ("l", "i64[]", [4])])
K("STFT", "complex_window_twosided", "x[1,8,2] w[5]", "%y = STFT(%x, %s, %w) {onesided = 0}",
  consts=[("s", "i64[]", [3])])
K("Compress", "axis1", "x[2,4]", "%y = Compress(%x, %c) {axis = 1}",
  consts=[("c", "bool[4]", [True, False, True, True])])
K("Compress", "flat_short_condition", "x[2,3]", "%y = Compress(%x, %c)",
  consts=[("c", "bool[5]", [False, True, True, False, True])])
# indices -1 and 16 lie outside Y: nothing written, no gradient
K("MaxUnpool", "k2s2_outside", "x[1,2,2,2]", "%y = MaxUnpool(%x, %i) {kernel_shape = [2, 2], strides = [2, 2]}",
  consts=[("i", "i64[1, 2, 2, 2]", [0, 3, 9, 14, 16, 21, -1, 31])], opset=11)
K("Resize", "linear_2x", "x[1,1,2,3]", '%y = Resize(%x, _, %s) {mode = "linear"}',
  consts=[("s", "f32[4]", [1.0, 1.0, 2.0, 2.0])])
K("Resize", "nearest_2x", "x[1,1,2,3]", "%y = Resize(%x, _, %s)",
  consts=[("s", "f32[4]", [1.0, 1.0, 2.0, 2.0])])
K("Resize", "nearest_floor_asym_down", "x[1,2,4,5]",
  '%y = Resize(%x, _, %s) {nearest_mode = "floor", coordinate_transformation_mode = "asymmetric"}',
  consts=[("s", "f32[4]", [1.0, 1.0, 0.5, 0.6])])
K("Resize", "cubic_up", "x[1,1,3,4]", '%y = Resize(%x, _, %s) {mode = "cubic"}',
  consts=[("s", "f32[4]", [1.0, 1.0, 1.5, 2.0])])
K("Resize", "cubic_exclude_outside_a05", "x[1,1,3,3]",
  '%y = Resize(%x, _, %s) {mode = "cubic", cubic_coeff_a = -0.5, exclude_outside = 1}',
  consts=[("s", "f32[4]", [1.0, 1.0, 2.0, 1.5])])
K("Resize", "linear_align_corners_sizes", "x[2,1,3,4]",
  '%y = Resize(%x, _, _, %z) {mode = "linear", coordinate_transformation_mode = "align_corners"}',
  consts=[("z", "i64[4]", [2, 1, 5, 3])])
K("Resize", "linear_antialias_down", "x[1,1,5,6]", '%y = Resize(%x, _, %s) {mode = "linear", antialias = 1}',
  consts=[("s", "f32[4]", [1.0, 1.0, 0.6, 0.5])], opset=18)
K("Resize", "cubic_antialias_down", "x[1,1,6,4]", '%y = Resize(%x, _, %s) {mode = "cubic", antialias = 1}',
  consts=[("s", "f32[4]", [1.0, 1.0, 0.5, 0.75])], opset=18)
K("Resize", "tf_crop_extrapolate", "x[1,1,3,4]",
  '%y = Resize(%x, %roi, %s) {mode = "linear", coordinate_transformation_mode = "tf_crop_and_resize", '
  'extrapolation_value = 0.5}',
  consts=[("roi", "f32[8]", [0, 0, -0.3, 0.1, 1, 1, 1.2, 0.8]), ("s", "f32[4]", [1.0, 1.0, 2.0, 1.5])])
K("Resize", "trilinear_3axes", "x[1,1,2,3,2]", '%y = Resize(%x, _, %s) {mode = "linear"}',
  consts=[("s", "f32[5]", [1.0, 1.0, 2.0, 1.5, 2.5])])
K("Resize", "opset10_nearest", "x[1,1,2,3]", "%y = Resize(%x, %s)",
  consts=[("s", "f32[4]", [1.0, 1.0, 2.0, 1.7])], opset=10)
K("Upsample", "opset9_linear", "x[1,2,2,3]", '%y = Upsample(%x, %s) {mode = "linear"}',
  consts=[("s", "f32[4]", [1.0, 1.0, 2.0, 2.0])], opset=9)
K("Upsample", "opset7_nearest", "x[1,1,2,3]", '%y = Upsample(%x) {scales = [1.0, 1.0, 2.0, 3.0]}',
  opset=7)

# ---- reductions -------------------------------------------------------------
REDUCE = {"ReduceSum": ANY, "ReduceMean": ANY, "ReduceMax": DISTINCT, "ReduceMin": DISTINCT,
          "ReduceProd": ANY, "ReduceL1": ANY, "ReduceL2": ANY, "ReduceLogSum": POS,
          "ReduceLogSumExp": ANY, "ReduceSumSquare": ANY}
for op, d in REDUCE.items():
    K(op, "axis1_keepdims", "x[2,3,4]", "%%y = %s(%%x, %%a)" % op, consts=[("a", "i64[1]", [1])],
      dom={"x": d}, opset=18)
    K(op, "axes02_nokeep", "x[2,3,4]", "%%y = %s(%%x, %%a) {keepdims = 0}" % op,
      consts=[("a", "i64[2]", [0, -1])], dom={"x": d}, opset=18)
    K(op, "all", "x[2,3]", "%%y = %s(%%x) {keepdims = 0}" % op, dom={"x": d}, opset=18)
    if op != "ReduceSum":  # axes became an input of ReduceSum at 13, of the others at 18
        K(op, "opset13_attr", "x[3,4]", "%%y = %s(%%x) opset 13 {axes = [1]}" % op, dom={"x": d},
          opset=18)
# a zero in a group: its gradient is the product of the others; two zeros: 0
K("ReduceProd", "zeros", "x[3,3]", "%y = ReduceProd(%x, %a)", consts=[("a", "i64[1]", [1])],
  dom={"x": Vals(0.5, 0.0, -0.8, 0.0, 0.7, 0.0, 0.9, -0.6, 1.2)}, opset=18)
K("TopK", "values", "x[3,4]", "%y, %i = TopK(%x, %k)", consts=[("k", "i64[1]", [2])], dom={"x": DISTINCT})
K("TopK", "axis0_smallest_unsorted", "x[4,3]", "%y, %i = TopK(%x, %k) {axis = 0, largest = 0, sorted = 0}",
  consts=[("k", "i64[1]", [3])], dom={"x": DISTINCT})


def all_cases():
    return CASES
